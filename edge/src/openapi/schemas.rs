//! The component schemas of the OpenAPI document.

use meshfed_shared::ErrorCode;
use serde_json::{json, Value};

pub fn schemas() -> Value {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    json!({
        "SuccessEnvelope": {
            "type": "object",
            "required": ["success", "data", "message", "timestamp"],
            "properties": {
                "success": {"const": true},
                "data": {},
                "message": {"type": "string"},
                "timestamp": {"type": "string", "format": "date-time"}
            }
        },
        "FailureEnvelope": {
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
        },
        "HealthReport": {
            "type": "object",
            "required": ["status", "version", "environment", "checks"],
            "additionalProperties": false,
            "properties": {
                "status": {"enum": ["ok", "degraded"]},
                "version": {"type": "string"},
                "environment": {"type": "string"},
                "checks": {"type": "array", "items": {
                    "type": "object",
                    "required": ["name", "ok", "latency_ms"],
                    "additionalProperties": false,
                    "properties": {
                        "name": {"enum": ["d1", "r2", "durable_object"]},
                        "ok": {"type": "boolean"},
                        "latency_ms": {"type": "number", "minimum": 0},
                        "error": {"type": "string"}
                    }
                }}
            }
        },
        "RegisterRequest": {
            "type": "object",
            "required": ["username", "email", "password"],
            "properties": {
                "username": {"type": "string", "minLength": 3, "maxLength": 50,
                             "pattern": "^[A-Za-z0-9_]+$"},
                "email": {"type": "string", "format": "email"},
                "password": {"type": "string", "minLength": 8, "writeOnly": true},
                "first_name": {"type": "string", "minLength": 1, "maxLength": 100},
                "last_name": {"type": "string", "minLength": 1, "maxLength": 100},
                "name": {"type": "string", "description": "seed 002: split into first and last"},
                "organization": {"type": "string", "minLength": 1, "maxLength": 200}
            }
        },
        "UserProfile": {
            "type": "object",
            "required": ["id", "username", "email", "first_name", "last_name", "organization",
                         "roles", "permissions", "created_at", "last_login", "is_active",
                         "is_confirmed", "mfa_enabled"],
            "additionalProperties": false,
            "properties": {
                "id": {"type": "string"},
                "username": {"type": "string"},
                "email": {"type": "string"},
                "first_name": {"type": "string"},
                "last_name": {"type": "string"},
                "organization": {"type": ["string", "null"]},
                "roles": {"type": "array", "items": {"type": "string"}},
                "permissions": {"type": "array", "items": {"type": "string"}},
                "created_at": {"type": "string", "format": "date-time"},
                "last_login": {"type": ["string", "null"], "format": "date-time"},
                "is_active": {"type": "boolean"},
                "is_confirmed": {"type": "boolean"},
                "mfa_enabled": {"type": "boolean"}
            }
        },
        "Confirmation": {
            "type": "object",
            "required": ["username", "email", "mnemonic", "public_key", "private_key", "roles"],
            "additionalProperties": false,
            "properties": {
                "username": {"type": "string"},
                "email": {"type": "string"},
                "mnemonic": {"type": "string", "description": "12 BIP39 words, shown once"},
                "public_key": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "private_key": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "roles": {"type": "array", "items": {"type": "string"}}
            }
        },
        "LoginRequest": {
            "type": "object",
            "required": ["username", "password"],
            "properties": {
                "username": {"type": "string", "description": "username or email"},
                "password": {"type": "string", "writeOnly": true},
                "mfa_token": {"type": "string", "description": "TOTP code, when MFA is on"}
            }
        },
        "UserSummary": {
            "type": "object",
            "required": ["id", "username", "email", "roles", "permissions"],
            "additionalProperties": false,
            "properties": {
                "id": {"type": "string"}, "username": {"type": "string"},
                "email": {"type": "string"},
                "roles": {"type": "array", "items": {"type": "string"}},
                "permissions": {"type": "array", "items": {"type": "string"}}
            }
        },
        "TokenSet": {
            "type": "object",
            "required": ["access_token", "id_token", "refresh_token", "token_type", "expires_in", "user"],
            "additionalProperties": false,
            "properties": {
                "access_token": {"type": "string"},
                "id_token": {"type": "string"},
                "refresh_token": {"type": "string"},
                "token_type": {"const": "bearer"},
                "expires_in": {"type": "integer"},
                "user": {"$ref": "#/components/schemas/UserSummary"}
            }
        },
        "LoginChallenge": {
            "type": "object",
            "required": ["requires_mfa", "challenge", "session", "temp_token", "mfa_methods"],
            "additionalProperties": false,
            "properties": {
                "requires_mfa": {"const": true},
                "challenge": {"enum": ["MFA_SETUP", "SOFTWARE_TOKEN_MFA"]},
                "session": {"type": "string"},
                "temp_token": {"type": "string"},
                "mfa_methods": {"type": "array", "items": {"type": "string"}}
            }
        },
        "MfaRequest": {
            "type": "object",
            "properties": {
                "session": {"type": "string"}, "username": {"type": "string"},
                "code": {"type": "string"}, "token": {"type": "string"},
                "password": {"type": "string", "writeOnly": true}
            }
        },
        "MfaSetup": {
            "type": "object",
            "required": ["secret", "otpauth_uri", "qr_code", "backup_codes"],
            "additionalProperties": false,
            "properties": {
                "secret": {"type": "string", "pattern": "^[A-Z2-7]{32}$"},
                "otpauth_uri": {"type": "string", "pattern": "^otpauth://totp/"},
                "qr_code": {"type": "string", "pattern": "^data:image/svg\\+xml;base64,"},
                "backup_codes": {"type": "array", "minItems": 10, "maxItems": 10,
                                 "items": {"type": "string", "pattern": "^[0-9]{8}$"}},
                "session": {"type": "string"}
            }
        },
        "OutboxMessage": {
            "type": "object",
            "required": ["to", "subject", "body", "created_at"],
            "additionalProperties": false,
            "properties": {
                "to": {"type": "string"},
                "subject": {"type": "string"},
                "body": {"type": "string"},
                "created_at": {"type": "integer"}
            }
        },
        "ProbeState": {
            "type": "object",
            "required": ["key", "d1_note", "r2_bytes", "counter"],
            "additionalProperties": false,
            "properties": {
                "key": {"type": "string"},
                "d1_note": {"type": ["string", "null"]},
                "r2_bytes": {"type": ["integer", "null"], "minimum": 0},
                "counter": {"type": "integer", "minimum": 0}
            }
        }
    })
}
