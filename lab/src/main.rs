//! `meshfed-lab`: the learning experiments behind the team's figures.
//!
//!   meshfed-lab distill   --volume T1 --labels BRAINCHOP_LABELS --steps N
//!   meshfed-lab federated --volume T1 --labels BRAINCHOP_LABELS --rounds R --local-steps K
//!   meshfed-lab score     --volume T1 --labels BRAINCHOP_LABELS MODEL...
//!
//! `federated` also trains centrally with the same total number of steps and prints the gap.
//! Each experiment's flags are its plan's fields (`DistillPlan`, `FederatedPlan`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use meshfed_cli::backend::{device, Backend};
use meshfed_cli::error::CliResult;
use meshfed_cli::model_io;
use meshfed_lab::distill::DistillPlan;
use meshfed_lab::federated::FederatedPlan;
use meshfed_lab::options::Common;
use meshfed_lab::{distill, federated, mean_fg, show, Split, TAIL};
use meshfed_meshnet::MeshNetConfig;
use meshfed_shared::meshnet::ModelConfig;

#[derive(Debug, Parser)]
#[command(name = "meshfed-lab", about = "MeshNet learning experiments")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// (a) Fresh model5 on brainchop's labels of one hemisphere, Dice on the other.
    Distill {
        #[command(flatten)]
        plan: DistillPlan,
        /// Write the final model here (.safetensors, or a brainchop directory), with the
        /// statistics it was last scored with.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Scores saved models (.safetensors or brainchop directories) as `distill` scores its
    /// own: Dice on the test hemisphere, one line per model.
    Score {
        #[arg(long)]
        volume: PathBuf,
        #[arg(long)]
        labels: PathBuf,
        #[arg(required = true)]
        models: Vec<PathBuf>,
    },
    /// (b) FedAvg over non-IID sites against centralised training with the same steps.
    Federated {
        #[command(flatten)]
        plan: FederatedPlan,
        /// Skip the centralised run (its Dice for the same recipe is known).
        #[arg(long)]
        no_centralised: bool,
        /// Write the final global model here (.safetensors, or a brainchop directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Refuses an `--out` name that [`save_out`] could not write, before hours of training.
fn check_out(out: Option<&Path>) -> CliResult<()> {
    if let Some(path) = out {
        model_io::ModelPath::parse(path)?;
    }
    Ok(())
}

/// Writes `values` to `--out`, if given, and says where `what` went.
fn save_out(out: Option<&Path>, what: &str, model: &ModelConfig, values: &[f32]) -> CliResult<()> {
    if let Some(path) = out {
        model_io::save(path, model, values)?;
        println!("{what} is in {}", path.display());
    }
    Ok(())
}

fn score(volume: &Path, labels: &Path, models: &[PathBuf]) -> CliResult<()> {
    let split = Split::load(volume, labels, 48)?;
    let dev = device(Backend::Cpu)?;
    for path in models {
        let (config, values) = model_io::load(path, None)?;
        let net = MeshNetConfig::from(config).load(&values, &dev)?;
        let d = split.evaluate(&net, &dev)?;
        println!(
            "score {}: test-hemisphere Dice bg/WM/GM {} mean WM/GM {:.4}",
            path.display(),
            show(&d),
            mean_fg(&d)
        );
    }
    Ok(())
}

fn run_distill(plan: &DistillPlan, out: Option<&Path>) -> CliResult<()> {
    check_out(out)?;
    let common = &plan.common;
    let split = Split::load(&common.volume, &common.labels, 48)?;
    let outcome = distill::run(&split, plan, &device(common.backend)?)?;
    let what = "distill: the final model";
    save_out(out, what, &common.model(), &outcome.model)?;
    println!(
        "distill mean WM/GM Dice: {} (target >= 0.90)",
        outcome.scores.summary()
    );
    Ok(())
}

/// The federated run, then (unless `no_centralised`) centralised training with the same
/// summed steps, scored as often, and the gap between them.
fn run_federated(plan: &FederatedPlan, no_centralised: bool, out: Option<&Path>) -> CliResult<()> {
    check_out(out)?;
    let common = &plan.common;
    let split = Split::load(&common.volume, &common.labels, 48)?;
    let dev = device(common.backend)?;
    let outcome = federated::run(&split, plan, &dev)?;
    let what = "federated: the final global model";
    save_out(out, what, &common.model(), &outcome.global)?;
    let fed = outcome.scores;
    if no_centralised {
        println!("federated mean WM/GM Dice: {}", fed.summary());
        return Ok(());
    }
    let per_round = plan.sites * plan.local_steps;
    let central = DistillPlan {
        common: Common {
            precise_bn: match common.precise_bn {
                0 if plan.recompute_batch_norm => plan.sites * common.batch,
                n => n,
            },
            ..common.clone()
        },
        steps: plan.rounds * per_round,
        eval_every: per_round * plan.eval_every,
    };
    let central = distill::run(&split, &central, &dev)?.scores;
    println!(
        "federated {} vs centralised {}: gap {:.4} (final), {:.4} (mean of the last {TAIL}; target <= 0.02)",
        fed.summary(),
        central.summary(),
        central.last() - fed.last(),
        central.tail_mean(TAIL) - fed.tail_mean(TAIL)
    );
    Ok(())
}

fn run(cli: Cli) -> CliResult<()> {
    match cli.command {
        Command::Score {
            volume,
            labels,
            models,
        } => score(&volume, &labels, &models),
        Command::Distill { plan, out } => run_distill(&plan, out.as_deref()),
        Command::Federated {
            plan,
            no_centralised,
            out,
        } => run_federated(&plan, no_centralised, out.as_deref()),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meshfed-lab: {e}");
            ExitCode::FAILURE
        }
    }
}
