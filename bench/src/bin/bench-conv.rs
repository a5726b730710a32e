//! One MeshNet layer, forward and backward: burn's Conv3d beside Meshfed's kernels,
//! alternating, with ratios. On wgpu, the CPU kernels are timed too.

use std::process::ExitCode;

use clap::Parser;
use meshfed_bench::conv::ConvArgs;

#[derive(Debug, Parser)]
#[command(name = "bench-conv", about)]
struct Cli {
    #[command(flatten)]
    args: ConvArgs,
}

fn main() -> ExitCode {
    match Cli::parse().args.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-conv: {e}");
            ExitCode::FAILURE
        }
    }
}
