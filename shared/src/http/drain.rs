//! Keeps connections usable after early answers. A handler that answers before reading the request body
//! (401, 404, 415 …) leaves its bytes on the socket; hyper then closes the connection without saying so,
//! and a client's next request on it gets no answer. This layer hands an unread body back after the
//! response, drains it when it fits under the body cap, and otherwise marks the response `Connection: close`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// A slow client must not hold a finished request's connection task for long.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

type Slot = Arc<Mutex<Option<Body>>>;

/// The request body as the handler sees it; if dropped before its end, the rest goes back to the slot.
struct Returning {
    inner: Option<Body>,
    slot: Slot,
}

impl http_body::Body for Returning {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else { return Poll::Ready(None) };
        let polled = Pin::new(inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            this.inner = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map(http_body::Body::size_hint).unwrap_or_else(|| SizeHint::with_exact(0))
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        if let Some(rest) = self.inner.take().filter(|b| !http_body::Body::is_end_stream(b)) {
            *self.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(rest);
        }
    }
}

fn declared_length(req: &Request) -> Option<u64> {
    req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok())
}

fn has_body(req: &Request) -> bool {
    declared_length(req).is_some_and(|n| n > 0) || req.headers().contains_key(header::TRANSFER_ENCODING)
}

/// Middleware: drain up to `limit` unread body bytes after the response, or close the connection.
pub async fn drain_unread_body(limit: usize, req: Request, next: Next) -> Response {
    if !has_body(&req) {
        return next.run(req).await;
    }
    // A declared body past the cap is never drained: waiting for bytes the client may not send (it
    // got its 413 from the headers) would hold the answer back by the whole drain timeout.
    let drainable = declared_length(&req).is_none_or(|n| n <= limit as u64);
    let slot: Slot = Arc::default();
    let req = req.map(|body| Body::new(Returning { inner: Some(body), slot: slot.clone() }));
    let mut response = next.run(req).await;
    let unread = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    if unread.is_some() && !drainable {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    } else if let Some(rest) = unread {
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, axum::body::to_bytes(rest, limit)).await;
        if !matches!(drained, Ok(Ok(_))) {
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    response
}
