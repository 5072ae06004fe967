//! Serves the built dashboard: files from the build, `index.html` for client-side routes, hashed assets
//! cached for a year, and the service worker and index never cached (so updates reach users).

use std::path::Path;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

pub fn dashboard(dir: &Path) -> Router {
    let files = ServeDir::new(dir).append_index_html_on_directories(true).fallback(ServeFile::new(dir.join("index.html")));
    // A missing hashed asset is a 404, never index.html cached as immutable under its name.
    let assets = ServeDir::new(dir.join("assets"));
    Router::new().nest_service("/assets", assets).fallback_service(files).layer(axum::middleware::from_fn(cache_headers))
}

pub(super) async fn cache_headers(req: Request, next: Next) -> Response {
    let immutable = req.uri().path().starts_with("/assets/");
    let mut response = next.run(req).await;
    if !response.status().is_success() {
        return response;
    }
    let value = if immutable { "public, max-age=31536000, immutable" } else { "no-cache" };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}
