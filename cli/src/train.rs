//! `meshfed train`: MeshNet on one labelled volume, from scratch or from a model.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use meshfed_meshnet::{predict, prepare, MeshNetConfig, SegmentOptions, TrainConfig, Trainer};
use meshfed_shared::meshnet::{initial_weights, ModelConfig};
use meshfed_shared::volume::{dice_per_class, VolumeError};

use crate::backend::{device, Backend};
use crate::error::{CliError, CliResult};
use crate::{model_io, progress, volume_io};

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The T1 volume (.nii or .nii.gz).
    #[arg(long)]
    pub volume: PathBuf,
    /// Its label map on the same grid (0 = background, 1.. = classes).
    #[arg(long)]
    pub labels: PathBuf,
    /// Start from this model (brainchop directory or .safetensors); otherwise a fresh one.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// The architecture for a fresh model: a preset or config JSON.
    #[arg(long, default_value = "model5_gw_ae")]
    pub config: String,
    #[arg(long)]
    pub steps: usize,
    /// Where to write the trained model (.safetensors, or a directory for brainchop).
    #[arg(long)]
    pub out: PathBuf,
    /// Patch edge in voxels.
    #[arg(long, default_value_t = 32)]
    pub patch: usize,
    /// Patches per step.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// Weight of a soft Dice term added to cross-entropy (0: cross-entropy only).
    #[arg(long, default_value_t = 1.0)]
    pub dice_weight: f32,
    /// Mirror half of the patches left-right (along x) with their labels: augmentation
    /// that lets a model trained on few scans generalise to the other hemisphere.
    #[arg(long)]
    pub flip: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
}

pub fn run(args: TrainArgs) -> CliResult<()> {
    if args.steps == 0 || !(8..=256).contains(&args.patch) || args.batch == 0 {
        return Err(CliError::Usage(
            "--steps and --batch must be at least 1, --patch 8..=256".into(),
        ));
    }
    let fresh = model_io::parse_config(&args.config)?;
    let (config, values): (ModelConfig, Vec<f32>) = match &args.init {
        Some(path) => model_io::load(path, Some(&fresh))?,
        None => (fresh.clone(), initial_weights(&fresh, args.seed)),
    };
    let scan = volume_io::read_volume(&args.volume)?;
    let labels = volume_io::read_labels(&args.labels)?;
    if labels.dims != scan.volume.dims {
        return Err(VolumeError::Grid {
            volume: scan.volume.dims,
            labels: labels.dims,
        }
        .into());
    }
    // Train where the brain is: brainchop's normalisation and crop.
    let (volume, crop) = prepare(&scan.volume, &SegmentOptions::default());
    let labels = crop.crop(&labels);
    let dev = device(args.backend)?.autodiff();
    let net = MeshNetConfig::from(config.clone()).load(&values, &dev)?;
    let mut trainer = Trainer::new(
        net,
        config.classes,
        TrainConfig {
            patch: args.patch,
            batch: args.batch,
            learning_rate: args.lr,
            dice_weight: args.dice_weight,
            seed: args.seed,
            mirror_x: args.flip,
            ..TrainConfig::default()
        },
        &dev,
    );
    if args.init.is_none() {
        trainer.calibrate(&volume, &labels)?;
    }
    let bar = progress::bar(args.steps as u64, "training");
    let start = Instant::now();
    let mut recent = vec![];
    for _ in 0..args.steps {
        let loss = trainer.step(&volume, &labels)?;
        recent.push(loss);
        if recent.len() > 20 {
            recent.remove(0);
        }
        bar.set_message(format!(
            "loss {:.4}",
            recent.iter().sum::<f32>() / recent.len() as f32
        ));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let per_step = start.elapsed().as_secs_f64() / args.steps as f64;
    let model = trainer.inference_model();
    let trained = model.values()?;
    model_io::save(&args.out, &config, &trained)?;
    let predicted = predict(&model, &volume, &device(args.backend)?)?;
    let dice = dice_per_class(&predicted.data, &labels.data, config.classes);
    eprintln!(
        "wrote {} after {} steps ({per_step:.3}s a step); training-volume Dice per class {:?}",
        args.out.display(),
        args.steps,
        dice.iter()
            .map(|d| d.map(|d| (d * 1000.0).round() / 1000.0))
            .collect::<Vec<_>>()
    );
    Ok(())
}
