//! `cargo xtask federate`: the product's federated training beside centralised training at
//! the same summed steps, on the lab's non-IID split. A benchmark that prints figures, not a
//! test.
//!
//! brainchop's sample T1 (normalised, cropped to the brain) is cut into `--sites` slabs along
//! y, one NIfTI file per site. Each site runs the product's `meshfed join` against a real
//! local Worker in a run with the default plan (the lab's recipe: 5 local steps of 48³,
//! batch 2, Adam, lr 6e-3 cosine, flips, FixBN) over `--rounds` rounds, FixBN from half of
//! them as the lab's 200 of 400. Each site holds out the last half of its slab along x (the
//! plan's default), so the run's federated validation Dice is scored on the hemisphere the
//! lab tests on. The centralised arm is `meshfed-lab distill` on the whole training
//! hemisphere (x below the middle) with the same recipe and rounds × sites × local steps
//! steps, scored on the test hemisphere. Both start from the same PyTorch-style initial
//! weights of the seed. The global models are also scored exactly as `distill` scores its
//! own (`meshfed-lab score`), for a like-for-like gap.
//!
//! After `cargo xtask federate` has built everything:
//! `cargo run -p meshfed-e2e --bin federate -- --bins DIR --labels L [--rounds 100]
//!  [--eval-every 10] [--seeds 1,2,3] [--sites 4] [--out DIR] [--dp SIGMA,CLIP]`
//!
//! With `--dp`, the run is DP-FedAvg (`plan.dp`, aggregation `mean`, δ = 1e-5) and each
//! seed's table ends with the ε its rounds spent.

mod arms;
mod report;
mod sites;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshfed_e2e::{server, Ctx};
use xtask::paths::repo_root;

use report::SeedResult;

pub struct Args {
    /// Where `meshfed` and `meshfed-lab` (profile native) are.
    bins: PathBuf,
    volume: PathBuf,
    /// brainchop's labels of the volume (tests/brainchop/reference.mjs).
    labels: PathBuf,
    out: PathBuf,
    rounds: u32,
    eval_every: u32,
    seeds: Vec<u64>,
    sites: usize,
    /// DP-FedAvg (noise multiplier σ, clip norm C): the run averages with `mean` and every
    /// site clips and noises its updates; the report adds ε at δ = 1e-5.
    dp: Option<(f64, f64)>,
}

fn parse() -> Result<Args, String> {
    let root = repo_root();
    let mut args = Args {
        bins: root.join("target/native"),
        volume: root.join("shared/data/brainchop/t1_crop.nii.gz"),
        labels: PathBuf::new(),
        out: root.join("target/federate"),
        rounds: 100,
        eval_every: 10,
        seeds: vec![1, 2, 3],
        sites: 4,
        dp: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let count = || {
            value
                .parse::<u32>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{flag} needs a positive number, got {value:?}"))
        };
        match flag.as_str() {
            "--bins" => args.bins = value.into(),
            "--volume" => args.volume = value.into(),
            "--labels" => args.labels = value.into(),
            "--out" => args.out = value.into(),
            "--rounds" => args.rounds = count()?,
            "--eval-every" => args.eval_every = count()?,
            "--sites" => args.sites = count()? as usize,
            "--dp" => {
                let parts: Vec<f64> = value
                    .split(',')
                    .filter_map(|s| s.trim().parse().ok())
                    .collect();
                match parts[..] {
                    [sigma, clip] if sigma > 0.0 && clip > 0.0 => args.dp = Some((sigma, clip)),
                    _ => return Err(format!("--dp takes SIGMA,CLIP like 1,0.05, got {value:?}")),
                }
            }
            "--seeds" => {
                args.seeds = value
                    .split(',')
                    .map(|s| s.trim().parse::<u64>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("--seeds takes numbers like 1,2,3, got {value:?}"))?
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if args.labels.as_os_str().is_empty() {
        return Err("--labels (brainchop's labels of the volume) is required".into());
    }
    if args.rounds < 2 || args.eval_every > args.rounds {
        return Err("--rounds must be at least 2 and at least --eval-every".into());
    }
    Ok(args)
}

fn main() -> std::process::ExitCode {
    xtask::process::stop_groups_on_signal();
    match parse().and_then(|args| run(&args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("federate: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let files = sites::write(args)?;
    let state = server::fresh_state_dir("federate");
    let vars = [("RATE_LIMIT_MULTIPLIER", "1000000")];
    let mut srv = server::start_with(&state, None, &vars)?;
    let rt = Arc::new(tokio::runtime::Runtime::new().map_err(|e| e.to_string())?);
    let ctx = Ctx {
        base: srv.base_url(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| e.to_string())?,
        rt,
        webdriver: String::new(),
    };
    println!(
        "[federate] {} sites, {} rounds, seeds {:?}, Worker at {} (log in {})",
        args.sites,
        args.rounds,
        args.seeds,
        ctx.base,
        state.display()
    );
    let mut results: Vec<SeedResult> = vec![];
    for &seed in &args.seeds {
        let result = sites::one_seed(&ctx, args, &files, seed);
        match result {
            Ok(r) => {
                print!("{}", r.table());
                results.push(r);
            }
            Err(e) => {
                srv.stop();
                return Err(format!("seed {seed}: {e}"));
            }
        }
    }
    print!("{}", report::summary(&results));
    println!(
        "[federate] took {:.0} min",
        started.elapsed().as_secs_f64() / 60.0
    );
    srv.stop();
    Ok(())
}
