//! Function configuration, read from the environment the infrastructure template sets (§5).
//!
//! Everything is read through a lookup function, so the local event-source runner can hand each
//! function the environment the template declares for it without touching the process's own.

use crate::contract::Channel;
use std::collections::{HashMap, HashSet};

/// The state table's name.
pub const TABLE_VAR: &str = "OMNISYNC_TABLE";
/// The URL of the `rejected-events` queue.
pub const REJECTED_QUEUE_URL_VAR: &str = "OMNISYNC_REJECTED_QUEUE_URL";
/// Optional JSON object: SQS `SenderId` → channels that sender may claim.
pub const CHANNEL_SENDERS_VAR: &str = "OMNISYNC_CHANNEL_SENDERS";
/// The `channel-updates-<channel>` queue URLs (view fan-out only).
pub const CHANNEL_UPDATES_VARS: [(Channel, &str); 4] = [
    (Channel::Web, "OMNISYNC_CHANNEL_UPDATES_WEB_URL"),
    (Channel::App, "OMNISYNC_CHANNEL_UPDATES_APP_URL"),
    (Channel::Store, "OMNISYNC_CHANNEL_UPDATES_STORE_URL"),
    (
        Channel::CallCenter,
        "OMNISYNC_CHANNEL_UPDATES_CALL_CENTER_URL",
    ),
];
/// Optional, comma-separated: the role ids of omnisync's own functions that deliver messages
/// again (order-sync, for events that waited for their order).
pub const REDELIVERING_SENDERS_VAR: &str = "OMNISYNC_REDELIVERING_SENDERS";
/// How long an event waits for its order (seconds; contract §3, 14 days by default).
pub const ORDER_WAIT_SECONDS_VAR: &str = "OMNISYNC_ORDER_WAIT_SECONDS";
/// The default wait for an order: 14 days.
pub const DEFAULT_ORDER_WAIT: std::time::Duration = std::time::Duration::from_secs(14 * 24 * 3600);
/// The queues events that waited for their order go back to, and their DLQs (order-sync only).
pub const ORDER_EVENTS_URL_VAR: &str = "OMNISYNC_ORDER_EVENTS_URL";
pub const ORDER_EVENTS_DLQ_URL_VAR: &str = "OMNISYNC_ORDER_EVENTS_DLQ_URL";
pub const REFUND_EVENTS_URL_VAR: &str = "OMNISYNC_REFUND_EVENTS_URL";
pub const REFUND_EVENTS_DLQ_URL_VAR: &str = "OMNISYNC_REFUND_EVENTS_DLQ_URL";
/// The bucket for views too large for one SQS message (view fan-out only).
pub const VIEWS_BUCKET_VAR: &str = "OMNISYNC_VIEWS_BUCKET";
/// The `notifications` queue URL (availability notifier only).
pub const NOTIFICATIONS_QUEUE_URL_VAR: &str = "OMNISYNC_NOTIFICATIONS_QUEUE_URL";
/// The function's stream failure queue, which it also consumes (the two stream consumers).
pub const RECOVERY_QUEUE_URL_VAR: &str = "OMNISYNC_RECOVERY_QUEUE_URL";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// What every function needs to know about its surroundings.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub table: String,
    pub rejected_queue_url: String,
    pub channel_senders: ChannelAuthorization,
    /// Channel → its `channel-updates-<channel>` queue URL, where the template sets them.
    pub channel_updates: Vec<(Channel, String)>,
    pub notifications_queue_url: Option<String>,
    pub views_bucket: Option<String>,
    pub recovery_queue_url: Option<String>,
    /// How long an event waits for its order.
    pub order_wait: std::time::Duration,
    /// Queue → (URL, DLQ URL), for the queues events that waited go back to.
    pub redelivery_queues: Vec<(crate::contract::Queue, String, String)>,
}

impl FunctionConfig {
    /// Reads the process environment (what Lambda sets from the template).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads through `lookup`, e.g. a map of the variables a template declares.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        Ok(FunctionConfig {
            table: required(TABLE_VAR)?,
            rejected_queue_url: required(REJECTED_QUEUE_URL_VAR)?,
            channel_senders: ChannelAuthorization::parse(
                lookup(CHANNEL_SENDERS_VAR).as_deref().unwrap_or(""),
            )?
            .with_redelivering(lookup(REDELIVERING_SENDERS_VAR).as_deref().unwrap_or("")),
            channel_updates: CHANNEL_UPDATES_VARS
                .iter()
                .filter_map(|(channel, name)| {
                    lookup(name)
                        .filter(|v| !v.trim().is_empty())
                        .map(|url| (*channel, url))
                })
                .collect(),
            notifications_queue_url: lookup(NOTIFICATIONS_QUEUE_URL_VAR)
                .filter(|v| !v.trim().is_empty()),
            views_bucket: lookup(VIEWS_BUCKET_VAR).filter(|v| !v.trim().is_empty()),
            recovery_queue_url: lookup(RECOVERY_QUEUE_URL_VAR).filter(|v| !v.trim().is_empty()),
            order_wait: match lookup(ORDER_WAIT_SECONDS_VAR).filter(|v| !v.trim().is_empty()) {
                None => DEFAULT_ORDER_WAIT,
                Some(text) => text
                    .trim()
                    .parse::<u64>()
                    .map(std::time::Duration::from_secs)
                    .map_err(|e| ConfigError::Invalid {
                        name: ORDER_WAIT_SECONDS_VAR,
                        reason: format!("expected whole seconds: {e}"),
                    })?,
            },
            redelivery_queues: [
                (
                    crate::contract::Queue::Order,
                    ORDER_EVENTS_URL_VAR,
                    ORDER_EVENTS_DLQ_URL_VAR,
                ),
                (
                    crate::contract::Queue::Refund,
                    REFUND_EVENTS_URL_VAR,
                    REFUND_EVENTS_DLQ_URL_VAR,
                ),
            ]
            .into_iter()
            .filter_map(|(queue, url, dlq)| {
                let url = lookup(url).filter(|v| !v.trim().is_empty())?;
                let dlq = lookup(dlq).filter(|v| !v.trim().is_empty())?;
                Some((queue, url, dlq))
            })
            .collect(),
        })
    }
}

impl FunctionConfig {
    /// The state table, on the function's DynamoDB client.
    pub fn state_table(&self, clients: &crate::aws::Clients) -> crate::store::Table {
        crate::store::Table::new(clients.dynamodb.clone(), &self.table)
    }

    /// The `channel-updates-<channel>` queue of every channel (the view fan-out needs all four).
    pub fn require_channel_updates(&self) -> Result<Vec<(Channel, String)>, ConfigError> {
        for (channel, name) in CHANNEL_UPDATES_VARS {
            if !self.channel_updates.iter().any(|(c, _)| *c == channel) {
                return Err(ConfigError::Missing(name));
            }
        }
        Ok(self.channel_updates.clone())
    }

    /// The URL and DLQ URL of `queue`, for events that waited for their order (order-sync needs
    /// them for the order and refund queues).
    pub fn require_redelivery_queue(
        &self,
        queue: crate::contract::Queue,
    ) -> Result<(String, String), ConfigError> {
        self.redelivery_queues
            .iter()
            .find(|(q, _, _)| *q == queue)
            .map(|(_, url, dlq)| (url.clone(), dlq.clone()))
            .ok_or(ConfigError::Missing(match queue {
                crate::contract::Queue::Refund => REFUND_EVENTS_URL_VAR,
                _ => ORDER_EVENTS_URL_VAR,
            }))
    }

    /// The bucket for oversized views (the view fan-out needs it).
    pub fn require_views_bucket(&self) -> Result<String, ConfigError> {
        self.views_bucket
            .clone()
            .ok_or(ConfigError::Missing(VIEWS_BUCKET_VAR))
    }

    /// The stream failure queue the function consumes (the stream consumers need it).
    pub fn require_recovery_queue(&self) -> Result<String, ConfigError> {
        self.recovery_queue_url
            .clone()
            .ok_or(ConfigError::Missing(RECOVERY_QUEUE_URL_VAR))
    }

    /// The `notifications` queue (the availability notifier needs it).
    pub fn require_notifications_queue(&self) -> Result<String, ConfigError> {
        self.notifications_queue_url
            .clone()
            .ok_or(ConfigError::Missing(NOTIFICATIONS_QUEUE_URL_VAR))
    }
}

/// Which channels each SQS sender may claim (§4, Channel authorization).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelAuthorization {
    /// `None`: no map configured, every channel is accepted (local runs).
    senders: Option<HashMap<String, HashSet<Channel>>>,
    /// Role ids of omnisync's own functions that deliver messages again.
    redelivering: HashSet<String>,
}

/// The role id of a `SenderId` (`AROA…:session` for an assumed role; an IAM user's id has no
/// session part). The session name is the caller's choice, so it never decides anything.
fn role_id(sender: &str) -> &str {
    sender.split(':').next().unwrap_or(sender)
}

impl ChannelAuthorization {
    /// Parses `{"AIDA…": ["web", "app"], …}`; an empty or blank text means "no map".
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let invalid = |reason: String| ConfigError::Invalid {
            name: CHANNEL_SENDERS_VAR,
            reason,
        };
        let raw: HashMap<String, Vec<String>> = serde_json::from_str(text)
            .map_err(|e| invalid(format!("expected {{\"<SenderId>\": [\"web\", …]}}: {e}")))?;
        let mut senders = HashMap::with_capacity(raw.len());
        for (sender, channels) in raw {
            let channels = channels
                .iter()
                .map(|c| {
                    Channel::parse(c).ok_or_else(|| {
                        invalid(format!("unknown channel `{c}` for sender `{sender}`"))
                    })
                })
                .collect::<Result<HashSet<_>, _>>()?;
            senders.insert(sender, channels);
        }
        Ok(ChannelAuthorization {
            senders: Some(senders),
            redelivering: HashSet::new(),
        })
    }

    /// Adds the role ids (comma-separated) whose messages are omnisync's own redeliveries.
    pub fn with_redelivering(mut self, role_ids: &str) -> Self {
        self.redelivering = role_ids
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect();
        self
    }

    /// Whether `sender` is one of omnisync's own principals that deliver messages again (always
    /// true for a local run without a sender map, where every sender is trusted alike).
    pub fn is_redelivering(&self, sender: Option<&str>) -> bool {
        match &self.senders {
            None => true,
            Some(_) => sender.is_some_and(|s| self.redelivering.contains(role_id(s))),
        }
    }

    /// Whether `sender` may send events that claim `channel`.
    pub fn permits(&self, sender: Option<&str>, channel: Channel) -> bool {
        match &self.senders {
            None => true,
            Some(map) => sender
                .and_then(|s| map.get(s).or_else(|| map.get(role_id(s))))
                .is_some_and(|channels| channels.contains(&channel)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_map_every_channel_is_accepted() {
        let open = ChannelAuthorization::parse(" ").unwrap();
        assert!(open.permits(None, Channel::Store));
    }

    #[test]
    fn a_map_limits_each_sender_to_its_channels() {
        let map =
            ChannelAuthorization::parse(r#"{"AIDASTORE": ["store"], "AIDAWEB": ["web", "app"]}"#)
                .unwrap();
        assert!(map.permits(Some("AIDASTORE"), Channel::Store));
        assert!(!map.permits(Some("AIDASTORE"), Channel::Web));
        assert!(map.permits(Some("AIDAWEB"), Channel::App));
        assert!(!map.permits(Some("AIDAOTHER"), Channel::Web));
        assert!(!map.permits(None, Channel::Web));
    }

    #[test]
    fn a_role_is_matched_by_its_role_id_whatever_session_name_the_caller_picks() {
        let map = ChannelAuthorization::parse(r#"{"AROASTORE": ["store"]}"#).unwrap();
        assert!(map.permits(Some("AROASTORE:pos-17"), Channel::Store));
        assert!(!map.permits(Some("AROAOTHER:AROASTORE"), Channel::Store));
    }

    #[test]
    fn only_omnisync_s_own_roles_redeliver() {
        let map = ChannelAuthorization::parse(r#"{"AROASTORE": ["store"]}"#)
            .unwrap()
            .with_redelivering("AROAORDERSYNC");
        assert!(map.is_redelivering(Some("AROAORDERSYNC:order-sync")));
        assert!(!map.is_redelivering(Some("AROASTORE:pos-17")));
        assert!(!map.is_redelivering(None));
    }

    #[test]
    fn a_bad_map_is_a_config_error() {
        assert!(ChannelAuthorization::parse(r#"{"AIDA": ["fax"]}"#).is_err());
        assert!(ChannelAuthorization::parse("[1]").is_err());
    }

    #[test]
    fn lookup_reads_names() {
        let env: HashMap<&str, &str> =
            [(TABLE_VAR, "p-state"), (REJECTED_QUEUE_URL_VAR, "http://q")].into();
        let config = FunctionConfig::from_lookup(|n| env.get(n).map(|v| (*v).to_owned())).unwrap();
        assert_eq!(
            (config.table.as_str(), config.rejected_queue_url.as_str()),
            ("p-state", "http://q")
        );
        let missing = FunctionConfig::from_lookup(|_| None).unwrap_err();
        assert!(matches!(missing, ConfigError::Missing(TABLE_VAR)));
    }
}
