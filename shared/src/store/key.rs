//! Every key of the state table, built and parsed in one place (the layout is in [`super`]).
//!
//! Partition keys say what a partition is about ([`Partition`]); in a customer's partition the
//! sort key says which item it is ([`CustomerItem`]). `#` cannot occur in any id of the contract,
//! so it is a safe separator, and parsing a key is the exact inverse of building it.

use crate::contract::{AvailabilityChanged, EventKey};
use crate::domain::timeline::Strand;

const CUSTOMER: &str = "CUSTOMER#";
const ORDER: &str = "ORDER#";
const VIEW: &str = "VIEW#";
const STOCK: &str = "STOCK#";
const NOTIFIED: &str = "NOTIFIED#";
const REPORT: &str = "REPORT#";
/// The start of every customer (or guest) partition key.
pub const CUSTOMER_PREFIX: &str = CUSTOMER;
/// The start of every order item's sort key in a customer partition.
pub const ORDER_ITEM_PREFIX: &str = ORDER;
const WISH_SKU: &str = "WISHSKU#";

/// The sort key of an order id's claim (`ORDER#<order_id>` / `CLAIM`).
pub const ORDER_CLAIM_SK: &str = "CLAIM";
/// The sort key of a customer's view version (`VIEW#<id>` / `VERSION`).
pub const VIEW_VERSION_SK: &str = "VERSION";
/// The sparse index that finds who wishes for a SKU.
pub const WISH_INDEX: &str = "wishlist-by-sku";
/// The sparse index that finds the events whose wait for their order is over.
pub const WAITING_INDEX: &str = "waiting-by-deadline";
/// The one partition of [`WAITING_INDEX`] (waiting events are few: a hot partition is no risk).
pub const WAITING_INDEX_PK: &str = "WAITING";
const WAITING: &str = "WAITING#";

/// In an order id's claim partition: an event waiting for the order (sorted by event order).
pub fn waiting_sk(key: &EventKey) -> String {
    format!("{WAITING}{}", report_sk(key))
}

/// The prefix of every waiting event's sort key.
pub fn waiting_prefix() -> &'static str {
    WAITING
}

/// The index sort key of a waiting event: when its wait is over, then which one it is.
pub fn waiting_index_sk(wait_until_ms: i64, order_id: &str, key: &EventKey) -> String {
    format!(
        "{}#{order_id}#{}",
        report_sk(&EventKey::new(wait_until_ms, "")),
        key.event_id
    )
}

/// What a partition is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partition {
    /// Everything about one customer (or guest) id.
    Customer(String),
    /// The claim that makes an `order_id` unique across customers.
    OrderClaim(String),
    /// A customer's view version, outside its partition.
    ViewVersion(String),
    /// One `(sku, size, store_id)` availability timeline (its JSON text).
    Stock(String),
    /// Who was notified of one restock.
    Notified(String),
    /// The channel report's counters of one UTC day (`YYYY-MM-DD`).
    Report(String),
}

impl Partition {
    pub fn pk(&self) -> String {
        match self {
            Partition::Customer(id) => format!("{CUSTOMER}{id}"),
            Partition::OrderClaim(order_id) => format!("{ORDER}{order_id}"),
            Partition::ViewVersion(id) => format!("{VIEW}{id}"),
            Partition::Stock(triple) => format!("{STOCK}{triple}"),
            Partition::Notified(event_id) => format!("{NOTIFIED}{event_id}"),
            Partition::Report(day) => format!("{REPORT}{day}"),
        }
    }

    pub fn parse(pk: &str) -> Option<Partition> {
        let (prefix, rest) = pk.split_at(pk.find('#')? + 1);
        let rest = rest.to_owned();
        Some(match prefix {
            CUSTOMER => Partition::Customer(rest),
            ORDER => Partition::OrderClaim(rest),
            VIEW => Partition::ViewVersion(rest),
            STOCK => Partition::Stock(rest),
            NOTIFIED => Partition::Notified(rest),
            REPORT => Partition::Report(rest),
            _ => return None,
        })
    }
}

/// The partition key of everything about one customer (or guest) id.
pub fn customer_pk(customer_id: &str) -> String {
    Partition::Customer(customer_id.to_owned()).pk()
}

/// The customer id of a customer partition key.
pub fn customer_of_pk(pk: &str) -> Option<&str> {
    pk.strip_prefix(CUSTOMER)
}

pub fn order_claim_pk(order_id: &str) -> String {
    Partition::OrderClaim(order_id.to_owned()).pk()
}

pub fn view_version_pk(customer_id: &str) -> String {
    Partition::ViewVersion(customer_id.to_owned()).pk()
}

/// The timeline partition of a report's `(sku, size, store_id)`.
pub fn stock_pk(report: &AvailabilityChanged) -> String {
    let triple = (&report.sku, &report.size, &report.store_id);
    // Serializing strings and options cannot fail.
    let text = serde_json::to_string(&triple).unwrap_or_default();
    Partition::Stock(text).pk()
}

/// Event order as a sort key: the instant, offset to stay positive and zero-padded, then the id.
pub fn report_sk(key: &EventKey) -> String {
    let shifted = i128::from(key.at_ms) + i128::from(i64::MAX) + 1;
    format!("{shifted:020}#{}", key.event_id)
}

pub fn notified_pk(restock_event_id: &str) -> String {
    Partition::Notified(restock_event_id.to_owned()).pk()
}

/// One of the items a day's report counters are split over (`REPORT#<day>` / `SHARD#<n>`).
pub fn report_key(day: &str, shard: u32) -> (String, String) {
    (
        Partition::Report(day.to_owned()).pk(),
        format!("SHARD#{shard}"),
    )
}

const REPORTED: &str = "REPORTED#";

/// In a customer's view-version partition (`VIEW#<id>`): what one of its orders contributes to
/// the report (outside the customer partition, so writing it is no view change).
pub fn reported_sk(order_id: &str) -> String {
    format!("{REPORTED}{order_id}")
}

/// The prefix of every [`reported_sk`].
pub fn reported_prefix() -> &'static str {
    REPORTED
}

/// The wishlist index's partition key for a SKU.
pub fn wish_index_pk(sku: &str) -> String {
    format!("{WISH_SKU}{sku}")
}

/// An item of a customer's partition, by its sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerItem {
    /// `CART#LINE#<sku>`
    CartLine(String),
    /// `CART#CLEAR`
    CartClear,
    /// `WISH#<sku>`
    Wish(String),
    /// `ORDER#<order_id>`
    Order(String),
    /// `REFUND#<refund_id>`
    Refund(String),
    /// `LOYALTY#LEDGER#<entry_id>`
    LedgerEntry(String),
    /// `LOYALTY#BALANCE`
    Balance,
    /// `LOYALTY#REDEMPTION#<redemption_id>`
    Redemption(String),
    /// `LOYALTY#ADJUSTMENT#<adjustment_id>`
    Adjustment(String),
    /// `IDENTITY#LINKED_TO`: in a guest id's partition, the customer it is linked to.
    LinkedTo,
    /// `IDENTITY#GUEST#<guest_id>`: in a customer's partition, a guest id linked to it.
    Guest(String),
    /// `TIMELINE#FOLLOWS`, `TIMELINE#OWN`, `TIMELINE#IDENTITY`: the id's latest events of one
    /// strand (see `crate::domain::timeline`).
    Timeline(Strand),
    /// `TOUCH#<YYYY-MM-DD>`: the id's touches of one UTC day.
    TouchDay(String),
    /// `STORES`: the stores the id was touched in.
    Stores,
}

const CART_LINE: &str = "CART#LINE#";
const CART_CLEAR: &str = "CART#CLEAR";
const WISH: &str = "WISH#";
const REFUND: &str = "REFUND#";
const LEDGER: &str = "LOYALTY#LEDGER#";
const BALANCE: &str = "LOYALTY#BALANCE";
const REDEMPTION: &str = "LOYALTY#REDEMPTION#";
const ADJUSTMENT: &str = "LOYALTY#ADJUSTMENT#";
const LINKED_TO: &str = "IDENTITY#LINKED_TO";
const GUEST: &str = "IDENTITY#GUEST#";
const TIMELINE_FOLLOWS: &str = "TIMELINE#FOLLOWS";
const TIMELINE_OWN: &str = "TIMELINE#OWN";
const TIMELINE_IDENTITY: &str = "TIMELINE#IDENTITY";
const TOUCH_DAY: &str = "TOUCH#";
const STORES: &str = "STORES";

/// `(prefix, constructor)` of every item with an id in its sort key (no prefix is a prefix of
/// another, so the first match is the only one).
type WithId = (&'static str, fn(String) -> CustomerItem);
const WITH_ID: [WithId; 9] = [
    (CART_LINE, CustomerItem::CartLine),
    (WISH, CustomerItem::Wish),
    (ORDER, CustomerItem::Order),
    (REFUND, CustomerItem::Refund),
    (LEDGER, CustomerItem::LedgerEntry),
    (REDEMPTION, CustomerItem::Redemption),
    (ADJUSTMENT, CustomerItem::Adjustment),
    (GUEST, CustomerItem::Guest),
    (TOUCH_DAY, CustomerItem::TouchDay),
];

impl CustomerItem {
    pub fn sk(&self) -> String {
        let (prefix, id) = match self {
            CustomerItem::CartClear => return CART_CLEAR.to_owned(),
            CustomerItem::Balance => return BALANCE.to_owned(),
            CustomerItem::LinkedTo => return LINKED_TO.to_owned(),
            CustomerItem::Stores => return STORES.to_owned(),
            CustomerItem::Timeline(Strand::Follows) => return TIMELINE_FOLLOWS.to_owned(),
            CustomerItem::Timeline(Strand::Own) => return TIMELINE_OWN.to_owned(),
            CustomerItem::Timeline(Strand::Identity) => return TIMELINE_IDENTITY.to_owned(),
            CustomerItem::TouchDay(day) => (TOUCH_DAY, day),
            CustomerItem::CartLine(sku) => (CART_LINE, sku),
            CustomerItem::Wish(sku) => (WISH, sku),
            CustomerItem::Order(id) => (ORDER, id),
            CustomerItem::Refund(id) => (REFUND, id),
            CustomerItem::LedgerEntry(id) => (LEDGER, id),
            CustomerItem::Redemption(id) => (REDEMPTION, id),
            CustomerItem::Adjustment(id) => (ADJUSTMENT, id),
            CustomerItem::Guest(id) => (GUEST, id),
        };
        format!("{prefix}{id}")
    }

    /// The item a sort key names; `None` for a key this layout does not know.
    pub fn parse(sk: &str) -> Option<CustomerItem> {
        match sk {
            CART_CLEAR => Some(CustomerItem::CartClear),
            BALANCE => Some(CustomerItem::Balance),
            LINKED_TO => Some(CustomerItem::LinkedTo),
            STORES => Some(CustomerItem::Stores),
            TIMELINE_FOLLOWS => Some(CustomerItem::Timeline(Strand::Follows)),
            TIMELINE_OWN => Some(CustomerItem::Timeline(Strand::Own)),
            TIMELINE_IDENTITY => Some(CustomerItem::Timeline(Strand::Identity)),
            _ => WITH_ID.iter().find_map(|(prefix, make)| {
                sk.strip_prefix(prefix)
                    .filter(|id| !id.is_empty())
                    .map(|id| make(id.to_owned()))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sort_key_parses_back_to_its_item() {
        let items = [
            CustomerItem::CartLine("A-1".into()),
            CustomerItem::CartClear,
            CustomerItem::Wish("B".into()),
            CustomerItem::Order("o-1".into()),
            CustomerItem::Refund("r-1".into()),
            CustomerItem::LedgerEntry("earn:o-1".into()),
            CustomerItem::Balance,
            CustomerItem::Redemption("x-1".into()),
            CustomerItem::Adjustment("a-1".into()),
            CustomerItem::LinkedTo,
            CustomerItem::Guest("g-1".into()),
            CustomerItem::Timeline(Strand::Follows),
            CustomerItem::Timeline(Strand::Own),
            CustomerItem::Timeline(Strand::Identity),
            CustomerItem::TouchDay("2026-03-01".into()),
            CustomerItem::Stores,
        ];
        for item in items {
            assert_eq!(
                CustomerItem::parse(&item.sk()),
                Some(item.clone()),
                "{item:?}"
            );
        }
        assert_eq!(CustomerItem::parse("SOMETHING#ELSE"), None);
        assert_eq!(CustomerItem::parse("WISH#"), None);
    }

    #[test]
    fn the_layout_keys_are_the_documented_ones() {
        assert_eq!(CustomerItem::CartLine("A".into()).sk(), "CART#LINE#A");
        assert_eq!(
            CustomerItem::LedgerEntry("earn:o".into()).sk(),
            "LOYALTY#LEDGER#earn:o"
        );
        assert_eq!(customer_pk("c-1"), "CUSTOMER#c-1");
        assert_eq!(order_claim_pk("o-1"), "ORDER#o-1");
        assert_eq!(view_version_pk("c-1"), "VIEW#c-1");
        assert_eq!(notified_pk("inv-1"), "NOTIFIED#inv-1");
        assert_eq!(wish_index_pk("A"), "WISHSKU#A");
    }

    #[test]
    fn every_partition_key_parses_back() {
        let partitions = [
            Partition::Customer("c-1".into()),
            Partition::OrderClaim("o-1".into()),
            Partition::ViewVersion("c-1".into()),
            Partition::Stock(r#"["A",null,null]"#.into()),
            Partition::Notified("inv-1".into()),
            Partition::Report("2026-03-01".into()),
        ];
        for partition in partitions {
            assert_eq!(Partition::parse(&partition.pk()), Some(partition.clone()));
        }
        assert_eq!(Partition::parse("WISHSKU#A"), None);
    }

    #[test]
    fn report_sort_keys_follow_event_order() {
        let keys = [
            EventKey::new(-5, "z"),
            EventKey::new(0, "a"),
            EventKey::new(7, "B"),
            EventKey::new(7, "a"),
            EventKey::new(1_790_000_000_000, "a"),
        ];
        let sks: Vec<String> = keys.iter().map(report_sk).collect();
        let mut sorted = sks.clone();
        sorted.sort();
        assert_eq!(sks, sorted);
    }
}
