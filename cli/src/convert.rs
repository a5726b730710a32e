//! `meshfed convert`: between brainchop TF.js directories and .safetensors files.

use std::path::PathBuf;

use clap::Args;

use crate::error::CliResult;
use crate::model_io;

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The model to read: a brainchop directory (model.json) or a .safetensors file.
    pub from: PathBuf,
    /// Where to write it: a .safetensors file, or a directory for brainchop.
    pub to: PathBuf,
    /// For a .safetensors input without Meshfed metadata: a preset name or config JSON.
    #[arg(long)]
    pub config: Option<String>,
}

pub fn run(args: ConvertArgs) -> CliResult<()> {
    let fallback = args
        .config
        .as_deref()
        .map(model_io::parse_config)
        .transpose()?;
    let (config, values) = model_io::load(&args.from, fallback.as_ref())?;
    model_io::save(&args.to, &config, &values)?;
    eprintln!(
        "wrote {} ({} channels, dilations {:?}, {} classes, {} parameters)",
        args.to.display(),
        config.channels,
        config.dilations,
        config.classes,
        config.parameter_count()
    );
    Ok(())
}
