//! `cargo xtask dev [--port N] [--persist-to DIR]` runs Meshfed locally;
//! `cargo xtask test` sets up and runs every test. See README.md.

mod bench;
mod build;
mod cache;
mod csp;
mod dev;
mod digest;
mod federate;
mod schemathesis;
mod setup;
mod steps;
mod test;
mod tools;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  dev [--port N] [--persist-to DIR]   set up, build and run Meshfed (default port 8787,
                                      state in .wrangler/state); Ctrl-C stops everything
  build                               set up and build the app and the Worker for
                                      `npx wrangler deploy` (dist/, edge/build/)
  test                                set up, build and run every test
  e2e [ARGS...]                       build what changed, then run only the end-to-end
                                      suite, ARGS to its harness (e.g. a filter: errors::)
  setup                               install what `test` needs (tools, npm packages,
                                      Chromium) and stop
  bench [--patch N] [--steps N] [--rounds N]
                                      MeshNet training-step time: burn CPU beside JAX CPU
                                      (from PyPI), alternating, with ratios
  federate [--rounds N] [--eval-every N] [--seeds 1,2,3] [--sites N]
                                      the product's federated training (a meshfed join per
                                      site, real Worker) beside centralised training at equal
                                      steps: per-round Dice and the gap (hours; run detached)";

fn main() -> ExitCode {
    xtask::process::stop_groups_on_signal();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("dev") => dev::parse(&args[1..]).and_then(dev::run),
        Some("build") if args.len() == 1 => dev::build_only(),
        Some("test") if args.len() == 1 => test::run(),
        Some("e2e") => test::e2e_only(&args[1..]),
        Some("bench") => bench::parse(&args[1..]).and_then(bench::run_bench),
        Some("federate") => federate::run_federate(&args[1..]),
        Some("setup") if args.len() == 1 => setup::everything().map(|()| ExitCode::SUCCESS),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => Err(format!("unknown or missing command\n\n{USAGE}")),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
