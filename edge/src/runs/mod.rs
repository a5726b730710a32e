//! `/api/runs/…`: creating and reading runs, activation, uploads of weights and gradients,
//! and downloads of global models and averaged gradients. Every route checks that the caller
//! takes part in the run (403 otherwise, 404 for a missing run).

mod access;
pub(crate) mod create;
pub(crate) mod download;
pub(crate) mod parts;
pub(crate) mod secure;
pub(crate) mod upload;
pub(crate) mod view;

pub use access::{caller_any_token, load_member, parse_id, Member};
pub use create::create_run;
pub use download::{latest_gradients, wait_for_round, DEFAULT_WAIT_SECS};
pub use parts::sweep_abandoned;
pub use upload::{accept, upload_limit};
pub use view::{set_activity, summaries};
