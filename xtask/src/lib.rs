//! The parts of `cargo xtask` that the end-to-end harness shares: where things are, child
//! processes in their own process groups (stopped as a whole, also on Ctrl-C), and a
//! `wrangler dev` server with its own port and state.

pub mod paths;
pub mod process;
pub mod wrangler;
