//! The state table's stream records, read with the same key parser as the table itself: both
//! stream-triggered functions (the ledger and the view fan-out) see a record as "this item of this
//! customer's partition changed from this image to that one".

use super::key::{CustomerItem, customer_of_pk};
use aws_lambda_events::event::dynamodb::EventRecord;
use serde::de::DeserializeOwned;

/// Which image of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Image {
    Old,
    New,
}

impl Image {
    fn as_str(self) -> &'static str {
        match self {
            Image::Old => "old",
            Image::New => "new",
        }
    }
}

/// An image that does not have the shape its sort key promises.
#[derive(Debug, thiserror::Error)]
#[error("record {sequence}: the {image} image of {pk}/{sk} has an unexpected shape: {source}")]
pub struct ImageError {
    pub sequence: String,
    pub image: &'static str,
    pub pk: String,
    pub sk: String,
    #[source]
    pub source: serde_dynamo::Error,
}

/// One stream record of the state table.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub record: &'a EventRecord,
}

impl<'a> Change<'a> {
    pub fn of(record: &'a EventRecord) -> Self {
        Change { record }
    }

    /// The record's sequence number (what a stream batch item failure names).
    pub fn sequence(&self) -> String {
        self.record
            .change
            .sequence_number
            .clone()
            .unwrap_or_default()
    }

    fn key(&self, name: &str) -> &'a str {
        match self.record.change.keys.get(name) {
            Some(serde_dynamo::AttributeValue::S(value)) => value,
            _ => "",
        }
    }

    pub fn pk(&self) -> &'a str {
        self.key("pk")
    }

    pub fn sk(&self) -> &'a str {
        self.key("sk")
    }

    /// The customer (or guest) id whose partition changed; `None` for other partitions.
    pub fn customer_id(&self) -> Option<&'a str> {
        customer_of_pk(self.pk())
    }

    /// The item of a customer's partition that changed; `None` outside customer partitions or
    /// for an unknown sort key.
    pub fn customer_item(&self) -> Option<(&'a str, CustomerItem)> {
        Some((self.customer_id()?, CustomerItem::parse(self.sk())?))
    }

    /// One image as `T`; `None` when the record has no such image (a create has no old image).
    pub fn image<T: DeserializeOwned>(&self, which: Image) -> Result<Option<T>, ImageError> {
        let item = match which {
            Image::New => &self.record.change.new_image,
            Image::Old => &self.record.change.old_image,
        };
        if item.is_empty() {
            return Ok(None);
        }
        serde_dynamo::from_item(item.clone())
            .map(Some)
            .map_err(|source| ImageError {
                sequence: self.sequence(),
                image: which.as_str(),
                pk: self.pk().to_owned(),
                sk: self.sk().to_owned(),
                source,
            })
    }
}
