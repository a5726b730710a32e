//! Account routes (`/api/auth/…`): profile, email change, passwords, the recovery mnemonic.

use serde_json::json;
use worker::Method;

use super::{handle, Access, Audience, Route};
use meshfed_shared::api::auth::{TokenSet, UserProfile};

use crate::auth::account::{
    self, ChangePassword, CodeOnly, ForgotPassword, MnemonicCheck, ProfileUpdate, ResetPassword,
};
use crate::openapi::{dto, failure, success};

pub(crate) const ROUTES: &[Route] = &[
    Route {
        method: Method::Put,
        path: "/api/auth/profile",
        audience: Audience::Api,
        access: Access::Token,
        rate: Some("auth"),
        handler: handle!(account::update_profile),
        summary:
            "Change my name or organization; a new email (with my password) waits for its code",
        responses: || {
            vec![
                (200, success(dto::<UserProfile>())),
                (400, failure()),
                (401, failure()),
            ]
        },
        request: Some(dto::<ProfileUpdate>),
    },
    Route {
        method: Method::Post,
        path: "/api/auth/profile/email/confirm",
        audience: Audience::Api,
        access: Access::Token,
        rate: Some("auth"),
        handler: handle!(account::confirm_email),
        summary: "Confirm a new email with the code sent to it",
        responses: || {
            vec![
                (200, success(dto::<UserProfile>())),
                (400, failure()),
                (401, failure()),
            ]
        },
        request: Some(dto::<CodeOnly>),
    },
    Route {
        method: Method::Post,
        path: "/api/auth/change-password",
        audience: Audience::Api,
        access: Access::Token,
        rate: Some("auth"),
        handler: handle!(account::change_password),
        summary: "Change my password: other sessions end, fresh tokens for this one",
        responses: || {
            vec![
                (200, success(dto::<TokenSet>())),
                (400, failure()),
                (401, failure()),
            ]
        },
        request: Some(dto::<ChangePassword>),
    },
    Route {
        method: Method::Post,
        path: "/api/auth/forgot-password",
        audience: Audience::Api,
        access: Access::Public,
        rate: Some("forgot-password"),
        handler: handle!(account::forgot_password),
        summary: "Email a password reset code (the same answer whether or not the account exists)",
        responses: || {
            vec![
                (200, success(json!({"type": "object"}))),
                (400, failure()),
                (429, failure()),
            ]
        },
        request: Some(dto::<ForgotPassword>),
    },
    Route {
        method: Method::Post,
        path: "/api/auth/reset-password",
        audience: Audience::Api,
        access: Access::Public,
        rate: Some("auth"),
        handler: handle!(account::reset_password),
        summary: "Set a new password with the emailed code; every session ends",
        responses: || {
            vec![
                (200, success(json!({"type": "object"}))),
                (400, failure()),
                (401, failure()),
            ]
        },
        request: Some(dto::<ResetPassword>),
    },
    Route {
        method: Method::Post,
        path: "/api/auth/mnemonic/check",
        audience: Audience::Api,
        access: Access::Token,
        rate: Some("auth"),
        handler: handle!(account::check_mnemonic),
        summary: "Whether a SHA3-256 (hex) of my recovery mnemonic matches the one issued",
        responses: || {
            let matches = json!({"type": "object", "required": ["matches"],
                "properties": {"matches": {"type": "boolean"}}});
            vec![(200, success(matches)), (400, failure()), (401, failure())]
        },
        request: Some(dto::<MnemonicCheck>),
    },
];
