//! Uploads in parts (`runs::parts`): the same three routes for weights and gradients.

use meshfed_shared::api::runs::{
    PartReceipt, PartsRequest, PartsSession, UploadKind, UploadReceipt,
};
use worker::Method;

use super::{handle, Access, Audience, Route};
use crate::openapi::{dto, failure, success};
use crate::runs::parts;

macro_rules! parts_routes {
    ($kind:literal, $variant:ident) => {
        [
            Route {
                method: Method::Post,
                path: concat!("/api/runs/{id}/rounds/{round}/", $kind, "/parts"),
                audience: Audience::Api,
                access: Access::Member,
                rate: None,
                handler: handle!(|req, env, cfg, p| {
                    let at = (p.run()?, p.round()?, UploadKind::$variant);
                    parts::start(req, env, cfg, at).await
                }),
                summary: concat!("Start an upload of ", $kind, " in parts (larger than one request may carry): its size, SHA-256 and format; answers the part size"),
                responses: || vec![(201, success(dto::<PartsSession>())), (400, failure()), (403, failure()), (409, failure()), (413, failure()), (422, failure())],
                request: Some(dto::<PartsRequest>),
            },
            Route {
                method: Method::Put,
                path: concat!("/api/runs/{id}/rounds/{round}/", $kind, "/parts/{upload_id}/{part}"),
                audience: Audience::Api,
                access: Access::Member,
                rate: None,
                handler: handle!(|req, env, cfg, p| {
                    let at = (p.run()?, p.round()?, UploadKind::$variant);
                    parts::put_part(req, env, cfg, at, p.get("upload_id"), p.get("part")).await
                }),
                summary: "Send part n (1-based; every part but the last exactly part_bytes), in any order",
                responses: || vec![(200, success(dto::<PartReceipt>())), (404, failure()), (413, failure()), (422, failure())],
                request: None,
            },
            Route {
                method: Method::Post,
                path: concat!("/api/runs/{id}/rounds/{round}/", $kind, "/parts/{upload_id}/complete"),
                audience: Audience::Api,
                access: Access::Member,
                rate: None,
                handler: handle!(|req, env, cfg, p| {
                    let at = (p.run()?, p.round()?, UploadKind::$variant);
                    parts::complete(req, env, cfg, at, p.get("upload_id")).await
                }),
                summary: "Join the parts, check the declared SHA-256 and count the upload (metrics in the query, as for a single request)",
                responses: || vec![(200, success(dto::<UploadReceipt>())), (404, failure()), (409, failure()), (422, failure())],
                request: None,
            },
        ]
    };
}

pub(crate) const WEIGHTS: [Route; 3] = parts_routes!("weights", Weights);
pub(crate) const GRADIENTS: [Route; 3] = parts_routes!("gradients", Gradients);
