//! The OpenAPI 3.1 document of API v1, made from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;
use crate::error::Problem;

struct Signature;

impl Modify for Signature {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Signature",
                "HTTP Message Signatures (RFC 9421) by the device's Ed25519 key, with \
                 Signature-Input and Content-Digest (RFC 9530); see vigil_ledger::http_sig",
            ))),
        );
    }
}

/// API v1.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Vigil server", description = "A zero-knowledge relay for an organisation's enrolled devices."),
    paths(api::server_key, api::register, api::profile, api::push, api::receipts, api::feed, api::ack, api::acks, api::revoke,
        api::options, api::create, api::head, api::patch, api::upload_receipt, api::blob),
    components(schemas(Problem, api::Document, api::PushItem, api::PushRequest, api::PushResponse,
        api::ReceiptsPage, api::PosReceipt, api::FeedPage, api::FeedItem, api::AckRequest,
        api::AckResponse, api::AcksPage, api::Ack, api::Revoked, api::Registered, api::ServerKey,
        api::UploadReceipt)),
    modifiers(&Signature)
)]
pub struct ApiDoc;

/// `GET /v1/openapi.json`.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
