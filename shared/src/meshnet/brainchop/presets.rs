//! brainchop's three pretrained models, shipped in the code (`shared/data/brainchop/`), so a
//! run can start from them and a consortium fine-tunes brainchop's model on its own scans.

use super::{import, BrainchopError};
use crate::meshnet::ModelConfig;

/// A pretrained model as brainchop ships it.
pub struct Preset {
    pub name: &'static str,
    pub title: &'static str,
    model_json: &'static [u8],
    weights: &'static [u8],
}

/// The presets, lightest first.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "model5_gw_ae",
        title: "brainchop Tissue GWM (light): 5 channels, 5,598 parameters",
        model_json: include_bytes!("../../../data/brainchop/model5_gw_ae/model.json"),
        weights: include_bytes!("../../../data/brainchop/model5_gw_ae/group1-shard1of1.bin"),
    },
    Preset {
        name: "model11_gw_ae",
        title: "brainchop Tissue GWM: 11 channels, 23,290 parameters",
        model_json: include_bytes!("../../../data/brainchop/model11_gw_ae/model.json"),
        weights: include_bytes!("../../../data/brainchop/model11_gw_ae/group1-shard1of1.bin"),
    },
    Preset {
        name: "model20chan3cls",
        title: "brainchop Tissue GWM (large): 20 channels, ELU",
        model_json: include_bytes!("../../../data/brainchop/model20chan3cls/model.json"),
        weights: include_bytes!("../../../data/brainchop/model20chan3cls/model.bin"),
    },
];

impl Preset {
    pub fn find(name: &str) -> Option<&'static Preset> {
        PRESETS.iter().find(|p| p.name == name)
    }

    /// The model and its pretrained values in Meshfed's parameter order.
    pub fn load(&self) -> Result<(ModelConfig, Vec<f32>), BrainchopError> {
        import(self.model_json, self.weights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_imports_as_its_named_config() {
        for (name, config) in [
            ("model5_gw_ae", ModelConfig::model5_gw_ae()),
            ("model11_gw_ae", ModelConfig::model11_gw_ae()),
            ("model20chan3cls", ModelConfig::model20chan3cls()),
        ] {
            let (got, values) = Preset::find(name).unwrap().load().unwrap();
            assert_eq!(got, config, "{name}");
            assert_eq!(values.len(), config.parameter_count(), "{name}");
            assert!(values.iter().all(|v| v.is_finite()) && values.iter().any(|&v| v != 0.0));
        }
        assert!(Preset::find("model99").is_none());
    }
}
