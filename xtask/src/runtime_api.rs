//! A local Lambda Runtime API, for running a function's real binary outside Lambda.
//!
//! The binary is started with `AWS_LAMBDA_RUNTIME_API` pointing here; `lambda_runtime` then asks
//! for work with `GET /2018-06-01/runtime/invocation/next` and answers with `POST
//! …/invocation/{id}/response` (or `…/error`), exactly as in Lambda. [`RuntimeApi::invoke`]
//! hands it one event and waits for the answer, so `main.rs`, the environment the template sets
//! and `lambda_runtime`'s (de)serialization are exercised, not only the handler. The
//! interface is the one AWS documents ("Using the Lambda runtime API for custom runtimes"):
//! the request id, deadline and function ARN go in `Lambda-Runtime-*` headers.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, oneshot};

const PREFIX: &str = "/2018-06-01/runtime";

/// What a function answered to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `…/response`: the handler's result.
    Response(Value),
    /// `…/error`: the handler failed (the body is Lambda's error object).
    Error(Value),
}

struct Pending {
    request_id: String,
    event: Value,
    deadline_ms: i64,
}

#[derive(Default)]
struct State {
    queue: Mutex<VecDeque<Pending>>,
    ready: Notify,
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    init_error: Mutex<Option<Value>>,
    next_id: Mutex<u64>,
    /// When the function first asked for work: the end of its initialization.
    first_next: Mutex<Option<std::time::Instant>>,
}

/// The server; it stops when dropped.
pub struct RuntimeApi {
    address: SocketAddr,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
    function_name: String,
    function_arn: String,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    /// Listens on a free port of 127.0.0.1 for the function named `function_name`.
    pub async fn start(function_name: &str) -> Result<RuntimeApi> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the local Runtime API")?;
        let address = listener.local_addr()?;
        let state = Arc::new(State::default());
        let function_arn =
            format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}");
        let served = Arc::clone(&state);
        let arn = function_arn.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&served);
                let arn = arn.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = Arc::clone(&state);
                        let arn = arn.clone();
                        async move {
                            Ok::<_, std::convert::Infallible>(route(&state, &arn, request).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(RuntimeApi {
            address,
            state,
            server,
            function_name: function_name.to_owned(),
            function_arn,
        })
    }

    /// The value for the function's `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// What Lambda sets for a function served here: the Runtime API, the function's name,
    /// version and memory size, and (from `LoggingConfig`) the log level and format.
    pub fn lambda_environment(&self, memory_mb: u32) -> [(&'static str, String); 6] {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address()),
            ("AWS_LAMBDA_FUNCTION_NAME", self.function_name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ]
    }

    pub fn function_arn(&self) -> &str {
        &self.function_arn
    }

    /// When the function first asked for work (`GET …/invocation/next`), if it has.
    pub fn first_next(&self) -> Option<std::time::Instant> {
        self.state.first_next.lock().ok().and_then(|first| *first)
    }

    /// What the function reported at `/runtime/init/error`, if it failed to start.
    pub fn init_error(&self) -> Option<Value> {
        self.state.init_error.lock().ok().and_then(|e| e.clone())
    }

    /// Hands the function one event with `timeout` to answer it (its deadline), and waits for
    /// its answer (a little longer than the deadline: the answer may be on its way).
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Result<Answer> {
        let request_id = {
            let mut next = self
                .state
                .next_id
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?;
            *next += 1;
            format!("local-{:08}", *next)
        };
        let (answered, answer) = oneshot::channel();
        self.state
            .waiting
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .insert(request_id.clone(), answered);
        let deadline_ms =
            omnisync::clock::now_ms() + i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX / 2);
        self.state
            .queue
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .push_back(Pending {
                request_id: request_id.clone(),
                event,
                deadline_ms,
            });
        self.state.ready.notify_one();
        match tokio::time::timeout(timeout + Duration::from_secs(5), answer).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => bail!("the Runtime API dropped invocation {request_id}"),
            Err(_) => match self.init_error() {
                Some(error) => bail!("the function failed to start: {error}"),
                None => bail!("no answer to {request_id} within {timeout:?}"),
            },
        }
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

async fn route(state: &State, arn: &str, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return reply(StatusCode::NOT_FOUND, "not a Runtime API path");
    };
    match (method, rest) {
        (Method::GET, "/invocation/next") => {
            if let Ok(mut first) = state.first_next.lock() {
                first.get_or_insert_with(std::time::Instant::now);
            }
            next(state, arn).await
        }
        (Method::POST, "/init/error") => {
            let body = read_json(request).await;
            if let Ok(mut error) = state.init_error.lock() {
                *error = Some(body);
            }
            reply(StatusCode::ACCEPTED, "")
        }
        (Method::POST, rest) => {
            let Some((request_id, kind)) = rest
                .strip_prefix("/invocation/")
                .and_then(|r| r.rsplit_once('/'))
            else {
                return reply(StatusCode::NOT_FOUND, "unknown path");
            };
            let request_id = request_id.to_owned();
            let kind = kind.to_owned();
            let body = read_json(request).await;
            let answer = match kind.as_str() {
                "response" => Answer::Response(body),
                "error" => Answer::Error(body),
                _ => return reply(StatusCode::NOT_FOUND, "unknown path"),
            };
            let waiter = state
                .waiting
                .lock()
                .ok()
                .and_then(|mut w| w.remove(&request_id));
            match waiter {
                Some(waiter) => {
                    let _ = waiter.send(answer);
                    reply(StatusCode::ACCEPTED, "")
                }
                None => reply(StatusCode::BAD_REQUEST, "unknown request id"),
            }
        }
        _ => reply(StatusCode::NOT_FOUND, "unknown path"),
    }
}

/// Long-polls until an event is queued, as Lambda's `next` does.
async fn next(state: &State, arn: &str) -> Response<Full<Bytes>> {
    loop {
        let pending = state.queue.lock().ok().and_then(|mut q| q.pop_front());
        if let Some(pending) = pending {
            let mut response = reply(StatusCode::OK, pending.event.to_string());
            let headers = response.headers_mut();
            let mut set = |name: &'static str, value: String| {
                if let Ok(value) = hyper::header::HeaderValue::from_str(&value) {
                    headers.insert(name, value);
                }
            };
            set("lambda-runtime-aws-request-id", pending.request_id);
            set(
                "lambda-runtime-deadline-ms",
                pending.deadline_ms.to_string(),
            );
            set("lambda-runtime-invoked-function-arn", arn.to_owned());
            set("content-type", "application/json".to_owned());
            return response;
        }
        state.ready.notified().await;
    }
}

async fn read_json(request: Request<Incoming>) -> Value {
    match request.into_body().collect().await {
        Ok(body) => serde_json::from_slice(&body.to_bytes()).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}
