//! `meshfed join`: a headless participant. Signs in (password + TOTP), then for each round:
//! reads the run's training plan, downloads the global model, scores it on the held-out part
//! of the local labels (federated validation), trains it as the plan says (its optimizer's
//! state kept from round to round), uploads its weights with `num_examples`, the training
//! loss and Dice and the validation scores, and waits for the round to close. Scans never
//! leave the machine; only weights and scores travel.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use meshfed_meshnet::{context_of, predict, prepare, validate, Participant, SegmentOptions};
use meshfed_shared::api::runs::RunDetail;
use meshfed_shared::auth::mnemonic::{self, SigningKey};
use meshfed_shared::meshnet::{file, ModelConfig};
use meshfed_shared::plan::{HeldOut, TrainingPlan, ValidationScore};
use meshfed_shared::secagg::identity::fingerprint;
use meshfed_shared::secagg::participant::Trained;
use meshfed_shared::secagg::vector;
use meshfed_shared::secret::Secret;
use meshfed_shared::training::smooth;
use meshfed_shared::volume::{mean_dice, Labels, Volume, VolumeError};

use crate::backend::{device, Backend};
use crate::error::{CliError, CliResult};
use crate::known_keys::KnownKeysFile;
use crate::privacy;
use crate::server::{Server, Upload};
use crate::{memory, progress, volume_io};

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
    /// Rounds to take part in before exiting. Local steps, patches, learning rate and the
    /// rest come from the run's training plan.
    #[arg(long, default_value_t = 1)]
    pub rounds: u32,
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
    pub password: Option<Secret>,
    /// The base32 TOTP secret: only from $MESHFED_TOTP_SECRET.
    #[arg(skip)]
    pub totp_secret: Option<Secret>,
    /// Where the keys of secure rounds' members are pinned when first seen (default
    /// ~/.config/meshfed/known_keys.json).
    #[arg(long, env = "MESHFED_KNOWN_KEYS")]
    pub known_keys: Option<PathBuf>,
    /// The 12-word recovery phrase given at confirmation: only from $MESHFED_RECOVERY_PHRASE.
    /// A secure run needs it: its key signs the round keys this participant advertises.
    #[arg(skip)]
    pub recovery_phrase: Option<Secret>,
}

/// What one round did, for the caller and the log.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundReport {
    pub round: u32,
    pub plan_version: u32,
    pub loss: f32,
    pub dice: f64,
    /// The received global model on the held-out part (`None`: the plan holds nothing out).
    pub validation: Option<ValidationScore>,
    pub closed_by_us: bool,
    /// In a secure round: the members whose keys were pinned in it, seen for the first time.
    pub keys_first_seen: Vec<crate::secure::FirstSeen>,
}

pub fn run(args: JoinArgs) -> CliResult<Vec<RoundReport>> {
    let from_env = |given: &Option<Secret>, name: &str| {
        given
            .clone()
            .or_else(|| std::env::var(name).ok().map(Secret::new))
    };
    let password = from_env(&args.password, "MESHFED_PASSWORD")
        .ok_or_else(|| CliError::Usage("set MESHFED_PASSWORD".into()))?;
    let totp = from_env(&args.totp_secret, "MESHFED_TOTP_SECRET");
    let identity = match from_env(&args.recovery_phrase, "MESHFED_RECOVERY_PHRASE") {
        Some(phrase) => Some(mnemonic::signing_key(phrase.expose()).ok_or_else(|| {
            CliError::Usage("MESHFED_RECOVERY_PHRASE is not a valid 12-word recovery phrase".into())
        })?),
        None => None,
    };
    if let Some(key) = &identity {
        // What the other members check, the first time they share a secure round with us.
        let printed = fingerprint(key.verifying_key().as_bytes());
        eprintln!("your key's fingerprint, for others to check: {printed}");
    }
    let totp = totp.as_ref().map(Secret::expose);
    let server = Server::sign_in(&args.server, &args.username, password.expose(), totp)?;
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
    let mut participant = Participant::default();
    let mut followed = None;
    let mut reports = vec![];
    for _ in 0..args.rounds {
        let detail: RunDetail = server.get_json(&format!("/api/runs/{}", args.run))?;
        let round = detail.run.current_round;
        if followed != Some(detail.plan.version) {
            eprintln!(
                "round {round}: this run trains {} (plan v{})",
                detail.plan.summary, detail.plan.version
            );
            followed = Some(detail.plan.version);
        }
        if detail.run.secure_aggregation && identity.is_none() {
            return Err(CliError::Usage(
                "this run aggregates securely: set MESHFED_RECOVERY_PHRASE to the 12 words you \
                 were given at confirmation (their key signs your round keys)"
                    .into(),
            ));
        }
        let data = (&volume, &labels);
        let report = one_round(
            &server,
            &args,
            &detail,
            &mut participant,
            data,
            identity.as_ref(),
        )?;
        let validation = report.validation.as_ref().map_or(String::new(), |v| {
            format!(
                "; global model on the held-out part: Dice {:.3}, loss {:.4}",
                mean_foreground(v),
                v.loss
            )
        });
        eprintln!(
            "round {round}: uploaded after {} local steps (loss {:.4}, local Dice {:.3}{validation}){}",
            detail.plan.plan.local_steps,
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

/// The mean Dice over the foreground classes present.
pub fn mean_foreground(v: &ValidationScore) -> f64 {
    let present: Vec<f64> = v.foreground().into_iter().flatten().collect();
    present.iter().sum::<f64>() / present.len().max(1) as f64
}

/// Refuses a plan this machine cannot follow, before any training.
fn check_can_follow(plan: &TrainingPlan, model: &ModelConfig) -> CliResult<()> {
    plan.takes_weights().map_err(CliError::Usage)?;
    match memory::available_bytes() {
        Some(free) => plan
            .fits_in(model, free, "this machine")
            .map_err(CliError::Usage),
        None => Ok(()),
    }
}

fn one_round(
    server: &Server,
    args: &JoinArgs,
    detail: &RunDetail,
    participant: &mut Participant,
    (volume, labels): (&Volume, &Labels),
    identity: Option<&SigningKey>,
) -> CliResult<RoundReport> {
    let round = detail.run.current_round;
    let plan = &detail.plan.plan;
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
    check_can_follow(plan, &config)?;
    let HeldOut {
        train_volume,
        train_labels,
        validation,
    } = plan.holdout.split(volume, labels, context_of(&config));
    let dev = device(args.backend)?;
    let scored = match &validation {
        Some(v) => {
            let net = meshfed_meshnet::MeshNetConfig::from(config.clone()).load(&global, &dev)?;
            Some(validate(&net, v, &dev)?)
        }
        None => None,
    };
    let ad = dev.clone().autodiff();
    let trainer = participant.start_round(plan, round, &config, &global, args.seed, &ad)?;
    let steps = plan.local_steps as u64;
    let bar = progress::bar(steps, &format!("round {round}"));
    let mut smoothed = None;
    for _ in 0..steps {
        let loss = smooth(smoothed, trainer.step(&train_volume, &train_labels)?);
        smoothed = Some(loss);
        bar.set_message(format!("loss {loss:.4}"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let loss = smoothed.unwrap_or(0.0);
    let model = trainer.inference_model();
    let dice = mean_dice(
        &predict(&model, &train_volume, &dev)?.data,
        &train_labels.data,
        config.classes,
    );
    let mut values = model.values()?;
    let secure = detail.run.secure_aggregation;
    let noise = match &plan.dp {
        Some(dp) => privacy::privatize_update(&config, &mut values, &global, dp, secure, round)?,
        None => None,
    };
    let examples = train_labels.data.iter().filter(|&&l| l != 0).count().max(1);
    if secure {
        let weighted = detail.run.aggregation == meshfed_shared::aggregate::Method::Fedavg;
        let trained = Trained {
            weight: vector::weight(weighted, examples as u64, plan.max_num_examples),
            global,
            values,
            scores: vector::Scores::of(loss as f64, dice, scored.as_ref()),
            classes: config.classes,
            noise,
        };
        let limit = Duration::from_secs(args.wait_secs.max(60));
        let identity = identity
            .cloned()
            .ok_or_else(|| CliError::Usage("a secure run needs MESHFED_RECOVERY_PHRASE".into()))?;
        let known = match &args.known_keys {
            Some(path) => path.clone(),
            None => KnownKeysFile::default_path().ok_or_else(|| {
                CliError::Usage("no home directory for the known keys: pass --known-keys".into())
            })?,
        };
        let mut known = KnownKeysFile::open(&known)?;
        let keys_first_seen =
            crate::secure::take_part(server, detail, trained, (identity, &mut known), limit)?;
        return Ok(RoundReport {
            round,
            plan_version: detail.plan.version,
            loss,
            dice,
            validation: scored,
            closed_by_us: false,
            keys_first_seen,
        });
    }
    let body = file::to_safetensors(&config, &values, Default::default());
    let upload = Upload {
        num_examples: examples as u64,
        loss,
        dice,
        validation: scored.clone(),
    };
    let receipt = server.put_weights(args.run, round, body, &upload)?;
    if receipt.is_none() {
        eprintln!("round {round} closed while our upload was being retried");
    }
    Ok(RoundReport {
        round,
        plan_version: detail.plan.version,
        loss,
        dice,
        validation: scored,
        closed_by_us: receipt.is_some_and(|r| r.closed),
        keys_first_seen: vec![],
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
