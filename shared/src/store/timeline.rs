//! Timeline strands: one item per id and strand (`TIMELINE#FOLLOWS`, `TIMELINE#OWN`,
//! `TIMELINE#IDENTITY`), an attribute per event (`e:<t>:<event id>` = `{y, c, s, r}`: type,
//! channel, store, ref).
//!
//! Recording is one `UpdateItem` per id and batch that sets the events' attributes, with no
//! condition: setting an entry twice writes the same value, so a redelivery changes nothing. The
//! update returns the item; when it holds more than `KEPT_PER_STRAND` entries, one more
//! `UpdateItem` removes all but the latest 20, also without a condition: an entry outranked by
//! 20 later ones is outranked forever (see [`crate::domain::timeline`]), so removing it is right
//! whatever other writers added meanwhile.

use super::key::CustomerItem;
use super::{StoreError, Table};
use crate::contract::{Channel, EventKey, EventType};
use crate::domain::timeline::{Entry, IdTimeline, Strand, to_trim};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::collections::HashMap;

const ENTRY_PREFIX: &str = "e:";
/// Entries per `UpdateItem` (each is about 150 bytes of expression; the limit is 4 KB).
const ENTRIES_PER_WRITE: usize = 20;

fn entry_attribute(key: &EventKey) -> String {
    format!("{ENTRY_PREFIX}{}:{}", key.at_ms, key.event_id)
}

/// The key an entry attribute's name holds (`t` holds no `:`, so the first `:` ends it).
fn key_of_attribute(name: &str) -> Option<EventKey> {
    let rest = name.strip_prefix(ENTRY_PREFIX)?;
    let (at, event_id) = rest.split_once(':')?;
    Some(EventKey::new(at.parse().ok()?, event_id))
}

fn entry_value(entry: &Entry) -> AttributeValue {
    let mut map = HashMap::from([
        (
            "y".to_owned(),
            AttributeValue::S(entry.event_type.as_str().to_owned()),
        ),
        (
            "c".to_owned(),
            AttributeValue::S(entry.channel.as_str().to_owned()),
        ),
    ]);
    if let Some(store_id) = &entry.store_id {
        map.insert("s".to_owned(), AttributeValue::S(store_id.clone()));
    }
    if let Some(reference) = &entry.reference {
        map.insert("r".to_owned(), AttributeValue::S(reference.clone()));
    }
    AttributeValue::M(map)
}

fn entry_of(name: &str, value: &AttributeValue) -> Option<Entry> {
    let key = key_of_attribute(name)?;
    let AttributeValue::M(map) = value else {
        return None;
    };
    let text = |field: &str| match map.get(field) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    };
    Some(Entry {
        key,
        event_type: EventType::parse(&text("y")?)?,
        channel: Channel::parse(&text("c")?)?,
        store_id: text("s"),
        reference: text("r"),
    })
}

/// Every entry of a stored strand item (attributes this reader does not know are skipped).
pub(crate) fn strand_entries(item: &HashMap<String, AttributeValue>) -> Vec<Entry> {
    item.iter()
        .filter_map(|(name, value)| entry_of(name, value))
        .collect()
}

/// Adds a stored strand item to an id's timeline.
pub(crate) fn add_strand(
    timeline: &mut IdTimeline,
    strand: Strand,
    item: &HashMap<String, AttributeValue>,
) {
    timeline.strand_mut(strand).extend(strand_entries(item));
}

impl Table {
    /// Records events of one id and strand in its timeline item, and trims the item when it
    /// holds more than it needs.
    pub async fn record_timeline(
        &self,
        id: &str,
        strand: Strand,
        entries: &[Entry],
    ) -> Result<(), StoreError> {
        let item = self.customer_item(id, &CustomerItem::Timeline(strand));
        // A batch may hold one event twice (a redelivery), and one update may not set one
        // attribute twice.
        let mut entries: Vec<&Entry> = entries.iter().collect();
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        entries.dedup_by(|a, b| a.key == b.key);
        for chunk in entries.chunks(ENTRIES_PER_WRITE) {
            let mut update = self
                .client
                .update_item()
                .table_name(&self.name)
                .key("pk", AttributeValue::S(item.pk.clone()))
                .key("sk", AttributeValue::S(item.sk.clone()))
                .return_values(ReturnValue::AllNew);
            let mut sets = Vec::with_capacity(chunk.len());
            for (i, entry) in chunk.iter().enumerate() {
                sets.push(format!("#e{i} = :e{i}"));
                update = update
                    .expression_attribute_names(format!("#e{i}"), entry_attribute(&entry.key))
                    .expression_attribute_values(format!(":e{i}"), entry_value(entry));
            }
            let output = update
                .update_expression(format!("SET {}", sets.join(", ")))
                .send()
                .await
                .map_err(|e| item.request_error("UpdateItem", e.into()))?;
            let stored = output.attributes.unwrap_or_default();
            let keys: Vec<EventKey> = stored
                .keys()
                .filter_map(|name| key_of_attribute(name))
                .collect();
            let trim = to_trim(&keys);
            if !trim.is_empty() {
                self.trim_timeline(&item.pk, &item.sk, &trim).await?;
            }
        }
        Ok(())
    }

    async fn trim_timeline(&self, pk: &str, sk: &str, keys: &[EventKey]) -> Result<(), StoreError> {
        for chunk in keys.chunks(ENTRIES_PER_WRITE * 2) {
            let mut update = self
                .client
                .update_item()
                .table_name(&self.name)
                .key("pk", AttributeValue::S(pk.to_owned()))
                .key("sk", AttributeValue::S(sk.to_owned()));
            let mut removes = Vec::with_capacity(chunk.len());
            for (i, key) in chunk.iter().enumerate() {
                removes.push(format!("#r{i}"));
                update = update.expression_attribute_names(format!("#r{i}"), entry_attribute(key));
            }
            update
                .update_expression(format!("REMOVE {}", removes.join(", ")))
                .send()
                .await
                .map_err(|e| self.request_error("UpdateItem", pk, sk, e.into()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_reads_back_as_it_was_written() {
        let entry = Entry {
            key: EventKey::new(-12, "ev:1"),
            event_type: EventType::EngagementTouched,
            channel: Channel::CallCenter,
            store_id: Some("s-1".into()),
            reference: None,
        };
        let item = HashMap::from([
            (entry_attribute(&entry.key), entry_value(&entry)),
            ("pk".to_owned(), AttributeValue::S("CUSTOMER#c".into())),
        ]);
        assert_eq!(strand_entries(&item), vec![entry]);
    }
}
