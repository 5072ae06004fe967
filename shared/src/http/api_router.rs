//! Route groups are declared once, with `routes!` over `#[utoipa::path]` handlers, for both the router that
//! serves them and the OpenAPI document. With the `openapi` feature (on by default: `serve`, the tests and
//! the document's unit test) these are utoipa-axum's `OpenApiRouter` and `routes!`. Without it (the Lambda
//! bootstraps) `ApiRouter` keeps only each handler's path and methods: a bootstrap then links neither the
//! operations' documentation nor the schemas, which `/v1/openapi.json` serves from the checked-in document.

#[cfg(feature = "openapi")]
pub use utoipa_axum::{router::OpenApiRouter as ApiRouter, routes};

#[cfg(not(feature = "openapi"))]
pub use crate::bare_routes as routes;
#[cfg(not(feature = "openapi"))]
pub use bare::ApiRouter;

#[cfg(any(test, not(feature = "openapi")))]
mod bare {
    #![cfg_attr(feature = "openapi", allow(dead_code))]

    use axum::routing::MethodRouter;
    use axum::Router;

    /// An axum router built from `routes!` groups, with `OpenApiRouter`'s building methods.
    pub struct ApiRouter<S>(Router<S>);

    impl<S: Clone + Send + Sync + 'static> ApiRouter<S> {
        pub fn new() -> Self {
            Self(Router::new())
        }

        /// Adds one `routes!` group: the handlers of one path.
        pub fn routes(self, (path, methods): (String, MethodRouter<S>)) -> Self {
            Self(self.0.route(if path.is_empty() { "/" } else { &path }, methods))
        }

        pub fn merge(self, other: Self) -> Self {
            Self(self.0.merge(other.0))
        }

        /// The router, and no document (the shape of `OpenApiRouter::split_for_parts`).
        pub fn split_for_parts(self) -> (Router<S>, ()) {
            (self.0, ())
        }
    }

    impl<S: Clone + Send + Sync + 'static> Default for ApiRouter<S> {
        fn default() -> Self {
            Self::new()
        }
    }

    #[doc(hidden)]
    pub use utoipa_axum::{paste, PathItemExt};
}

#[cfg(any(test, not(feature = "openapi")))]
#[doc(hidden)]
pub use bare::{paste, PathItemExt};

/// `routes!` without the documentation: the handlers' shared path and a method router over each one's
/// methods, read from the `__path_<handler>` types `#[utoipa::path]` generates.
#[macro_export]
macro_rules! bare_routes {
    ($first:ident $(, $handler:ident)* $(,)?) => {{
        let methods = axum::routing::MethodRouter::new();
        $crate::http::api_router::paste! {
            let methods = <[<__path_ $first>] as utoipa::Path>::methods().into_iter().fold(methods, |m, method| m.on($crate::http::api_router::PathItemExt::to_method_filter(&method), $first));
            $( let methods = <[<__path_ $handler>] as utoipa::Path>::methods().into_iter().fold(methods, |m, method| m.on($crate::http::api_router::PathItemExt::to_method_filter(&method), $handler)); )*
            (<[<__path_ $first>] as utoipa::Path>::path(), methods)
        }
    }};
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    /// A resource.
    #[utoipa::path(get, path = "/v1/things/{id}", params(("id" = String, Path)), responses((status = 200, description = "OK")))]
    async fn get_thing() -> &'static str {
        "got"
    }

    /// Another method on the same path.
    #[utoipa::path(delete, path = "/v1/things/{id}", params(("id" = String, Path)), responses((status = 204, description = "Gone")))]
    async fn delete_thing() -> StatusCode {
        StatusCode::NO_CONTENT
    }

    /// Status and body for each call, on both routers.
    async fn answers(router: axum::Router) -> Vec<(u16, String)> {
        let mut seen = vec![];
        for (method, path) in [("GET", "/v1/things/1"), ("DELETE", "/v1/things/1"), ("POST", "/v1/things/1"), ("GET", "/v1/things")] {
            let response = router.clone().oneshot(Request::builder().method(method).uri(path).body(Body::empty()).unwrap()).await.unwrap();
            let status = response.status().as_u16();
            let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
            seen.push((status, String::from_utf8_lossy(&body).into_owned()));
        }
        seen
    }

    #[tokio::test]
    async fn the_bare_router_serves_what_the_documented_router_serves() {
        let bare = super::bare::ApiRouter::<()>::new().routes(crate::bare_routes!(get_thing, delete_thing)).split_for_parts().0;
        let documented = utoipa_axum::router::OpenApiRouter::<()>::new().routes(utoipa_axum::routes!(get_thing, delete_thing)).split_for_parts().0;
        let seen = answers(bare).await;
        assert_eq!(seen, answers(documented).await);
        let statuses: Vec<u16> = seen.iter().map(|(status, _)| *status).collect();
        assert_eq!((statuses, seen[0].1.as_str()), (vec![200, 204, 405, 404], "got"));
    }
}
