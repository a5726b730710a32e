//! D1 access, one module per table group. Handlers call these; SQL lives nowhere else.

pub mod codes;
pub mod sessions;
pub mod users;

use worker::{D1Database, Env};

use crate::error::EdgeResult;

pub fn db(env: &Env) -> EdgeResult<D1Database> {
    Ok(env.d1("DB")?)
}
