//! Identity routes (`/api/auth/…`, JWKS).

use serde_json::json;

use worker::Method;

use super::{handle, Access, Audience, Route};
use crate::auth::{login, mfa, register, session};
use meshfed_shared::api::auth::{
    Confirmation, LoginChallenge, LoginRequest, MfaSetup, RegisterRequest, TokenSet, UserProfile,
};

use crate::auth::mfa::MfaRequest;
use crate::auth::register::{ConfirmRequest, ResendRequest};
use crate::auth::session::RefreshRequest;
use crate::openapi::{dto, failure, success};

pub(crate) const ROUTES: &[Route] = &[
    Route {
        method: Method::Post,
        path: "/api/auth/register",
        audience: Audience::Api,
        access: Access::Public,
        rate: Some("register"),
        handler: handle!(register::register),
        summary: "Register (seed 003 rules); a 6-digit confirmation code is emailed",
        responses: || {
            vec![
                (201, success(dto::<UserProfile>())),
                (400, failure()),
                (409, failure()),
            ]
        },
        request: Some(dto::<RegisterRequest>),
    },
    Route {
        method: Method::Post,
        path: "/api/auth/confirm",
        audience: Audience::Api,
        access: Access::Public,
        rate: Some("auth"),
        handler: handle!(register::confirm),
        summary: "Confirm with the emailed code; returns the BIP39 mnemonic this once",
        responses: || {
            vec![
                (200, success(dto::<Confirmation>())),
                (400, failure()),
                (401, failure()),
            ]
        },
        request: Some(dto::<ConfirmRequest>),
    },
    Route {
        method: Method::Post,
        path: "/api/auth/confirm/resend",
        audience: Audience::Api,
        access: Access::Public,
        rate: Some("auth"),
        handler: handle!(register::resend),
        summary: "Email a new confirmation code (same answer whether or not the account exists)",
        responses: || vec![(200, success(json!({"type": "object"})))],
        request: Some(dto::<ResendRequest>),
    },
    Route {
        method: Method::Post,
        path: "/api/auth/login",
        audience: Audience::Api,
        access: Access::Public,
        rate: Some("login"),
        handler: handle!(login::login),
        summary: "Sign in by username or email: tokens, or an MFA challenge with a one-use session",
        responses: || {
            vec![
                (
                    200,
                    success(json!({"oneOf": [dto::<TokenSet>(), dto::<LoginChallenge>()]})),
                ),
                (400, failure()),
                (401, failure()),
                (403, failure()),
                (423, failure()),
            ]
        },
        request: Some(dto::<LoginRequest>),
    },
    Route {
        method: Method::Post,
        path: "/api/auth/mfa/setup",
        audience: Audience::Api,
        access: Access::TokenOrSession,
        rate: Some("auth"),
        handler: handle!(mfa::setup),
        summary: "Start TOTP setup (access token, or the MFA_SETUP session): secret, QR, backup \
                  codes; replacing a working MFA needs the password and a current code",
        responses: || {
            vec![
                (200, success(dto::<MfaSetup>())),
                (400, failure()),
                (401, failure()),
                (423, failure()),
            ]
        },
        request: Some(dto::<MfaRequest>),
    },
    Route {
        method: Method::Post,
        path: "/api/auth/mfa/verify",
        audience: Audience::Api,
        access: Access::TokenOrSession,
        rate: Some("auth"),
        handler: handle!(mfa::verify),
        summary: "Verify a code and enable MFA; with a sign-in session, returns tokens",
        responses: || {
            vec![
                (
                    200,
                    success(json!({"oneOf": [dto::<TokenSet>(), {"type": "object",
                    "required": ["mfa_enabled"], "properties": {"mfa_enabled": {"const": true}}}]})),
                ),
                (400, failure()),
                (401, failure()),
            ]
        },
        request: Some(dto::<MfaRequest>),
    },
    Route {
        method: Method::Post,
        path: "/api/auth/mfa/challenge",
        audience: Audience::Api,
        access: Access::Public,
        rate: Some("auth"),
        handler: handle!(mfa::challenge),
        summary: "Answer the SOFTWARE_TOKEN_MFA challenge with a TOTP or backup code (5 wrong \
                  codes per account lock the second factor: 423)",
        responses: || {
            vec![
                (200, success(dto::<TokenSet>())),
                (400, failure()),
                (401, failure()),
                (423, failure()),
            ]
        },
        request: Some(dto::<MfaRequest>),
    },
    Route {
        method: Method::Post,
        path: "/api/auth/mfa/disable",
        audience: Audience::Api,
        access: Access::Token,
        rate: Some("auth"),
        handler: handle!(mfa::disable),
        summary: "Disable MFA (access token, password, code) where MFA is optional",
        responses: || {
            vec![
                (200, success(json!({"type": "object"}))),
                (401, failure()),
                (403, failure()),
                (423, failure()),
            ]
        },
        request: Some(dto::<MfaRequest>),
    },
    Route {
        method: Method::Post,
        path: "/api/auth/refresh",
        audience: Audience::Api,
        access: Access::Public,
        rate: Some("refresh"),
        handler: handle!(session::refresh),
        summary: "Rotate a refresh token; presenting a used one revokes its whole family",
        responses: || {
            vec![
                (200, success(dto::<TokenSet>())),
                (400, failure()),
                (401, failure()),
            ]
        },
        request: Some(dto::<RefreshRequest>),
    },
    Route {
        method: Method::Post,
        path: "/api/auth/logout",
        audience: Audience::Api,
        access: Access::Token,
        rate: Some("auth"),
        handler: handle!(session::logout),
        summary: "Revoke the refresh token's family and deny this access token until it expires",
        responses: || vec![(200, success(json!({"type": "object"}))), (401, failure())],
        request: None,
    },
    Route {
        method: Method::Post,
        path: "/api/auth/logout-all",
        audience: Audience::Api,
        access: Access::Token,
        rate: Some("auth"),
        handler: handle!(session::logout_all),
        summary: "Revoke every session of the caller",
        responses: || vec![(200, success(json!({"type": "object"}))), (401, failure())],
        request: None,
    },
    Route {
        method: Method::Get,
        path: "/api/auth/me",
        audience: Audience::Api,
        access: Access::Token,
        rate: Some("auth"),
        handler: handle!(session::me),
        summary: "The caller's profile",
        responses: || vec![(200, success(dto::<UserProfile>())), (401, failure())],
        request: None,
    },
    Route {
        method: Method::Get,
        path: "/.well-known/jwks.json",
        audience: Audience::Api,
        access: Access::Public,
        rate: None,
        handler: handle!(|_req, env, cfg, _p| session::jwks(env, cfg).await),
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
