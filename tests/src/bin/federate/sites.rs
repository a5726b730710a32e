//! The sites' scans, and one seed of the benchmark: the run, both arms, the figures.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine;
use meshfed_cli::server::Server;
use meshfed_cli::volume_io;
use meshfed_e2e::identity::{MfaUser, PASSWORD};
use meshfed_e2e::runs::{create_run, participants};
use meshfed_e2e::Ctx;
use meshfed_meshnet::{prepare, SegmentOptions};
use meshfed_shared::meshnet::{file, initial_weights, ModelConfig};
use meshfed_shared::plan::{Schedule, TrainingPlan};
use meshfed_shared::volume::{CropBox, Volume};
use serde_json::{json, Value};

use crate::arms::{self, Arm};
use crate::report::{Row, SeedResult};
use crate::Args;

/// Writes each site's slab (along y) of the normalised, brain-cropped volume and its labels:
/// the whole brain's width along x, so each site's held-out half lies in the test hemisphere.
pub fn write(args: &Args) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    let scan = volume_io::read_volume(&args.volume).map_err(|e| e.to_string())?;
    let labels = volume_io::read_labels(&args.labels).map_err(|e| e.to_string())?;
    let mut v = scan.volume;
    v.min_max_normalise();
    let brain = CropBox::of_mask(&v, 0.0, 18).unwrap_or_else(|| CropBox::all(v.dims));
    let (lo, hi) = (brain.lo[1], brain.hi[1]);
    let header = volume_io::plain_header();
    (0..args.sites)
        .map(|s| {
            let slab = CropBox {
                lo: [brain.lo[0], lo + (hi - lo) * s / args.sites, brain.lo[2]],
                hi: [
                    brain.hi[0],
                    lo + (hi - lo) * (s + 1) / args.sites,
                    brain.hi[2],
                ],
            };
            report_split(s, &slab, &slab.crop(&v), (brain.lo[0] + brain.hi[0]) / 2);
            let t1 = args.out.join(format!("site-{s}-t1.nii"));
            let l = args.out.join(format!("site-{s}-labels.nii"));
            volume_io::write_volume(&t1, &slab.crop(&v), &header).map_err(|e| e.to_string())?;
            volume_io::write_labels(&l, &slab.crop(&labels), &header).map_err(|e| e.to_string())?;
            Ok((t1, l))
        })
        .collect()
}

/// Prints where site `s` splits its slab as `meshfed join` will (its own brain box, the
/// plan's default holdout: the last half along x) beside the lab's split of the whole brain.
fn report_split(s: usize, slab: &CropBox, volume: &Volume, lab_mid: usize) {
    let (_, crop) = prepare(volume, &SegmentOptions::default());
    let n = crop.hi[0] - crop.lo[0];
    let cut = slab.lo[0] + crop.lo[0] + TrainingPlan::default().holdout.cut(n).unwrap_or(n);
    println!(
        "[federate] site {s}: y {}..{}, trains on x {}..{cut}, holds out x {cut}..{} \
         (the centralised arm trains on x below {lab_mid})",
        slab.lo[1],
        slab.hi[1],
        slab.lo[0] + crop.lo[0],
        slab.lo[0] + crop.hi[0],
    );
}

/// The benchmark's model: model5 with BatchNorm after each convolution, as in the lab.
fn model() -> ModelConfig {
    ModelConfig {
        batch_norm: true,
        ..ModelConfig::model5_gw_ae()
    }
}

/// One seed: a run with the default plan (FixBN from half the rounds), every site joining
/// it and the centralised arm training beside them, then both scored.
pub fn one_seed(
    ctx: &Ctx,
    args: &Args,
    files: &[(PathBuf, PathBuf)],
    seed: u64,
) -> Result<SeedResult, String> {
    let dir = args.out.join(format!("seed-{seed}"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let config = model();
    let initial =
        file::to_safetensors(&config, &initial_weights(&config, seed), Default::default());
    let mut plan = json!({"rounds": args.rounds, "fix_batch_norm_from": args.rounds / 2});
    if let Some((sigma, clip)) = args.dp {
        plan["dp"] = json!({"noise_multiplier": sigma, "clip_norm": clip, "delta": 1e-5});
    }
    let (users, run) = ctx.block_on(async {
        let users = participants(ctx, &format!("fed{seed}s"), args.sites).await;
        let others: Vec<&MfaUser> = users[1..].iter().collect();
        let aggregation = if args.dp.is_some() { "mean" } else { "fedavg" };
        let body = json!({
            "name": format!("federate seed {seed}"), "model": config, "plan": plan,
            "aggregation": aggregation,
            "round_timeout_secs": 7200,
            "initial_weights_safetensors":
                base64::engine::general_purpose::STANDARD.encode(&initial),
        });
        let run = create_run(ctx, &users[0], &others, body).await;
        (users, run)
    });
    // The creator's own session, renewed as `meshfed join` renews it: a seed outlives an
    // access token.
    let creator = Server::sign_in(
        &ctx.base,
        &users[0].username,
        PASSWORD,
        Some(&users[0].secret),
    )
    .map_err(|e| format!("the creator signs in: {e}"))?;
    let detail = run_detail(&creator, run)?;
    let plan: TrainingPlan = serde_json::from_value(detail["plan"]["plan"].clone())
        .map_err(|e| format!("the run's plan: {e}"))?;
    if plan.schedule != (Schedule::Cosine { floor: 0.05 }) {
        return Err("distill decays its rate by a cosine to 5 %: the plan must too".into());
    }
    println!(
        "[federate] seed {seed}: run {run} trains {}",
        detail["plan"]["summary"]
    );
    let per_round = args.sites as u32 * plan.local_steps;
    let mut arms = vec![];
    // One round more than the plan's: its validation scores the final global model.
    let rounds = args.rounds + 1;
    for (k, site) in files.iter().enumerate() {
        let who = (&users[k], rounds, seed * 100 + k as u64);
        let log = dir.join(format!("site-{k}.log"));
        arms.push(arms::join(&args.bins, &ctx.base, run, k, site, who, log)?);
    }
    let data = (args.volume.as_path(), args.labels.as_path());
    let steps = (args.rounds * per_round, args.eval_every * per_round, seed);
    let log = dir.join("distill.log");
    arms.push(arms::distill(&args.bins, data, &plan, steps, log.clone())?);
    let minutes = wait(&creator, run, &mut arms, rounds)?;

    let detail = run_detail(&creator, run)?;
    let privacy = &detail["privacy"];
    if !privacy.is_null() {
        println!(
            "[federate] seed {seed}: DP-FedAvg σ {} C {}: ε = {} at δ {} after {} rounds",
            privacy["noise_multiplier"],
            privacy["clip_norm"],
            privacy["epsilon"],
            privacy["delta"],
            privacy["rounds_closed"]
        );
    }
    let validation: BTreeMap<u32, f64> = detail["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some((
                r["round"].as_u64()? as u32,
                r["metrics"]["val_dice"].as_f64()?,
            ))
        })
        .collect();
    let checkpoints: Vec<u32> = (1..=args.rounds)
        .filter(|n| n % args.eval_every == 0 || *n == args.rounds)
        .collect();
    let mut models = vec![];
    for n in &checkpoints {
        let path = format!("/api/runs/{run}/rounds/{}/model", n + 1);
        let bytes = creator
            .get_bytes(&path)
            .map_err(|e| format!("{path}: {e}"))?;
        let (_, values) =
            file::from_safetensors(&bytes, Some(&config)).map_err(|e| format!("{path}: {e}"))?;
        let file = dir.join(format!("global-after-{n}.safetensors"));
        let bytes = file::to_safetensors(&config, &values, Default::default());
        std::fs::write(&file, bytes).map_err(|e| format!("{}: {e}", file.display()))?;
        models.push(file);
    }
    let global = arms::score(&args.bins, data, &models)?;
    let central: BTreeMap<u32, f64> = arms::distill_scores(&log).into_iter().collect();
    let rows = checkpoints
        .iter()
        .zip(global)
        .map(|(&n, global)| Row {
            rounds: n,
            steps: n * per_round,
            federated: validation.get(&(n + 1)).copied(),
            global,
            central: central.get(&(n * per_round)).copied(),
        })
        .collect();
    Ok(SeedResult {
        seed,
        rows,
        minutes,
    })
}

/// Waits for every arm, printing progress each minute; stops them all if one fails.
/// Returns the minutes the federated arm (the last site) and the centralised arm took.
fn wait(creator: &Server, run: i64, arms: &mut [Arm], rounds: u32) -> Result<(f64, f64), String> {
    let start = Instant::now();
    let mut done: Vec<Option<f64>> = vec![None; arms.len()];
    let mut last_report = Instant::now();
    while done.iter().any(Option::is_none) {
        std::thread::sleep(Duration::from_secs(2));
        for (arm, finished) in arms.iter_mut().zip(done.iter_mut()) {
            if finished.is_some() {
                continue;
            }
            match arm.finished() {
                None => {}
                Some(Ok(())) => *finished = Some(start.elapsed().as_secs_f64() / 60.0),
                Some(Err(e)) => {
                    arms.iter_mut().for_each(Arm::stop);
                    return Err(e);
                }
            }
        }
        if last_report.elapsed() >= Duration::from_secs(60) {
            last_report = Instant::now();
            let round =
                run_detail(creator, run).map_or("?".into(), |d| d["current_round"].to_string());
            let central = arms.last().map(|a| arms::distill_scores(&a.log));
            let step = central.and_then(|c| c.last().copied());
            println!(
                "[federate] {:.0} min: round {} of {rounds}; centralised scored at step {}",
                start.elapsed().as_secs_f64() / 60.0,
                round,
                step.map_or("-".into(), |(s, d)| format!("{s} ({d:.4})")),
            );
        }
    }
    let sites = done[..done.len() - 1]
        .iter()
        .flatten()
        .copied()
        .fold(0.0, f64::max);
    Ok((sites, done.last().copied().flatten().unwrap_or(0.0)))
}

/// `GET /api/runs/{id}` as the creator.
fn run_detail(creator: &Server, run: i64) -> Result<Value, String> {
    creator
        .get_json(&format!("/api/runs/{run}"))
        .map_err(|e| format!("the run's detail: {e}"))
}
