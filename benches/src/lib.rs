//! Criterion benchmarks of omnisync's pure rules (`benches/rules.rs`); run them with
//! `cargo bench -p omnisync-benches`, or all figures at once with `cargo xtask bench`.
//! `benches/peer/` holds the Python Powertools function that `cargo xtask bench` compares the
//! functions with.
