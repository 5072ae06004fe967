//! The dashboard compiled into the binary (a copied `webtrigger` serves it with no files beside it):
//! the binary registers its embedded files once at start; with none (the PWA was not built before
//! cargo), `/` answers a plain page saying how to build it. `--static-dir` still overrides both.

use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// Files by path relative to the build root (`index.html`, `assets/index-….js`, …).
pub type EmbeddedFiles = &'static [(&'static str, &'static [u8])];

static FILES: OnceLock<EmbeddedFiles> = OnceLock::new();

/// Registers the binary's embedded dashboard (first call wins).
pub fn register(files: EmbeddedFiles) {
    let _ = FILES.set(files);
}

/// The embedded dashboard, if the binary registered one (even an empty one: then the how-to page).
pub fn router() -> Option<Router> {
    let files = *FILES.get()?;
    Some(Router::new().fallback(move |req: Request| async move { respond(files, req.uri().path()) }).layer(axum::middleware::from_fn(super::site::cache_headers)))
}

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>WebTrigger</title><h1>The dashboard is not in this build</h1>\
<p>The API is running (<a href=\"/v1/health\">/v1/health</a>). This binary was compiled before the dashboard was built. Build it, then the binary:</p>\
<pre>(cd static-site &amp;&amp; npm ci &amp;&amp; npm run build)\ncargo build -p webtrigger-local</pre>\
<p>or serve a built copy with <code>webtrigger serve --static-dir static-site/dist</code>.</p>";

fn respond(files: EmbeddedFiles, path: &str) -> Response {
    let find = |p: &str| files.iter().find(|(name, _)| *name == p).map(|(_, bytes)| *bytes);
    let Some(index) = find("index.html") else {
        return ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], NOT_BUILT).into_response();
    };
    let rel = path.trim_start_matches('/');
    let (name, bytes) = match find(rel) {
        Some(b) if !rel.is_empty() => (rel, b),
        // A missing hashed asset is a 404, never index.html cached as immutable under its name.
        _ if rel.starts_with("assets/") => return StatusCode::NOT_FOUND.into_response(),
        // Client-side routes get the app shell.
        _ => ("index.html", index),
    };
    let mut response = Response::new(Body::from(bytes));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(name)));
    response
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SITE: EmbeddedFiles = &[("index.html", b"<html>app</html>"), ("assets/app-1.js", b"js"), ("manifest.webmanifest", b"{}")];

    async fn body(r: Response) -> String {
        String::from_utf8(axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn serves_files_the_shell_for_routes_and_404_for_missing_assets() {
        let index = respond(SITE, "/");
        assert_eq!(index.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(body(index).await, "<html>app</html>");
        assert_eq!(body(respond(SITE, "/whatsapp/channels")).await, "<html>app</html>", "client-side route");
        let js = respond(SITE, "/assets/app-1.js");
        assert_eq!(js.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert_eq!(body(js).await, "js");
        assert_eq!(respond(SITE, "/assets/gone.js").status(), StatusCode::NOT_FOUND);
        assert_eq!(respond(SITE, "/manifest.webmanifest").headers()[header::CONTENT_TYPE], "application/manifest+json");
    }

    #[tokio::test]
    async fn without_a_build_the_root_says_how_to_build_it() {
        let r = respond(&[], "/");
        assert_eq!(r.status(), StatusCode::OK);
        assert!(body(r).await.contains("npm run build"));
    }
}
