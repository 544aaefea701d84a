//! wishlist-sync: SQS `wishlist-events` → customers' wishlists.
//!
//! Each event is one conditional write on the SKU's item, which keeps the latest op (see
//! `omnisync::domain::wishlist`). Purchases take SKUs off at read time, from the order items.

use omnisync::aws::Clients;
use omnisync::batch::{Applied, ApplyError, EventHandler};
use omnisync::config::FunctionConfig;
use omnisync::contract::{Event, EventType, Payload, ReasonCode, Rejection};
use omnisync::domain::wishlist::op_of;
use omnisync::store::wishlist::WishlistStore;

pub struct WishlistSync {
    wishlists: WishlistStore,
}

impl WishlistSync {
    pub fn new(clients: &Clients, config: &FunctionConfig) -> Self {
        WishlistSync {
            wishlists: WishlistStore::new(clients.dynamodb.clone(), &config.table),
        }
    }
}

impl EventHandler for WishlistSync {
    fn accepts(&self, event_type: EventType) -> bool {
        event_type.ingress_queue() == "wishlist-events"
    }

    async fn apply(&self, event: &Event) -> Result<Applied, ApplyError> {
        let (Payload::Wishlist(wish_event), Some(customer_id)) =
            (&event.payload, event.customer_id.as_deref())
        else {
            return Err(Rejection::new(ReasonCode::UnknownType, "not a wishlist event").into());
        };
        let (sku, op) = op_of(wish_event);
        let written = self
            .wishlists
            .apply(customer_id, sku, event.key.clone(), op)
            .await
            .map_err(ApplyError::transient)?;
        Ok(written.into())
    }
}
