//! The training plan's schema (`shared::plan::TrainingPlan`): in full as runs show it, and as
//! the partial object `POST /api/runs` and `PATCH /api/runs/{id}` take.

use serde_json::{json, Value};

fn kinds(variants: &[(&str, &[&str])]) -> Value {
    let one_of: Vec<Value> = variants
        .iter()
        .map(|(kind, fields)| {
            let mut props = json!({"kind": {"const": kind}});
            for f in *fields {
                props[*f] = json!({"type": "number"});
            }
            let mut required = vec!["kind"];
            required.extend_from_slice(fields);
            json!({"type": "object", "additionalProperties": false,
                   "required": required, "properties": props})
        })
        .collect();
    json!({ "oneOf": one_of })
}

fn properties() -> Value {
    let adaptive: &[&str] = &["learning_rate", "beta1", "beta2", "tau"];
    json!({
        "rounds": {"type": "integer", "minimum": 1, "description": "the cosine schedule's length"},
        "local_steps": {"type": "integer", "minimum": 1},
        "patch": {"type": "integer", "minimum": 8, "maximum": 128},
        "batch": {"type": "integer", "minimum": 1, "maximum": 32},
        "learning_rate": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "schedule": kinds(&[("constant", &[]), ("cosine", &["floor"])]),
        "optimizer": kinds(&[("adam", &[]), ("sgd", &["momentum"])]),
        "flip": {"type": "boolean"},
        "tissue_fraction": {"type": "number", "minimum": 0, "maximum": 1},
        "fix_batch_norm_from": {"type": ["integer", "null"], "minimum": 1,
            "description": "FixBN from this round on; null: never"},
        "server": kinds(&[
            ("fedavg", &[]),
            ("fedavgm", &["learning_rate", "momentum"]),
            ("fedadam", adaptive),
            ("fedyogi", adaptive),
        ]),
        "holdout": {"type": "object", "additionalProperties": false,
            "required": ["axis", "fraction"], "properties": {
                "axis": {"enum": ["x", "y", "z"]},
                "fraction": {"type": "number", "minimum": 0, "maximum": 0.9}}},
        "uploads": {"enum": ["weights", "gradients", "first_upload"],
            "description": "what every round collects; first_upload: a round's first upload decides (the seeds' runs)"},
        "max_num_examples": {"type": ["integer", "null"], "minimum": 1,
            "description": "the most examples one upload weighs in FedAvg; null: 10 times the round's median"},
        "clip_norm": {"type": ["number", "null"], "exclusiveMinimum": 0,
            "description": "each update (upload minus the round's global model; a gradient as it is) is clipped to this norm; null: not clipped"},
        "dp": {"oneOf": [dp(), {"type": "null"}],
            "description": "DP-FedAvg: participants clip to clip_norm and add Gaussian noise of noise_multiplier x clip_norm; fixed at creation; needs aggregation mean"}
    })
}

/// A plan's differential privacy (`shared::privacy::DifferentialPrivacy`).
fn dp() -> Value {
    json!({"type": "object", "additionalProperties": false,
           "required": ["noise_multiplier", "clip_norm", "delta"],
           "properties": {
               "noise_multiplier": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
               "clip_norm": {"type": "number", "exclusiveMinimum": 0},
               "delta": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.1},
               "epsilon_budget": {"type": ["number", "null"], "exclusiveMinimum": 0}}})
}

/// What a run has spent of its privacy (`shared::privacy::PrivacySpent`).
pub fn privacy_spent() -> Value {
    json!({"type": "object",
           "required": ["noise_multiplier", "clip_norm", "delta", "epsilon_budget", "epsilon",
                        "rounds_closed", "last_round"],
           "properties": {
               "epsilon": {"type": "number", "minimum": 0,
                   "description": "epsilon at delta after the closed rounds (RDP accountant)"},
               "rounds_closed": {"type": "integer", "minimum": 0},
               "last_round": {"type": ["integer", "null"],
                   "description": "the last round the epsilon budget covers; null: no budget"},
               "epsilon_budget": {"type": ["number", "null"]}}})
}

/// A plan as stored: every field.
pub fn plan() -> Value {
    let props = properties();
    let required: Vec<&String> = props
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .collect();
    json!({"type": "object", "additionalProperties": false, "required": required,
           "properties": props})
}

/// A plan as requests give it: any subset, laid over the defaults or the latest version.
pub fn plan_request() -> Value {
    json!({"type": "object", "additionalProperties": false, "properties": properties()})
}

/// A version of a run's plan.
pub fn plan_version() -> Value {
    json!({"type": "object", "required": ["version", "from_round", "summary", "plan"],
           "properties": {"version": {"type": "integer"}, "from_round": {"type": "integer"},
                          "summary": {"type": "string"}, "plan": plan()}})
}
