//! The component schemas of the OpenAPI document: the two envelopes, and every body type the
//! routes name, derived from the DTOs themselves (`schemars`), so the document describes what
//! the code serializes and parses.

use meshfed_shared::api::auth::{
    AuditEntry, Confirmation, DirectoryEntry, LoginChallenge, LoginRequest, MfaSetup,
    RegisterRequest, TokenSet, UserProfile,
};
use meshfed_shared::api::runs::{
    ActivateRequest, CreateRunRequest, PartReceipt, PartsRequest, PartsSession, RevealRequest,
    RunDetail, RunSummary, SecureRound, SharesRequest, UpdateRunRequest, UploadReceipt,
};
use meshfed_shared::health::HealthReport;
use meshfed_shared::secagg::identity::SignedKeys;
use meshfed_shared::tensor::nested_json::JsonTensors;
use meshfed_shared::ErrorCode;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use crate::auth::account::{
    ChangePassword, CodeOnly, ForgotPassword, MnemonicCheck, ProfileUpdate, ResetPassword,
};
use crate::auth::mfa::MfaRequest;
use crate::auth::register::{ConfirmRequest, ResendRequest};
use crate::auth::session::RefreshRequest;
use crate::backup::Capability;
use crate::dev::ProbeState;
use crate::store::dev_outbox::OutboxMessage;

/// A reference to the component schema of `T` (registered by [`schemas`]).
pub(crate) fn dto<T: JsonSchema>() -> Value {
    super::schema_ref(&T::schema_name())
}

/// Every DTO the routes name, and the types they contain.
fn derived() -> Map<String, Value> {
    let mut generator: SchemaGenerator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator();
    let g = &mut generator;
    macro_rules! register {
        ($($t:ty),* $(,)?) => { $( g.subschema_for::<$t>(); )* };
    }
    register! {
        HealthReport, RegisterRequest, UserProfile, Confirmation, LoginRequest,
        TokenSet, LoginChallenge, MfaRequest, MfaSetup, DirectoryEntry, AuditEntry,
        ProfileUpdate, CodeOnly, ChangePassword, ForgotPassword, ResetPassword,
        MnemonicCheck, Capability, RunSummary, RunDetail, CreateRunRequest,
        UpdateRunRequest, ActivateRequest, UploadReceipt, JsonTensors, PartsRequest,
        PartsSession, PartReceipt, SecureRound, SignedKeys, SharesRequest, RevealRequest,
        OutboxMessage, ProbeState, ConfirmRequest, ResendRequest, RefreshRequest,
    }
    generator.take_definitions(true)
}

pub fn schemas() -> Value {
    let mut all = derived();
    for (name, schema) in envelopes() {
        all.insert(name.into(), schema);
    }
    Value::Object(all)
}

fn envelopes() -> [(&'static str, Value); 2] {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    [
        (
            "SuccessEnvelope",
            json!({
                "type": "object",
                "required": ["success", "data", "message", "timestamp"],
                "properties": {
                    "success": {"const": true},
                    "data": {},
                    "message": {"type": "string"},
                    "timestamp": {"type": "string", "format": "date-time"}
                }
            }),
        ),
        (
            "FailureEnvelope",
            json!({
                "type": "object",
                "required": ["success", "error", "timestamp"],
                "additionalProperties": false,
                "properties": {
                    "success": {"const": false},
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "additionalProperties": false,
                        "properties": {
                            "code": {"enum": codes},
                            "message": {"type": "string"},
                            "details": {}
                        }
                    },
                    "timestamp": {"type": "string", "format": "date-time"}
                }
            }),
        ),
    ]
}
