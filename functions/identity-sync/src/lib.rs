//! identity-sync: SQS `identity-events` → guest ids linked to customers.
//!
//! One link is two small writes (the guest side keeps the earliest link in event order, the
//! customer side lists the guest); nothing is copied or moved, so a guest's events that arrive
//! before or after the link land in the same place and the result does not depend on the order
//! (see `omnisync::store`, `identity.rs`).

use omnisync::aws::Clients;
use omnisync::batch::{Applied, ApplyError, Delivery, EventHandler, SqsBatchProcessor};
use omnisync::config::{ConfigError, FunctionConfig};
use omnisync::contract::{CustomerEvent, IdentityLinked};
use omnisync::lambda::sqs_function;
use omnisync::store::Table;

/// The deployed function, built from its clients and configuration (by `main.rs` and by the
/// local runner alike).
pub fn function(
    clients: &Clients,
    config: &FunctionConfig,
) -> Result<SqsBatchProcessor<IdentitySync>, ConfigError> {
    let table = config.state_table(clients);
    Ok(sqs_function(clients, config, IdentitySync { table }))
}

pub struct IdentitySync {
    table: Table,
}

impl EventHandler for IdentitySync {
    type Input = CustomerEvent<IdentityLinked>;

    async fn apply(
        &self,
        event: &Self::Input,
        _delivery: &Delivery<'_>,
    ) -> Result<Applied, ApplyError> {
        let written = self
            .table
            .link_guest(
                &event.payload.anonymous_id,
                &event.customer_id,
                event.key.clone(),
            )
            .await
            .map_err(ApplyError::transient)?;
        Ok(written.into())
    }
}
