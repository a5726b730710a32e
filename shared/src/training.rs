//! What the app's page and its training worker (a Web Worker running MeshNet with burn) say
//! to each other, and the small sums a training view shows (ETA, smoothed loss).
//!
//! A message is a JSON [`WorkerRequest`] or [`WorkerReply`] plus named byte payloads that travel beside
//! it: `volume` and `labels` (the NIfTI files' bytes, read from disk, never uploaded),
//! `model` (a safetensors MeshNet) and `segmentation` (labels, Meshfed's layout).

use serde::{Deserialize, Serialize};

use crate::plan::{TrainingPlan, ValidationScore};

/// Payload names.
pub const VOLUME: &str = "volume";
pub const LABELS: &str = "labels";
pub const MODEL: &str = "model";
pub const SEGMENTATION: &str = "segmentation";

/// Which device trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The browser's WebGPU.
    WebGpu,
    /// burn's pure-Rust CPU backend in WebAssembly.
    Cpu,
}

impl Backend {
    pub fn label(self) -> &'static str {
        match self {
            Self::WebGpu => "WebGPU",
            Self::Cpu => "CPU (WebAssembly)",
        }
    }
}

/// Page → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkerRequest {
    /// Bring up the device: WebGPU when the browser offers it (unless `cpu_only`), else CPU.
    Start { cpu_only: bool },
    /// Read the `volume` and `labels` payloads and keep them for training.
    Load,
    /// Train the `model` payload for `steps` steps on the loaded data.
    Train(TrainRequest),
    /// One round of a run: score the `model` payload (the global model) on the plan's
    /// held-out part, then train it on the rest as the plan says, the optimizer's state kept
    /// from this run's last round.
    FollowRound(Box<RoundRequest>),
    /// Stop training after the current step; the model so far is kept.
    Cancel,
    /// Segment the loaded volume with the `model` payload.
    Segment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainRequest {
    pub steps: usize,
    pub patch: usize,
    pub learning_rate: f64,
    pub seed: u64,
}

impl Default for TrainRequest {
    fn default() -> Self {
        Self {
            steps: 20,
            patch: 32,
            learning_rate: 3e-3,
            seed: 0,
        }
    }
}

/// A round of a run, as its plan says to train it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRequest {
    pub run: i64,
    pub round: u32,
    pub plan: TrainingPlan,
    pub seed: u64,
    /// A secure round: under a DP plan the worker only clips the update, and its share of the
    /// noise is added when the input is masked (`privacy::noise`).
    #[serde(default)]
    pub secure: bool,
}

/// Worker → page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkerReply {
    /// The worker's wasm has loaded and it listens: the page sends nothing before this.
    Alive,
    /// The device is up. `note` says why WebGPU was not used, when it was not.
    Ready {
        backend: Backend,
        adapter: String,
        note: Option<String>,
    },
    /// The data is loaded: its grid, the cropped grid training sees, the labels' classes.
    Loaded {
        dims: [usize; 3],
        cropped: [usize; 3],
        classes: usize,
    },
    Progress(Progress),
    /// Training ended (all steps, or `cancelled` early); the `model` payload holds the
    /// trained model, and `dice` is its Dice on the loaded labels.
    Trained {
        steps: usize,
        cancelled: bool,
        loss: f32,
        dice: f64,
        num_examples: u64,
        ms_per_step: f64,
    },
    /// A round's training ended; the `model` payload holds the trained model. `validation`
    /// is the received global model on the held-out part (before training).
    RoundTrained {
        steps: usize,
        cancelled: bool,
        loss: f32,
        dice: f64,
        num_examples: u64,
        ms_per_step: f64,
        validation: Option<ValidationScore>,
    },
    /// The `segmentation` payload holds the labels on the volume's grid.
    Segmented {
        dice: f64,
        ms: f64,
    },
    Failed {
        message: String,
    },
}

/// One finished step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub step: usize,
    pub steps: usize,
    pub loss: f32,
    pub elapsed_ms: f64,
}

impl Progress {
    /// Seconds left at the pace so far (`None` before the first step).
    pub fn eta_seconds(&self) -> Option<f64> {
        (self.step > 0).then(|| {
            let per_step = self.elapsed_ms / self.step as f64;
            per_step * self.steps.saturating_sub(self.step) as f64 / 1000.0
        })
    }

    /// Share done, 0..=1.
    pub fn fraction(&self) -> f64 {
        if self.steps == 0 {
            1.0
        } else {
            (self.step as f64 / self.steps as f64).min(1.0)
        }
    }
}

/// "1 min 05 s", "12 s", "2 h 03 min": how long, for people.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// An exponential moving average of the loss (weight 0.1 for the newest step), as the
/// CLI prints it: raw per-step losses on random patches are noisy.
pub fn smooth(previous: Option<f32>, loss: f32) -> f32 {
    previous.map_or(loss, |p| 0.9 * p + 0.1 * loss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_a_kind_tag() {
        let json = serde_json::to_string(&WorkerRequest::Train(TrainRequest::default())).unwrap();
        assert!(json.starts_with(r#"{"kind":"train","steps":20"#), "{json}");
        let back: WorkerReply = serde_json::from_str(
            r#"{"kind":"ready","backend":"web_gpu","adapter":"x","note":null}"#,
        )
        .unwrap();
        assert_eq!(
            back,
            WorkerReply::Ready {
                backend: Backend::WebGpu,
                adapter: "x".into(),
                note: None
            }
        );
    }

    #[test]
    fn eta_follows_the_pace_so_far() {
        let p = Progress {
            step: 4,
            steps: 10,
            loss: 1.0,
            elapsed_ms: 2000.0,
        };
        assert_eq!(p.eta_seconds(), Some(3.0));
        assert_eq!(p.fraction(), 0.4);
        let start = Progress { step: 0, ..p };
        assert_eq!(start.eta_seconds(), None);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(12.4), "12 s");
        assert_eq!(human_duration(65.0), "1 min 05 s");
        assert_eq!(human_duration(7380.0), "2 h 03 min");
    }

    #[test]
    fn smoothing_starts_at_the_first_loss() {
        assert_eq!(smooth(None, 2.0), 2.0);
        assert!((smooth(Some(2.0), 1.0) - 1.9).abs() < 1e-6);
    }
}
