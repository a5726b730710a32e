//! A MeshNet as a safetensors file: PyTorch-named tensors plus its [`ModelConfig`] as JSON in
//! the `meshfed.model` metadata entry, so the file alone says how to build the network.

use std::collections::BTreeMap;

use super::{ModelConfig, SpecError};
use crate::tensor::{safetensors, DType, TensorError};

/// The metadata key holding the model config.
pub const CONFIG_KEY: &str = "meshfed.model";

#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("not a safetensors file: {0}")]
    Format(#[from] TensorError),
    #[error("the file has no {CONFIG_KEY} metadata; say which model it holds (a preset name or a config JSON)")]
    NoConfig,
    #[error("its {CONFIG_KEY} metadata is not a model config: {0}")]
    BadConfig(String),
    #[error(transparent)]
    Spec(#[from] SpecError),
}

/// `values` (parameter order) as safetensors F32, with the config and `extra` metadata.
pub fn to_safetensors(
    config: &ModelConfig,
    values: &[f32],
    mut extra: BTreeMap<String, String>,
) -> Vec<u8> {
    let json = serde_json::to_string(config).unwrap_or_default();
    extra.insert(CONFIG_KEY.into(), json);
    safetensors::write(&config.unflatten(values), DType::F32, &extra)
}

/// The config (from the file's metadata, else `fallback`) and its parameters, checked.
pub fn from_safetensors(
    bytes: &[u8],
    fallback: Option<&ModelConfig>,
) -> Result<(ModelConfig, Vec<f32>), ModelFileError> {
    let file = safetensors::read(bytes)?;
    let config = match file.metadata.get(CONFIG_KEY) {
        Some(json) => serde_json::from_str::<ModelConfig>(json)
            .map_err(|e| ModelFileError::BadConfig(e.to_string()))?,
        None => fallback.cloned().ok_or(ModelFileError::NoConfig)?,
    };
    config.validate()?;
    let values = config.flatten_named(&file.tensors)?;
    Ok((config, values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meshnet::initial_weights;

    #[test]
    fn config_travels_in_the_metadata() {
        let config = ModelConfig::model20chan3cls();
        let values = initial_weights(&config, 1);
        let bytes = to_safetensors(&config, &values, BTreeMap::new());
        assert_eq!(
            from_safetensors(&bytes, None).unwrap(),
            (config.clone(), values.clone())
        );

        let bare = safetensors::write(&config.unflatten(&values), DType::F32, &BTreeMap::new());
        assert!(matches!(
            from_safetensors(&bare, None),
            Err(ModelFileError::NoConfig)
        ));
        assert_eq!(from_safetensors(&bare, Some(&config)).unwrap().1, values);
        let wrong = ModelConfig::model5(3);
        assert!(matches!(
            from_safetensors(&bare, Some(&wrong)),
            Err(ModelFileError::Spec(_))
        ));
        assert!(matches!(
            from_safetensors(b"nope", None),
            Err(ModelFileError::Format(_))
        ));
    }
}
