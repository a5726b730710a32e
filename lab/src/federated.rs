//! (b) Federated simulation: the training hemisphere split non-IID over sites (slabs along
//! y, so each site sees a different part of the brain), FedAvg through shared's aggregation,
//! against centralised training with the same total number of steps.

use std::time::Instant;

use meshfed_meshnet::burn::tensor::{Device, Tensor};
use meshfed_meshnet::{MeshNet, MeshNetConfig, TrainConfig, Trainer};
use meshfed_shared::aggregate::agreement::update_agreement;
use meshfed_shared::aggregate::drift::DriftCorrection;
use meshfed_shared::aggregate::server::ServerMomentum;
use meshfed_shared::aggregate::{Method, RunningSum};
use meshfed_shared::volume::{CropBox, Labels, Volume};

use super::{cosine_learning_rate, fresh_trainer, mean_fg, show, Init, Scores, Split};
use crate::options::{positive, Common};
use clap::Args;
use meshfed_cli::error::{CliError, CliResult};

/// (b) A federated simulation's recipe: the shared options and the federated ones, read
/// straight from `meshfed-lab federated`'s flags.
#[derive(Debug, Clone, Args)]
pub struct FederatedPlan {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, default_value_t = 4, value_parser = positive)]
    pub sites: usize,
    #[arg(long, default_value_t = 10, value_parser = positive)]
    pub rounds: usize,
    #[arg(long, default_value_t = 50, value_parser = positive)]
    pub local_steps: usize,
    /// Restart each site's Adam every round (by default each site keeps its own optimizer
    /// state from round to round, as a participant's browser tab does).
    #[arg(long)]
    pub reset_optimizer: bool,
    /// The server's learning rate on the round's mean update (FedAvgM); 1 is FedAvg.
    #[arg(long = "server-lr", default_value_t = 1.0)]
    pub server_learning_rate: f64,
    /// The server's momentum across rounds (FedAvgM); 0 is FedAvg.
    #[arg(long, default_value_t = 0.0)]
    pub server_momentum: f64,
    /// Measure the global model's BatchNorm statistics afresh on the sites' patches (pooled,
    /// block by block) after each round, instead of averaging the sites' own.
    #[arg(long = "recompute-bn")]
    pub recompute_batch_norm: bool,
    /// From this round on (1-based; 0: never), the sites train with BatchNorm on the global
    /// model's running statistics, fixed, rather than on their own batches' (FixBN). With
    /// --recompute-bn those statistics are measured afresh every round.
    #[arg(long = "fix-bn-from", default_value_t = 0)]
    pub fixed_batch_norm_from: usize,
    /// Also score each site's own model every round, before averaging: is the average worse
    /// than its parts (client drift), or are the parts poor too?
    #[arg(long)]
    pub site_dice: bool,
    /// How the training hemisphere is dealt to the sites.
    #[arg(long, value_enum, default_value_t = SiteSplit::Slabs)]
    pub split: SiteSplit,
    /// FedProx's μ: each site's loss also pulls towards the round's global model
    /// (μ/2 · ‖w − global‖²); 0 is plain FedAvg.
    #[arg(long = "prox-mu", default_value_t = 0.0)]
    pub proximal_mu: f32,
    /// SCAFFOLD's drift correction: after each local step a site adds the gap between the
    /// sites' mean raw update of the last round and its own, per step.
    #[arg(long = "scaffold")]
    pub drift_correction: bool,
    /// Calibrate the fresh model on one patch of every site (pooled, as a federated
    /// measurement would), not on the initiator's (site 0) own patches.
    #[arg(long)]
    pub pooled_calibration: bool,
    /// Score the global model every this many rounds (and after the last).
    #[arg(long, default_value_t = 1, value_parser = positive)]
    pub eval_every: usize,
}

/// How the training hemisphere is dealt to the sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SiteSplit {
    /// Non-IID: one slab along y each, so each site sees a different part of the brain.
    Slabs,
    /// The control: every site samples the whole training hemisphere (with its own seed).
    Iid,
}

impl FederatedPlan {
    /// The learning rate of `round` (1-based): constant, or the cosine schedule sampled at
    /// the round's first step.
    fn learning_rate(&self, round: usize) -> f64 {
        let lr = self.common.lr;
        if !self.common.cosine {
            return lr;
        }
        cosine_learning_rate(lr, (round - 1) as f64 / self.rounds as f64)
    }

    /// Whether the sites train on fixed BatchNorm statistics in `round`.
    fn fixes_batch_norm(&self, round: usize) -> bool {
        self.fixed_batch_norm_from > 0 && round >= self.fixed_batch_norm_from
    }
}

/// Each site's data: the training region cut into `sites` slabs along y, or all of it.
pub fn site_data(split: &Split, sites: usize, how: SiteSplit) -> Vec<(Volume, Labels)> {
    let d = split.train_volume.dims;
    if how == SiteSplit::Iid {
        let whole = (split.train_volume.clone(), split.train_labels.clone());
        return vec![whole; sites];
    }
    (0..sites)
        .map(|s| {
            let b = CropBox {
                lo: [0, d[1] * s / sites, 0],
                hi: [d[0], d[1] * (s + 1) / sites, d[2]],
            };
            (b.crop(&split.train_volume), b.crop(&split.train_labels))
        })
        .collect()
}

/// The round-1 model. A calibrated start is calibrated on the initiator's patches (site 0),
/// or with `pooled_calibration` on one patch of every site, as centralised training is.
fn initial_model(
    plan: &FederatedPlan,
    sites: &[(Volume, Labels)],
    device: &Device,
) -> CliResult<Vec<f32>> {
    let pooled = plan.pooled_calibration && plan.common.init == Init::Calibrated;
    let init = if pooled {
        Init::Pytorch
    } else {
        plan.common.init
    };
    let (volume, labels) = (&sites[0].0, &sites[0].1);
    let mut trainer = fresh_trainer(
        &plan.common.model(),
        init,
        plan.common.train(),
        (volume, labels),
        device,
    )?;
    let model = trainer.inference_model();
    if !pooled {
        return Ok(model.values()?);
    }
    let mut sample = vec![];
    for (volume, labels) in sites {
        sample.push(trainer.sample_patches(volume, labels, 1)?);
    }
    Ok(model.calibrate(Tensor::cat(sample, 0)).values()?)
}

/// Site `s`'s trainer for `round`, holding `net` (the global model): the one it kept from
/// the last round, with its Adam state, or a fresh one (the first round, `reset_optimizer`).
fn site_trainer<'a>(
    kept: &'a mut Option<Trainer>,
    plan: &FederatedPlan,
    round: usize,
    s: usize,
    net: MeshNet,
    ad: &Device,
) -> &'a mut Trainer {
    let trainer = match kept.take().filter(|_| !plan.reset_optimizer) {
        Some(mut trainer) => {
            trainer.replace_model(net);
            trainer
        }
        None => {
            let train = TrainConfig {
                seed: plan.common.seed ^ ((round * 1000 + s) as u64),
                ..plan.common.train()
            };
            Trainer::new(net, plan.common.model().classes, train, ad)
        }
    };
    kept.insert(trainer)
}

/// How many patches the round's own statistics are measured on.
fn samples_of(plan: &FederatedPlan) -> usize {
    plan.sites * plan.common.batch
}

/// One patch sampler per site for scoring, seeded apart from the sites' trainers.
fn scoring_samplers(
    plan: &FederatedPlan,
    sites: usize,
    global: &[f32],
    ad: &Device,
) -> CliResult<Vec<Trainer>> {
    if plan.common.precise_bn == 0 || !plan.recompute_batch_norm {
        return Ok(vec![]);
    }
    (0..sites)
        .map(|s| {
            let net = MeshNetConfig::from(plan.common.model()).load(global, ad)?;
            let train = TrainConfig {
                seed: plan.common.seed ^ (0x5C0E_0000 + s as u64),
                ..plan.common.train()
            };
            Ok(Trainer::new(net, plan.common.model().classes, train, ad))
        })
        .collect()
}

/// `score_bn_patches` patches pooled over the sites, in chunks of at most a batch.
fn scoring_patches(
    plan: &FederatedPlan,
    samplers: &mut [Trainer],
    sites: &[(Volume, Labels)],
) -> CliResult<Vec<Tensor<5>>> {
    let per_site = plan.common.precise_bn.div_ceil(sites.len());
    let mut samples = vec![];
    for (sampler, (volume, labels)) in samplers.iter_mut().zip(sites) {
        samples.extend(sampler.sample_patch_batches(volume, labels, per_site)?);
    }
    Ok(samples)
}

/// What a FedAvg run ends with.
pub struct Outcome {
    /// Every evaluation's mean WM/GM Dice.
    pub scores: Scores,
    /// The global model after the last round, as the next round would start from it (with
    /// the recomputed BatchNorm statistics when the plan recomputes them).
    pub global: Vec<f32>,
}

/// Runs FedAvg; prints Dice after each scored round.
pub fn run(split: &Split, plan: &FederatedPlan, device: &Device) -> CliResult<Outcome> {
    let config = plan.common.model();
    let ad = device.clone().autodiff();
    let sites = site_data(split, plan.sites, plan.split);
    let mut global = initial_model(plan, &sites, device)?;
    let mut trainers: Vec<Option<Trainer>> = sites.iter().map(|_| None).collect();
    let mut server = ServerMomentum::new(
        global.len(),
        plan.server_learning_rate,
        plan.server_momentum,
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    let trainable = config.trainable_mask();
    let mut drift = DriftCorrection::new(sites.len(), global.len(), plan.local_steps);
    let mut samplers = scoring_samplers(plan, sites.len(), &global, &ad)?;
    let start = Instant::now();
    let mut scores = Scores::default();
    for round in 1..=plan.rounds {
        let mut locals = vec![];
        for (s, (volume, labels)) in sites.iter().enumerate() {
            let net = MeshNetConfig::from(config.clone())
                .load(&global, &ad)?
                .with_batch_norm_training(!plan.fixes_batch_norm(round));
            let trainer = site_trainer(&mut trainers[s], plan, round, s, net, &ad);
            trainer.set_learning_rate(plan.learning_rate(round));
            trainer.set_proximal(&global, &trainable, plan.proximal_mu);
            let correction = (plan.drift_correction && round > 1).then(|| drift.per_step(s));
            for _ in 0..plan.local_steps {
                trainer.step(volume, labels)?;
                if let Some(correction) = correction {
                    let mut v = trainer.model().values()?;
                    v.iter_mut().zip(correction).for_each(|(w, c)| *w += c);
                    trainer.replace_model(MeshNetConfig::from(config.clone()).load(&v, &ad)?);
                }
            }
            if plan.site_dice {
                let d = split.evaluate(&trainer.inference_model(), device)?;
                println!(
                    "  round {round:>3} site {s} own model: mean WM/GM {:.4}",
                    mean_fg(&d)
                );
            }
            let examples = labels.data.iter().filter(|&&l| l != 0).count() as u64;
            let local = trainer.inference_model().values()?;
            locals.push((local, Method::Fedavg.weight(examples)));
        }
        let mut sum = RunningSum::new(global.len());
        for (local, weight) in &locals {
            sum.add(local, *weight);
        }
        if plan.drift_correction {
            drift.update(&global, &locals, &trainable);
        }
        let agreement = update_agreement(&global, &locals, &trainable).unwrap_or(0.0);
        if let Some(mean) = sum.mean() {
            global = server.step(&global, &mean, &trainable);
        }
        let mut model = MeshNetConfig::from(config.clone()).load(&global, device)?;
        let scored = round % plan.eval_every == 0 || round == plan.rounds;
        let mut beside = String::new();
        let mut scoring = None;
        if plan.recompute_batch_norm {
            if scored {
                let d = split.evaluate(&model, device)?;
                beside = format!(" (averaged statistics: {:.4}", mean_fg(&d));
                if !samplers.is_empty() {
                    let samples = scoring_patches(plan, &mut samplers, &sites)?;
                    scoring = Some(model.clone().recompute_batch_norm(&samples)?);
                }
            }
            let mut samples = vec![];
            for (trainer, (volume, labels)) in trainers.iter_mut().flatten().zip(&sites) {
                samples.push(trainer.sample_patches(volume, labels, plan.common.batch)?);
            }
            model = model.recompute_batch_norm(&samples)?;
            global = model.values()?;
        }
        if !scored {
            continue;
        }
        if let Some(scoring) = scoring {
            let d = split.evaluate(&model, device)?;
            beside += &format!(
                ", on the round's {} patches: {:.4}",
                samples_of(plan),
                mean_fg(&d)
            );
            model = scoring;
        }
        if !beside.is_empty() {
            beside.push(')');
        }
        let d = split.evaluate(&model, device)?;
        scores.push(mean_fg(&d));
        println!(
            "federated round {round:>3} ({} sites × {} steps) test-hemisphere Dice bg/WM/GM {} mean WM/GM {:.4}{beside}, update agreement {agreement:.2} ({:.0}s)",
            plan.sites,
            plan.local_steps,
            show(&d),
            scores.last(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(Outcome { scores, global })
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshfed_shared::meshnet::{initial_weights, ModelConfig};
    use meshfed_shared::volume::phantom;

    /// The plan `meshfed-lab federated` builds from these flags (and `--precise-bn N`).
    fn plan(score_bn_patches: usize) -> FederatedPlan {
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            plan: FederatedPlan,
        }
        let n = score_bn_patches.to_string();
        let flags = [
            "lab",
            "--volume",
            "t1.nii",
            "--labels",
            "l.nii",
            "--patch",
            "8",
            "--batch",
            "2",
            "--init",
            "pytorch",
            "--sites",
            "2",
            "--rounds",
            "1",
            "--local-steps",
            "1",
            "--recompute-bn",
            "--precise-bn",
            &n,
        ];
        <Flags as clap::Parser>::parse_from(flags).plan
    }

    #[test]
    fn the_flags_build_the_plan() {
        let plan = plan(5);
        assert_eq!((plan.sites, plan.rounds, plan.local_steps), (2, 1, 1));
        assert!(plan.recompute_batch_norm && !plan.drift_correction);
        assert_eq!(plan.server_learning_rate, 1.0);
        assert_eq!(plan.common.init, Init::Pytorch);
        let train = plan.common.train();
        assert_eq!((train.patch, train.batch, train.seed), (8, 2, 1));
        assert_eq!(plan.common.model(), ModelConfig::model5_gw_ae());
    }

    /// 5 scoring patches over 2 sites: 3 each, in chunks of at most a batch (2 + 1).
    #[test]
    fn scoring_patches_are_shared_out_over_the_sites_in_batches() {
        let ad = Device::flex().autodiff();
        let plan = plan(5);
        let sites = vec![phantom([12, 12, 12], 1), phantom([12, 12, 12], 2)];
        let global = initial_weights(&plan.common.model(), 1);
        let mut samplers = scoring_samplers(&plan, sites.len(), &global, &ad).unwrap();
        assert_eq!(samplers.len(), 2);
        let patches = scoring_patches(&plan, &mut samplers, &sites).unwrap();
        let counts: Vec<usize> = patches.iter().map(|p| p.dims()[0]).collect();
        assert_eq!(counts, [2, 1, 2, 1]);
        assert_eq!(patches[0].dims()[1..], [1, 8, 8, 8]);
    }

    /// Without a scoring count (or without recomputed statistics) no sampler is made.
    #[test]
    fn no_scoring_samplers_unless_asked() {
        let ad = Device::flex().autodiff();
        let global = initial_weights(&plan(0).common.model(), 1);
        assert!(scoring_samplers(&plan(0), 2, &global, &ad)
            .unwrap()
            .is_empty());
        let off = FederatedPlan {
            recompute_batch_norm: false,
            ..plan(4)
        };
        assert!(scoring_samplers(&off, 2, &global, &ad).unwrap().is_empty());
    }
}
