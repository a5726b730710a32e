//! `cargo xtask dev`: set up, build and run Meshfed under `wrangler dev`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use xtask::paths::repo_root;
use xtask::wrangler::{health_status, Ready, Server, ServerOptions};

use crate::{build, cache, setup};

pub struct DevArgs {
    port: u16,
    persist_to: PathBuf,
}

pub fn parse(args: &[String]) -> Result<DevArgs, String> {
    let mut out = DevArgs {
        port: 8787,
        persist_to: repo_root().join(".wrangler/state"),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--port" => {
                let v = it.next().ok_or("--port needs a value")?;
                out.port = v
                    .parse()
                    .map_err(|_| format!("--port: {v:?} is not a port number"))?;
            }
            "--persist-to" => {
                out.persist_to = PathBuf::from(it.next().ok_or("--persist-to needs a directory")?);
            }
            other => return Err(format!("cargo xtask dev: unknown argument {other:?}")),
        }
    }
    Ok(out)
}

/// `cargo xtask build`: what `wrangler deploy` ships (the app in `dist/`, the Worker in
/// `edge/build/`), set up and built as `dev` builds them, without starting a server.
pub fn build_only() -> Result<ExitCode, String> {
    set_up_and_build()?;
    println!("[xtask] built dist/ and edge/build/; deploy with `npx wrangler deploy`");
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: DevArgs) -> Result<ExitCode, String> {
    let start = Instant::now();
    if health_status(args.port).is_some()
        || std::net::TcpListener::bind(("127.0.0.1", args.port)).is_err()
    {
        return Err(format!(
            "port {} is already in use (another `cargo xtask dev`?); pass --port N",
            args.port
        ));
    }
    set_up_and_build()?;
    std::fs::create_dir_all(&args.persist_to).map_err(|e| e.to_string())?;
    build::migrations(&args.persist_to)?;
    let mut server = Server::start(ServerOptions {
        port: args.port,
        persist_to: args.persist_to.clone(),
        log: None,
        vars: Vec::new(),
        ready: Ready::Healthy,
    })?;
    println!(
        "[xtask] Meshfed is running at {} ({:.1}s after `cargo xtask dev`); state in {}; \
         Ctrl-C stops it",
        server.base_url(),
        start.elapsed().as_secs_f64(),
        args.persist_to.display()
    );
    loop {
        if let Some(status) = server.try_wait() {
            server.stop();
            return Err(format!("wrangler dev stopped on its own ({status})"));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Installs what is missing and builds what changed: the app and the Worker, release.
fn set_up_and_build() -> Result<(), String> {
    let target = cache::use_shared_target_dir()?;
    println!("[xtask] build cache {}", target.display());
    setup::for_dev()?;
    let tools = setup::start_tools();
    if !build::app_is_current() {
        // Needs no tools: compiles while they may still be installing.
        build::wasm_crates()?;
    }
    tools.wait()?;
    build::all(build::Mode::IfChanged, build::Lint::No)
}
