//! Request and response bodies of the canonical API, one module per flow. Secrets are
//! [`crate::secret::Secret`], so a DTO printed with `{:?}` never shows them.

pub mod auth;
pub mod media;
pub mod runs;
pub mod upload;
