//! engagement-sync: SQS `engagement-events` → the touches of customers (contract §3,
//! Engagement, v1.1).
//!
//! A touch changes no cart or balance; it feeds the customer's timeline (recorded by the batch
//! layer, like every event's), its orders' attribution (read by view-fanout from the touches
//! stored here) and the channel report. Each touch is one `TransactWriteItems` under the id it
//! was sent under (`omnisync::store`, `touches.rs`): the touch in its day's item, on condition
//! that it is new, with its count in the day's report counters and its store in the id's
//! stores, so a redelivered touch is stored and counted once. A guest's touches stay in the
//! guest's partition and follow its link when the customer's state is read, whenever the link
//! arrives (like its cart and wishlist ops).

use omnisync::aws::Clients;
use omnisync::batch::{Applied, ApplyError, Delivery, EventHandler, SqsBatchProcessor};
use omnisync::config::{ConfigError, FunctionConfig};
use omnisync::contract::{CustomerEvent, EngagementTouched};
use omnisync::domain::attribution::Touch;
use omnisync::lambda::sqs_function;
use omnisync::store::{Table, retry_on_conflict};

/// The deployed function, built from its clients and configuration (by `main.rs` and by the
/// local runner alike).
pub fn function(
    clients: &Clients,
    config: &FunctionConfig,
) -> Result<SqsBatchProcessor<EngagementSync>, ConfigError> {
    let table = config.state_table(clients);
    Ok(sqs_function(clients, config, EngagementSync { table }))
}

pub struct EngagementSync {
    table: Table,
}

impl EventHandler for EngagementSync {
    type Input = CustomerEvent<EngagementTouched>;

    async fn apply(
        &self,
        event: &Self::Input,
        _delivery: &Delivery<'_>,
    ) -> Result<Applied, ApplyError> {
        let touch = Touch {
            key: event.key.clone(),
            channel: event.channel,
            kind: event.payload.kind,
            source: event.payload.source.clone(),
            store_id: event.store_id.clone(),
            sku: event.payload.sku.clone(),
        };
        // Two touches of one id and day race on the day's item, and any two touches of a day
        // may race on a counter item: a lost race is tried again.
        let written = retry_on_conflict(&event.customer_id, "TOUCH#", || {
            self.table.record_touch(&event.customer_id, &touch)
        })
        .await
        .map_err(ApplyError::transient)?;
        Ok(written.into())
    }
}
