//! identity-sync: SQS `identity-events` → guest ids linked to customers.
//!
//! One link is two small writes (the guest side keeps the earliest link in event order, the
//! customer side lists the guest); nothing is copied or moved, so a guest's events that arrive
//! before or after the link land in the same place and the result does not depend on the order
//! (see `omnisync::store::identity`).

use omnisync::aws::Clients;
use omnisync::batch::{Applied, ApplyError, EventHandler};
use omnisync::config::FunctionConfig;
use omnisync::contract::{Event, EventType, Payload, ReasonCode, Rejection};
use omnisync::store::identity::IdentityStore;

pub struct IdentitySync {
    identities: IdentityStore,
}

impl IdentitySync {
    pub fn new(clients: &Clients, config: &FunctionConfig) -> Self {
        IdentitySync {
            identities: IdentityStore::new(clients.dynamodb.clone(), &config.table),
        }
    }
}

impl EventHandler for IdentitySync {
    fn accepts(&self, event_type: EventType) -> bool {
        event_type.ingress_queue() == "identity-events"
    }

    async fn apply(&self, event: &Event) -> Result<Applied, ApplyError> {
        let (Payload::Identity(link), Some(customer_id)) =
            (&event.payload, event.customer_id.as_deref())
        else {
            return Err(Rejection::new(ReasonCode::UnknownType, "not an identity event").into());
        };
        let written = self
            .identities
            .link(&link.anonymous_id, customer_id, event.key.clone())
            .await
            .map_err(ApplyError::transient)?;
        Ok(written.into())
    }
}
