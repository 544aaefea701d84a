//! SDK interceptors for the end-to-end tests. They sit in the real client's request pipeline and
//! talk to the real endpoint; they only observe requests or discard a response.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeDeserializationInterceptorContextMut,
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Whether a request is a `wanted` operation whose body contains `marker`.
fn matches(context: &BeforeTransmitInterceptorContextRef<'_>, wanted: &str, marker: &str) -> bool {
    let body = context.request().body().bytes().unwrap_or_default();
    operation_name(context.request()) == wanted && String::from_utf8_lossy(body).contains(marker)
}

/// Counts requests by operation (the bench's counter, `xtask::bench::RequestCounter`).
pub use xtask::bench::RequestCounter;
use xtask::bench::operation_name;

/// An expected request count, e.g. `counts(&[("GetItem", 1), ("PutItem", 1)])`.
pub fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(op, n)| ((*op).to_owned(), *n)).collect()
}

/// Counts the DynamoDB responses that refuse a request with a failed condition
/// (`ConditionalCheckFailedException`, in a transaction's cancellation too).
#[derive(Debug, Clone, Default)]
pub struct ConditionRefusals {
    count: Arc<AtomicUsize>,
}

impl ConditionRefusals {
    pub fn get(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

impl Intercept for ConditionRefusals {
    fn name(&self) -> &'static str {
        "ConditionRefusals"
    }

    // After deserialization the body has been read into memory (before it, it is a stream).
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        if response.status().as_u16() == 400 {
            let body = response.body().bytes().unwrap_or_default();
            if String::from_utf8_lossy(body).contains("ConditionalCheckFailed") {
                self.count.fetch_add(1, Ordering::SeqCst);
            }
        }
        Ok(())
    }
}

/// Lets the first `times` matching writes reach DynamoDB and succeed there, then discards
/// their responses with an error, as a connection reset after the write would: the caller
/// cannot know its write landed.
#[derive(Debug, Clone)]
pub struct LoseWriteResponses {
    operation: &'static str,
    marker: String,
    remaining: Arc<AtomicUsize>,
    fired: Arc<AtomicUsize>,
}

#[derive(Debug)]
struct Matched;

impl Storable for Matched {
    type Storer = StoreReplace<Self>;
}

impl LoseWriteResponses {
    /// Affects `operation` requests whose body contains `marker`.
    pub fn on(operation: &'static str, marker: &str, times: usize) -> Self {
        LoseWriteResponses {
            operation,
            marker: marker.to_owned(),
            remaining: Arc::new(AtomicUsize::new(times)),
            fired: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn fired(&self) -> usize {
        self.fired.load(Ordering::SeqCst)
    }
}

impl Intercept for LoseWriteResponses {
    fn name(&self) -> &'static str {
        "LoseWriteResponses"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if matches(context, self.operation, &self.marker) {
            cfg.interceptor_state().store_put(Matched);
        }
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Matched>().is_none() {
            return Ok(());
        }
        let take = self
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if take {
            self.fired.fetch_add(1, Ordering::SeqCst);
            return Err("injected: the connection dropped after DynamoDB applied the write".into());
        }
        Ok(())
    }
}

/// Fails every matching request before it is sent: a write that can never succeed, or one that
/// fails until the fault is lifted (an outage).
#[derive(Debug, Clone)]
pub struct RefuseWrites {
    operation: &'static str,
    /// A request matches when its body contains every marker.
    markers: Vec<String>,
    refused: Arc<AtomicUsize>,
    lifted: Arc<std::sync::atomic::AtomicBool>,
}

impl RefuseWrites {
    pub fn new(operation: &'static str, marker: &str) -> Self {
        Self::all(operation, &[marker])
    }

    /// Refuses the `operation` requests whose body contains every one of `markers`.
    pub fn all(operation: &'static str, markers: &[&str]) -> Self {
        RefuseWrites {
            operation,
            markers: markers.iter().map(|m| (*m).to_owned()).collect(),
            refused: Arc::new(AtomicUsize::new(0)),
            lifted: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    /// Ends the outage: from now on every request goes through.
    pub fn lift(&self) {
        self.lifted.store(true, Ordering::SeqCst);
    }
}

impl Intercept for RefuseWrites {
    fn name(&self) -> &'static str {
        "RefuseWrites"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !self.lifted.load(Ordering::SeqCst)
            && self
                .markers
                .iter()
                .all(|marker| matches(context, self.operation, marker))
        {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err("injected: this write fails".into());
        }
        Ok(())
    }
}

/// Answers every matching request with a DynamoDB error, as the service does when it refuses a
/// request: the request is turned into a harmless `ListTables` before it is sent (so nothing is
/// written), and its answer into the error.
#[derive(Debug, Clone)]
pub struct AnswerWithError {
    operation: &'static str,
    marker: String,
    error_type: &'static str,
    message: &'static str,
    answered: Arc<AtomicUsize>,
}

impl AnswerWithError {
    /// An item-size `ValidationException` for every `operation` request containing `marker`.
    pub fn item_too_large(operation: &'static str, marker: &str) -> Self {
        AnswerWithError {
            operation,
            marker: marker.to_owned(),
            error_type: "com.amazon.coral.validate#ValidationException",
            message: "Item size has exceeded the maximum allowed size",
            answered: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }
}

impl Intercept for AnswerWithError {
    fn name(&self) -> &'static str {
        "AnswerWithError"
    }

    fn modify_before_transmit(
        &self,
        context: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let target = operation_name(request).to_owned();
        let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned();
        if target != self.operation || !body.contains(&self.marker) {
            return Ok(());
        }
        cfg.interceptor_state().store_put(Matched);
        request
            .headers_mut()
            .insert("x-amz-target", "DynamoDB_20120810.ListTables");
        request.headers_mut().insert("content-length", "2");
        *request.body_mut() = aws_smithy_types::body::SdkBody::from("{}");
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Matched>().is_none() {
            return Ok(());
        }
        self.answered.fetch_add(1, Ordering::SeqCst);
        let body = format!(
            r#"{{"__type":"{}","message":"{}"}}"#,
            self.error_type, self.message
        );
        let response = context.response_mut();
        *response.status_mut() = aws_smithy_runtime_api::http::StatusCode::try_from(400)
            .map_err(|e| format!("status: {e}"))?;
        *response.body_mut() = aws_smithy_types::body::SdkBody::from(body);
        Ok(())
    }
}

/// What [`Chaos`] did to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Answered 400 `ThrottlingException`; the request never reached the service.
    Throttled,
    /// Answered 500; the request never reached the service.
    ServerError,
    /// The service applied the request; its answer was replaced by a 500.
    LostResponse,
}

/// The fault [`Chaos`] decided for one operation (`None`: none), kept for all its attempts.
#[derive(Debug, Clone, Copy)]
struct Decided(Option<Fault>);

impl Storable for Decided {
    type Storer = StoreReplace<Self>;
}

/// Seeded random faults on a fraction of every client's operations: each operation is
/// throttled, fails with a 5xx, or loses its response after the service applied it, each with
/// probability `rate`. The fault is decided at an operation's first attempt and holds for every
/// attempt the SDK's retry makes of it, so each fault reaches the caller (the SDK's retries are
/// not what is under test; what the function does with a failure that outlived them is). A
/// refused operation is turned into `neutral` (a harmless list call of the same service) before
/// each attempt is sent, so nothing it asked for happens; a lost response is sent as asked on
/// every attempt and each answer replaced.
#[derive(Debug, Clone)]
pub struct Chaos {
    rate: f64,
    neutral: &'static str,
    rng: Arc<Mutex<rand::rngs::StdRng>>,
    injected: Arc<Mutex<BTreeMap<Fault, usize>>>,
}

impl Chaos {
    pub fn new(seed: u64, rate: f64, neutral: &'static str) -> Self {
        use rand::SeedableRng;
        Chaos {
            rate,
            neutral,
            rng: Arc::new(Mutex::new(rand::rngs::StdRng::seed_from_u64(seed))),
            injected: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// How many faults of each kind were injected so far.
    pub fn injected(&self) -> BTreeMap<Fault, usize> {
        self.injected.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl Intercept for Chaos {
    fn name(&self) -> &'static str {
        "Chaos"
    }

    fn modify_before_transmit(
        &self,
        context: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use rand::Rng;
        // The interceptor state lives as long as the operation: a fault found there was decided
        // at an earlier attempt of this operation, and holds.
        let fault = match cfg.load::<Decided>().copied() {
            Some(Decided(fault)) => fault,
            None => {
                let roll: f64 = self.rng.lock().map(|mut r| r.random()).unwrap_or(1.0);
                let fault = if roll < self.rate {
                    Some(Fault::Throttled)
                } else if roll < 2.0 * self.rate {
                    Some(Fault::ServerError)
                } else if roll < 3.0 * self.rate {
                    Some(Fault::LostResponse)
                } else {
                    None
                };
                cfg.interceptor_state().store_put(Decided(fault));
                if let (Some(fault), Ok(mut injected)) = (fault, self.injected.lock()) {
                    *injected.entry(fault).or_default() += 1;
                }
                fault
            }
        };
        let Some(fault) = fault else {
            return Ok(());
        };
        if fault != Fault::LostResponse {
            let request = context.request_mut();
            request.headers_mut().insert("x-amz-target", self.neutral);
            request.headers_mut().insert("content-length", "2");
            *request.body_mut() = aws_smithy_types::body::SdkBody::from("{}");
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Decided(Some(fault))) = cfg.load::<Decided>().copied() else {
            return Ok(());
        };
        let (status, error) = match fault {
            Fault::Throttled => (400, "ThrottlingException"),
            Fault::ServerError | Fault::LostResponse => (500, "InternalServerError"),
        };
        let response = context.response_mut();
        *response.status_mut() = aws_smithy_runtime_api::http::StatusCode::try_from(status)
            .map_err(|e| format!("status: {e}"))?;
        *response.body_mut() = aws_smithy_types::body::SdkBody::from(format!(
            r#"{{"__type":"{error}","message":"injected by the chaos suite"}}"#
        ));
        Ok(())
    }
}
