//! Meshfed's benchmarks, all in this crate: each prints figures, side by side with what it
//! compares against, and asserts nothing about time (these machines are noisy).
//!
//! - `bench-step`, `bench-conv`: MeshNet's training step and one layer in burn, natively
//!   (`cargo xtask bench` runs `bench-step` beside JAX, [`reference`](../reference));
//! - `bench-trainer`: the browser trainer in headless Chromium;
//! - `bench-aggregate`, `bench-rounds`, `bench-median-memory`: aggregation, many participants
//!   at once and the Worker's memory, against the local Worker;
//! - `bench-secagg`, `bench-secure-rounds`: secure aggregation in-process and on the Worker;
//! - `bench-auth`: the password KDF on the Worker.
//!
//! `reference/` holds the Python programs the Rust figures are compared with.

pub mod conv;
pub mod step;
