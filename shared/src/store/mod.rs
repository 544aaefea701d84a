//! DynamoDB adapters: narrow reads and writes on one table handle ([`Table`]), no decisions.
//!
//! Each module adds the operations of one part of the layout to [`Table`] (`cart.rs`,
//! `wishlist.rs`, `orders.rs`, `identity.rs`, `refunds.rs`, `loyalty.rs`, `availability.rs`,
//! `view.rs` for versions, `customer.rs` for reading a customer's state); [`key`] builds and
//! parses every key; `write.rs` holds the conditional-write loop, the transactional puts, the
//! retry-on-conflict loop and the reader of transaction cancellation reasons; [`stream`] reads
//! the table's stream records and [`stream_range`] reads a range of them back; `scan.rs` is the
//! one scan (customers, a page at a time, for the recoveries that must go through all of them).
//!
//! # Table layout
//!
//! One table (`<prefix>-state`), keys `pk` (partition) and `sk` (sort), both strings. Everything
//! about one customer id shares the partition `CUSTOMER#<id>`, so a customer's whole state is one
//! `Query`, and a stream record's key says whose view changed. `#` cannot occur in any id of the
//! contract, so it is a safe separator.
//!
//! | item | `pk` | `sk` | attributes |
//! |---|---|---|---|
//! | cart line | `CUSTOMER#<id>` | `CART#LINE#<sku>` | `reset` `{t, e, q}`; one `o:<t>:<event id>` = `d` per add or purchase (see `cart.rs`) |
//! | cart clear | `CUSTOMER#<id>` | `CART#CLEAR` | `rev`, `t`, `e` |
//! | wishlist SKU | `CUSTOMER#<id>` | `WISH#<sku>` | `rev`, `t`, `e`, `added`, `size`; while added also `gsi1pk` = `WISHSKU#<sku>`, `gsi1sk` = its `pk` (the sparse `wishlist-by-sku` index) |
//! | order | `CUSTOMER#<id>` | `ORDER#<order_id>` | `rev`, `placed` `{t, e}`, channel, fulfillment, lines, `total_minor`, `status` |
//! | refund decision | `CUSTOMER#<id>` | `REFUND#<refund_id>` | `rev`, order, status, `amount_minor`, `reason_code`, lines, `points_reversed` |
//! | ledger entry | `CUSTOMER#<id>` | `LOYALTY#LEDGER#<entry_id>` | `rev`, `entry_id`, `points` |
//! | loyalty balance | `CUSTOMER#<id>` | `LOYALTY#BALANCE` | `balance` (only changed with an entry) |
//! | redemption / adjustment decision | `CUSTOMER#<id>` | `LOYALTY#REDEMPTION#<id>` / `LOYALTY#ADJUSTMENT#<id>` | `rev`, `points`, `status`, `reason` |
//! | view version | `VIEW#<id>` | `VERSION` | `version` (outside the customer partition: bumping it is no view change) |
//! | availability report | `STOCK#<json of [sku, size, store_id]>` | `<instant, offset and zero-padded>#<event_id>` | `rev`, `t`, `e`, `available_quantity` |
//! | restock audience | `NOTIFIED#<restock event_id>` | `AUDIENCE` | `rev`, `next` (the wishlist index page to read next), `decided`, `expires_at` (TTL) |
//! | notification marker | `NOTIFIED#<restock event_id>` | `CUSTOMER#<id>` | `rev`, `state` (`pending`/`sending`/`sent`), `claimed_at_ms`, `expires_at` (TTL) |
//! | order id claim | `ORDER#<order_id>` | `CLAIM` | `rev`, `customer_id`, `event_id` |
//! | event waiting for its order | `ORDER#<order_id>` | `WAITING#<event order>` | `queue`, `order_id`, `key`, `body`, `sender_id`, `first_sent_ms`, `wait_until_ms`, `gsi2pk` = `WAITING`, `gsi2sk` = `<wait end>#<order_id>#<event_id>` (the sparse `waiting-by-deadline` index), `expires_at` (TTL) |
//! | guest → customer | `CUSTOMER#<guest_id>` | `IDENTITY#LINKED_TO` | `rev`, `customer_id`, `t`, `e` |
//! | customer → guest | `CUSTOMER#<id>` | `IDENTITY#GUEST#<guest_id>` | `rev`, `t`, `e` |
//! | timeline strand | `CUSTOMER#<id>` | `TIMELINE#FOLLOWS` / `TIMELINE#OWN` / `TIMELINE#IDENTITY` | one `e:<t>:<event id>` = `{y, c, s, r}` per event, the latest 20 to 30 (see `timeline.rs`) |
//! | touches of a day | `CUSTOMER#<id>` | `TOUCH#<YYYY-MM-DD>` | one `t:<t>:<event id>` = `{c, k, src, st, sku}` per touch, `expires_at` (TTL, 90 days after the day; see `touches.rs`) |
//! | stores touched in | `CUSTOMER#<id>` | `STORES` | `stores` (string set) |
//! | order's report record | `VIEW#<id>` | `REPORTED#<order_id>` | `rev`, `attribution` `{first, last}`, `contribution` (see `report.rs`) |
//! | report counters | `REPORT#<YYYY-MM-DD>` | `SHARD#<0–7>` | one number per counter: `s:<channel>`, `c:<channel>`, `n:<po\|ft\|lt>:<channel or unattributed>`, `m:…:<currency>` |
//!
//! (`t` = `occurred_at` in UTC ms, `e` = event id, `q` = quantity set, `d` = +added / −purchased.)
//!
//! Why per-line items and not one cart item: writers on different SKUs of one cart never contend,
//! an item stays far below 1 KB (one write unit), and a line keeps only its latest reset and the
//! ops after it. Why a separate clear item: a `cart.cleared` is one write however many lines the
//! cart has, and a late op older than the clear is still superseded when it arrives. Why no
//! purchase is written into cart or wishlist items: the order item is the purchase op, read in the
//! same query (see [`crate::domain::shopping`]).
//!
//! # Writes
//!
//! Cart lines, the cart clear and wishlist SKUs take one conditional `UpdateItem` per item and
//! batch, with no read: their rules are joins (a line's latest reset and the ops after it, a
//! register's latest op), so a write only adds what the item lacks, on condition that it is new
//! and not superseded (`cart.rs`, and `put_if_later` in `write.rs`); a failed condition is the
//! answer "already there, or superseded". The entries themselves are the dedupe record: a
//! redelivered event finds itself in (or superseded by) the item, and nothing is written.
//!
//! Every other update is optimistic concurrency on `rev`: read (strongly consistent), fold the
//! event in with the pure rules of [`crate::domain`], put with `rev = :read_rev` (or
//! `attribute_not_exists(pk)` for a new item), and on a conditional-check failure read again and
//! retry. Nothing is ever last-write-wins on a whole item.
//!
//! Order-dependent decisions (refunds, redemptions and adjustments) are made by the domain on
//! what the store loaded and committed against it: the commit is conditional on what was read, a
//! lost race is [`Commit::Conflict`], and [`retry_on_conflict`] loads and decides again.

mod availability;
mod cart;
mod customer;
mod identity;
pub mod items;
pub mod key;
mod loyalty;
mod notifications;
mod orders;
mod refunds;
mod report;
mod scan;
pub mod stream;
pub mod stream_range;
mod timeline;
mod touches;
mod view;
mod waiting;
mod wishlist;
mod write;

pub use availability::{TimelinePlace, Wisher, WishersCursor};
pub use cart::{LineMerge, UntidyLine, latest_clear};
pub use loyalty::DebitCommit;
pub use notifications::{
    Audience, Claim, FIFO_DEDUPLICATION_WINDOW_MS, Member, NOTIFICATION_RETENTION_SECONDS,
    NotificationState, RESEND_HORIZON_MS,
};
pub use orders::{Placement, StatusUpdate};
pub use refunds::RefundContext;
pub use report::{ReportChange, ReportCommit, StoredReported};
pub use scan::{CustomersPage, ScanPosition};
pub use touches::{TOUCH_RETENTION_DAYS, report_shard};
pub use waiting::WaitingEvent;
pub use write::{
    Cancelled, Commit, MAX_ATTEMPTS, StoreError, Table, WriteOutcome, cancellation, is_lost_race,
    retry_on_conflict,
};
