//! Which burn device runs the work.

use clap::ValueEnum;
use meshfed_meshnet::burn::tensor::Device;

#[cfg(not(feature = "wgpu"))]
use crate::error::CliError;
use crate::error::CliResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// burn's pure-Rust CPU backend (flex), multi-threaded.
    Cpu,
    /// burn's wgpu backend (Vulkan, Metal, DX12); needs a build with `--features wgpu`.
    Wgpu,
}

pub fn device(backend: Backend) -> CliResult<Device> {
    match backend {
        Backend::Cpu => Ok(Device::flex()),
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => Ok(Device::wgpu(Default::default())),
        #[cfg(not(feature = "wgpu"))]
        Backend::Wgpu => Err(CliError::Usage(
            "this meshfed was built without wgpu; rebuild with \
             `cargo build --release -p meshfed-cli --features wgpu`"
                .into(),
        )),
    }
}
