//! Trainer behaviour: divergence is undone and reported, and a swapped-in model keeps the
//! optimizer's state.

use burn::tensor::Device;

use super::*;
use meshfed_shared::meshnet::{initial_weights, ModelConfig};
use meshfed_shared::volume::{phantom, Labels, Volume};

fn cpu() -> Device {
    Device::flex()
}

/// model5's shape cut to 2 channels and 2 blocks: small enough to step in a unit test.
fn tiny() -> ModelConfig {
    ModelConfig {
        channels: 2,
        dilations: vec![1, 2],
        ..ModelConfig::model5(3)
    }
}

/// The weights of a fresh [`tiny`] network (`initial_weights` seed 1) and after one step of
/// `cfg` on a normalised 12³ phantom that one patch covers; `prepare` sets the trainer up.
fn one_step(cfg: TrainConfig, prepare: impl FnOnce(&mut Trainer)) -> (Vec<f32>, Vec<f32>) {
    let config = tiny();
    let device = cpu().autodiff();
    let (mut volume, labels) = phantom([12, 12, 12], 2);
    volume.min_max_normalise();
    let start = initial_weights(&config, 1);
    let net = MeshNetConfig::from(config).load(&start, &device).unwrap();
    let cfg = TrainConfig { patch: 12, ..cfg };
    let mut trainer = Trainer::new(net, 3, cfg, &device);
    prepare(&mut trainer);
    trainer.step(&volume, &labels).unwrap();
    (start, trainer.model().values().unwrap())
}

/// [`tiny`] with BatchNorm, on the autodiff CPU device, with a normalised 16³ phantom and
/// two 8³ patches a step: enough patches for batch statistics.
fn batch_norm_case() -> (ModelConfig, Device, Volume, Labels, TrainConfig) {
    let config = ModelConfig {
        batch_norm: true,
        ..tiny()
    };
    let (mut volume, labels) = phantom([16, 16, 16], 3);
    volume.min_max_normalise();
    let cfg = TrainConfig {
        patch: 8,
        batch: 2,
        ..TrainConfig::default()
    };
    (config, cpu().autodiff(), volume, labels, cfg)
}

/// A loss that is not finite stops training with an error and leaves the model as it was.
#[test]
fn a_non_finite_loss_is_reported_as_divergence() {
    let config = tiny();
    let device = cpu().autodiff();
    let net = MeshNetConfig::from(config.clone())
        .load(&initial_weights(&config, 1), &device)
        .unwrap();
    let (mut volume, labels) = phantom([12, 12, 12], 2);
    volume.data.iter_mut().for_each(|v| *v = f32::NAN);
    let cfg = TrainConfig {
        patch: 8,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(net, 3, cfg, &device);
    let err = trainer.step(&volume, &labels).unwrap_err();
    assert!(matches!(err, NetError::Diverged(l) if l.is_nan()), "{err}");
    assert!(err.to_string().contains("lower learning rate"));
    assert_eq!(
        trainer.model().values().unwrap(),
        initial_weights(&config, 1),
        "the diverged step is undone"
    );
}

/// A model swapped in with `replace_model` trains on with the optimizer's state: the same
/// weights give the same next step as a trainer that was never touched, and a different one
/// from a fresh trainer (whose Adam starts over).
#[test]
fn replacing_the_model_keeps_the_optimizer_state() {
    let config = tiny();
    let device = cpu().autodiff();
    let load = |values: &[f32]| {
        MeshNetConfig::from(config.clone())
            .load(values, &device)
            .unwrap()
    };
    let (mut volume, labels) = phantom([12, 12, 12], 2);
    volume.min_max_normalise();
    // One patch covers the volume: every step sees the same data, so only Adam's state differs.
    let cfg = TrainConfig {
        patch: 12,
        ..TrainConfig::default()
    };
    let trained = |replace: bool| {
        let mut trainer = Trainer::new(load(&initial_weights(&config, 1)), 3, cfg.clone(), &device);
        for _ in 0..3 {
            trainer.step(&volume, &labels).unwrap();
        }
        if replace {
            let same = trainer.model().values().unwrap();
            trainer.replace_model(load(&same));
        }
        trainer.step(&volume, &labels).unwrap();
        trainer.model().values().unwrap()
    };
    let untouched = trained(false);
    let replaced = trained(true);
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
    assert!(close(&untouched, &replaced), "Adam's moments carried over");

    let mut trainer = Trainer::new(load(&initial_weights(&config, 1)), 3, cfg.clone(), &device);
    for _ in 0..3 {
        trainer.step(&volume, &labels).unwrap();
    }
    let mut fresh = Trainer::new(load(&trainer.model().values().unwrap()), 3, cfg, &device);
    fresh.step(&volume, &labels).unwrap();
    assert!(
        !close(&fresh.model().values().unwrap(), &untouched),
        "a fresh optimizer takes a different step"
    );
}

/// Precise BatchNorm measures statistics on fresh patches without disturbing training: the
/// steps after it are the steps without it.
#[test]
fn precise_batch_norm_leaves_training_as_it_was() {
    let (config, device, volume, labels, cfg) = batch_norm_case();
    let trained = |precise: bool| {
        let net = MeshNetConfig::from(config.clone())
            .load(&initial_weights(&config, 1), &device)
            .unwrap();
        let mut trainer = Trainer::new(net, 3, cfg.clone(), &device);
        trainer.step(&volume, &labels).unwrap();
        let mut statistics = None;
        if precise {
            let running = trainer.inference_model().values().unwrap();
            let measured = trainer
                .precise_inference_model(&volume, &labels, 5)
                .unwrap()
                .values()
                .unwrap();
            assert_ne!(running, measured, "statistics measured afresh");
            statistics = Some(measured);
        }
        trainer.step(&volume, &labels).unwrap();
        (trainer.model().values().unwrap(), statistics)
    };
    let (plain, _) = trained(false);
    let (after_precise, measured) = trained(true);
    assert_eq!(plain, after_precise);
    assert!(measured.is_some_and(|m| m.iter().all(|v| v.is_finite())));
}

/// `Optimizer::Sgd` moves each weight in proportion to its gradient; Adam's first step moves
/// nearly every weight by the learning rate. So the configured optimizer is the one used.
#[test]
fn sgd_steps_along_the_gradient_where_adam_steps_by_the_learning_rate() {
    let lr = 1e-3;
    // The share of moved weights that moved by the learning rate (within 10%).
    let share_moved_by_lr = |optimizer: Optimizer| {
        let cfg = TrainConfig {
            learning_rate: lr,
            optimizer,
            ..TrainConfig::default()
        };
        let (start, after) = one_step(cfg, |_| {});
        let moved: Vec<f64> = (after.iter().zip(&start))
            .map(|(a, b)| f64::from((a - b).abs()))
            .filter(|&d| d > 1e-9)
            .collect();
        assert!(moved.len() > 10, "{optimizer:?} moved the weights");
        let by_lr = moved.iter().filter(|&&d| (d / lr - 1.0).abs() < 0.1);
        by_lr.count() as f64 / moved.len() as f64
    };
    let adam = share_moved_by_lr(Optimizer::Adam);
    let sgd = share_moved_by_lr(Optimizer::Sgd { momentum: 0.9 });
    assert!(adam > 0.8, "Adam: {adam}");
    assert!(sgd < 0.3, "SGD: {sgd}");
}

/// FedProx's term pulls the weights towards the anchor: with the anchor above every weight
/// and a strong pull, a step raises (nearly) every weight; without it, about half rise.
#[test]
fn a_proximal_anchor_pulls_the_weights_towards_it() {
    let share_raised = |mu: f32| {
        let (start, after) = one_step(TrainConfig::default(), |trainer| {
            let start = initial_weights(&tiny(), 1);
            let above: Vec<f32> = start.iter().map(|w| w + 1.0).collect();
            trainer.set_proximal(&above, &tiny().trainable_mask(), mu);
        });
        let raised = after.iter().zip(&start).filter(|(a, b)| a > b).count();
        raised as f64 / start.len() as f64
    };
    let pulled = share_raised(1e3);
    let free = share_raised(0.0);
    assert!(pulled > 0.99, "pulled: {pulled}");
    assert!(free < 0.8, "free: {free}");
}

/// With BatchNorm's training behaviour off, a step leaves the running statistics as they were
/// (training normalised with them) and still moves gamma, beta and the convolutions; on (the
/// default), the step moves the running statistics too.
#[test]
fn batch_norm_training_off_trains_on_fixed_statistics() {
    let (config, device, volume, labels, cfg) = batch_norm_case();
    let mask = config.trainable_mask();
    // (running statistics unchanged, trainable values unchanged) after one step.
    let unchanged = |on: bool| {
        let start = initial_weights(&config, 1);
        let net = MeshNetConfig::from(config.clone())
            .load(&start, &device)
            .unwrap()
            .with_batch_norm_training(on);
        let mut trainer = Trainer::new(net, 3, cfg.clone(), &device);
        trainer.step(&volume, &labels).unwrap();
        // The training model itself: its values hold the step's running statistics.
        let after = trainer.model().values().unwrap();
        let same = |trainable: bool| {
            (start.iter().zip(&after).zip(&mask))
                .filter(|(_, &t)| t == trainable)
                .all(|((a, b), _)| a == b)
        };
        (same(false), same(true))
    };
    assert_eq!(unchanged(false), (true, false));
    assert_eq!(unchanged(true), (false, false));
}
