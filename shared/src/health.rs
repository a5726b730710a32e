//! `GET /api/health`: the version and a live check of each binding the Worker depends on.

use serde::{Deserialize, Serialize};

/// One binding's live check (D1 query, R2 head, Durable Object ping).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BindingCheck {
    /// `"d1"`, `"r2"` or `"durable_object"`.
    pub name: String,
    pub ok: bool,
    /// Wall time of the check as the Worker saw it.
    pub latency_ms: f64,
    /// A short, non-sensitive reason when `ok` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HealthReport {
    /// `"ok"` when every check passed, else `"degraded"`.
    pub status: String,
    pub version: String,
    /// The Worker's `ENVIRONMENT` variable (`development` or `production`).
    pub environment: String,
    pub checks: Vec<BindingCheck>,
}

impl HealthReport {
    pub fn new(version: &str, environment: &str, checks: Vec<BindingCheck>) -> Self {
        let status = if checks.iter().all(|c| c.ok) {
            "ok"
        } else {
            "degraded"
        };
        Self {
            status: status.into(),
            version: version.into(),
            environment: environment.into(),
            checks,
        }
    }

    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, ok: bool) -> BindingCheck {
        BindingCheck {
            name: name.into(),
            ok,
            latency_ms: 1.0,
            error: None,
        }
    }

    #[test]
    fn ok_only_when_every_check_passes() {
        assert!(HealthReport::new("0.1.0", "development", vec![check("d1", true)]).is_ok());
        let r = HealthReport::new("0.1.0", "dev", vec![check("d1", true), check("r2", false)]);
        assert_eq!(r.status, "degraded");
        assert!(!r.is_ok());
    }
}
