//! Identity routes (`/api/auth/…`, JWKS).

use serde_json::json;

use super::{failure, schema_ref, success, Route};

pub(crate) const ROUTES: &[Route] = &[
    Route {
        method: "post",
        path: "/api/auth/register",
        dev_only: false,
        summary: "Register (seed 003 rules); a 6-digit confirmation code is emailed",
        responses: || {
            vec![
                (201, success(schema_ref("UserProfile"))),
                (400, failure()),
                (409, failure()),
            ]
        },
        request: Some(|| schema_ref("RegisterRequest")),
    },
    Route {
        method: "post",
        path: "/api/auth/confirm",
        dev_only: false,
        summary: "Confirm with the emailed code; returns the BIP39 mnemonic this once",
        responses: || {
            vec![
                (200, success(schema_ref("Confirmation"))),
                (400, failure()),
                (401, failure()),
            ]
        },
        request: Some(|| {
            json!({"type": "object", "required": ["username", "code"],
                   "properties": {"username": {"type": "string"}, "code": {"type": "string"}}})
        }),
    },
    Route {
        method: "post",
        path: "/api/auth/confirm/resend",
        dev_only: false,
        summary: "Email a new confirmation code (same answer whether or not the account exists)",
        responses: || vec![(200, success(json!({"type": "object"})))],
        request: Some(|| {
            json!({"type": "object", "required": ["username"],
                   "properties": {"username": {"type": "string"}}})
        }),
    },
    Route {
        method: "post",
        path: "/api/auth/login",
        dev_only: false,
        summary: "Sign in by username or email: tokens, or an MFA challenge with a one-use session",
        responses: || {
            vec![
                (
                    200,
                    success(
                        json!({"oneOf": [schema_ref("TokenSet"), schema_ref("LoginChallenge")]}),
                    ),
                ),
                (400, failure()),
                (401, failure()),
                (403, failure()),
                (423, failure()),
            ]
        },
        request: Some(|| schema_ref("LoginRequest")),
    },
    Route {
        method: "post",
        path: "/api/auth/mfa/setup",
        dev_only: false,
        summary: "Start TOTP setup (access token, or the MFA_SETUP session): secret, QR, backup \
                  codes; replacing a working MFA needs the password and a current code",
        responses: || {
            vec![
                (200, success(schema_ref("MfaSetup"))),
                (400, failure()),
                (401, failure()),
                (423, failure()),
            ]
        },
        request: Some(|| schema_ref("MfaRequest")),
    },
    Route {
        method: "post",
        path: "/api/auth/mfa/verify",
        dev_only: false,
        summary: "Verify a code and enable MFA; with a sign-in session, returns tokens",
        responses: || {
            vec![
                (
                    200,
                    success(json!({"oneOf": [schema_ref("TokenSet"), {"type": "object",
                    "required": ["mfa_enabled"], "properties": {"mfa_enabled": {"const": true}}}]})),
                ),
                (400, failure()),
                (401, failure()),
            ]
        },
        request: Some(|| schema_ref("MfaRequest")),
    },
    Route {
        method: "post",
        path: "/api/auth/mfa/challenge",
        dev_only: false,
        summary: "Answer the SOFTWARE_TOKEN_MFA challenge with a TOTP or backup code (5 wrong \
                  codes per account lock the second factor: 423)",
        responses: || {
            vec![
                (200, success(schema_ref("TokenSet"))),
                (400, failure()),
                (401, failure()),
                (423, failure()),
            ]
        },
        request: Some(|| schema_ref("MfaRequest")),
    },
    Route {
        method: "post",
        path: "/api/auth/mfa/disable",
        dev_only: false,
        summary: "Disable MFA (access token, password, code) where MFA is optional",
        responses: || {
            vec![
                (200, success(json!({"type": "object"}))),
                (401, failure()),
                (403, failure()),
                (423, failure()),
            ]
        },
        request: Some(|| schema_ref("MfaRequest")),
    },
    Route {
        method: "post",
        path: "/api/auth/refresh",
        dev_only: false,
        summary: "Rotate a refresh token; presenting a used one revokes its whole family",
        responses: || {
            vec![
                (200, success(schema_ref("TokenSet"))),
                (400, failure()),
                (401, failure()),
            ]
        },
        request: Some(|| {
            json!({"type": "object", "required": ["refresh_token"],
                               "properties": {"refresh_token": {"type": "string"}}})
        }),
    },
    Route {
        method: "post",
        path: "/api/auth/logout",
        dev_only: false,
        summary: "Revoke the refresh token's family and deny this access token until it expires",
        responses: || vec![(200, success(json!({"type": "object"}))), (401, failure())],
        request: None,
    },
    Route {
        method: "post",
        path: "/api/auth/logout-all",
        dev_only: false,
        summary: "Revoke every session of the caller",
        responses: || vec![(200, success(json!({"type": "object"}))), (401, failure())],
        request: None,
    },
    Route {
        method: "get",
        path: "/api/auth/me",
        dev_only: false,
        summary: "The caller's profile",
        responses: || vec![(200, success(schema_ref("UserProfile"))), (401, failure())],
        request: None,
    },
    Route {
        method: "get",
        path: "/.well-known/jwks.json",
        dev_only: false,
        summary: "Public keys (Ed25519, EdDSA) that verify Meshfed's JWTs",
        responses: || {
            vec![(
                200,
                json!({"type": "object", "required": ["keys"],
            "properties": {"keys": {"type": "array", "minItems": 1, "items": {"type": "object",
                "required": ["kty", "crv", "x", "kid", "alg"],
                "properties": {"kty": {"const": "OKP"}, "crv": {"const": "Ed25519"},
                               "alg": {"const": "EdDSA"}}}}}}),
            )]
        },
        request: None,
    },
];
