//! `meshfed segment`: brainchop's pipeline on a NIfTI volume, labels written as uint8 NIfTI on
//! the input's grid.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use meshfed_meshnet::{finish, predict, prepare, MeshNetConfig, SegmentOptions};
use meshfed_shared::volume::{dice_per_class, CropBox, VolumeError};

use crate::backend::{device, Backend};
use crate::error::{CliError, CliResult};
use crate::{model_io, progress, volume_io};

#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// A brainchop model directory (model.json + shards) or a .safetensors file.
    #[arg(long)]
    pub model: PathBuf,
    /// For a .safetensors file without Meshfed metadata: a preset name or config JSON.
    #[arg(long)]
    pub config: Option<String>,
    /// The T1 volume (.nii or .nii.gz).
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the labels (.nii or .nii.gz).
    #[arg(long)]
    pub output: PathBuf,
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
    /// Run on the whole grid instead of the brain's bounding box.
    #[arg(long)]
    pub no_crop: bool,
    /// Padding around the brain's bounding box (brainchop uses 18 for model5).
    #[arg(long, default_value_t = 18)]
    pub crop_padding: usize,
    /// Keep only the largest 26-connected component of labelled voxels.
    #[arg(long)]
    pub largest_component: bool,
    /// Segment only this box, `x0,y0,z0,x1,y1,z1` (half-open voxel ranges), instead of the
    /// brain's bounding box; zeros elsewhere.
    #[arg(long, value_parser = parse_box, conflicts_with = "no_crop")]
    pub r#box: Option<CropBox>,
    /// A reference label map: print agreement and per-class Dice against it.
    #[arg(long)]
    pub compare: Option<PathBuf>,
}

pub fn run(args: SegmentArgs) -> CliResult<()> {
    let fallback = args
        .config
        .as_deref()
        .map(model_io::parse_config)
        .transpose()?;
    let (config, values) = model_io::load(&args.model, fallback.as_ref())?;
    let scan = volume_io::read_volume(&args.input)?;
    let dev = device(args.backend)?;
    let net = MeshNetConfig::from(config.clone()).load(&values, &dev)?;
    let options = SegmentOptions {
        crop_padding: (!args.no_crop).then_some(args.crop_padding),
        largest_component: args.largest_component,
    };
    let (input, crop) = match args.r#box {
        Some(b) => {
            if (0..3).any(|a| b.hi[a] > scan.volume.dims[a]) {
                return Err(CliError::Usage(format!(
                    "--box {b:?} reaches outside the volume's {:?} grid",
                    scan.volume.dims
                )));
            }
            let (whole, _) = prepare(
                &scan.volume,
                &SegmentOptions {
                    crop_padding: None,
                    ..options
                },
            );
            (b.crop(&whole), b)
        }
        None => prepare(&scan.volume, &options),
    };
    let spinner = progress::spinner(&format!(
        "segmenting {:?} voxels (crop of {:?}) with {} parameters",
        input.dims,
        scan.volume.dims,
        config.parameter_count()
    ));
    let start = Instant::now();
    let inside = predict(&net, &input, &dev)?;
    spinner.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let labels = finish(&inside, crop, scan.volume.dims, &options);
    volume_io::write_labels(&args.output, &labels, &scan.header)?;
    let mut counts = vec![0usize; config.classes];
    labels.data.iter().for_each(|&l| counts[l as usize] += 1);
    eprintln!(
        "wrote {} ({:?}, forward {seconds:.2}s on {:?}); voxels per class {counts:?}",
        args.output.display(),
        labels.dims,
        args.backend
    );
    if let Some(reference) = &args.compare {
        let truth = volume_io::read_labels(reference)?;
        if truth.dims != labels.dims {
            return Err(VolumeError::Grid {
                volume: labels.dims,
                labels: truth.dims,
            }
            .into());
        }
        let agree = labels
            .data
            .iter()
            .zip(&truth.data)
            .filter(|(a, b)| a == b)
            .count();
        println!(
            "agreement {:.4}% ({} of {} voxels differ)",
            100.0 * agree as f64 / labels.len() as f64,
            labels.len() - agree,
            labels.len()
        );
        let tissue = labels
            .data
            .iter()
            .zip(&truth.data)
            .filter(|(a, b)| **a != 0 || **b != 0);
        let (both, same) = tissue.fold((0, 0), |(n, s), (a, b)| (n + 1, s + (a == b) as usize));
        println!(
            "agreement on voxels either calls tissue {:.4}% ({} of {both} differ)",
            100.0 * same as f64 / both.max(1) as f64,
            both - same
        );
        for (c, d) in dice_per_class(&labels.data, &truth.data, config.classes)
            .iter()
            .enumerate()
        {
            match d {
                Some(d) => println!("dice class {c}: {d:.5}"),
                None => println!("dice class {c}: absent from both"),
            }
        }
    }
    Ok(())
}

fn parse_box(text: &str) -> Result<CropBox, String> {
    let v: Vec<usize> = text
        .split(',')
        .map(|p| p.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{text:?}: {e}"))?;
    match v[..] {
        [x0, y0, z0, x1, y1, z1] if x0 < x1 && y0 < y1 && z0 < z1 => Ok(CropBox {
            lo: [x0, y0, z0],
            hi: [x1, y1, z1],
        }),
        _ => Err(format!(
            "{text:?}: want six numbers x0,y0,z0,x1,y1,z1 with each start below its end"
        )),
    }
}
