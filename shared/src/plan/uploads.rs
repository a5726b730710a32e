//! What a run's rounds collect. Meshfed's participants train and upload weights; a run that
//! averages gradients says so in its plan. Either way the plan decides, not the first upload:
//! otherwise one participant uploading the other kind first would shut everyone else out of
//! the round. Only the seeds' runs, whose documents mix both kinds in one run, let a round's
//! first upload decide.

use serde::{Deserialize, Serialize};

use crate::api::runs::UploadKind;

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Uploads {
    #[default]
    Weights,
    Gradients,
    /// Each round takes the kind of its first upload (the seeds' runs).
    FirstUpload,
}

impl Uploads {
    /// What a plan stored before this field existed meant: the first upload decided.
    pub fn before_plans_said() -> Self {
        Uploads::FirstUpload
    }

    /// Why an upload of `kind` is refused, when the plan fixes the other kind.
    pub fn refusal(self, kind: UploadKind) -> Option<String> {
        let wanted = match self {
            Uploads::Weights => UploadKind::Weights,
            Uploads::Gradients => UploadKind::Gradients,
            Uploads::FirstUpload => return None,
        };
        (wanted != kind).then(|| {
            format!(
                "This run's plan collects {}; {} are refused",
                wanted.as_str(),
                kind.as_str()
            )
        })
    }

    /// ", uploads gradients": how a plan's summary says it (nothing for weights).
    pub fn describe(self) -> &'static str {
        match self {
            Uploads::Weights => "",
            Uploads::Gradients => ", uploads gradients",
            Uploads::FirstUpload => ", uploads weights or gradients (a round's first decides)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_not_the_first_upload_decides() {
        assert_eq!(Uploads::Weights.refusal(UploadKind::Weights), None);
        assert_eq!(
            Uploads::Weights.refusal(UploadKind::Gradients).as_deref(),
            Some("This run's plan collects weights; gradients are refused")
        );
        assert!(Uploads::Gradients.refusal(UploadKind::Weights).is_some());
        assert_eq!(Uploads::FirstUpload.refusal(UploadKind::Gradients), None);
        assert_eq!(Uploads::FirstUpload.refusal(UploadKind::Weights), None);
    }

    #[test]
    fn a_stored_plan_without_the_field_keeps_its_old_meaning() {
        let mut stored = serde_json::to_value(super::super::TrainingPlan::default()).unwrap();
        assert_eq!(stored["uploads"], "weights");
        stored.as_object_mut().unwrap().remove("uploads");
        let old: super::super::TrainingPlan = serde_json::from_value(stored).unwrap();
        assert_eq!(old.uploads, Uploads::FirstUpload);
    }
}
