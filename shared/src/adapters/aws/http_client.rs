//! The AWS SDK clients' HTTP connector: the platform's `reqwest` (HTTP/1.1 over rustls), so a bootstrap
//! links one HTTP client stack instead of also the SDK's default hyper + h2 + hyper-rustls client.

use std::time::Duration;

use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// The SDK's default connect timeout (aws-config's `TimeoutConfig` for the standard behaviour version).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3_100);

/// An [`HttpClient`] for the SDK over one pooled `reqwest::Client`.
#[derive(Debug, Clone)]
pub struct ReqwestHttpClient {
    client: reqwest::Client,
}

impl ReqwestHttpClient {
    pub fn shared() -> SharedHttpClient {
        let client = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT).redirect(reqwest::redirect::Policy::none()).build().expect("a TLS client with the bundled roots");
        SharedHttpClient::new(Self { client })
    }
}

impl HttpClient for ReqwestHttpClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, _components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(ReqwestConnector { client: self.client.clone(), read_timeout: settings.read_timeout() })
    }
}

#[derive(Debug)]
struct ReqwestConnector {
    client: reqwest::Client,
    /// Bounds the whole exchange (reqwest has no per-request read timeout); None unless the SDK sets one.
    read_timeout: Option<Duration>,
}

impl HttpConnector for ReqwestConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        let (parts, body) = request.into_parts();
        // Every operation the adapters call sends a JSON body held in memory.
        let Some(bytes) = body.bytes().map(<[u8]>::to_vec) else {
            return HttpConnectorFuture::ready(Err(ConnectorError::user("a streaming request body is not supported by this connector".into())));
        };
        let mut builder = self.client.request(parts.method, parts.uri.to_string()).headers(parts.headers).body(bytes);
        if let Some(timeout) = self.read_timeout {
            builder = builder.timeout(timeout);
        }
        let sent = builder.send();
        HttpConnectorFuture::new(async move {
            let response = sent.await.map_err(connector_error)?;
            let (status, headers) = (response.status(), response.headers().clone());
            let body = response.bytes().await.map_err(connector_error)?;
            let mut http = axum::http::Response::new(SdkBody::from(body));
            *http.status_mut() = status;
            *http.headers_mut() = headers;
            HttpResponse::try_from(http).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// Timeouts and I/O failures are transient for the SDK's retry strategy; anything else is not.
fn connector_error(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_connect() || e.is_request() || e.is_body() {
        ConnectorError::io(e.into())
    } else {
        ConnectorError::other(e.into(), None)
    }
}
