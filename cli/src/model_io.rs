//! Models on disk: a brainchop TF.js directory (`model.json` + weight shards) or a
//! `.safetensors` file with Meshfed's config metadata.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use meshfed_shared::meshnet::{brainchop, file, ModelConfig};

use crate::error::{io, CliError, CliResult};

/// Where a model is: which format, judged by the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelPath {
    /// A directory holding `model.json` (or the `model.json` itself).
    Brainchop(PathBuf),
    Safetensors(PathBuf),
}

impl ModelPath {
    pub fn parse(path: &Path) -> CliResult<Self> {
        let name = path.to_string_lossy();
        if name.ends_with(".safetensors") {
            Ok(ModelPath::Safetensors(path.into()))
        } else if name.ends_with("model.json") {
            Ok(ModelPath::Brainchop(
                path.parent().unwrap_or(Path::new(".")).into(),
            ))
        } else if path.is_dir() || path.extension().is_none() {
            Ok(ModelPath::Brainchop(path.into()))
        } else {
            Err(CliError::Usage(format!(
                "{}: a model is a brainchop directory (with model.json) or a .safetensors file",
                path.display()
            )))
        }
    }
}

/// Reads a model; `fallback` names the config for a safetensors file without metadata.
pub fn load(path: &Path, fallback: Option<&ModelConfig>) -> CliResult<(ModelConfig, Vec<f32>)> {
    match ModelPath::parse(path)? {
        ModelPath::Safetensors(p) => {
            let bytes = std::fs::read(&p).map_err(io(&p))?;
            file::from_safetensors(&bytes, fallback)
                .map_err(|source| CliError::ModelFile { path: p, source })
        }
        ModelPath::Brainchop(dir) => {
            let json_path = dir.join("model.json");
            let json = std::fs::read(&json_path).map_err(io(&json_path))?;
            let weights = read_shards(&dir, &json)?;
            brainchop::import(&json, &weights).map_err(|source| CliError::Brainchop {
                path: json_path,
                source,
            })
        }
    }
}

/// The weight shards the manifest names, concatenated in order.
fn read_shards(dir: &Path, json: &[u8]) -> CliResult<Vec<u8>> {
    let doc: serde_json::Value = serde_json::from_slice(json).map_err(|e| CliError::Brainchop {
        path: dir.join("model.json"),
        source: brainchop::BrainchopError::Json(e.to_string()),
    })?;
    let mut out = vec![];
    for group in doc["weightsManifest"].as_array().into_iter().flatten() {
        for shard in group["paths"].as_array().into_iter().flatten() {
            let name = shard.as_str().unwrap_or_default();
            if name.contains("..") || name.starts_with('/') {
                return Err(CliError::Usage(format!(
                    "shard path {name:?} leaves the model directory"
                )));
            }
            let p = dir.join(name);
            out.extend(std::fs::read(&p).map_err(io(&p))?);
        }
    }
    Ok(out)
}

/// Writes a model in the format its path says, replacing what was there only once the new
/// files are complete.
pub fn save(path: &Path, config: &ModelConfig, values: &[f32]) -> CliResult<()> {
    match ModelPath::parse(path)? {
        ModelPath::Safetensors(p) => {
            let bytes = file::to_safetensors(config, values, BTreeMap::new());
            write_atomic(&p, &bytes)
        }
        ModelPath::Brainchop(dir) => {
            let out = brainchop::export(config, values).map_err(|source| CliError::Brainchop {
                path: dir.clone(),
                source,
            })?;
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            write_atomic(&dir.join(brainchop::WEIGHTS_FILE), &out.weights)?;
            write_atomic(&dir.join("model.json"), &out.model_json)
        }
    }
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> CliResult<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let tmp = crate::volume_io::tmp_path(path);
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// A config from a preset name or inline JSON.
pub fn parse_config(text: &str) -> CliResult<ModelConfig> {
    if let Some(c) = ModelConfig::preset(text) {
        return Ok(c);
    }
    let config: ModelConfig = serde_json::from_str(text).map_err(|e| {
        CliError::Usage(format!(
            "--config: not a preset (model5_gw_ae, model11_gw_ae, model20chan3cls, classic21) \
             nor a config JSON: {e}"
        ))
    })?;
    config.validate()?;
    Ok(config)
}
