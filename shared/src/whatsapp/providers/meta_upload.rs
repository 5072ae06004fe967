//! Meta's Resumable Upload API, for the sample media a template with an image, video or document header
//! is reviewed with: `POST /{app-id}/uploads?file_name=&file_length=&file_type=` opens a session
//! (`{"id": "upload:…"}`), then `POST /{upload-id}` with `Authorization: OAuth {token}`, `file_offset: 0`
//! and the raw bytes answers the file handle (`{"h": "4::…"}`) that goes into the template's
//! `example.header_handle`.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::meta::graph_error;
use super::{retry_after, ErrorClass, ProviderError};
use crate::whatsapp::types::Provider;

/// A sample file checked against Meta's limits (`templates_media` builds it).
pub struct Sample<'a> {
    pub file_name: &'a str,
    /// The MIME type Meta is told (`image/jpeg`, `image/png`, `video/mp4`, `application/pdf`).
    pub file_type: &'a str,
    pub bytes: &'a [u8],
}

async fn call(request: reqwest::RequestBuilder) -> Result<Value, ProviderError> {
    let response = request.send().await.map_err(|e| ProviderError::network(Provider::Meta, &e))?;
    let status = response.status().as_u16();
    let after = retry_after(response.headers());
    let body = response.bytes().await.map_err(|e| ProviderError::network(Provider::Meta, &e))?;
    if !(200..300).contains(&status) {
        return Err(graph_error(status, &body, after));
    }
    serde_json::from_slice(&body).map_err(|_| invalid(status, "an upload answer that is not JSON"))
}

fn invalid(status: u16, what: &str) -> ProviderError {
    ProviderError { provider: "meta", class: ErrorClass::Transient { retry_after: None }, code: "invalid_response".into(), message: format!("Meta's Resumable Upload API sent {what}"), http_status: Some(status) }
}

/// An upload session id as Meta writes it (`upload:<base64>?sig=<sig>`). It is appended to the
/// configured Graph base, so it may not carry anything that changes the path's meaning.
fn session_id(v: &Value) -> Option<String> {
    let id = v.get("id")?.as_str()?;
    let safe = id.starts_with("upload:") && id.len() <= 2048 && !id.contains("..") && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-=+/:?&%.".contains(&b));
    safe.then(|| id.to_owned())
}

/// Uploads `sample` for the app `app_id` and answers its file handle.
pub async fn upload(http: &reqwest::Client, base: &str, token: &SecretString, app_id: &str, sample: &Sample<'_>) -> Result<String, ProviderError> {
    let base = base.trim_end_matches('/');
    let length = sample.bytes.len().to_string();
    // The token goes in a header, never in the query string, so it stays out of URLs and logs.
    let query = [("file_name", sample.file_name), ("file_length", length.as_str()), ("file_type", sample.file_type)];
    let opened = call(http.post(format!("{base}/{app_id}/uploads")).bearer_auth(token.expose_secret()).query(&query)).await?;
    let id = session_id(&opened).ok_or_else(|| invalid(200, "no upload session id"))?;
    let sent = http
        .post(format!("{base}/{id}"))
        .header(reqwest::header::AUTHORIZATION, format!("OAuth {}", token.expose_secret()))
        .header("file_offset", "0")
        .header(reqwest::header::CONTENT_TYPE, sample.file_type)
        .body(sample.bytes.to_vec());
    let answer = call(sent).await?;
    answer.get("h").and_then(Value::as_str).filter(|h| !h.is_empty() && h.len() <= 4096).map(str::to_owned).ok_or_else(|| invalid(200, "no file handle"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_stay_under_the_base() {
        let ok = serde_json::json!({"id": "upload:MTphdHRhY2htZW50Ojlk2mJiZxUwLWV6MDUtNDIwMy05yTA3LWQ4ZDPmZGFkNTM0NT8=?sig=ARZqkGCA_uQMxC8nHKI"});
        assert!(session_id(&ok).is_some());
        for bad in ["https://evil.example/x", "upload:../../me", "upload:a#b", "upload:a b", "x"] {
            assert_eq!(session_id(&serde_json::json!({"id": bad})), None, "{bad}");
        }
    }
}
