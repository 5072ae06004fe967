//! The API's self-description, served at `GET /v1/openapi.json`. Every route group registers its
//! handlers through `http::api_router` (utoipa-axum with the `openapi` feature), so a route and its
//! documentation come from the same line.
//! The served document is `shared/openapi.json`, generated from those routers and checked against them
//! by a unit test: serving the generated text keeps the `api-health` bootstrap from linking every handler.

use serde::Serialize;
use utoipa::ToSchema;

/// `{"success": true, "data": T}`.
#[derive(Serialize, ToSchema)]
pub struct Envelope<T> {
    pub success: bool,
    pub data: T,
}

/// `{"success": false, "error": {"code", "message"}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub success: bool,
    pub error: ErrorBody,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `validation_failed`, `not_found`, `rate_limited`.
    pub code: String,
    pub message: String,
}

/// The OpenAPI document `GET /v1/openapi.json` serves (regenerate: `WEBTRIGGER_BLESS=1 cargo test -p
/// webtrigger --lib openapi`).
pub const DOCUMENT: &str = include_str!("../openapi.json");

#[cfg(all(test, feature = "openapi"))]
mod tests {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    use utoipa::{Modify, OpenApi};

    use crate::http::api_router::ApiRouter;
    use crate::state::AppState;

    struct BearerAuth;

    impl Modify for BearerAuth {
        fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
            let components = api.components.get_or_insert_with(Default::default);
            let scheme = HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("An access token from /v1/auth/login (JWT), or a workspace API key `wt_…`"))
                .build();
            components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
        }
    }

    #[derive(OpenApi)]
    #[openapi(
        info(title = "WebTrigger API", description = "Webhooks in, Web Push and WhatsApp out. Every answer is an envelope: `{success, data}` or `{success: false, error: {code, message}}`."),
        modifiers(&BearerAuth),
        tags(
            (name = "health", description = "Platform health"),
            (name = "auth", description = "Accounts, sessions and tokens"),
            (name = "workspaces", description = "Workspaces, members, invites, API keys and audit log"),
            (name = "push", description = "Web Push sites, subscribers and notifications"),
            (name = "feeds", description = "RSS/Atom feeds of a site whose new items become notifications"),
            (name = "push-public", description = "Called by the site SDK from customers' pages (CORS, origin-checked)"),
            (name = "whatsapp", description = "WhatsApp provider credentials, channels and messages"),
            (name = "inbox", description = "Conversations from provider webhooks, team actions, consent, webhook replay"),
            (name = "triggers", description = "Webhook triggers: definitions, secrets, preview, invocation log and replay (public URL: POST /t/{trigger})"),
            (name = "flows", description = "Bot flows: drafts, versions, publish/rollback, API start, simulator, captured answers, funnel, the bot switch on a conversation"),
            (name = "live", description = "Live updates: stream tickets, the Server-Sent Events stream, catch-up after a gap"),
            (name = "event-webhooks", description = "Workspace endpoints receiving signed platform events"),
        )
    )]
    struct ApiDoc;

    /// Every route group with its documentation.
    fn all_groups() -> ApiRouter<AppState> {
        ApiRouter::with_openapi(ApiDoc::openapi()).merge(crate::health::api()).merge(crate::auth::api()).merge(crate::workspaces::api()).merge(crate::push::api()).merge(crate::drips::api()).merge(crate::recurring::api()).merge(crate::push::public_api()).merge(crate::feeds::api()).merge(crate::whatsapp::credentials_api()).merge(crate::whatsapp::messages_api()).merge(crate::inbox::api()).merge(crate::triggers::api()).merge(crate::events_out::api()).merge(crate::flows::api()).merge(crate::contacts::api()).merge(crate::broadcasts::api()).merge(crate::live::api())
    }

    #[test]
    fn the_served_document_is_the_one_the_routers_describe() {
        let mut generated = serde_json::to_string_pretty(&all_groups().into_openapi()).expect("the document serialises");
        generated.push('\n');
        if std::env::var_os("WEBTRIGGER_BLESS").is_some() {
            std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"), &generated).expect("write openapi.json");
            return;
        }
        assert!(generated == super::DOCUMENT, "shared/openapi.json is out of date with the routes: regenerate it with `WEBTRIGGER_BLESS=1 cargo test -p webtrigger --lib openapi`");
    }
}
