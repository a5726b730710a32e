//! `meshfed-lab`: the learning experiments behind the team's figures.
//!
//!   meshfed-lab distill   --volume T1 --labels BRAINCHOP_LABELS --steps N
//!   meshfed-lab federated --volume T1 --labels BRAINCHOP_LABELS --rounds R --local-steps K
//!
//!   meshfed-lab score     --volume T1 --labels BRAINCHOP_LABELS MODEL...
//!
//! `federated` also trains centrally with the same total number of steps and prints the gap.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use meshfed_cli::backend::{device, Backend};
use meshfed_cli::error::CliResult;
use meshfed_cli::lab::options::Common;
use meshfed_cli::lab::{conv_bench, distill, federated, mean_fg, show, step_bench, Split, TAIL};
use meshfed_cli::model_io;
use meshfed_shared::meshnet::net::MeshNetConfig;
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
        common: Common,
        #[arg(long, default_value_t = 2000, value_parser = positive)]
        steps: usize,
        #[arg(long, default_value_t = 250)]
        eval_every: usize,
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
    /// Training-step and inference time of model5 and the 21-channel MeshNet on a phantom.
    Bench {
        #[arg(long, default_value_t = 64)]
        patch: usize,
        #[arg(long, default_value_t = 5, value_parser = positive)]
        steps: usize,
        /// Patches per step.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        #[arg(long, value_enum, default_value_t = Backend::Cpu)]
        backend: Backend,
    },
    /// One MeshNet layer, forward and backward: burn's Conv3d beside Meshfed's kernels,
    /// alternating, with ratios. On wgpu, the CPU kernels are timed too.
    Conv {
        #[arg(long, default_value_t = 64)]
        patch: usize,
        #[arg(long, default_value_t = 1)]
        batch: usize,
        #[arg(long, default_value_t = 3, value_parser = positive)]
        rounds: usize,
        #[arg(long, value_enum, default_value_t = Backend::Cpu)]
        backend: Backend,
    },
    /// (b) FedAvg over non-IID sites against centralised training with the same steps.
    Federated {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 4, value_parser = positive)]
        sites: usize,
        #[arg(long, default_value_t = 10, value_parser = positive)]
        rounds: usize,
        #[arg(long, default_value_t = 50, value_parser = positive)]
        local_steps: usize,
        /// Restart each site's Adam every round (by default each site keeps its own).
        #[arg(long)]
        reset_optimizer: bool,
        /// The server's learning rate on the round's mean update (FedAvgM); 1 is FedAvg.
        #[arg(long, default_value_t = 1.0)]
        server_lr: f64,
        /// The server's momentum across rounds (FedAvgM); 0 is FedAvg.
        #[arg(long, default_value_t = 0.0)]
        server_momentum: f64,
        /// Measure the global model's BatchNorm statistics afresh on the sites' patches
        /// after each round, instead of averaging the sites' own.
        #[arg(long)]
        recompute_bn: bool,
        /// From this round on, the sites train with BatchNorm on the global model's running
        /// statistics, fixed, rather than on their own batches' (FixBN; 0: never). With
        /// --recompute-bn those statistics are measured afresh every round.
        #[arg(long, default_value_t = 0)]
        fix_bn_from: usize,
        /// Skip the centralised run (its Dice for the same recipe is known).
        #[arg(long)]
        no_centralised: bool,
        /// Also score each site's own model every round, before averaging.
        #[arg(long)]
        site_dice: bool,
        /// How the training hemisphere is dealt to the sites.
        #[arg(long, value_enum, default_value_t = federated::SiteSplit::Slabs)]
        split: federated::SiteSplit,
        /// Score the global model every this many rounds (and after the last).
        #[arg(long, default_value_t = 1, value_parser = positive)]
        eval_every: usize,
        /// FedProx's μ: each site's loss also pulls towards the round's global model
        /// (μ/2 · ‖w − global‖²); 0 is plain FedAvg.
        #[arg(long, default_value_t = 0.0)]
        prox_mu: f32,
        /// SCAFFOLD's drift correction: after each local step a site adds the gap between
        /// the sites' mean raw update of the last round and its own, per step.
        #[arg(long)]
        scaffold: bool,
        /// Calibrate the fresh model on one patch of every site (pooled), not on the
        /// initiator's (site 0) own patches.
        #[arg(long)]
        pooled_calibration: bool,
        /// Write the final global model here (.safetensors, or a brainchop directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// A count that must be at least 1 (`--steps 0` would report a Dice of an untrained model).
fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a whole number of at least 1, got {s:?}")),
    }
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

fn run(cli: Cli) -> CliResult<()> {
    match cli.command {
        Command::Score {
            volume,
            labels,
            models,
        } => {
            let split = Split::load(&volume, &labels, 48)?;
            let dev = device(Backend::Cpu)?;
            for path in models {
                let (config, values) = model_io::load(&path, None)?;
                let net = MeshNetConfig::from(config).load(&values, &dev)?;
                let d = split.evaluate(&net, &dev)?;
                println!(
                    "score {}: test-hemisphere Dice bg/WM/GM {} mean WM/GM {:.4}",
                    path.display(),
                    show(&d),
                    mean_fg(&d)
                );
            }
        }
        Command::Bench {
            patch,
            steps,
            batch,
            backend,
        } => {
            let dev = device(backend)?;
            for config in [ModelConfig::model5_gw_ae(), ModelConfig::classic21(3)] {
                let t = step_bench::measure(&config, patch, batch, steps, &dev)?;
                println!(
                    "bench {} ch {} layers: training step on {patch}³ batch {batch} {:.4}s ({backend:?}); inference {:.4}s",
                    config.channels,
                    config.dilations.len(),
                    t.step,
                    t.inference
                );
                #[cfg(feature = "wgpu")]
                if backend == Backend::Wgpu {
                    use meshfed_shared::meshnet::net::mesh_conv::use_gpu_kernels;
                    use_gpu_kernels(false);
                    let burn = step_bench::measure(&config, patch, batch, steps, &dev);
                    use_gpu_kernels(true);
                    let burn = burn?;
                    println!(
                        "    with burn's conv3d instead of the direct kernels: step {:.4}s \
                         (kernels {:.2}x faster), inference {:.4}s ({:.2}x)",
                        burn.step,
                        burn.step / t.step,
                        burn.inference,
                        burn.inference / t.inference
                    );
                }
            }
        }
        Command::Conv {
            patch,
            batch,
            rounds,
            backend,
        } => {
            let dev = device(backend)?;
            let cpu = device(Backend::Cpu)?;
            for (channels, dilation) in [(5, 1), (5, 8), (21, 1), (21, 8)] {
                let [burn, ours] =
                    conv_bench::compare(channels, dilation, batch, patch, rounds, &dev);
                println!(
                    "conv {channels}->{channels} ch dilation {dilation} on {patch}³ batch {batch} \
                     ({backend:?}): forward burn {:.1} ms, kernels {:.1} ms ({:.2}x); \
                     backward burn {:.1} ms, kernels {:.1} ms ({:.2}x)",
                    burn.forward * 1e3,
                    ours.forward * 1e3,
                    burn.forward / ours.forward,
                    burn.backward * 1e3,
                    ours.backward * 1e3,
                    burn.backward / ours.backward,
                );
                if backend != Backend::Cpu {
                    let [_, on_cpu] =
                        conv_bench::compare(channels, dilation, batch, patch, rounds, &cpu);
                    println!(
                        "    CPU kernels: forward {:.1} ms, backward {:.1} ms; \
                         {backend:?} kernels against them: forward {:.2}x, backward {:.2}x",
                        on_cpu.forward * 1e3,
                        on_cpu.backward * 1e3,
                        on_cpu.forward / ours.forward,
                        on_cpu.backward / ours.backward,
                    );
                }
            }
        }
        Command::Distill {
            common,
            steps,
            eval_every,
            out,
        } => {
            check_out(out.as_deref())?;
            let split = Split::load(&common.volume, &common.labels, 48)?;
            let plan = distill::DistillPlan {
                model: common.model(),
                steps,
                eval_every,
                train: common.train(),
                init: common.init,
                cosine: common.cosine,
                precise_bn: common.precise_bn,
            };
            let outcome = distill::run(&split, &plan, &device(common.backend)?)?;
            save_out(
                out.as_deref(),
                "distill: the final model",
                &plan.model,
                &outcome.model,
            )?;
            println!(
                "distill mean WM/GM Dice: {} (target >= 0.90)",
                outcome.scores.summary()
            );
        }
        Command::Federated {
            common,
            sites,
            rounds,
            local_steps,
            reset_optimizer,
            server_lr,
            server_momentum,
            recompute_bn,
            fix_bn_from,
            no_centralised,
            site_dice,
            split: site_split,
            eval_every,
            prox_mu,
            scaffold,
            pooled_calibration,
            out,
        } => {
            let split = Split::load(&common.volume, &common.labels, 48)?;
            let dev = device(common.backend)?;
            let plan = federated::FederatedPlan {
                model: common.model(),
                sites,
                rounds,
                local_steps,
                train: common.train(),
                init: common.init,
                cosine: common.cosine,
                reset_optimizer,
                server_learning_rate: server_lr,
                server_momentum,
                recompute_batch_norm: recompute_bn,
                fixed_batch_norm_from: fix_bn_from,
                site_dice,
                split: site_split,
                eval_every,
                proximal_mu: prox_mu,
                drift_correction: scaffold,
                pooled_calibration,
                score_bn_patches: common.precise_bn,
            };
            check_out(out.as_deref())?;
            let outcome = federated::run(&split, &plan, &dev)?;
            let what = "federated: the final global model";
            save_out(out.as_deref(), what, &plan.model, &outcome.global)?;
            let fed = outcome.scores;
            if no_centralised {
                println!("federated mean WM/GM Dice: {}", fed.summary());
                return Ok(());
            }
            let central = distill::run(
                &split,
                &distill::DistillPlan {
                    model: common.model(),
                    steps: rounds * sites * local_steps,
                    eval_every: sites * local_steps * eval_every,
                    train: common.train(),
                    init: common.init,
                    cosine: common.cosine,
                    precise_bn: match common.precise_bn {
                        0 if recompute_bn => sites * common.batch,
                        n => n,
                    },
                },
                &dev,
            )?
            .scores;
            println!(
                "federated {} vs centralised {}: gap {:.4} (final), {:.4} (mean of the last {TAIL}; target <= 0.02)",
                fed.summary(),
                central.summary(),
                central.last() - fed.last(),
                central.tail_mean(TAIL) - fed.tail_mean(TAIL)
            );
        }
    }
    Ok(())
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
