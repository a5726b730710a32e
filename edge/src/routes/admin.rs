//! Administration routes and the user directory.

use meshfed_shared::api::auth::{AuditEntry, DirectoryEntry, UserProfile};
use serde_json::json;
use worker::Method;

use super::{handle, Access, Audience, Route};
use crate::auth::admin;
use crate::openapi::{dto, failure, success};

fn users_list() -> serde_json::Value {
    success(json!({"type": "array", "items": dto::<UserProfile>()}))
}

pub(crate) const ROUTES: &[Route] = &[
    Route {
        method: Method::Get,
        path: "/api/users",
        audience: Audience::Api,
        access: Access::Permission(admin::READ_USERS),
        rate: None,
        handler: handle!(admin::directory),
        summary: "Confirmed, active users' usernames and emails (read:users), to invite to runs",
        responses: || {
            vec![
                (
                    200,
                    success(json!({"type": "array", "items": dto::<DirectoryEntry>()})),
                ),
                (401, failure()),
                (403, failure()),
            ]
        },
        request: None,
    },
    Route {
        method: Method::Get,
        path: "/api/admin/users",
        audience: Audience::Api,
        access: Access::Permission(admin::ADMIN),
        rate: None,
        handler: handle!(admin::list_users),
        summary: "Every user (admin:users)",
        responses: || vec![(200, users_list()), (401, failure()), (403, failure())],
        request: None,
    },
    Route {
        method: Method::Post,
        path: "/api/admin/users/{id}/disable",
        audience: Audience::Api,
        access: Access::Permission(admin::ADMIN),
        rate: None,
        handler: handle!(
            |req, env, cfg, p| admin::set_disabled(req, env, cfg, p.get("id"), true).await
        ),
        summary: "Disable an account and revoke its sessions (admin:users)",
        responses: || {
            vec![
                (200, success(dto::<UserProfile>())),
                (403, failure()),
                (404, failure()),
            ]
        },
        request: None,
    },
    Route {
        method: Method::Post,
        path: "/api/admin/users/{id}/enable",
        audience: Audience::Api,
        access: Access::Permission(admin::ADMIN),
        rate: None,
        handler: handle!(
            |req, env, cfg, p| admin::set_disabled(req, env, cfg, p.get("id"), false).await
        ),
        summary: "Enable an account (admin:users)",
        responses: || {
            vec![
                (200, success(dto::<UserProfile>())),
                (403, failure()),
                (404, failure()),
            ]
        },
        request: None,
    },
    Route {
        method: Method::Post,
        path: "/api/admin/users/{id}/mfa/reset",
        audience: Audience::Api,
        access: Access::Permission(admin::ADMIN),
        rate: None,
        handler: handle!(|req, env, cfg, p| admin::reset_mfa(req, env, cfg, p.get("id")).await),
        summary: "Remove a user's MFA so they set it up again at the next login (admin:users)",
        responses: || {
            vec![
                (200, success(dto::<UserProfile>())),
                (403, failure()),
                (404, failure()),
            ]
        },
        request: None,
    },
    Route {
        method: Method::Get,
        path: "/api/admin/audit",
        audience: Audience::Api,
        access: Access::Permission(admin::ADMIN),
        rate: None,
        handler: handle!(admin::audit_log),
        summary: "The audit log, newest first; ?user_id= and ?limit= (admin:users)",
        responses: || {
            vec![
                (
                    200,
                    success(json!({"type": "array", "items": dto::<AuditEntry>()})),
                ),
                (401, failure()),
                (403, failure()),
            ]
        },
        request: None,
    },
];
