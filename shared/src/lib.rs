//! Meshfed's pure logic: no I/O, compiles natively and to wasm32.
//!
//! The Worker (`edge/`), the web app (`app/`) and the tests all speak through the types here,
//! so a change to the API shows up as a compile error on both sides.

pub mod aggregate;
pub mod api;
pub mod auth;
pub mod envelope;
pub mod error;
pub mod health;
pub mod meshnet;
pub mod plan;
pub mod privacy;
pub mod secagg;
pub mod secret;
pub mod tensor;
pub mod time;
pub mod training;
pub mod volume;

pub use envelope::{ErrorBody, Failure, RawEnvelope, Success};
pub use error::{ApiError, ErrorCode};
