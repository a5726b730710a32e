//! `meshfed phantom`: a seeded synthetic volume and its labels as NIfTI files.

use std::path::PathBuf;

use clap::Args;
use meshfed_shared::volume::phantom;

use crate::error::{CliError, CliResult};
use crate::volume_io;

#[derive(Debug, Args)]
pub struct PhantomArgs {
    /// The T1-like volume to write (.nii or .nii.gz).
    #[arg(long)]
    pub volume: PathBuf,
    /// Its labels (0 background, 1 white matter, 2 grey matter).
    #[arg(long)]
    pub labels: PathBuf,
    /// Edge length in voxels.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(args: PhantomArgs) -> CliResult<()> {
    if !(8..=512).contains(&args.size) {
        return Err(CliError::Usage("--size must be 8..=512".into()));
    }
    let (mut volume, labels) = phantom([args.size; 3], args.seed);
    // Stored like a scanner would: 0..1000 intensities.
    volume.data.iter_mut().for_each(|v| *v *= 1000.0);
    let header = volume_io::plain_header();
    volume_io::write_volume(&args.volume, &volume, &header)?;
    volume_io::write_labels(&args.labels, &labels, &header)?;
    eprintln!(
        "wrote {} and {} ({}³ voxels)",
        args.volume.display(),
        args.labels.display(),
        args.size
    );
    Ok(())
}
