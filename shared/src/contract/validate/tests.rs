use super::*;
use serde_json::json;

fn envelope(event_type: &str, payload: Value) -> Value {
    json!({
        "event_id": "ev-1",
        "type": event_type,
        "schema_version": 1,
        "customer_id": "c-1@example.com",
        "channel": "web",
        "occurred_at": "2026-11-02T10:15:30.123456+01:00",
        "payload": payload,
    })
}

fn valid_bodies() -> Vec<Value> {
    let mut inventory = envelope(
        "inventory.availability_changed",
        json!({"sku": "A", "size": "M", "store_id": "s-9", "available_quantity": 3}),
    );
    inventory.as_object_mut().map(|o| o.remove("customer_id"));
    vec![
        envelope("cart.item_added", json!({"sku": "A", "quantity": 2})),
        envelope("cart.item_quantity_set", json!({"sku": "A", "quantity": 0})),
        envelope("cart.item_removed", json!({"sku": "A"})),
        envelope("cart.cleared", json!({})),
        envelope(
            "wishlist.item_added",
            json!({"sku": "B", "preferred_size": "M"}),
        ),
        envelope("wishlist.item_removed", json!({"sku": "B"})),
        envelope(
            "order.placed",
            json!({"order_id": "o-1", "currency": "EUR", "fulfillment": "pickup", "pickup_store_id": "s-1",
                   "lines": [{"sku": "A", "quantity": 2, "unit_price_minor": 6000},
                             {"sku": "B", "quantity": 1, "unit_price_minor": 0}]}),
        ),
        envelope(
            "order.status_changed",
            json!({"order_id": "o-1", "status": "picked_up"}),
        ),
        envelope(
            "refund.requested",
            json!({"refund_id": "r-1", "order_id": "o-1", "lines": [{"sku": "A", "quantity": 1}], "reason": "too small"}),
        ),
        envelope(
            "loyalty.points_redeemed",
            json!({"redemption_id": "x-1", "points": 50}),
        ),
        envelope(
            "loyalty.points_adjusted",
            json!({"adjustment_id": "a-1", "points": -20, "reason": "goodwill"}),
        ),
        inventory,
        envelope("identity.linked", json!({"anonymous_id": "guest-7"})),
        envelope(
            "engagement.touched",
            json!({"kind": "session", "source": "instagram", "sku": "A"}),
        ),
    ]
}

fn parse(value: &Value) -> Result<Event, Rejection> {
    parse_event(&value.to_string(), None)
}

/// Applies `edit` to a valid cart body and expects `reason` with a detail naming `field`.
fn expect(edit: impl FnOnce(&mut Map<String, Value>), reason: ReasonCode, field: &str) {
    let mut body = envelope("cart.item_added", json!({"sku": "A", "quantity": 2}));
    if let Some(object) = body.as_object_mut() {
        edit(object);
    }
    let rejection = parse(&body).expect_err("the edit must make the body invalid");
    assert_eq!(rejection.reason, reason, "{rejection}");
    assert!(
        rejection.detail.contains(&format!("`{field}`")),
        "detail `{}` should name `{field}`",
        rejection.detail
    );
}

#[test]
fn every_type_has_a_valid_sample() {
    let bodies = valid_bodies();
    let mut types: Vec<EventType> = bodies
        .iter()
        .map(|b| parse(b).map(|e| e.event_type()).unwrap())
        .collect();
    types.sort();
    assert_eq!(types, EventType::ALL.to_vec());
}

#[test]
fn envelope_fields_are_typed() {
    let event = parse(&valid_bodies()[0]).unwrap();
    assert_eq!(event.key, EventKey::new(1_793_610_930_123, "ev-1"));
    assert_eq!(event.customer_id.as_deref(), Some("c-1@example.com"));
    assert_eq!(event.channel, Channel::Web);
    assert_eq!(event.store_id, None);
    assert_eq!(
        event.payload,
        Payload::Cart(CartEvent::ItemAdded {
            sku: "A".into(),
            quantity: 2
        })
    );
}

#[test]
fn occurred_at_is_truncated_to_the_millisecond_in_utc() {
    for (text, ms) in [
        ("1970-01-01T00:00:00.0009Z", 0),
        ("1970-01-01T01:00:00.0019+01:00", 1),
        ("1969-12-31T23:59:59.9999Z", -1),
        ("2026-11-02T09:15:30.123Z", 1_793_610_930_123),
    ] {
        assert_eq!(parse_instant(text), Some(ms), "{text}");
    }
    for text in [
        "2026-11-02T09:15:30",
        "2026-11-02",
        "yesterday",
        "2026-13-02T09:15:30Z",
    ] {
        assert_eq!(parse_instant(text), None, "{text}");
    }
}

#[test]
fn size_and_syntax() {
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
    assert_eq!(
        parse_event(&huge, None).unwrap_err().reason,
        ReasonCode::TooLarge
    );
    for body in [
        "",
        "{",
        "[1,2]",
        "\"text\"",
        "null",
        "{\"a\":1,\"a\":1}",
        "{\"a\":NaN}",
    ] {
        assert_eq!(
            parse_event(body, None).unwrap_err().reason,
            ReasonCode::MalformedJson,
            "{body}"
        );
    }
}

#[test]
fn schema_version_rules() {
    expect(
        |o| {
            o.insert("schema_version".into(), json!(2));
        },
        ReasonCode::UnsupportedSchemaVersion,
        "schema_version",
    );
    expect(
        |o| {
            o.insert("schema_version".into(), json!("1"));
        },
        ReasonCode::InvalidField,
        "schema_version",
    );
    expect(
        |o| {
            o.insert("schema_version".into(), json!(1.0));
        },
        ReasonCode::InvalidField,
        "schema_version",
    );
    expect(
        |o| {
            o.insert("schema_version".into(), Value::Null);
        },
        ReasonCode::InvalidField,
        "schema_version",
    );
    expect(
        |o| {
            o.remove("schema_version");
        },
        ReasonCode::MissingField,
        "schema_version",
    );
}

#[test]
fn envelope_rules() {
    expect(
        |o| {
            o.insert("colour".into(), json!("red"));
        },
        ReasonCode::UnknownField,
        "colour",
    );
    expect(
        |o| {
            o.insert("type".into(), json!("cart.item_exploded"));
        },
        ReasonCode::UnknownType,
        "cart.item_exploded",
    );
    expect(
        |o| {
            o.insert("type".into(), json!(7));
        },
        ReasonCode::InvalidField,
        "type",
    );
    expect(
        |o| {
            o.remove("event_id");
        },
        ReasonCode::MissingField,
        "event_id",
    );
    expect(
        |o| {
            o.insert("event_id".into(), json!("has space"));
        },
        ReasonCode::InvalidField,
        "event_id",
    );
    expect(
        |o| {
            o.insert("event_id".into(), json!("x".repeat(129)));
        },
        ReasonCode::InvalidField,
        "event_id",
    );
    expect(
        |o| {
            o.insert("event_id".into(), json!(""));
        },
        ReasonCode::InvalidField,
        "event_id",
    );
    expect(
        |o| {
            o.insert("event_id".into(), json!("a@b"));
        },
        ReasonCode::InvalidField,
        "event_id",
    );
    expect(
        |o| {
            o.insert("customer_id".into(), Value::Null);
        },
        ReasonCode::InvalidField,
        "customer_id",
    );
    expect(
        |o| {
            o.remove("customer_id");
        },
        ReasonCode::MissingField,
        "customer_id",
    );
    expect(
        |o| {
            o.insert("customer_id".into(), json!("c#1"));
        },
        ReasonCode::InvalidField,
        "customer_id",
    );
    expect(
        |o| {
            o.insert("channel".into(), json!("fax"));
        },
        ReasonCode::InvalidField,
        "channel",
    );
    expect(
        |o| {
            o.insert("occurred_at".into(), json!("2026-11-02 noon"));
        },
        ReasonCode::InvalidField,
        "occurred_at",
    );
    expect(
        |o| {
            o.insert("occurred_at".into(), json!("2026-11-02T10:00:00"));
        },
        ReasonCode::InvalidField,
        "occurred_at",
    );
    expect(
        |o| {
            o.insert("channel".into(), json!("store"));
        },
        ReasonCode::MissingField,
        "store_id",
    );
    expect(
        |o| {
            o.insert("store_id".into(), json!(""));
        },
        ReasonCode::InvalidField,
        "store_id",
    );
    expect(
        |o| {
            o.insert("payload".into(), json!([]));
        },
        ReasonCode::InvalidField,
        "payload",
    );
    expect(
        |o| {
            o.remove("payload");
        },
        ReasonCode::MissingField,
        "payload",
    );
}

#[test]
fn null_optional_fields_count_as_absent() {
    let mut body = envelope(
        "wishlist.item_added",
        json!({"sku": "B", "preferred_size": null}),
    );
    body["store_id"] = Value::Null;
    let event = parse(&body).unwrap();
    assert_eq!(event.store_id, None);
    assert_eq!(
        event.payload,
        Payload::Wishlist(WishlistEvent::ItemAdded {
            sku: "B".into(),
            preferred_size: None
        })
    );
    body["channel"] = json!("store");
    assert_eq!(parse(&body).unwrap_err().reason, ReasonCode::MissingField);
}

#[test]
fn store_events_carry_their_store() {
    let mut body = valid_bodies()[0].clone();
    body["channel"] = json!("store");
    body["store_id"] = json!("store-042");
    let event = parse(&body).unwrap();
    assert_eq!(
        (event.channel, event.store_id.as_deref()),
        (Channel::Store, Some("store-042"))
    );
}

#[test]
fn payload_rules() {
    let cases: Vec<(&str, Value, ReasonCode, &str)> = vec![
        (
            "cart.item_added",
            json!({"sku": "A", "quantity": 0}),
            ReasonCode::InvalidField,
            "payload.quantity",
        ),
        (
            "cart.item_added",
            json!({"sku": "A", "quantity": 1000}),
            ReasonCode::InvalidField,
            "payload.quantity",
        ),
        (
            "cart.item_added",
            json!({"sku": "A", "quantity": "2"}),
            ReasonCode::InvalidField,
            "payload.quantity",
        ),
        (
            "cart.item_added",
            json!({"sku": "A", "quantity": 2.0}),
            ReasonCode::InvalidField,
            "payload.quantity",
        ),
        (
            "cart.item_added",
            json!({"sku": "A"}),
            ReasonCode::MissingField,
            "payload.quantity",
        ),
        (
            "cart.item_added",
            json!({"sku": "A", "qty": 2}),
            ReasonCode::UnknownField,
            "payload.qty",
        ),
        (
            "cart.item_added",
            json!({"sku": null, "quantity": 2}),
            ReasonCode::InvalidField,
            "payload.sku",
        ),
        (
            "cart.item_quantity_set",
            json!({"sku": "A", "quantity": -1}),
            ReasonCode::InvalidField,
            "payload.quantity",
        ),
        (
            "cart.cleared",
            json!({"sku": "A"}),
            ReasonCode::UnknownField,
            "payload.sku",
        ),
        (
            "wishlist.item_added",
            json!({"sku": "B", "preferred_size": ""}),
            ReasonCode::InvalidField,
            "payload.preferred_size",
        ),
        (
            "wishlist.item_added",
            json!({"sku": "B", "preferred_size": "x".repeat(17)}),
            ReasonCode::InvalidField,
            "payload.preferred_size",
        ),
        (
            "order.placed",
            json!({"order_id": "o", "currency": "EURO", "fulfillment": "ship", "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 1}]}),
            ReasonCode::InvalidField,
            "payload.currency",
        ),
        (
            "order.placed",
            json!({"order_id": "o", "currency": "EUR", "fulfillment": "drone", "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 1}]}),
            ReasonCode::InvalidField,
            "payload.fulfillment",
        ),
        (
            "order.placed",
            json!({"order_id": "o", "currency": "EUR", "fulfillment": "pickup", "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 1}]}),
            ReasonCode::MissingField,
            "payload.pickup_store_id",
        ),
        (
            "order.placed",
            json!({"order_id": "o", "currency": "EUR", "fulfillment": "ship", "lines": []}),
            ReasonCode::InvalidField,
            "payload.lines",
        ),
        (
            "order.placed",
            json!({"order_id": "o", "currency": "EUR", "fulfillment": "ship", "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 1}, {"sku": "A", "quantity": 2, "unit_price_minor": 1}]}),
            ReasonCode::InvalidField,
            "payload.lines[1].sku",
        ),
        (
            "order.placed",
            json!({"order_id": "o", "currency": "EUR", "fulfillment": "ship", "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 1_000_000_001}]}),
            ReasonCode::InvalidField,
            "payload.lines[0].unit_price_minor",
        ),
        (
            "order.placed",
            json!({"order_id": "o", "currency": "EUR", "fulfillment": "ship", "lines": [{"sku": "A", "quantity": 1, "unit_price_minor": 1, "note": "x"}]}),
            ReasonCode::UnknownField,
            "payload.lines[0].note",
        ),
        (
            "order.placed",
            json!({"order_id": "o", "currency": "EUR", "fulfillment": "ship", "lines": ["A"]}),
            ReasonCode::InvalidField,
            "payload.lines[0]",
        ),
        (
            "order.status_changed",
            json!({"order_id": "o", "status": "placed"}),
            ReasonCode::InvalidField,
            "payload.status",
        ),
        (
            "refund.requested",
            json!({"refund_id": "r", "order_id": "o", "lines": [{"sku": "A", "quantity": 1}], "reason": ""}),
            ReasonCode::InvalidField,
            "payload.reason",
        ),
        (
            "refund.requested",
            json!({"refund_id": "r", "order_id": "o", "lines": [{"sku": "A"}]}),
            ReasonCode::MissingField,
            "payload.lines[0].quantity",
        ),
        (
            "loyalty.points_redeemed",
            json!({"redemption_id": "x", "points": 0}),
            ReasonCode::InvalidField,
            "payload.points",
        ),
        (
            "loyalty.points_redeemed",
            json!({"redemption_id": "x", "points": 1_000_001}),
            ReasonCode::InvalidField,
            "payload.points",
        ),
        (
            "loyalty.points_adjusted",
            json!({"adjustment_id": "a", "points": 0, "reason": "r"}),
            ReasonCode::InvalidField,
            "payload.points",
        ),
        (
            "loyalty.points_adjusted",
            json!({"adjustment_id": "a", "points": -1_000_001, "reason": "r"}),
            ReasonCode::InvalidField,
            "payload.points",
        ),
        (
            "loyalty.points_adjusted",
            json!({"adjustment_id": "a", "points": 5}),
            ReasonCode::MissingField,
            "payload.reason",
        ),
        (
            "identity.linked",
            json!({"anonymous_id": "c-1@example.com"}),
            ReasonCode::InvalidField,
            "payload.anonymous_id",
        ),
    ];
    for (event_type, payload, reason, field) in cases {
        let rejection =
            parse(&envelope(event_type, payload.clone())).expect_err(&payload.to_string());
        assert_eq!(
            rejection.reason, reason,
            "{event_type} {payload}: {rejection}"
        );
        assert!(
            rejection.detail.contains(&format!("`{field}`")),
            "{event_type}: {}",
            rejection.detail
        );
    }
}

#[test]
fn inventory_events_must_not_name_a_customer() {
    let mut body = valid_bodies()[11].clone();
    assert!(parse(&body).is_ok());
    body["customer_id"] = Value::Null;
    assert!(parse(&body).is_ok(), "null counts as absent");
    body["customer_id"] = json!("c-1");
    let rejection = parse(&body).unwrap_err();
    assert_eq!(
        (rejection.reason, rejection.detail.contains("`customer_id`")),
        (ReasonCode::InvalidField, true)
    );
}

#[test]
fn a_touch_takes_a_kind_and_an_optional_source_of_at_most_64_id_characters() {
    let mut body = valid_bodies().pop().unwrap();
    let touch = parse(&body).unwrap();
    assert_eq!(
        touch.payload,
        Payload::Engagement(EngagementTouched {
            kind: TouchKind::Session,
            source: Some("instagram".into()),
            sku: Some("A".into()),
        })
    );
    body["payload"]["source"] = json!("e".repeat(64));
    assert!(parse(&body).is_ok());
    for (field, value) in [
        ("source", json!("e".repeat(65))),
        ("source", json!("spring sale")),
        ("source", json!("")),
        ("kind", json!("visit")),
        ("sku", json!(7)),
    ] {
        let mut bad = valid_bodies().pop().unwrap();
        bad["payload"][field] = value;
        let rejection = parse(&bad).unwrap_err();
        assert_eq!(rejection.reason, ReasonCode::InvalidField, "{field}");
        assert!(rejection.detail.contains(field), "{}", rejection.detail);
    }
    body["payload"] = json!({"kind": "contact", "source": null});
    assert_eq!(
        parse(&body).unwrap().payload,
        Payload::Engagement(EngagementTouched {
            kind: TouchKind::Contact,
            source: None,
            sku: None,
        })
    );
}

#[test]
fn iso_currency_list_is_sorted_for_binary_search() {
    assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
    assert!(is_iso_4217("EUR") && is_iso_4217("USD") && !is_iso_4217("eur") && !is_iso_4217("XXX"));
}

#[test]
fn order_total_is_the_sum_of_lines() {
    let event = parse(&valid_bodies()[6]).unwrap();
    let Payload::Order(OrderEvent::Placed(order)) = event.payload else {
        panic!("not an order");
    };
    assert_eq!(order.total_minor(), 12_000);
}

#[test]
fn an_occurred_at_more_than_five_minutes_after_sending_is_invalid() {
    let body = valid_bodies().remove(0);
    let at_ms = parse(&body).unwrap().key.at_ms;
    let text = body.to_string();
    // Sent exactly 5 minutes before it occurred: accepted; one millisecond more: refused.
    assert!(parse_event(&text, Some(at_ms - MAX_CLOCK_AHEAD_MS)).is_ok());
    let ahead = parse_event(&text, Some(at_ms - MAX_CLOCK_AHEAD_MS - 1)).unwrap_err();
    assert_eq!(ahead.reason, ReasonCode::InvalidField);
    assert!(ahead.detail.contains("occurred_at"), "{}", ahead.detail);
    // Dated in the past (a late store upload): always accepted.
    assert!(parse_event(&text, Some(at_ms + 400 * 24 * 3_600_000)).is_ok());
}

#[test]
fn the_clock_rule_comes_in_its_place_in_the_check_order() {
    let mut body = valid_bodies().remove(0);
    let at_ms = parse(&body).unwrap().key.at_ms;
    body["payload"]["nope"] = json!(1);
    // occurred_at is an envelope field: checked before the payload's unknown field.
    let rejection = parse_event(&body.to_string(), Some(at_ms - 3_600_000)).unwrap_err();
    assert_eq!(rejection.reason, ReasonCode::InvalidField);
    assert!(
        rejection.detail.contains("occurred_at"),
        "{}",
        rejection.detail
    );
}

/// The contract's JSON for an event, written out independently of the parser: what a channel
/// would send for it.
fn body_of(event: &Event) -> Value {
    let instant = chrono::DateTime::from_timestamp_millis(event.key.at_ms)
        .expect("an instant the parser accepted")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let payload = match &event.payload {
        Payload::Cart(CartEvent::ItemAdded { sku, quantity })
        | Payload::Cart(CartEvent::ItemQuantitySet { sku, quantity }) => {
            json!({"sku": sku, "quantity": quantity})
        }
        Payload::Cart(CartEvent::ItemRemoved { sku }) => json!({"sku": sku}),
        Payload::Cart(CartEvent::Cleared) => json!({}),
        Payload::Wishlist(WishlistEvent::ItemAdded {
            sku,
            preferred_size,
        }) => json!({"sku": sku, "preferred_size": preferred_size}),
        Payload::Wishlist(WishlistEvent::ItemRemoved { sku }) => json!({"sku": sku}),
        Payload::Order(OrderEvent::Placed(order)) => json!({
            "order_id": order.order_id, "currency": order.currency,
            "fulfillment": order.fulfillment.as_str(), "pickup_store_id": order.pickup_store_id,
            "lines": order.lines,
        }),
        Payload::Order(OrderEvent::StatusChanged { order_id, status }) => {
            json!({"order_id": order_id, "status": status.as_str()})
        }
        Payload::Refund(refund) => json!({
            "refund_id": refund.refund_id, "order_id": refund.order_id, "lines": refund.lines,
            "reason": refund.reason,
        }),
        Payload::Loyalty(LoyaltyEvent::PointsRedeemed {
            redemption_id,
            points,
        }) => json!({"redemption_id": redemption_id, "points": points}),
        Payload::Loyalty(LoyaltyEvent::PointsAdjusted {
            adjustment_id,
            points,
            reason,
        }) => json!({"adjustment_id": adjustment_id, "points": points, "reason": reason}),
        Payload::Inventory(report) => json!({
            "sku": report.sku, "size": report.size, "store_id": report.store_id,
            "available_quantity": report.available_quantity,
        }),
        Payload::Identity(link) => json!({"anonymous_id": link.anonymous_id}),
        Payload::Engagement(touch) => {
            json!({"kind": touch.kind.as_str(), "source": touch.source, "sku": touch.sku})
        }
    };
    json!({
        "event_id": event.event_id(), "type": event.event_type().as_str(), "schema_version": 1,
        "customer_id": event.customer_id, "channel": event.channel.as_str(),
        "occurred_at": instant, "store_id": event.store_id, "payload": payload,
    })
}

/// One way to damage a valid body.
#[derive(Debug, Clone)]
enum Mutation {
    /// Remove the key at this index (of the top level or, when `in_payload`, the payload).
    Remove { in_payload: bool, index: usize },
    /// Replace the value at this index with another JSON value.
    Replace {
        in_payload: bool,
        index: usize,
        value: Value,
    },
    /// Add a field.
    Add { in_payload: bool, name: String },
    /// Cut the serialized body at this byte.
    Truncate(usize),
    /// Overwrite one byte of the serialized body.
    Byte { at: usize, value: u8 },
}

fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        "[ -~]{0,12}".prop_map(Value::String),
        Just(json!(999)),
        Just(json!(0)),
        Just(json!("")),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_mutation() -> impl proptest::strategy::Strategy<Value = Mutation> {
    use proptest::prelude::*;
    prop_oneof![
        (any::<bool>(), 0usize..10)
            .prop_map(|(in_payload, index)| Mutation::Remove { in_payload, index }),
        (any::<bool>(), 0usize..10, arb_json()).prop_map(|(in_payload, index, value)| {
            Mutation::Replace {
                in_payload,
                index,
                value,
            }
        }),
        (any::<bool>(), "[a-z_]{1,10}")
            .prop_map(|(in_payload, name)| Mutation::Add { in_payload, name }),
        (0usize..400).prop_map(Mutation::Truncate),
        (0usize..400, any::<u8>()).prop_map(|(at, value)| Mutation::Byte { at, value }),
    ]
}

fn mutate(mut body: Value, mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes_edits = Vec::new();
    for mutation in mutations {
        let target =
            |body: &mut Value, in_payload: bool| -> Option<serde_json::Map<String, Value>> {
                let object = if in_payload {
                    body.get_mut("payload")?.as_object_mut()?
                } else {
                    body.as_object_mut()?
                };
                Some(std::mem::take(object))
            };
        let put_back =
            |body: &mut Value, in_payload: bool, object: serde_json::Map<String, Value>| {
                let slot = if in_payload {
                    body.get_mut("payload")
                } else {
                    Some(body)
                };
                if let Some(slot) = slot {
                    *slot = Value::Object(object);
                }
            };
        match mutation {
            Mutation::Remove { in_payload, index } => {
                if let Some(mut object) = target(&mut body, *in_payload) {
                    if let Some(key) = object.keys().nth(*index % object.len().max(1)).cloned() {
                        object.remove(&key);
                    }
                    put_back(&mut body, *in_payload, object);
                }
            }
            Mutation::Replace {
                in_payload,
                index,
                value,
            } => {
                if let Some(mut object) = target(&mut body, *in_payload) {
                    if let Some(key) = object.keys().nth(*index % object.len().max(1)).cloned() {
                        object.insert(key, value.clone());
                    }
                    put_back(&mut body, *in_payload, object);
                }
            }
            Mutation::Add { in_payload, name } => {
                if let Some(mut object) = target(&mut body, *in_payload) {
                    object.insert(name.clone(), json!(1));
                    put_back(&mut body, *in_payload, object);
                }
            }
            Mutation::Truncate(_) | Mutation::Byte { .. } => bytes_edits.push(mutation.clone()),
        }
    }
    let mut bytes = body.to_string().into_bytes();
    for edit in bytes_edits {
        match edit {
            Mutation::Truncate(at) => bytes.truncate(at % (bytes.len() + 1)),
            Mutation::Byte { at, value } if !bytes.is_empty() => {
                let at = at % bytes.len();
                bytes[at] = value;
            }
            _ => {}
        }
    }
    bytes
}

/// Every accepted body must mean the same event when the event is written out again.
fn round_trips(accepted: &Event) -> Result<(), String> {
    let again =
        parse(&body_of(accepted)).map_err(|r| format!("re-encoded body rejected: {r:?}"))?;
    if &again == accepted {
        Ok(())
    } else {
        Err(format!("{again:?} != {accepted:?}"))
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

    /// Arbitrary bytes never panic the parser; whatever it accepts round-trips.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(event) = parse_event(&text, None) {
            proptest::prop_assert!(round_trips(&event).is_ok());
        }
    }

    /// Mutations of valid bodies never panic, always end in a typed result, and every body still
    /// accepted round-trips to the same event.
    #[test]
    fn mutated_valid_bodies_never_panic_and_accepted_ones_round_trip(
        which in 0usize..13,
        mutations in proptest::collection::vec(arb_mutation(), 1..4),
    ) {
        let body = valid_bodies().swap_remove(which);
        let bytes = mutate(body, &mutations);
        let text = String::from_utf8_lossy(&bytes);
        match parse_event(&text, None) {
            Ok(event) => {
                let checked = round_trips(&event);
                proptest::prop_assert!(checked.is_ok(), "{}: {:?}", text, checked);
            }
            Err(rejection) => proptest::prop_assert!(!rejection.detail.is_empty()),
        }
    }
}

#[test]
fn every_valid_sample_round_trips() {
    for body in valid_bodies() {
        let event = parse(&body).unwrap();
        assert_eq!(round_trips(&event), Ok(()), "{body}");
    }
}
