//! A MeshNet configuration and its parameters. Block `i` (one per dilation) is a 3×3×3
//! convolution `model.{i}.0.{weight,bias}` (`[out, in, 3, 3, 3]`), with BatchNorm
//! `model.{i}.1.{weight,bias,running_mean,running_var}` when enabled; the 1×1×1 head is
//! `model.{n}.{weight,bias}` (`[classes, channels, 1, 1, 1]`).

use serde::{Deserialize, Serialize};

use crate::tensor::{NamedTensors, Tensor};

/// The shape of a MeshNet. The default is brainchop's `model5_gw_ae` (5 channels, dilations
/// 1 2 4 8 16 8 4 2 1, 3 classes, no BatchNorm: 5,598 parameters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    #[serde(default = "one")]
    pub in_channels: usize,
    pub channels: usize,
    pub dilations: Vec<u32>,
    pub classes: usize,
    #[serde(default)]
    pub batch_norm: bool,
    /// The nonlinearity after every 3×3×3 block. Not a parameter, but part of the model:
    /// brainchop's model20chan3cls uses ELU.
    #[serde(default)]
    pub activation: Activation,
}

/// The activation after each 3×3×3 block.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    #[default]
    Relu,
    /// `x` for `x > 0`, `exp(x) - 1` otherwise (alpha 1, as Keras and PyTorch default).
    Elu,
}

impl Activation {
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Elu => "elu",
        }
    }
}

fn one() -> usize {
    1
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self::model5(3)
    }
}

/// Limits that keep a run's model something a browser can train and the edge can average.
pub const MAX_CHANNELS: usize = 256;
pub const MAX_LAYERS: usize = 32;
pub const MAX_CLASSES: usize = 256;
pub const MAX_DILATION: u32 = 64;
/// A run's Durable Object holds FedAvg's f64 sums and one upload at a time within its
/// isolate's 128 MB: measured with `bench-median-memory`, a 32-participant round of 2.96M
/// parameters peaks at 92.6 MB of linear memory (FedAvg; median 74.1 MB), Worker included.
pub const MAX_PARAMETERS: usize = 3_000_000;

/// One parameter: its state_dict name and shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    pub name: String,
    pub shape: Vec<usize>,
}

impl ParamSpec {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a configuration or a set of tensors does not fit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("model config: {0}")]
    Config(String),
    #[error("tensor {0:?} is missing")]
    Missing(String),
    #[error("tensor {0:?} is not a parameter of this model")]
    Unexpected(String),
    #[error("tensor {name:?} has shape {found:?}, the model needs {expected:?}")]
    Shape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("tensor {name:?} has a non-finite value (NaN or infinity) at flat index {index}")]
    NonFinite { name: String, index: usize },
    #[error(
        "tensor {name:?} is a BatchNorm variance and has a negative value at flat index {index}"
    )]
    NegativeVariance { name: String, index: usize },
    #[error("expected {expected} tensors in model order, got {found}")]
    Count { expected: usize, found: usize },
}

impl SpecError {
    /// The tensor the error is about, if any.
    pub fn tensor(&self) -> Option<&str> {
        match self {
            SpecError::Missing(n) | SpecError::Unexpected(n) => Some(n),
            SpecError::Shape { name, .. }
            | SpecError::NonFinite { name, .. }
            | SpecError::NegativeVariance { name, .. } => Some(name),
            _ => None,
        }
    }
}

impl ModelConfig {
    /// brainchop's `model5_gw_ae` layout with `classes` outputs.
    pub fn model5(classes: usize) -> Self {
        Self {
            in_channels: 1,
            channels: 5,
            dilations: vec![1, 2, 4, 8, 16, 8, 4, 2, 1],
            classes,
            batch_norm: false,
            activation: Activation::Relu,
        }
    }

    /// brainchop's "Tissue GWM (light)" model5_gw_ae (`model5(3)`).
    pub fn model5_gw_ae() -> Self {
        Self::model5(3)
    }

    /// What a run trains when it names no model: model5 with BatchNorm, the lab's recipe
    /// (the default plan's FixBN needs BatchNorm statistics to fix).
    pub fn lab_recipe() -> Self {
        Self {
            batch_norm: true,
            ..Self::model5(3)
        }
    }

    /// brainchop's model11_gw_ae: 11 channels, 8 blocks, 3 classes (23,290 parameters).
    pub fn model11_gw_ae() -> Self {
        Self {
            channels: 11,
            dilations: vec![1, 2, 4, 8, 4, 2, 2, 1],
            ..Self::model5(3)
        }
    }

    /// brainchop's model20chan3cls: 20 channels, ELU, model5's dilations, 3 classes.
    pub fn model20chan3cls() -> Self {
        Self {
            channels: 20,
            activation: Activation::Elu,
            ..Self::model5(3)
        }
    }

    /// The classic 21-channel MeshNet (Fedorov et al.): dilations 1,1,1,2,4,8,1.
    pub fn classic21(classes: usize) -> Self {
        Self {
            channels: 21,
            dilations: vec![1, 1, 1, 2, 4, 8, 1],
            ..Self::model5(classes)
        }
    }

    /// A preset by name: `model5_gw_ae`, `model11_gw_ae`, `model20chan3cls`, `classic21`
    /// (3 classes).
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "model5_gw_ae" | "model5" => Some(Self::model5_gw_ae()),
            "model11_gw_ae" | "model11" => Some(Self::model11_gw_ae()),
            "model20chan3cls" | "model20" => Some(Self::model20chan3cls()),
            "classic21" | "meshnet21" => Some(Self::classic21(3)),
            _ => None,
        }
    }

    /// The layers' receptive field along one axis: `1 + 2·Σ dilations`.
    pub fn receptive_field(&self) -> usize {
        1 + 2 * self.dilations.iter().map(|&d| d as usize).sum::<usize>()
    }

    pub fn validate(&self) -> Result<(), SpecError> {
        let bad = |m: String| Err(SpecError::Config(m));
        if !(1..=MAX_CHANNELS).contains(&self.channels) {
            return bad(format!("channels must be 1..={MAX_CHANNELS}"));
        }
        if !(1..=8).contains(&self.in_channels) {
            return bad("in_channels must be 1..=8".into());
        }
        if !(2..=MAX_CLASSES).contains(&self.classes) {
            return bad(format!("classes must be 2..={MAX_CLASSES}"));
        }
        if self.dilations.is_empty() || self.dilations.len() > MAX_LAYERS {
            return bad(format!("dilations must have 1..={MAX_LAYERS} entries"));
        }
        if self
            .dilations
            .iter()
            .any(|d| !(1..=MAX_DILATION).contains(d))
        {
            return bad(format!("every dilation must be 1..={MAX_DILATION}"));
        }
        if self.parameter_count() > MAX_PARAMETERS {
            return bad(format!(
                "the model has more than {MAX_PARAMETERS} parameters"
            ));
        }
        Ok(())
    }

    /// Every parameter in state_dict order.
    pub fn params(&self) -> Vec<ParamSpec> {
        let p = |name: String, shape: Vec<usize>| ParamSpec { name, shape };
        let c = self.channels;
        let mut out = vec![];
        for (i, _) in self.dilations.iter().enumerate() {
            let cin = if i == 0 { self.in_channels } else { c };
            out.push(p(format!("model.{i}.0.weight"), vec![c, cin, 3, 3, 3]));
            out.push(p(format!("model.{i}.0.bias"), vec![c]));
            if self.batch_norm {
                for part in ["weight", "bias", "running_mean", "running_var"] {
                    out.push(p(format!("model.{i}.1.{part}"), vec![c]));
                }
            }
        }
        let n = self.dilations.len();
        out.push(p(
            format!("model.{n}.weight"),
            vec![self.classes, c, 1, 1, 1],
        ));
        out.push(p(format!("model.{n}.bias"), vec![self.classes]));
        out
    }

    /// One flag per flat value: false for running statistics (BatchNorm's `running_mean` and
    /// `running_var`), which are measured rather than trained.
    pub fn trainable_mask(&self) -> Vec<bool> {
        self.params()
            .iter()
            .flat_map(|p| {
                let statistic =
                    p.name.ends_with(".running_mean") || p.name.ends_with(".running_var");
                std::iter::repeat_n(!statistic, p.len())
            })
            .collect()
    }

    pub fn parameter_count(&self) -> usize {
        let c = self.channels;
        let blocks = self.dilations.len();
        let first = c * self.in_channels * 27 + c;
        let rest = (blocks.saturating_sub(1)) * (c * c * 27 + c);
        let bn = if self.batch_norm { blocks * 4 * c } else { 0 };
        first + rest + bn + self.classes * c + self.classes
    }

    /// Checks named tensors against the model exactly (names, shapes, finite values) and
    /// returns all values flattened in parameter order.
    pub fn flatten_named(&self, tensors: &NamedTensors) -> Result<Vec<f32>, SpecError> {
        let specs = self.params();
        for (name, _) in tensors {
            if !specs.iter().any(|s| s.name == *name) {
                return Err(SpecError::Unexpected(name.clone()));
            }
        }
        let mut flat = Vec::with_capacity(self.parameter_count());
        for spec in &specs {
            let t = tensors
                .iter()
                .find(|(n, _)| *n == spec.name)
                .map(|(_, t)| t)
                .ok_or_else(|| SpecError::Missing(spec.name.clone()))?;
            push_checked(spec, t, &mut flat)?;
        }
        Ok(flat)
    }

    /// The same for tensors given positionally in parameter order.
    pub fn flatten_ordered(&self, tensors: &[Tensor]) -> Result<Vec<f32>, SpecError> {
        let specs = self.params();
        if tensors.len() != specs.len() {
            return Err(SpecError::Count {
                expected: specs.len(),
                found: tensors.len(),
            });
        }
        let mut flat = Vec::with_capacity(self.parameter_count());
        for (spec, t) in specs.iter().zip(tensors) {
            push_checked(spec, t, &mut flat)?;
        }
        Ok(flat)
    }

    /// Checks a model's flat values for statistics no training could produce: a negative
    /// BatchNorm variance (`…running_var`) would make every later normalisation NaN.
    pub fn check_statistics(&self, flat: &[f32]) -> Result<(), SpecError> {
        let mut offset = 0;
        for p in self.params() {
            let n = p.len();
            if p.name.ends_with(".running_var") {
                let values = flat.get(offset..offset + n).unwrap_or_default();
                if let Some(index) = values.iter().position(|v| *v < 0.0) {
                    return Err(SpecError::NegativeVariance {
                        name: p.name,
                        index,
                    });
                }
            }
            offset += n;
        }
        Ok(())
    }

    /// Flat values (parameter order) back into named tensors.
    pub fn unflatten(&self, flat: &[f32]) -> NamedTensors {
        let mut offset = 0;
        self.params()
            .into_iter()
            .map(|s| {
                let n = s.len();
                let t = Tensor::new(s.shape, flat[offset..offset + n].to_vec());
                offset += n;
                (s.name, t)
            })
            .collect()
    }
}

fn push_checked(spec: &ParamSpec, t: &Tensor, flat: &mut Vec<f32>) -> Result<(), SpecError> {
    if t.shape != spec.shape {
        return Err(SpecError::Shape {
            name: spec.name.clone(),
            expected: spec.shape.clone(),
            found: t.shape.clone(),
        });
    }
    if let Some(index) = t.data.iter().position(|v| !v.is_finite()) {
        return Err(SpecError::NonFinite {
            name: spec.name.clone(),
            index,
        });
    }
    flat.extend_from_slice(&t.data);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model5_matches_brainchops_layout() {
        let m = ModelConfig::default();
        assert_eq!(m.parameter_count(), 5598);
        let params = m.params();
        assert_eq!(params.len(), 20);
        assert_eq!(
            params[0],
            ParamSpec {
                name: "model.0.0.weight".into(),
                shape: vec![5, 1, 3, 3, 3]
            }
        );
        assert_eq!(params[2].shape, vec![5, 5, 3, 3, 3]);
        assert_eq!(
            params[18],
            ParamSpec {
                name: "model.9.weight".into(),
                shape: vec![3, 5, 1, 1, 1]
            }
        );
        assert_eq!(params.iter().map(ParamSpec::len).sum::<usize>(), 5598);
    }

    #[test]
    fn presets_match_brainchops_models_and_the_classic_meshnet() {
        assert_eq!(ModelConfig::model11_gw_ae().parameter_count(), 23_290);
        let m20 = ModelConfig::model20chan3cls();
        assert_eq!((m20.channels, m20.activation), (20, Activation::Elu));
        let c21 = ModelConfig::classic21(3);
        assert_eq!(c21.dilations, vec![1, 1, 1, 2, 4, 8, 1]);
        assert_eq!(c21.receptive_field(), 37);
        assert_eq!(ModelConfig::model5(3).receptive_field(), 93);
        assert_eq!(ModelConfig::preset("model20chan3cls"), Some(m20));
        assert_eq!(ModelConfig::preset("nope"), None);
        // Older stored configs have no activation field: ReLU.
        let old: ModelConfig =
            serde_json::from_str(r#"{"channels":5,"dilations":[1],"classes":3}"#).unwrap();
        assert_eq!(old.activation, Activation::Relu);
    }

    #[test]
    fn batch_norm_adds_four_vectors_per_block() {
        let m = ModelConfig {
            batch_norm: true,
            ..ModelConfig::model5(3)
        };
        assert_eq!(m.parameter_count(), 5598 + 9 * 4 * 5);
        assert_eq!(m.params()[2].name, "model.0.1.weight");
        assert_eq!(m.params()[5].name, "model.0.1.running_var");
        assert_eq!(
            m.params().iter().map(ParamSpec::len).sum::<usize>(),
            m.parameter_count()
        );
        // Block 0: conv weight 135 + bias 5 + gamma 5 + beta 5 trained, then 10 statistics.
        let mask = m.trainable_mask();
        assert_eq!(mask.len(), m.parameter_count());
        assert!(mask[..150].iter().all(|&t| t));
        assert!(mask[150..160].iter().all(|&t| !t));
        assert!(mask[160]);
        assert_eq!(mask.iter().filter(|&&t| !t).count(), 9 * 2 * 5);
        assert!(ModelConfig::model5(3).trainable_mask().iter().all(|&t| t));
    }

    #[test]
    fn config_limits() {
        assert!(ModelConfig::default().validate().is_ok());
        for bad in [
            ModelConfig {
                channels: 0,
                ..Default::default()
            },
            ModelConfig {
                classes: 1,
                ..Default::default()
            },
            ModelConfig {
                dilations: vec![],
                ..Default::default()
            },
            ModelConfig {
                dilations: vec![0],
                ..Default::default()
            },
            ModelConfig {
                channels: 256,
                dilations: vec![1; 32],
                ..Default::default()
            },
            // 3.1M parameters: over what a run's object was measured to hold.
            ModelConfig {
                channels: 120,
                ..ModelConfig::model5(3)
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(SpecError::Config(_))),
                "{bad:?}"
            );
        }
        let parsed: ModelConfig =
            serde_json::from_str(r#"{"channels": 8, "dilations": [1, 2], "classes": 2}"#).unwrap();
        assert_eq!((parsed.in_channels, parsed.batch_norm), (1, false));
        assert!(serde_json::from_str::<ModelConfig>(
            r#"{"channels": 8, "dilations": [1], "classes": 2, "x": 1}"#
        )
        .is_err());
    }

    #[test]
    fn flatten_checks_names_shapes_and_values() {
        let m = ModelConfig {
            channels: 2,
            dilations: vec![1],
            classes: 2,
            ..Default::default()
        };
        let good = m.unflatten(
            &(0..m.parameter_count())
                .map(|i| i as f32)
                .collect::<Vec<_>>(),
        );
        let flat = m.flatten_named(&good).unwrap();
        assert_eq!(flat[5], 5.0);
        let mut reordered = good.clone();
        reordered.reverse();
        assert_eq!(
            m.flatten_named(&reordered).unwrap(),
            flat,
            "order of names does not matter"
        );
        let ordered: Vec<Tensor> = good.iter().map(|(_, t)| t.clone()).collect();
        assert_eq!(m.flatten_ordered(&ordered).unwrap(), flat);

        let mut missing = good.clone();
        missing.remove(1);
        assert_eq!(
            m.flatten_named(&missing),
            Err(SpecError::Missing("model.0.0.bias".into()))
        );
        let mut extra = good.clone();
        extra.push(("model.9.weight".into(), Tensor::new(vec![1], vec![0.])));
        assert_eq!(
            m.flatten_named(&extra),
            Err(SpecError::Unexpected("model.9.weight".into()))
        );
        let mut shape = good.clone();
        shape[0].1 = Tensor::new(vec![2, 1, 3, 3], vec![0.; 18]);
        let err = m.flatten_named(&shape).unwrap_err();
        assert_eq!(err.tensor(), Some("model.0.0.weight"));
        let mut nan = good.clone();
        nan[2].1.data[1] = f32::NAN;
        assert_eq!(
            m.flatten_named(&nan),
            Err(SpecError::NonFinite {
                name: "model.1.weight".into(),
                index: 1
            })
        );
        let mut inf = good;
        inf[3].1.data[0] = f32::INFINITY;
        assert!(matches!(
            m.flatten_named(&inf),
            Err(SpecError::NonFinite { .. })
        ));
        assert!(matches!(
            m.flatten_ordered(&ordered[..2]),
            Err(SpecError::Count {
                expected: 4,
                found: 2
            })
        ));
    }

    #[test]
    fn a_negative_batch_norm_variance_is_named() {
        let mut m = ModelConfig::model5(3);
        m.batch_norm = true;
        let mut flat = vec![0.5; m.parameter_count()];
        assert_eq!(m.check_statistics(&flat), Ok(()));
        let (offset, name) = m
            .params()
            .iter()
            .scan(0, |at, p| {
                let start = *at;
                *at += p.len();
                Some((start, p.name.clone()))
            })
            .find(|(_, n)| n.ends_with(".running_var"))
            .unwrap();
        flat[offset + 2] = -1e-3;
        assert_eq!(
            m.check_statistics(&flat),
            Err(SpecError::NegativeVariance { name, index: 2 })
        );
        // Without BatchNorm no tensor is a variance: negative values are just weights.
        let plain = ModelConfig::model5(3);
        assert_eq!(
            plain.check_statistics(&vec![-1.0; plain.parameter_count()]),
            Ok(())
        );
    }
}
