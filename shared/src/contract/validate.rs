//! The one validation entry point: raw SQS body → [`Event`] or [`Rejection`].
//!
//! Checks run in a fixed order, so a body with several faults always gets the same reason:
//! 1. size (`too_large`);
//! 2. JSON syntax, duplicate keys, non-object (`malformed_json`);
//! 3. `schema_version` (a v2 body may legitimately carry fields and types v1 does not know);
//! 4. unknown top-level fields;
//! 5. `type`;
//! 6. the other envelope fields, in the contract's table order (`occurred_at` includes the
//!    future-clock rule against the message's `SentTimestamp`);
//! 7. the payload: unknown fields first, then fields in the contract's order.
//!
//! Within an object a field is `missing_field` when absent, `invalid_field` when `null` (for a
//! required field), of the wrong JSON type, or outside its rule. An optional field that is `null`
//! counts as absent.

use super::event::*;
use super::json::parse_strict;
use super::order::EventKey;
use super::rejection::{ReasonCode, Rejection};
use chrono::DateTime;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// The largest body the contract accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 65_536;

const ENVELOPE_FIELDS: [&str; 8] = [
    "event_id",
    "type",
    "schema_version",
    "customer_id",
    "channel",
    "occurred_at",
    "store_id",
    "payload",
];

const MAX_ID_CHARS: usize = 128;
const MAX_LINES: usize = 100;
const MAX_QUANTITY: i64 = 999;
const MAX_UNIT_PRICE_MINOR: i64 = 1_000_000_000;
const MAX_POINTS: i64 = 1_000_000;
const MAX_AVAILABLE_QUANTITY: i64 = 1_000_000;
const MAX_SIZE_CHARS: usize = 16;
const MAX_REASON_CHARS: usize = 256;
const MAX_SOURCE_CHARS: usize = 64;

/// How far ahead of the message's send time an `occurred_at` may be (§1, v1.1): 5 minutes.
pub const MAX_CLOCK_AHEAD_MS: i64 = 5 * 60 * 1000;

/// Validates one message against the contract: its body, and, when the message's SQS
/// `SentTimestamp` is known (`sent_at_ms`), that `occurred_at` is not more than
/// [`MAX_CLOCK_AHEAD_MS`] after it (a channel whose clock runs ahead must not override every later
/// edit). Events dated in the past are always accepted.
pub fn parse_event(body: &str, sent_at_ms: Option<i64>) -> Result<Event, Rejection> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Rejection::new(
            ReasonCode::TooLarge,
            format!(
                "body is {} bytes; the limit is {MAX_BODY_BYTES}",
                body.len()
            ),
        ));
    }
    let value = parse_strict(body).map_err(|e| {
        Rejection::new(
            ReasonCode::MalformedJson,
            format!("body is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(top) = value else {
        return Err(Rejection::new(
            ReasonCode::MalformedJson,
            format!("body is a JSON {}, not an object", json_kind(&value)),
        ));
    };
    let top = Obj::new(&top, "");

    let version = top.required("schema_version")?;
    match version.as_i64() {
        Some(1) => {}
        Some(other) => {
            return Err(Rejection::new(
                ReasonCode::UnsupportedSchemaVersion,
                format!("`schema_version` {other} is not supported; this consumer reads 1"),
            ));
        }
        _ => return Err(top.invalid("schema_version", "must be the integer 1")),
    }
    top.deny_unknown(&ENVELOPE_FIELDS)?;

    let type_name = top.required_str("type")?;
    let event_type = EventType::parse(type_name).ok_or_else(|| {
        Rejection::new(
            ReasonCode::UnknownType,
            format!("`type` `{type_name}` is not a v1 event type"),
        )
    })?;

    let event_id = top.required_id("event_id", IdRule::Id)?;
    let customer_id = if event_type.has_customer() {
        Some(top.required_id("customer_id", IdRule::Customer)?)
    } else {
        if top.optional("customer_id").is_some() {
            return Err(top.invalid("customer_id", "must not be present on inventory events"));
        }
        None
    };
    let channel_name = top.required_str("channel")?;
    let channel = Channel::parse(channel_name)
        .ok_or_else(|| top.invalid("channel", "must be one of web, app, store, call_center"))?;
    let occurred_at = top.required_str("occurred_at")?;
    let at_ms = parse_instant(occurred_at).ok_or_else(|| {
        top.invalid(
            "occurred_at",
            "must be an RFC 3339 date-time with an offset",
        )
    })?;
    if let Some(sent_at_ms) = sent_at_ms
        && at_ms - sent_at_ms > MAX_CLOCK_AHEAD_MS
    {
        return Err(top.invalid(
            "occurred_at",
            &format!(
                "is {} ms after the message was sent; at most {MAX_CLOCK_AHEAD_MS} ms ahead is accepted",
                at_ms - sent_at_ms
            ),
        ));
    }
    let store_id = top.optional_id("store_id", IdRule::Id)?;
    if channel == Channel::Store && store_id.is_none() {
        return Err(top.missing("store_id", "is required when `channel` is `store`"));
    }

    let payload = top.required_object("payload")?;
    let payload = parse_payload(event_type, &payload, customer_id.as_deref())?;

    Ok(Event {
        key: EventKey::new(at_ms, event_id),
        customer_id,
        channel,
        store_id,
        payload,
    })
}

/// `occurred_at` → UTC milliseconds, digits below the millisecond truncated.
fn parse_instant(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|instant| instant.timestamp_millis())
}

fn parse_payload(
    event_type: EventType,
    p: &Obj<'_>,
    customer_id: Option<&str>,
) -> Result<Payload, Rejection> {
    Ok(match event_type {
        EventType::CartItemAdded => {
            p.deny_unknown(&["sku", "quantity"])?;
            Payload::Cart(CartEvent::ItemAdded {
                sku: p.required_id("sku", IdRule::Id)?,
                quantity: p.required_int("quantity", 1, MAX_QUANTITY)? as u32,
            })
        }
        EventType::CartItemQuantitySet => {
            p.deny_unknown(&["sku", "quantity"])?;
            Payload::Cart(CartEvent::ItemQuantitySet {
                sku: p.required_id("sku", IdRule::Id)?,
                quantity: p.required_int("quantity", 0, MAX_QUANTITY)? as u32,
            })
        }
        EventType::CartItemRemoved => {
            p.deny_unknown(&["sku"])?;
            Payload::Cart(CartEvent::ItemRemoved {
                sku: p.required_id("sku", IdRule::Id)?,
            })
        }
        EventType::CartCleared => {
            p.deny_unknown(&[])?;
            Payload::Cart(CartEvent::Cleared)
        }
        EventType::WishlistItemAdded => {
            p.deny_unknown(&["sku", "preferred_size"])?;
            Payload::Wishlist(WishlistEvent::ItemAdded {
                sku: p.required_id("sku", IdRule::Id)?,
                preferred_size: p.optional_text("preferred_size", MAX_SIZE_CHARS)?,
            })
        }
        EventType::WishlistItemRemoved => {
            p.deny_unknown(&["sku"])?;
            Payload::Wishlist(WishlistEvent::ItemRemoved {
                sku: p.required_id("sku", IdRule::Id)?,
            })
        }
        EventType::OrderPlaced => Payload::Order(OrderEvent::Placed(parse_order_placed(p)?)),
        EventType::OrderStatusChanged => {
            p.deny_unknown(&["order_id", "status"])?;
            let order_id = p.required_id("order_id", IdRule::Id)?;
            let status_name = p.required_str("status")?;
            let status = OrderStatus::CHANGEABLE
                .into_iter()
                .find(|s| s.as_str() == status_name)
                .ok_or_else(|| {
                    p.invalid(
                        "status",
                        "must be one of ready_for_pickup, picked_up, shipped, delivered, cancelled",
                    )
                })?;
            Payload::Order(OrderEvent::StatusChanged { order_id, status })
        }
        EventType::RefundRequested => Payload::Refund(parse_refund_requested(p)?),
        EventType::LoyaltyPointsRedeemed => {
            p.deny_unknown(&["redemption_id", "points"])?;
            Payload::Loyalty(LoyaltyEvent::PointsRedeemed {
                redemption_id: p.required_id("redemption_id", IdRule::Id)?,
                points: p.required_int("points", 1, MAX_POINTS)? as u32,
            })
        }
        EventType::LoyaltyPointsAdjusted => {
            p.deny_unknown(&["adjustment_id", "points", "reason"])?;
            let adjustment_id = p.required_id("adjustment_id", IdRule::Id)?;
            let points = p.required_int("points", -MAX_POINTS, MAX_POINTS)?;
            if points == 0 {
                return Err(p.invalid("points", "must not be 0"));
            }
            Payload::Loyalty(LoyaltyEvent::PointsAdjusted {
                adjustment_id,
                points: points as i32,
                reason: p.required_text("reason", MAX_REASON_CHARS)?,
            })
        }
        EventType::InventoryAvailabilityChanged => {
            p.deny_unknown(&["sku", "size", "store_id", "available_quantity"])?;
            Payload::Inventory(AvailabilityChanged {
                sku: p.required_id("sku", IdRule::Id)?,
                size: p.optional_text("size", MAX_SIZE_CHARS)?,
                store_id: p.optional_id("store_id", IdRule::Id)?,
                available_quantity: p.required_int(
                    "available_quantity",
                    0,
                    MAX_AVAILABLE_QUANTITY,
                )? as u32,
            })
        }
        EventType::IdentityLinked => {
            p.deny_unknown(&["anonymous_id"])?;
            let anonymous_id = p.required_id("anonymous_id", IdRule::Customer)?;
            if Some(anonymous_id.as_str()) == customer_id {
                return Err(p.invalid("anonymous_id", "must differ from `customer_id`"));
            }
            Payload::Identity(IdentityLinked { anonymous_id })
        }
        EventType::EngagementTouched => {
            p.deny_unknown(&["kind", "source", "sku"])?;
            let kind_name = p.required_str("kind")?;
            let kind = TouchKind::ALL
                .into_iter()
                .find(|k| k.as_str() == kind_name)
                .ok_or_else(|| p.invalid("kind", "must be one of session, contact"))?;
            let source = p.optional_id("source", IdRule::Id)?;
            if source
                .as_ref()
                .is_some_and(|source| source.len() > MAX_SOURCE_CHARS)
            {
                return Err(p.invalid(
                    "source",
                    &format!("must be 1–{MAX_SOURCE_CHARS} characters of [A-Za-z0-9._:-]"),
                ));
            }
            Payload::Engagement(EngagementTouched {
                kind,
                source,
                sku: p.optional_id("sku", IdRule::Id)?,
            })
        }
    })
}

fn parse_order_placed(p: &Obj<'_>) -> Result<OrderPlaced, Rejection> {
    p.deny_unknown(&[
        "order_id",
        "currency",
        "fulfillment",
        "pickup_store_id",
        "lines",
    ])?;
    let order_id = p.required_id("order_id", IdRule::Id)?;
    let currency = p.required_str("currency")?;
    if !is_iso_4217(currency) {
        return Err(p.invalid("currency", "must be an ISO 4217 alphabetic currency code"));
    }
    let fulfillment_name = p.required_str("fulfillment")?;
    let fulfillment = Fulfillment::ALL
        .into_iter()
        .find(|f| f.as_str() == fulfillment_name)
        .ok_or_else(|| p.invalid("fulfillment", "must be one of ship, pickup, in_store"))?;
    let pickup_store_id = p.optional_id("pickup_store_id", IdRule::Id)?;
    if fulfillment == Fulfillment::Pickup && pickup_store_id.is_none() {
        return Err(p.missing(
            "pickup_store_id",
            "is required when `fulfillment` is `pickup`",
        ));
    }
    let lines = p.required_lines(
        "lines",
        |line| {
            line.deny_unknown(&["sku", "quantity", "unit_price_minor"])?;
            Ok(OrderLine {
                sku: line.required_id("sku", IdRule::Id)?,
                quantity: line.required_int("quantity", 1, MAX_QUANTITY)? as u32,
                unit_price_minor: line.required_int("unit_price_minor", 0, MAX_UNIT_PRICE_MINOR)?
                    as u64,
            })
        },
        |line| &line.sku,
    )?;
    Ok(OrderPlaced {
        order_id,
        currency: currency.to_owned(),
        fulfillment,
        pickup_store_id,
        lines,
    })
}

fn parse_refund_requested(p: &Obj<'_>) -> Result<RefundRequested, Rejection> {
    p.deny_unknown(&["refund_id", "order_id", "lines", "reason"])?;
    let refund_id = p.required_id("refund_id", IdRule::Id)?;
    let order_id = p.required_id("order_id", IdRule::Id)?;
    let lines = p.required_lines(
        "lines",
        |line| {
            line.deny_unknown(&["sku", "quantity"])?;
            Ok(RefundLine {
                sku: line.required_id("sku", IdRule::Id)?,
                quantity: line.required_int("quantity", 1, MAX_QUANTITY)? as u32,
            })
        },
        |line| &line.sku,
    )?;
    Ok(RefundRequested {
        refund_id,
        order_id,
        lines,
        reason: p.optional_text("reason", MAX_REASON_CHARS)?,
    })
}

/// The two identifier alphabets of the contract.
#[derive(Clone, Copy)]
enum IdRule {
    /// Event ids, SKUs, order/refund/store ids: `[A-Za-z0-9._:-]`.
    Id,
    /// Customer and guest ids: `[A-Za-z0-9._:@-]`.
    Customer,
}

impl IdRule {
    fn allows(self, c: char) -> bool {
        c.is_ascii_alphanumeric()
            || matches!(c, '.' | '_' | ':' | '-')
            || (matches!(self, IdRule::Customer) && c == '@')
    }

    fn describe(self) -> &'static str {
        match self {
            IdRule::Id => "1–128 characters of [A-Za-z0-9._:-]",
            IdRule::Customer => "1–128 characters of [A-Za-z0-9._:@-]",
        }
    }
}

/// Active ISO 4217 alphabetic codes (funds and precious-metal codes excluded: nobody pays for a
/// basket in XAU). The list changes rarely; a code added by ISO needs one line here.
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD",
    "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN",
    "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD",
    "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES",
    "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
    "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP",
    "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK",
    "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT",
    "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED", "VES",
    "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

fn is_iso_4217(code: &str) -> bool {
    ISO_4217.binary_search(&code).is_ok()
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A JSON object being validated, with the path used to name its fields in `detail`s.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn new(map: &'a Map<String, Value>, path: impl Into<String>) -> Self {
        Obj {
            map,
            path: path.into(),
        }
    }

    fn field(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    fn invalid(&self, name: &str, rule: &str) -> Rejection {
        Rejection::new(
            ReasonCode::InvalidField,
            format!("`{}` {rule}", self.field(name)),
        )
    }

    fn missing(&self, name: &str, why: &str) -> Rejection {
        Rejection::new(
            ReasonCode::MissingField,
            format!("`{}` {why}", self.field(name)),
        )
    }

    fn deny_unknown(&self, known: &[&str]) -> Result<(), Rejection> {
        // Sorted, so the same body always names the same field.
        let mut unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .collect();
        unknown.sort();
        match unknown.first() {
            None => Ok(()),
            Some(name) => Err(Rejection::new(
                ReasonCode::UnknownField,
                format!("`{}` is not a field of this object", self.field(name)),
            )),
        }
    }

    fn required(&self, name: &str) -> Result<&'a Value, Rejection> {
        match self.map.get(name) {
            None => Err(self.missing(name, "is required")),
            Some(Value::Null) => Err(self.invalid(name, "must not be null")),
            Some(value) => Ok(value),
        }
    }

    fn optional(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn required_str(&self, name: &str) -> Result<&'a str, Rejection> {
        self.required(name)?
            .as_str()
            .ok_or_else(|| self.invalid(name, "must be a string"))
    }

    fn check_id(&self, name: &str, value: &Value, rule: IdRule) -> Result<String, Rejection> {
        let text = value
            .as_str()
            .ok_or_else(|| self.invalid(name, "must be a string"))?;
        let ok =
            !text.is_empty() && text.len() <= MAX_ID_CHARS && text.chars().all(|c| rule.allows(c));
        if ok {
            Ok(text.to_owned())
        } else {
            Err(self.invalid(name, &format!("must be {}", rule.describe())))
        }
    }

    fn required_id(&self, name: &str, rule: IdRule) -> Result<String, Rejection> {
        let value = self.required(name)?;
        self.check_id(name, value, rule)
    }

    fn optional_id(&self, name: &str, rule: IdRule) -> Result<Option<String>, Rejection> {
        self.optional(name)
            .map(|value| self.check_id(name, value, rule))
            .transpose()
    }

    fn check_text(&self, name: &str, value: &Value, max_chars: usize) -> Result<String, Rejection> {
        let text = value
            .as_str()
            .ok_or_else(|| self.invalid(name, "must be a string"))?;
        let chars = text.chars().count();
        if (1..=max_chars).contains(&chars) {
            Ok(text.to_owned())
        } else {
            Err(self.invalid(name, &format!("must be 1–{max_chars} characters")))
        }
    }

    fn required_text(&self, name: &str, max_chars: usize) -> Result<String, Rejection> {
        let value = self.required(name)?;
        self.check_text(name, value, max_chars)
    }

    fn optional_text(&self, name: &str, max_chars: usize) -> Result<Option<String>, Rejection> {
        self.optional(name)
            .map(|value| self.check_text(name, value, max_chars))
            .transpose()
    }

    /// An integer in `min..=max`. `1.0`, `"1"` and anything out of range are `invalid_field`.
    fn required_int(&self, name: &str, min: i64, max: i64) -> Result<i64, Rejection> {
        let rule = || format!("must be an integer from {min} to {max}");
        let value = self.required(name)?;
        // `as_i64` is `None` for `1.0` (a float in JSON) and for integers beyond i64.
        let number = value.as_i64().ok_or_else(|| self.invalid(name, &rule()))?;
        if (min..=max).contains(&number) {
            Ok(number)
        } else {
            Err(self.invalid(name, &rule()))
        }
    }

    fn required_object(&self, name: &str) -> Result<Obj<'a>, Rejection> {
        match self.required(name)? {
            Value::Object(map) => Ok(Obj::new(map, self.field(name))),
            _ => Err(self.invalid(name, "must be an object")),
        }
    }

    /// 1–100 line objects, each parsed by `parse`, with distinct SKUs.
    fn required_lines<T>(
        &self,
        name: &str,
        parse: impl Fn(&Obj<'_>) -> Result<T, Rejection>,
        sku: impl Fn(&T) -> &String,
    ) -> Result<Vec<T>, Rejection> {
        let Value::Array(items) = self.required(name)? else {
            return Err(self.invalid(name, "must be an array"));
        };
        if items.is_empty() || items.len() > MAX_LINES {
            return Err(self.invalid(name, &format!("must hold 1–{MAX_LINES} lines")));
        }
        let mut seen = HashSet::with_capacity(items.len());
        let mut lines = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let item_name = format!("{name}[{index}]");
            let Value::Object(map) = item else {
                return Err(self.invalid(&item_name, "must be an object"));
            };
            let line = parse(&Obj::new(map, self.field(&item_name)))?;
            if !seen.insert(sku(&line).clone()) {
                return Err(self.invalid(
                    &format!("{item_name}.sku"),
                    "repeats a SKU of an earlier line",
                ));
            }
            lines.push(line);
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests;
