//! `meshfed`: the native Meshfed tool. Segment a T1 volume with MeshNet, train MeshNet on a
//! labelled volume, convert models between brainchop and safetensors, and take part in a
//! federated run as a headless participant.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use meshfed_cli::{convert, join, phantom, segment, train};

#[derive(Debug, Parser)]
#[command(
    name = "meshfed",
    version,
    about = "MeshNet segmentation, training and federated runs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Segment a T1 volume (brainchop's pipeline) and write a uint8 label map.
    Segment(segment::SegmentArgs),
    /// Train MeshNet on a volume and its labels.
    Train(train::TrainArgs),
    /// Convert a model between brainchop TF.js and safetensors.
    Convert(convert::ConvertArgs),
    /// Take part in a federated run: train each round locally, upload weights, wait.
    Join(join::JoinArgs),
    /// Write a synthetic brain phantom (T1-like volume and its WM/GM labels) for trying things.
    Phantom(phantom::PhantomArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Segment(args) => segment::run(args),
        Command::Train(args) => train::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Phantom(args) => phantom::run(args),
        Command::Join(args) => join::run(args).map(|_| ()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meshfed: {e}");
            ExitCode::FAILURE
        }
    }
}
