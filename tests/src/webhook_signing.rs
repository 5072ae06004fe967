//! Inbound webhook signatures as the providers compute them, for tests that post signed webhooks:
//! Meta's `X-Hub-Signature-256` (hex HMAC-SHA256 of the raw body under the app secret) and Twilio's
//! `X-Twilio-Signature` (base64 HMAC-SHA1 of the URL followed by the sorted form fields).

use aws_lc_rs::hmac;
use base64::Engine;

use crate::provider_fakes::TWILIO_TOKEN;

/// The app secret of the Meta credentials the tests create.
pub const META_APP_SECRET: &str = "0123456789abcdef0123456789abcdef";

/// `X-Hub-Signature-256` for `body` under [`META_APP_SECRET`].
pub fn meta_signature(body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, META_APP_SECRET.as_bytes());
    format!("sha256={}", hmac::sign(&key, body.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// `X-Twilio-Signature` for a form POST of `params` to `url`, under the fake account's auth token.
pub fn twilio_signature(url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let message: String = std::iter::once(url.to_owned()).chain(sorted.iter().map(|(k, v)| format!("{k}{v}"))).collect();
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, TWILIO_TOKEN.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, message.as_bytes()).as_ref())
}

/// Runs each named `async fn(AppState)` case on the embedded backend and on the AWS adapters (moto),
/// with the system clock.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test]
            async fn $case() {
                let (state, _dir) = webtrigger_tests::embedded_state().await;
                super::$case(state).await
            })*
        }
        mod aws {
            $(#[tokio::test]
            async fn $case() {
                super::$case(webtrigger_tests::aws_state_with_clock(std::sync::Arc::new(webtrigger::ports::SystemClock)).await).await
            })*
        }
    };
}
