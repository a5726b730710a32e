//! Training-step and inference time of model5 and the 21-channel MeshNet on a phantom.

use std::process::ExitCode;

use clap::Parser;
use meshfed_bench::step::BenchArgs;

#[derive(Debug, Parser)]
#[command(name = "bench-step", about)]
struct Cli {
    #[command(flatten)]
    args: BenchArgs,
}

fn main() -> ExitCode {
    match Cli::parse().args.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-step: {e}");
            ExitCode::FAILURE
        }
    }
}
