//! Export: a MeshNet as a Keras functional model in TF.js layers format, the shape brainchop's
//! own models have (InputLayer, then Conv3D + Activation per block, a 1×1×1 `output` head),
//! with one weight shard.

use serde_json::{json, Value};

use super::BrainchopError;
use crate::meshnet::ModelConfig;

/// The single weight shard's file name, as `model.json`'s manifest names it.
pub const WEIGHTS_FILE: &str = "group1-shard1of1.bin";

/// BatchNorm's epsilon (PyTorch's default), used when folding it into a convolution.
const BN_EPS: f32 = 1e-5;

/// A model in TF.js layers format: `model.json` and the bytes of [`WEIGHTS_FILE`].
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    pub model_json: Vec<u8>,
    pub weights: Vec<u8>,
}

/// Writes `values` (all parameters of `config`, in parameter order) as a brainchop model.
pub fn export(config: &ModelConfig, values: &[f32]) -> Result<Exported, BrainchopError> {
    config
        .validate()
        .map_err(|e| BrainchopError::Unsupported(e.to_string()))?;
    if config.in_channels != 1 {
        return Err(BrainchopError::Unsupported(
            "more than one input channel (brainchop feeds one T1 channel)".into(),
        ));
    }
    if values.len() != config.parameter_count() {
        return Err(BrainchopError::Weight {
            name: "all".into(),
            reason: format!(
                "{} values, the model has {} parameters",
                values.len(),
                config.parameter_count()
            ),
        });
    }
    let named = config.unflatten(values);
    let get = |name: String| {
        named
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.data.clone())
            .unwrap_or_default()
    };
    let c = config.channels;
    let mut layers = vec![json!({
        "class_name": "InputLayer",
        "config": {"batch_input_shape": [null, 256, 256, 256, 1], "dtype": "float32",
                   "sparse": false, "ragged": false, "name": "input"},
        "name": "input", "inbound_nodes": []
    })];
    let mut manifest = vec![];
    let mut weights = Vec::with_capacity(values.len() * 4);
    let mut previous = "input".to_string();
    let n = config.dilations.len();
    for (i, &d) in config.dilations.iter().enumerate() {
        let cin = if i == 0 { 1 } else { c };
        let mut w = get(format!("model.{i}.0.weight"));
        let mut b = get(format!("model.{i}.0.bias"));
        if config.batch_norm {
            let gamma = get(format!("model.{i}.1.weight"));
            let beta = get(format!("model.{i}.1.bias"));
            let mean = get(format!("model.{i}.1.running_mean"));
            let var = get(format!("model.{i}.1.running_var"));
            for o in 0..c {
                let scale = gamma[o] / (var[o] + BN_EPS).sqrt();
                w[o * cin * 27..(o + 1) * cin * 27]
                    .iter_mut()
                    .for_each(|v| *v *= scale);
                b[o] = (b[o] - mean[o]) * scale + beta[o];
            }
        }
        let conv = format!("conv3d_{}", 2 * i);
        layers.push(conv_layer(&conv, c, 3, d, &previous));
        push_weights(&mut manifest, &mut weights, &conv, &w, &b, cin, c, 3);
        let act = format!("activation_{}", 2 * i + 1);
        layers.push(json!({
            "class_name": "Activation",
            "config": {"name": act, "trainable": true, "dtype": "float32",
                       "activation": config.activation.name()},
            "name": act, "inbound_nodes": [[[conv, 0, 0, {}]]]
        }));
        previous = act;
    }
    let w = get(format!("model.{n}.weight"));
    let b = get(format!("model.{n}.bias"));
    layers.push(conv_layer("output", config.classes, 1, 1, &previous));
    push_weights(
        &mut manifest,
        &mut weights,
        "output",
        &w,
        &b,
        c,
        config.classes,
        1,
    );
    let doc = json!({
        "format": "layers-model",
        "generatedBy": "Meshfed",
        "convertedBy": "Meshfed",
        "modelTopology": {
            "keras_version": "2.7.0",
            "backend": "tensorflow",
            "model_config": {
                "class_name": "Functional",
                "config": {"name": "model", "layers": layers,
                           "input_layers": [["input", 0, 0]],
                           "output_layers": [["output", 0, 0]]}
            }
        },
        "weightsManifest": [{"paths": [WEIGHTS_FILE], "weights": manifest}]
    });
    let model_json =
        serde_json::to_vec_pretty(&doc).map_err(|e| BrainchopError::Json(e.to_string()))?;
    Ok(Exported {
        model_json,
        weights,
    })
}

fn conv_layer(name: &str, filters: usize, kernel: u32, dilation: u32, input: &str) -> Value {
    json!({
        "class_name": "Conv3D",
        "config": {
            "name": name, "trainable": true, "dtype": "float32", "filters": filters,
            "kernel_size": [kernel, kernel, kernel], "strides": [1, 1, 1], "padding": "same",
            "data_format": "channels_last", "dilation_rate": [dilation, dilation, dilation], "groups": 1,
            "activation": "linear", "use_bias": true,
            "kernel_initializer": {"class_name": "Zeros", "config": {}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": null, "bias_regularizer": null,
            "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null
        },
        "name": name,
        "inbound_nodes": [[[input, 0, 0, {}]]]
    })
}

/// Appends a kernel (PyTorch `[out, in, k, k, k]` → TF.js `[k, k, k, in, out]`) and its bias.
#[allow(clippy::too_many_arguments)]
fn push_weights(
    manifest: &mut Vec<Value>,
    bytes: &mut Vec<u8>,
    layer: &str,
    w: &[f32],
    b: &[f32],
    cin: usize,
    out: usize,
    k: usize,
) {
    let spatial = k * k * k;
    for s in 0..spatial {
        for c in 0..cin {
            for o in 0..out {
                bytes.extend_from_slice(&w[(o * cin + c) * spatial + s].to_le_bytes());
            }
        }
    }
    b.iter()
        .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    manifest.push(
        json!({"name": format!("{layer}/kernel"), "shape": [k, k, k, cin, out],
                         "dtype": "float32"}),
    );
    manifest.push(json!({"name": format!("{layer}/bias"), "shape": [out], "dtype": "float32"}));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meshnet::{brainchop::import, initial_weights, Activation};

    const MODEL5_JSON: &[u8] = include_bytes!("../../../data/brainchop/model5_gw_ae/model.json");
    const MODEL5_BIN: &[u8] =
        include_bytes!("../../../data/brainchop/model5_gw_ae/group1-shard1of1.bin");

    #[test]
    fn round_trips_model5_gw_ae_byte_for_byte_weights() {
        let (config, values) = import(MODEL5_JSON, MODEL5_BIN).unwrap();
        let out = export(&config, &values).unwrap();
        // Same layer order and layout as brainchop's converter wrote: identical shard bytes.
        assert_eq!(out.weights, MODEL5_BIN);
        let (again, back) = import(&out.model_json, &out.weights).unwrap();
        assert_eq!(again, config);
        assert_eq!(back, values);
    }

    #[test]
    fn round_trips_elu_and_other_presets() {
        for config in [ModelConfig::model20chan3cls(), ModelConfig::classic21(4)] {
            let values = initial_weights(&config, 7);
            let out = export(&config, &values).unwrap();
            let (again, back) = import(&out.model_json, &out.weights).unwrap();
            assert_eq!(again, config);
            assert_eq!(back, values);
        }
        let text = String::from_utf8(
            export(
                &ModelConfig::model20chan3cls(),
                &initial_weights(&ModelConfig::model20chan3cls(), 1),
            )
            .unwrap()
            .model_json,
        )
        .unwrap();
        assert_eq!(text.matches("\"elu\"").count(), 9);
        assert_eq!(ModelConfig::model20chan3cls().activation, Activation::Elu);
    }

    #[test]
    fn folds_batch_norm_into_the_convolution() {
        let config = ModelConfig {
            batch_norm: true,
            ..ModelConfig::model5(3)
        };
        let mut named = config.unflatten(&initial_weights(&config, 3));
        for (name, t) in named.iter_mut() {
            match name.as_str() {
                "model.0.1.weight" => t.data.fill(2.0),
                "model.0.1.bias" => t.data.fill(0.5),
                "model.0.1.running_mean" => t.data.fill(0.25),
                "model.0.1.running_var" => t.data.fill(4.0 - BN_EPS),
                _ => {}
            }
        }
        let values = config.flatten_named(&named).unwrap();
        let (plain, folded) = import(
            &export(&config, &values).unwrap().model_json,
            &export(&config, &values).unwrap().weights,
        )
        .unwrap();
        assert!(!plain.batch_norm);
        // scale = 2 / sqrt(4) = 1: weights unchanged, bias = (b - 0.25) * 1 + 0.5.
        assert_eq!(folded[..135], named[0].1.data[..]);
        for o in 0..5 {
            assert!((folded[135 + o] - (named[1].1.data[o] + 0.25)).abs() < 1e-6);
        }
    }

    #[test]
    fn refuses_wrong_value_counts() {
        let config = ModelConfig::model5(3);
        assert!(matches!(
            export(&config, &[0.0; 10]),
            Err(BrainchopError::Weight { .. })
        ));
    }
}
