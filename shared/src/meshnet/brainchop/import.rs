//! Import: TF.js stores a Conv3D kernel channels-last as `[kd, kh, kw, in, out]`; the
//! PyTorch naming Meshfed uses wants `[out, in, kd, kh, kw]` over the same spatial axes.

use serde_json::Value;

use super::{err, BrainchopError};
use crate::meshnet::{Activation, ModelConfig};

/// Reads a brainchop model: `model_json` and its weight shards concatenated in manifest
/// order. Returns the config and all parameters flattened in Meshfed's parameter order.
pub fn import(
    model_json: &[u8],
    weights: &[u8],
) -> Result<(ModelConfig, Vec<f32>), BrainchopError> {
    let doc: Value = serde_json::from_slice(model_json).map_err(|e| err(e.to_string()))?;
    let layers = doc["modelTopology"]["model_config"]["config"]["layers"]
        .as_array()
        .ok_or_else(|| err("no modelTopology.model_config.config.layers"))?;
    let mut convs: Vec<(String, usize, u32, u32)> = vec![]; // name, filters, kernel, dilation
    let mut activations: Vec<Activation> = vec![];
    for layer in layers {
        let c = &layer["config"];
        match layer["class_name"].as_str().unwrap_or_default() {
            "InputLayer" => {}
            "Conv3D" => {
                let filters = c["filters"]
                    .as_u64()
                    .ok_or_else(|| err("Conv3D without filters"))?
                    as usize;
                let kernel = c["kernel_size"][0].as_u64().unwrap_or(0) as u32;
                let dilation = c["dilation_rate"][0].as_u64().unwrap_or(1) as u32;
                if c["activation"].as_str().is_some_and(|a| a != "linear") {
                    return Err(BrainchopError::Unsupported(format!(
                        "Conv3D activation {}",
                        c["activation"]
                    )));
                }
                convs.push((
                    c["name"].as_str().unwrap_or_default().to_string(),
                    filters,
                    kernel,
                    dilation,
                ));
            }
            "Activation" if c["activation"] == "relu" => activations.push(Activation::Relu),
            "Activation" if c["activation"] == "elu" => activations.push(Activation::Elu),
            other => {
                return Err(BrainchopError::Unsupported(format!(
                    "layer {other} ({})",
                    c["activation"]
                )))
            }
        }
    }
    let (head, blocks) = convs.split_last().ok_or_else(|| err("no Conv3D layers"))?;
    if head.2 != 1 || blocks.iter().any(|b| b.2 != 3) || blocks.is_empty() {
        return Err(BrainchopError::Unsupported(
            "kernels other than 3×3×3 blocks and a 1×1×1 head".into(),
        ));
    }
    let activation = activations.first().copied().unwrap_or_default();
    if activations.len() != blocks.len() || activations.iter().any(|a| *a != activation) {
        return Err(BrainchopError::Unsupported(
            "anything but one activation after every 3×3×3 block".into(),
        ));
    }
    let channels = blocks[0].1;
    if blocks.iter().any(|b| b.1 != channels) {
        return Err(BrainchopError::Unsupported(
            "blocks of different widths".into(),
        ));
    }
    let config = ModelConfig {
        in_channels: 1,
        channels,
        dilations: blocks.iter().map(|b| b.3).collect(),
        classes: head.1,
        batch_norm: false,
        activation,
    };
    config.validate().map_err(|e| err(e.to_string()))?;

    // The manifest's weights, in order, over the concatenated shards.
    let mut offset = 0usize;
    let mut tensors: Vec<(String, Vec<usize>, &[u8])> = vec![];
    for group in doc["weightsManifest"]
        .as_array()
        .ok_or_else(|| err("no weightsManifest"))?
    {
        for w in group["weights"]
            .as_array()
            .ok_or_else(|| err("a manifest group without weights"))?
        {
            let name = w["name"].as_str().unwrap_or_default().to_string();
            if w["dtype"] != "float32" {
                return Err(BrainchopError::Weight {
                    name,
                    reason: format!("dtype {} (only float32)", w["dtype"]),
                });
            }
            let shape: Vec<usize> = w["shape"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_u64())
                .map(|d| d as usize)
                .collect();
            let bytes = shape.iter().product::<usize>() * 4;
            let data =
                weights
                    .get(offset..offset + bytes)
                    .ok_or_else(|| BrainchopError::Weight {
                        name: name.clone(),
                        reason: "the weight shards end before this weight".into(),
                    })?;
            tensors.push((name, shape, data));
            offset += bytes;
        }
    }
    let find = |name: &str| {
        tensors
            .iter()
            .find(|t| t.0 == name)
            .ok_or_else(|| BrainchopError::Weight {
                name: name.into(),
                reason: "missing from the manifest".into(),
            })
    };
    let mut out = Vec::with_capacity(config.parameter_count());
    for (i, (layer, filters, k, _)) in convs.iter().enumerate() {
        let cin = if i == 0 { 1 } else { channels };
        let (kname, shape, data) = find(&format!("{layer}/kernel"))?;
        let k = *k as usize;
        if *shape != [k, k, k, cin, *filters] {
            return Err(BrainchopError::Weight {
                name: kname.clone(),
                reason: format!("shape {shape:?}"),
            });
        }
        let at = |idx: usize| {
            f32::from_le_bytes([
                data[idx * 4],
                data[idx * 4 + 1],
                data[idx * 4 + 2],
                data[idx * 4 + 3],
            ])
        };
        for o in 0..*filters {
            for c in 0..cin {
                for s in 0..k * k * k {
                    out.push(at((s * cin + c) * filters + o));
                }
            }
        }
        let (bname, bshape, bdata) = find(&format!("{layer}/bias"))?;
        if *bshape != [*filters] {
            return Err(BrainchopError::Weight {
                name: bname.clone(),
                reason: format!("shape {bshape:?}"),
            });
        }
        out.extend(
            bdata
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
    }
    Ok((config, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL5_JSON: &[u8] = include_bytes!("../../../data/brainchop/model5_gw_ae/model.json");
    const MODEL5_BIN: &[u8] =
        include_bytes!("../../../data/brainchop/model5_gw_ae/group1-shard1of1.bin");

    fn tf(i: usize) -> f32 {
        f32::from_le_bytes(MODEL5_BIN[i * 4..i * 4 + 4].try_into().unwrap())
    }

    #[test]
    fn imports_model5_gw_ae_as_the_default_meshnet() {
        let (config, values) = import(MODEL5_JSON, MODEL5_BIN).unwrap();
        assert_eq!(config, ModelConfig::model5(3));
        assert_eq!(values.len(), 5598);
        let named = config.unflatten(&values);
        // First kernel [3,3,3,1,5]: torch[o][0][a][b][d] = tf[a][b][d][0][o].
        let w0 = &named[0].1;
        assert_eq!(w0.shape, vec![5, 1, 3, 3, 3]);
        for (o, s) in [(0usize, 0usize), (4, 0), (2, 13), (3, 26)] {
            assert_eq!(w0.data[o * 27 + s], tf(s * 5 + o), "o={o} s={s}");
        }
        // Its bias follows the kernel in the shard.
        assert_eq!(named[1].1.data, (135..140).map(tf).collect::<Vec<_>>());
        // A middle kernel [3,3,3,5,5]: torch[o][c][s] = tf[s][c][o], at offset 140.
        let w1 = &named[2].1;
        assert_eq!(
            w1.data[(4 * 5 + 2) * 27 + 10],
            tf(140 + (10 * 5 + 2) * 5 + 4)
        );
        // The head bias is the last 3 values of the file.
        assert_eq!(named[19].1.data, (5595..5598).map(tf).collect::<Vec<_>>());
        let all_elu = String::from_utf8(MODEL5_JSON.to_vec())
            .unwrap()
            .replace("\"relu\"", "\"elu\"");
        let (elu, _) = import(all_elu.as_bytes(), MODEL5_BIN).unwrap();
        assert_eq!(elu.activation, Activation::Elu);
        let distinct: std::collections::HashSet<u32> = values.iter().map(|v| v.to_bits()).collect();
        assert!(distinct.len() > 5000, "real trained weights, not a fill");
    }

    #[test]
    fn refuses_what_it_cannot_express_and_short_shards() {
        let text = String::from_utf8(MODEL5_JSON.to_vec()).unwrap();
        let mixed = text.replacen("\"relu\"", "\"elu\"", 1);
        assert!(matches!(
            import(mixed.as_bytes(), MODEL5_BIN),
            Err(BrainchopError::Unsupported(_))
        ));
        assert!(matches!(
            import(MODEL5_JSON, &MODEL5_BIN[..1000]),
            Err(BrainchopError::Weight { .. })
        ));
        assert!(matches!(
            import(b"{}", MODEL5_BIN),
            Err(BrainchopError::Json(_))
        ));
    }
}
