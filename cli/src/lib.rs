//! The native Meshfed tool's parts: NIfTI and model files, burn devices, progress, and one
//! module per `meshfed` subcommand. The learning experiments (`meshfed-lab`) are `lab/`.

pub mod backend;
pub mod convert;
pub mod error;
pub mod join;
pub mod known_keys;
pub mod memory;
pub mod model_io;
pub mod phantom;
pub mod privacy;
pub mod progress;
pub mod secure;
pub mod segment;
pub mod server;
pub mod train;
pub mod volume_io;
