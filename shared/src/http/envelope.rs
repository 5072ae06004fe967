//! Success envelope `{"success":true,"data":...}` and the JSON body extractor whose rejections
//! are envelope errors (415 wrong content type, 400 malformed JSON, 422 wrong shape, 413 too large).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use super::ApiError;

/// A successful answer: `{"success":true,"data":T}` with status 200 (or the given status).
pub struct ApiOk<T>(pub StatusCode, pub T);

impl<T: Serialize> ApiOk<T> {
    pub fn ok(data: T) -> Self {
        Self(StatusCode::OK, data)
    }

    pub fn created(data: T) -> Self {
        Self(StatusCode::CREATED, data)
    }
}

impl<T: Serialize> IntoResponse for ApiOk<T> {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({"success": true, "data": self.1}))).into_response()
    }
}

pub type ApiResult<T> = Result<ApiOk<T>, ApiError>;

/// A JSON request body of type `T`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMediaType),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::InvalidJson(e.body_text())),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::Validation(e.body_text())),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::PayloadTooLarge(None)),
            Err(e) => Err(ApiError::InvalidJson(e.body_text())),
        }
    }
}
