//! Decoding an upload (weights or gradients) against a run's model: safetensors with its
//! metrics in the query or the file's `__metadata__`, or a JSON body in the seeds' nested
//! form. Malformed bodies are 400; well-formed tensors that do not fit the model are 422 and
//! name the tensor.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::aggregate::metrics::UploadMetrics;
use crate::meshnet::{ModelConfig, SpecError};
use crate::tensor::{nested_json, safetensors, TensorError};
use crate::{ApiError, ErrorCode};

/// How tensors were laid out in a JSON upload (the seeds' gradients come back the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorForm {
    /// `{"name": nested array}`.
    Named,
    /// `[nested array, …]` in parameter order.
    List,
    /// `[number, …]`: every parameter flattened in order.
    Flat,
}

/// An upload checked against the model: all values flattened in parameter order.
#[derive(Clone, PartialEq)]
pub struct DecodedUpload {
    pub values: Vec<f32>,
    pub num_examples: Option<u64>,
    pub loss: Option<f64>,
    pub dice: Option<f64>,
    pub val_loss: Option<f64>,
    pub val_dice: Option<Vec<Option<f64>>>,
    pub form: TensorForm,
}

impl std::fmt::Debug for DecodedUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DecodedUpload({} values, {:?})",
            self.values.len(),
            self.num_examples
        )
    }
}

impl DecodedUpload {
    /// The metrics with `num_examples` defaulted to 1 where the method does not need it.
    pub fn metrics(&self) -> UploadMetrics {
        UploadMetrics {
            num_examples: self.num_examples.unwrap_or(1),
            loss: self.loss,
            dice: self.dice,
            val_loss: self.val_loss,
            val_dice: self.val_dice.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UploadError {
    #[error("{0}")]
    Tensor(#[from] TensorError),
    #[error("{0}")]
    Spec(#[from] SpecError),
    #[error("{field}: {reason}")]
    Field { field: String, reason: String },
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        let message = e.to_string();
        match e {
            UploadError::Field { field, reason } => ApiError::invalid_field(&field, reason),
            UploadError::Tensor(
                TensorError::Json(_) | TensorError::Truncated(_) | TensorError::BadHeader(_),
            ) => ApiError::new(
                ErrorCode::ValidationError,
                "The upload is not valid safetensors or JSON",
            )
            .with_details(serde_json::json!({"field": "body", "reason": message})),
            UploadError::Tensor(t) => {
                let tensor = match &t {
                    TensorError::UnsupportedDtype { name, .. }
                    | TensorError::BadTensor { name, .. }
                    | TensorError::Ragged { name, .. }
                    | TensorError::NonNumeric { name, .. } => Some(name.clone()),
                    _ => None,
                };
                ApiError::new(ErrorCode::UnprocessableEntity, message)
                    .with_details(serde_json::json!({"tensor": tensor}))
            }
            UploadError::Spec(s) => ApiError::new(ErrorCode::UnprocessableEntity, message)
                .with_details(serde_json::json!({"tensor": s.tensor()})),
        }
    }
}

fn field(field: &str, reason: impl Into<String>) -> UploadError {
    UploadError::Field {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The metrics as sent, checked.
#[derive(Debug, Default)]
struct Metrics {
    num_examples: Option<u64>,
    loss: Option<f64>,
    dice: Option<f64>,
    val_loss: Option<f64>,
    val_dice: Option<Vec<Option<f64>>>,
}

/// The most foreground classes a validation Dice list may have.
const MAX_VAL_CLASSES: usize = 255;

/// Metrics sent beside a binary upload (query string or safetensors metadata).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricFields {
    pub num_examples: Option<String>,
    pub loss: Option<String>,
    pub dice: Option<String>,
    pub val_loss: Option<String>,
    /// Comma-separated, one per foreground class, `-` for a class absent there.
    pub val_dice: Option<String>,
}

impl MetricFields {
    fn parse(&self) -> Result<Metrics, UploadError> {
        let examples = match &self.num_examples {
            Some(s) => Some(
                s.trim()
                    .parse::<u64>()
                    .map_err(|_| field("num_examples", "must be a whole number"))?,
            ),
            None => None,
        };
        let number = |name: &str, v: &Option<String>| -> Result<Option<f64>, UploadError> {
            v.as_ref()
                .map(|s| {
                    s.trim()
                        .parse::<f64>()
                        .map_err(|_| field(name, "must be a number"))
                })
                .transpose()
        };
        let val_dice = self
            .val_dice
            .as_ref()
            .map(|s| {
                s.split(',')
                    .map(|d| match d.trim() {
                        "-" | "" => Ok(None),
                        d => d.parse::<f64>().map(Some).map_err(|_| {
                            field("val_dice", "must be numbers (or -) separated by commas")
                        }),
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        check_metrics(Metrics {
            num_examples: examples,
            loss: number("loss", &self.loss)?,
            dice: number("dice", &self.dice)?,
            val_loss: number("val_loss", &self.val_loss)?,
            val_dice,
        })
    }
}

fn check_metrics(m: Metrics) -> Result<Metrics, UploadError> {
    let Metrics {
        num_examples: examples,
        loss,
        dice,
        val_loss,
        val_dice,
    } = &m;
    if examples.is_some_and(|n| n > 1_000_000_000) {
        return Err(field("num_examples", "must be at most 1000000000"));
    }
    if loss.is_some_and(|l| !l.is_finite()) {
        return Err(field("loss", "must be finite"));
    }
    if dice.is_some_and(|d| !(0.0..=1.0).contains(&d)) {
        return Err(field("dice", "must be between 0 and 1"));
    }
    if val_loss.is_some_and(|l| !l.is_finite() || l < 0.0) {
        return Err(field("val_loss", "must be finite and at least 0"));
    }
    if let Some(classes) = val_dice {
        if classes.is_empty() || classes.len() > MAX_VAL_CLASSES {
            return Err(field(
                "val_dice",
                format!("must list 1 to {MAX_VAL_CLASSES} foreground classes"),
            ));
        }
        if classes.iter().flatten().any(|d| !(0.0..=1.0).contains(d)) {
            return Err(field("val_dice", "every Dice must be between 0 and 1"));
        }
    }
    Ok(m)
}

/// A safetensors upload; `query` metrics win over the file's `__metadata__`.
pub fn decode_safetensors(
    bytes: &[u8],
    model: &ModelConfig,
    query: &MetricFields,
) -> Result<DecodedUpload, UploadError> {
    let file = safetensors::read(bytes)?;
    let values = model.flatten_named(&file.tensors)?;
    let meta = |k: &str| file.metadata.get(k).cloned();
    let fields = MetricFields {
        num_examples: query.num_examples.clone().or_else(|| meta("num_examples")),
        loss: query.loss.clone().or_else(|| meta("loss")),
        dice: query.dice.clone().or_else(|| meta("dice")),
        val_loss: query.val_loss.clone().or_else(|| meta("val_loss")),
        val_dice: query.val_dice.clone().or_else(|| meta("val_dice")),
    };
    Ok(DecodedUpload::new(values, fields.parse()?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonUpload {
    #[serde(alias = "weights", alias = "gradients")]
    tensors: nested_json::JsonTensors,
    #[serde(default)]
    num_examples: Option<u64>,
    #[serde(default)]
    loss: Option<f64>,
    #[serde(default)]
    dice: Option<f64>,
    #[serde(default)]
    val_loss: Option<f64>,
    #[serde(default)]
    val_dice: Option<Vec<Option<f64>>>,
    #[serde(default)]
    metrics: BTreeMap<String, f64>,
}

impl DecodedUpload {
    fn new(values: Vec<f32>, m: Metrics) -> Self {
        Self {
            values,
            num_examples: m.num_examples,
            loss: m.loss,
            dice: m.dice,
            val_loss: m.val_loss,
            val_dice: m.val_dice,
            form: TensorForm::Named,
        }
    }
}

/// `{"tensors" | "weights" | "gradients": {…}, "num_examples", "loss", "dice"}`.
pub fn decode_json(bytes: &[u8], model: &ModelConfig) -> Result<DecodedUpload, UploadError> {
    let body: JsonUpload = match serde_json::from_slice(bytes) {
        Ok(b) => b,
        Err(e) => {
            let text = e.to_string();
            // Ragged or non-numeric tensors: re-read the field alone for the structured error.
            if text.contains(" is ragged at ") || text.contains(" has a non-numeric value ") {
                return Err(tensors_field_error(bytes));
            }
            return Err(TensorError::Json(text).into());
        }
    };
    let values = model.flatten_named(&body.tensors.0)?;
    let metrics = check_metrics(Metrics {
        num_examples: body.num_examples,
        loss: body.loss.or_else(|| body.metrics.get("loss").copied()),
        dice: body.dice.or_else(|| body.metrics.get("dice").copied()),
        val_loss: body
            .val_loss
            .or_else(|| body.metrics.get("val_loss").copied()),
        val_dice: body.val_dice,
    })?;
    Ok(DecodedUpload::new(values, metrics))
}

fn tensors_field_error(bytes: &[u8]) -> UploadError {
    let value: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    let inner = ["tensors", "weights", "gradients"]
        .iter()
        .find_map(|k| value.get(*k))
        .map(|v| v.to_string())
        .unwrap_or_default();
    match nested_json::read_object(inner.as_bytes()) {
        Err(e) => UploadError::Tensor(e),
        Ok(_) => UploadError::Tensor(TensorError::Json("tensors could not be read".into())),
    }
}

/// Bare tensor JSON in any of the three [`TensorForm`]s (the seeds' gradient string).
pub fn decode_tensor_json(text: &[u8], model: &ModelConfig) -> Result<DecodedUpload, UploadError> {
    let first = text.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let (values, form) = match first {
        Some(b'{') => (
            model.flatten_named(&nested_json::read_object(text)?)?,
            TensorForm::Named,
        ),
        Some(b'[') => {
            let list = nested_json::read_list(text)?;
            let flat = list.len() == 1
                && list[0].shape.len() == 1
                && list[0].data.len() == model.parameter_count();
            if flat && model.params().len() != 1 {
                let values = list.into_iter().next().map(|t| t.data).unwrap_or_default();
                if let Some(index) = values.iter().position(|v| !v.is_finite()) {
                    return Err(SpecError::NonFinite {
                        name: "[flat]".into(),
                        index,
                    }
                    .into());
                }
                (values, TensorForm::Flat)
            } else {
                (model.flatten_ordered(&list)?, TensorForm::List)
            }
        }
        _ => {
            return Err(
                TensorError::Json("expected a JSON object or array of tensors".into()).into(),
            )
        }
    };
    Ok(DecodedUpload {
        form,
        ..DecodedUpload::new(values, Metrics::default())
    })
}

/// The flat values of a model written in `form` (inverse of [`decode_tensor_json`]).
pub fn encode_tensor_json(values: &[f32], model: &ModelConfig, form: TensorForm) -> String {
    let named = model.unflatten(values);
    match form {
        TensorForm::Named => nested_json::write_object(&named),
        TensorForm::List => {
            nested_json::write_list(&named.into_iter().map(|(_, t)| t).collect::<Vec<_>>())
        }
        TensorForm::Flat => nested_json::write_list(&[crate::tensor::Tensor::new(
            vec![values.len()],
            values.to_vec(),
        )]),
    }
}

/// The query string of a binary upload's metrics, as [`MetricFields`] reads it:
/// `num_examples=…&loss=…&dice=…[&val_loss=…&val_dice=0.8,-]`.
pub fn metrics_query(
    num_examples: u64,
    loss: f32,
    dice: f64,
    validation: Option<&crate::plan::ValidationScore>,
) -> String {
    let mut q = format!("num_examples={num_examples}&loss={loss}&dice={dice}");
    if let Some(v) = validation {
        let dice: Vec<String> = v
            .foreground()
            .iter()
            .map(|d| d.map_or("-".into(), |d| d.to_string()))
            .collect();
        q += &format!("&val_loss={}&val_dice={}", v.loss, dice.join(","));
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{DType, Tensor};

    fn tiny() -> ModelConfig {
        ModelConfig {
            channels: 1,
            dilations: vec![1],
            classes: 2,
            in_channels: 1,
            batch_norm: false,
            activation: Default::default(),
        }
    }

    fn tiny_values() -> Vec<f32> {
        (0..tiny().parameter_count())
            .map(|i| i as f32 / 10.0)
            .collect()
    }

    #[test]
    fn the_metrics_query_carries_validation_per_class() {
        assert_eq!(
            metrics_query(9, 0.5, 0.25, None),
            "num_examples=9&loss=0.5&dice=0.25"
        );
        let v = crate::plan::ValidationScore {
            loss: 0.75,
            dice: vec![Some(0.9), Some(0.8), None],
        };
        assert_eq!(
            metrics_query(9, 0.5, 0.25, Some(&v)),
            "num_examples=9&loss=0.5&dice=0.25&val_loss=0.75&val_dice=0.8,-"
        );
    }

    #[test]
    fn safetensors_with_metrics_from_query_or_metadata() {
        let m = tiny();
        let meta = BTreeMap::from([
            ("num_examples".to_string(), "7".to_string()),
            ("loss".to_string(), "0.5".to_string()),
        ]);
        let bytes = safetensors::write(&m.unflatten(&tiny_values()), DType::F32, &meta);
        let d = decode_safetensors(&bytes, &m, &MetricFields::default()).unwrap();
        assert_eq!(d.values, tiny_values());
        assert_eq!((d.num_examples, d.loss, d.dice), (Some(7), Some(0.5), None));
        let q = MetricFields {
            num_examples: Some("9".into()),
            dice: Some("0.75".into()),
            ..Default::default()
        };
        let d = decode_safetensors(&bytes, &m, &q).unwrap();
        assert_eq!(
            (d.num_examples, d.loss, d.dice),
            (Some(9), Some(0.5), Some(0.75))
        );
        let bad = MetricFields {
            dice: Some("2".into()),
            ..Default::default()
        };
        assert_eq!(
            decode_safetensors(&bytes, &m, &bad).unwrap_err(),
            field("dice", "must be between 0 and 1")
        );
        let val = MetricFields {
            val_loss: Some("0.25".into()),
            val_dice: Some("0.8, -,0.5".into()),
            ..Default::default()
        };
        let d = decode_safetensors(&bytes, &m, &val).unwrap();
        assert_eq!(d.val_loss, Some(0.25));
        assert_eq!(d.val_dice, Some(vec![Some(0.8), None, Some(0.5)]));
        for (text, reason) in [
            ("0.8,x", "must be numbers (or -) separated by commas"),
            ("0.8,1.5", "every Dice must be between 0 and 1"),
        ] {
            let bad = MetricFields {
                val_dice: Some(text.into()),
                ..Default::default()
            };
            assert_eq!(
                decode_safetensors(&bytes, &m, &bad).unwrap_err(),
                field("val_dice", reason)
            );
        }
        let bad = MetricFields {
            val_loss: Some("-1".into()),
            ..Default::default()
        };
        assert!(decode_safetensors(&bytes, &m, &bad).is_err());
        let f16 = safetensors::write(&m.unflatten(&tiny_values()), DType::F16, &BTreeMap::new());
        let d = decode_safetensors(&f16, &m, &MetricFields::default()).unwrap();
        assert!((d.values[3] - 0.3).abs() < 1e-3);
    }

    #[test]
    fn errors_map_to_400_or_422_naming_the_tensor() {
        let m = tiny();
        let api: ApiError = decode_safetensors(b"garbage", &m, &MetricFields::default())
            .unwrap_err()
            .into();
        assert_eq!(api.http_status(), 400);
        let mut named = m.unflatten(&tiny_values());
        named[1].1 = Tensor::new(vec![2], vec![0.0, 1.0]);
        let bytes = safetensors::write(&named, DType::F32, &BTreeMap::new());
        let api: ApiError = decode_safetensors(&bytes, &m, &MetricFields::default())
            .unwrap_err()
            .into();
        assert_eq!(api.http_status(), 422);
        assert_eq!(api.details.unwrap()["tensor"], "model.0.0.bias");
        let ragged = br#"{"weights": {"model.0.0.weight": [[1], [2, 3]]}}"#;
        let api: ApiError = decode_json(ragged, &m).unwrap_err().into();
        assert_eq!(
            (api.http_status(), api.details.unwrap()["tensor"].clone()),
            (422, "model.0.0.weight".into())
        );
        let api: ApiError = decode_json(b"{\"weights\": ", &m).unwrap_err().into();
        assert_eq!(api.http_status(), 400);
    }

    #[test]
    fn json_upload_with_metrics() {
        let m = tiny();
        let text = format!(
            r#"{{"weights": {}, "num_examples": 3, "metrics": {{"loss": 0.25, "dice": 0.5}}}}"#,
            nested_json::write_object(&m.unflatten(&tiny_values()))
        );
        let d = decode_json(text.as_bytes(), &m).unwrap();
        assert_eq!(d.values, tiny_values());
        assert_eq!(
            (d.num_examples, d.loss, d.dice),
            (Some(3), Some(0.25), Some(0.5))
        );
        assert_eq!(d.metrics().num_examples, 3);
    }

    #[test]
    fn tensor_json_in_three_forms_round_trips() {
        let m = tiny();
        for form in [TensorForm::Named, TensorForm::List, TensorForm::Flat] {
            let text = encode_tensor_json(&tiny_values(), &m, form);
            let d = decode_tensor_json(text.as_bytes(), &m).unwrap();
            assert_eq!((d.values.clone(), d.form), (tiny_values(), form), "{text}");
        }
        assert!(decode_tensor_json(b"[1, 2]", &m).is_err());
        assert!(decode_tensor_json(b"\"x\"", &m).is_err());
    }
}
