//! `meshfed join`: a headless participant. Signs in (password + TOTP), then for each round:
//! downloads the global model, trains on the local volume, uploads its weights with
//! `num_examples`, `loss` and `dice`, and waits for the round to close. Scans never leave
//! the machine; only weights travel.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use meshfed_shared::api::runs::RunDetail;
use meshfed_shared::meshnet::net::{
    predict, prepare, MeshNetConfig, SegmentOptions, TrainConfig, Trainer,
};
use meshfed_shared::meshnet::{file, ModelConfig};
use meshfed_shared::training::smooth;
use meshfed_shared::volume::{mean_dice, Labels, Volume, VolumeError};

use crate::backend::{device, Backend};
use crate::error::{CliError, CliResult};
use crate::server::Server;
use crate::{progress, volume_io};

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The Meshfed server, e.g. http://127.0.0.1:8787.
    #[arg(long)]
    pub server: String,
    /// The run's id.
    #[arg(long)]
    pub run: i64,
    /// The local T1 volume (.nii or .nii.gz); it never leaves this machine.
    #[arg(long)]
    pub volume: PathBuf,
    /// Its label map.
    #[arg(long)]
    pub labels: PathBuf,
    /// Rounds to take part in before exiting.
    #[arg(long, default_value_t = 1)]
    pub rounds: u32,
    /// Local training steps per round.
    #[arg(long, default_value_t = 50)]
    pub local_steps: usize,
    #[arg(long, default_value_t = 32)]
    pub patch: usize,
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Longest wait for a round to close after uploading, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub wait_secs: u64,
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
    /// Username or email (else $MESHFED_USERNAME).
    #[arg(long, env = "MESHFED_USERNAME")]
    pub username: String,
    /// Password: only from $MESHFED_PASSWORD, so it stays out of shell history.
    #[arg(skip)]
    pub password: Option<String>,
    /// The base32 TOTP secret: only from $MESHFED_TOTP_SECRET.
    #[arg(skip)]
    pub totp_secret: Option<String>,
}

/// What one round did, for the caller and the log.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundReport {
    pub round: u32,
    pub loss: f32,
    pub dice: f64,
    pub closed_by_us: bool,
}

pub fn run(args: JoinArgs) -> CliResult<Vec<RoundReport>> {
    let password = args
        .password
        .clone()
        .or_else(|| std::env::var("MESHFED_PASSWORD").ok())
        .ok_or_else(|| CliError::Usage("set MESHFED_PASSWORD".into()))?;
    let totp = args
        .totp_secret
        .clone()
        .or_else(|| std::env::var("MESHFED_TOTP_SECRET").ok());
    let server = Server::sign_in(&args.server, &args.username, &password, totp.as_deref())?;
    let scan = volume_io::read_volume(&args.volume)?;
    let labels = volume_io::read_labels(&args.labels)?;
    if labels.dims != scan.volume.dims {
        return Err(VolumeError::Grid {
            volume: scan.volume.dims,
            labels: labels.dims,
        }
        .into());
    }
    let (volume, crop) = prepare(&scan.volume, &SegmentOptions::default());
    let labels = crop.crop(&labels);
    let mut reports = vec![];
    for _ in 0..args.rounds {
        let detail: RunDetail = server.get_json(&format!("/api/runs/{}", args.run))?;
        let round = detail.run.current_round;
        let report = one_round(&server, &args, &detail, &volume, &labels)?;
        eprintln!(
            "round {round}: uploaded after {} local steps (loss {:.4}, local Dice {:.3}){}",
            args.local_steps,
            report.loss,
            report.dice,
            if report.closed_by_us {
                "; our upload closed it"
            } else {
                ""
            }
        );
        if !report.closed_by_us {
            wait_for_close(
                &server,
                args.run,
                round,
                Duration::from_secs(args.wait_secs),
            )?;
        }
        reports.push(report);
    }
    Ok(reports)
}

fn one_round(
    server: &Server,
    args: &JoinArgs,
    detail: &RunDetail,
    volume: &Volume,
    labels: &Labels,
) -> CliResult<RoundReport> {
    let round = detail.run.current_round;
    let bytes = server.get_bytes(&format!("/api/runs/{}/model", args.run))?;
    let (config, global): (ModelConfig, Vec<f32>) =
        file::from_safetensors(&bytes, Some(&detail.model))
            .map_err(|e| CliError::Server(format!("the global model: {e}")))?;
    if let Some(&bad) = labels.data.iter().find(|&&l| l as usize >= config.classes) {
        return Err(CliError::Usage(format!(
            "label {bad} in {}: the run's model has {} classes",
            args.labels.display(),
            config.classes
        )));
    }
    let dev = device(args.backend)?;
    let ad = dev.clone().autodiff();
    let net = MeshNetConfig::from(config.clone()).load(&global, &ad)?;
    let train = TrainConfig {
        patch: args.patch,
        learning_rate: args.lr,
        seed: args.seed ^ round as u64,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(net, config.classes, train, &ad);
    let bar = progress::bar(args.local_steps as u64, &format!("round {round}"));
    let mut smoothed = None;
    for _ in 0..args.local_steps {
        let loss = smooth(smoothed, trainer.step(volume, labels)?);
        smoothed = Some(loss);
        bar.set_message(format!("loss {loss:.4}"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let loss = smoothed.unwrap_or(0.0);
    let model = trainer.inference_model();
    let dice = mean_dice(
        &predict(&model, volume, &dev)?.data,
        &labels.data,
        config.classes,
    );
    let values = model.values()?;
    let examples = labels.data.iter().filter(|&&l| l != 0).count();
    let body = file::to_safetensors(&config, &values, Default::default());
    let receipt = server.put_weights(args.run, round, body, examples as u64, loss, dice)?;
    Ok(RoundReport {
        round,
        loss,
        dice,
        closed_by_us: receipt.closed,
    })
}

fn wait_for_close(server: &Server, run: i64, round: u32, limit: Duration) -> CliResult<()> {
    let spinner = progress::spinner(&format!("waiting for round {round} to close"));
    let start = Instant::now();
    loop {
        let detail: RunDetail = server.get_json(&format!("/api/runs/{run}"))?;
        if detail.run.current_round > round {
            spinner.finish_and_clear();
            return Ok(());
        }
        spinner.set_message(format!(
            "waiting for round {round}: {}/{} uploads, deadline {}",
            detail.round.uploads, detail.round.active_participants, detail.round.deadline_at
        ));
        if start.elapsed() > limit {
            return Err(CliError::Server(format!(
                "round {round} did not close within {}s",
                limit.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
