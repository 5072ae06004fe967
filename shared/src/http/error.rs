//! `ApiError`: every error an HTTP handler can answer with, and the one table mapping it to a status
//! and the envelope `{"success":false,"error":{"code","message"}}`.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::ports::{KeyringError, QueueError, SecretsError, TableError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    Validation(String),
    #[error("expected `Content-Type: application/json`")]
    UnsupportedMediaType,
    #[error("request body exceeds the size limit{}", .0.map(|n| format!(" of {n} bytes")).unwrap_or_default())]
    PayloadTooLarge(Option<usize>),
    #[error("authentication required, or the token is invalid or expired")]
    Unauthorized,
    #[error("invalid email or password")]
    InvalidCredentials,
    /// A signed webhook whose signature, timestamp or token did not verify; the reason is safe to show.
    #[error("webhook verification failed: {0}")]
    InvalidSignature(String),
    #[error("this API key has been revoked")]
    RevokedKey,
    #[error("your role or API key scopes do not allow this")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    /// A well-formed request the platform refuses for a business rule; `code` says which.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    #[error("too many requests; retry after {} s", .0.as_secs())]
    RateLimited(Duration),
    /// A dependency (table, queue, keyring) is down; the detail is logged, not returned.
    #[error("service temporarily unavailable")]
    Unavailable(String),
    /// A provider API failed or answered in a way that is not the caller's fault; its message is shown.
    #[error("{0}")]
    Upstream(String),
    /// A bug; the detail is logged, not returned.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidJson(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized | Self::InvalidCredentials | Self::RevokedKey | Self::InvalidSignature(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::Validation(_) => "validation_failed",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::Unauthorized => "unauthorized",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidSignature(_) => "invalid_signature",
            Self::RevokedKey => "api_key_revoked",
            Self::Forbidden => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::Refused { code, .. } => code,
            Self::RateLimited(_) => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Upstream(_) => "provider_unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The error a bare status code stands for, when a layer (router, body limit) answered without one.
    pub fn from_status(status: StatusCode, max_body_bytes: usize) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::NotFound("no such route".into()),
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge(Some(max_body_bytes)),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::BAD_REQUEST => Self::InvalidJson("malformed request".into()),
            StatusCode::UNPROCESSABLE_ENTITY => Self::Validation("request could not be processed".into()),
            StatusCode::UNAUTHORIZED => Self::Unauthorized,
            StatusCode::FORBIDDEN => Self::Forbidden,
            StatusCode::TOO_MANY_REQUESTS => Self::RateLimited(Duration::from_secs(1)),
            s if s.is_server_error() => Self::Internal(format!("bare {s} response")),
            s => Self::Validation(s.canonical_reason().unwrap_or("bad request").to_lowercase()),
        }
    }
}

impl From<ApiError> for String {
    fn from(e: ApiError) -> String {
        e.to_string()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Unavailable(detail) => tracing::warn!(error = %detail, "dependency unavailable"),
            Self::Internal(detail) => tracing::error!(error = %detail, "internal error"),
            _ => {}
        }
        let body = json!({"success": false, "error": {"code": self.code(), "message": self.to_string()}});
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Self::RateLimited(after) = self {
            let secs = after.as_secs().max(1).to_string();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_str(&secs).expect("digits"));
        }
        response
    }
}

impl From<TableError> for ApiError {
    fn from(e: TableError) -> Self {
        match e {
            TableError::InvalidCursor => Self::Validation("invalid cursor".into()),
            TableError::ConditionFailed | TableError::TransactionCancelled { .. } => Self::Conflict("the record changed or already exists".into()),
            TableError::Invalid(m) | TableError::Corrupt(m) => Self::Internal(m),
            TableError::Unavailable(m) => Self::Unavailable(m),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<KeyringError> for ApiError {
    fn from(e: KeyringError) -> Self {
        match e {
            KeyringError::InvalidCiphertext => Self::Internal("stored secret failed to decrypt".into()),
            KeyringError::Unavailable(m) => Self::Unavailable(m),
        }
    }
}

impl From<SecretsError> for ApiError {
    fn from(e: SecretsError) -> Self {
        Self::Unavailable(e.to_string())
    }
}
