//! The end-to-end tests: real functions, real SDK clients, the local AWS endpoint.
//!
//! One test binary (one link of the SDK) with one module per topic and one shared harness
//! ([`support`]). The endpoint comes from `AWS_ENDPOINT_URL`, which `cargo xtask test` sets to the
//! moto server it starts; without it every test that needs the endpoint says so and returns.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

mod binaries;
mod cart_sync;
mod chaos;
mod engagement;
mod loyalty;
mod notifications;
mod recovery;
mod refunds;
mod shopping;
mod template;
mod view;
mod waiting;
