//! The training worker's step time in headless Chromium, for builds of the app side by side:
//! each `--dist DIR` (a `trunk build` output, such as `dist/`) is served on its own loopback
//! port, and a blank page there starts its `meshfed-trainer` Web Worker, loads a cube of the
//! sample T1 with three-class labels, and trains the lab's model (model5 with BatchNorm) for
//! `--steps` steps of `--patch`³ from the same seed. The builds alternate for `--rounds`
//! rounds; it prints each run's ms per step and final loss, then the medians and the ratio of
//! every build to the first (same loss means the same arithmetic).
//!
//! `cargo run --release -p meshfed-bench --bin bench-trainer -- --dist dist --dist /tmp/other/dist
//! [--patch 32] [--steps 3] [--rounds 3] [--webgpu]` (`--webgpu` offers Chromium's SwiftShader
//! WebGPU adapter; otherwise the worker trains on its CPU backend).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fantoccini::wd::TimeoutConfiguration;
use meshfed_e2e::browser::{session_with, Chromedriver};
use meshfed_e2e::volumes::small_t1_and_labels;
use meshfed_shared::meshnet::{file::to_safetensors, initial_weights, ModelConfig};
use serde_json::{json, Value};

struct Args {
    dists: Vec<PathBuf>,
    patch: usize,
    steps: usize,
    rounds: usize,
    webgpu: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        dists: Vec::new(),
        patch: 32,
        steps: 3,
        rounds: 3,
        webgpu: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--webgpu" {
            args.webgpu = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{flag} needs a positive number"))
        };
        match flag.as_str() {
            "--dist" => args.dists.push(PathBuf::from(&value)),
            "--patch" => args.patch = number()?,
            "--steps" => args.steps = number()?,
            "--rounds" => args.rounds = number()?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if args.dists.is_empty() {
        return Err("give at least one --dist DIR (a trunk build of the app)".into());
    }
    for dist in &args.dists {
        if !dist.join("meshfed-trainer_loader.js").exists() {
            return Err(format!(
                "{} holds no meshfed-trainer_loader.js: is it a trunk build?",
                dist.display()
            ));
        }
    }
    Ok(args)
}

/// Files under one build plus the bench's own page and data, over plain HTTP/1.0.
struct Site {
    dist: PathBuf,
    extra: Vec<(&'static str, Vec<u8>)>,
}

const PAGE: &str = "<!doctype html><title>bench</title><body>bench</body>";

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("wasm") => "application/wasm",
        Some("js") => "text/javascript",
        Some("html") => "text/html",
        _ => "application/octet-stream",
    }
}

fn serve_one(site: &Site, stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    let body = if path == "/" || path == "/bench.html" {
        Some(PAGE.as_bytes().to_vec())
    } else if let Some((_, bytes)) = site.extra.iter().find(|(p, _)| *p == path) {
        Some(bytes.clone())
    } else if !path.contains("..") {
        std::fs::read(site.dist.join(path.trim_start_matches('/'))).ok()
    } else {
        None
    };
    let mut out = stream;
    match body {
        Some(body) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                content_type(path),
                body.len()
            )?;
            out.write_all(&body)?;
        }
        None => out.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?,
    }
    // Close after the client has read everything: closing with its bytes unread would
    // reset the connection and cut the response short.
    out.shutdown(std::net::Shutdown::Write)?;
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    Ok(())
}

/// Serves `site` on a free loopback port from a background thread; returns its base URL.
fn serve(site: Site) -> String {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    let site = Arc::new(site);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let site = site.clone();
            std::thread::spawn(move || {
                let _ = serve_one(&site, stream);
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// Starts the worker, loads the data, trains; resolves to the final reply (or an error).
const SCRIPT: &str = r#"
const [request, done] = arguments;
const get = async (p) => {
  try { return new Uint8Array(await (await fetch(p)).arrayBuffer()); }
  catch (e) { throw new Error(`${location.href} ${p}: ${e}`); }
};
(async () => {
  const [volume, labels, model] = await Promise.all(
    ["/bench/volume.nii", "/bench/labels.nii", "/bench/model.safetensors"].map(get));
  const worker = new Worker("/meshfed-trainer_loader.js");
  let waiting = null;
  worker.onmessage = (e) => {
    const reply = JSON.parse(e.data.json);
    if (reply.kind === "progress") return;
    if (waiting) { const w = waiting; waiting = null; w(reply); }
  };
  worker.onerror = (e) => { if (waiting) waiting({ kind: "failed", message: String(e.message) }); };
  const next = () => new Promise((resolve) => { waiting = resolve; });
  const call = (msg) => { const p = next(); worker.postMessage(msg); return p; };
  const alive = await next();
  if (alive.kind !== "alive") return done(alive);
  const ready = await call({ json: JSON.stringify({ kind: "start", cpu_only: request.cpu_only }) });
  if (ready.kind !== "ready") return done(ready);
  const loaded = await call({ json: JSON.stringify({ kind: "load" }), volume, labels });
  if (loaded.kind !== "loaded") return done(loaded);
  const trained = await call({ json: JSON.stringify(request.train), model });
  worker.terminate();
  done({ ready, trained });
})().catch((e) => done({ kind: "failed", message: String(e) }));
"#;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    xtask::process::stop_groups_on_signal();
    xtask::process::stop_groups_on_panic();
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let (volume, labels) = small_t1_and_labels(args.patch + 16);
    let config = ModelConfig::lab_recipe();
    let model = to_safetensors(&config, &initial_weights(&config, 1), Default::default());
    let data: Vec<(&'static str, Vec<u8>)> = vec![
        (
            "/bench/volume.nii",
            std::fs::read(volume).expect("the volume"),
        ),
        (
            "/bench/labels.nii",
            std::fs::read(labels).expect("the labels"),
        ),
        ("/bench/model.safetensors", model),
    ];
    let sites: Vec<String> = args
        .dists
        .iter()
        .map(|dist| {
            serve(Site {
                dist: dist.clone(),
                extra: data.clone(),
            })
        })
        .collect();
    for (dist, base) in args.dists.iter().zip(&sites) {
        println!("{} served at {base}", dist.display());
    }
    let mut driver = Chromedriver::start().expect("chromedriver starts");
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let flags: &[&str] = if args.webgpu {
        &["--enable-unsafe-webgpu"]
    } else {
        &[]
    };
    let request = json!({
        "cpu_only": !args.webgpu,
        "train": {"kind": "train", "steps": args.steps, "patch": args.patch,
                  "learning_rate": 3e-3, "seed": 7},
    });
    println!(
        "model5 with BatchNorm, {} steps of {}³, batch 1, {} per build, builds alternating",
        args.steps,
        args.patch,
        if args.webgpu { "WebGPU asked" } else { "CPU" }
    );
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); sites.len()];
    rt.block_on(async {
        for round in 1..=args.rounds {
            for (i, base) in sites.iter().enumerate() {
                let client = session_with(&driver.url, flags).await;
                let timeouts =
                    TimeoutConfiguration::new(Some(Duration::from_secs(1800)), None, None);
                client
                    .update_timeouts(timeouts)
                    .await
                    .expect("a script timeout");
                let page = format!("{base}/bench.html");
                client.goto(&page).await.expect("the bench page");
                let at = client.current_url().await.expect("the page's address");
                assert_eq!(at.as_str(), page, "the browser did not open the bench page");
                let out: Value = client
                    .execute_async(SCRIPT, vec![request.clone()])
                    .await
                    .expect("the bench script runs");
                let _ = client.close().await;
                let Some(trained) = out.get("trained") else {
                    panic!("{}: the worker failed: {out}", args.dists[i].display());
                };
                let ms = trained["ms_per_step"].as_f64().unwrap_or(f64::NAN);
                times[i].push(ms);
                println!(
                    "round {round} {:<40} {:>9.1} ms/step  loss {:.6}  ({})",
                    args.dists[i].display().to_string(),
                    ms,
                    trained["loss"].as_f64().unwrap_or(f64::NAN),
                    out["ready"]["adapter"].as_str().unwrap_or("?"),
                );
            }
        }
    });
    driver.stop();
    let first = median(times[0].clone());
    println!("\nmedian ms per step, and the ratio to the first build:");
    for (dist, t) in args.dists.iter().zip(&times) {
        let m = median(t.clone());
        println!(
            "{:<40} {m:>9.1} ms  ×{:.2}",
            dist.display().to_string(),
            m / first
        );
    }
}
