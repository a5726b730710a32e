//! On-device training: the worker bridge, joining runs, files in and out.

pub mod download;
pub mod join;
pub mod secure;
pub mod worker;
