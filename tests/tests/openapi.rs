//! `/v1/openapi.json` is in sync with the router: every documented operation is routed (never the
//! router's 404/405), secured operations answer 401 without a token, and every route group is described.

use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use webtrigger_tests::embedded_state;

#[tokio::test]
async fn document_matches_the_router() {
    let (state, _d) = embedded_state().await;
    let app = webtrigger::http::api(webtrigger::local::all_routes(), state, None);
    let response = app.clone().oneshot(Request::get("/v1/openapi.json").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), 200);
    let doc: Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");

    let paths = doc["paths"].as_object().unwrap();
    for expected in ["/v1/health", "/v1/auth/signup", "/v1/auth/login", "/v1/me", "/v1/workspaces/{ws}/members/{user}", "/v1/workspaces/{ws}/audit", "/v1/workspaces/{ws}/flows/{flow}/publish"] {
        assert!(paths.contains_key(expected), "{expected} is not documented");
    }
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            assert!(op["summary"].is_string() || op["description"].is_string(), "{method} {path} has no description");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
            let concrete = path
                .replace("{ws}", "ws_01jd5x8q0y8m3n2b7c4v6w9z1a")
                .replace("{user}", "usr_01jd5x8q0y8m3n2b7c4v6w9z1a")
                .replace("{invite}", "inv_01jd5x8q0y8m3n2b7c4v6w9z1a")
                .replace("{key}", "key_01jd5x8q0y8m3n2b7c4v6w9z1a")
                .replace("{site}", "site_01jd5x8q0y8m3n2b7c4v6w9z1a")
                .replace("{subscriber}", "0123456789abcdef0123456789abcdef")
                .replace("{notification}", "ntf_01jd5x8q0y8m3n2b7c4v6w9z1a")
                .replace("{flow}", "flow_01jd5x8q0y8m3n2b7c4v6w9z1a")
                .replace("{conv}", "conv_01jd5x8q0y8m3n2b7c4v6w9z1a");
            let mut req = Request::builder().method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap()).uri(&concrete);
            let body = if op["requestBody"].is_object() {
                req = req.header("content-type", "application/json");
                Body::from("{}")
            } else {
                Body::empty()
            };
            let reply = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
            let status = reply.status().as_u16();
            let json: Value = serde_json::from_slice(&reply.into_body().collect().await.unwrap().to_bytes()).unwrap_or(Value::Null);
            let message = json["error"]["message"].as_str().unwrap_or_default();
            assert!(status != 405 && !message.starts_with("no route"), "{method} {path} is documented but not routed ({status} {json})");
            if op["security"].is_array() {
                assert_eq!(status, 401, "{method} {path} is secured but answered {status} without a token: {json}");
            }
        }
    }
    assert!(operations >= 21, "expected every operation documented, found {operations}");
}
