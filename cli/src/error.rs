//! Everything the CLI reports, as one enum: each says what went wrong and with which file.

use std::path::PathBuf;

use meshfed_meshnet::NetError;
use meshfed_shared::meshnet::brainchop::BrainchopError;
use meshfed_shared::meshnet::file::ModelFileError;
use meshfed_shared::meshnet::SpecError;
use meshfed_shared::volume::VolumeError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a readable NIfTI file: {reason}")]
    Nifti { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Shape { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Brainchop {
        path: PathBuf,
        source: BrainchopError,
    },
    #[error("{path}: {source}")]
    ModelFile {
        path: PathBuf,
        source: ModelFileError,
    },
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Volume(#[from] VolumeError),
    #[error("{0}")]
    Usage(String),
    #[error("server: {0}")]
    Server(String),
}

pub type CliResult<T> = Result<T, CliError>;

/// Attaches a path to an I/O error.
pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io {
        path: path.to_path_buf(),
        source,
    }
}
