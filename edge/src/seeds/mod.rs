//! The seeds' own routes, each a thin adapter over the canonical services, answering in its
//! document's shapes so clients written against any seed work unchanged.

pub mod datapod;
mod datapod_mfa;
pub mod immunetworks;
pub mod immunetworks_runs;
