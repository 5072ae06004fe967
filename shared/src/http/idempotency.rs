//! Idempotency keys for the creates that send something (notifications, WhatsApp messages, trigger replays):
//! a client that lost the answer can retry with the same `Idempotency-Key` and gets the first result instead
//! of a second send.
//!
//! A key is scoped to its workspace and route and lives [`WINDOW_SECONDS`]. The first request claims it with
//! a conditional put (so of two concurrent duplicates exactly one creates), then creates, then records the
//! created resource's id on the claim. A repeat with the same request fingerprint (path ids + canonical JSON
//! body) answers with that resource; a different fingerprint is refused (422 `idempotency_key_reused`).
//!
//! Crash safety: a claim without a result (the process died between claim and record, or the create failed
//! with a server error and may have half-happened) blocks repeats with 409 only for [`CLAIM_LEASE_SECONDS`];
//! after that one repeat takes the claim over (a versioned put, so only one can) and creates. That retry can
//! duplicate a send whose process died after creating but before recording — the window is the few
//! milliseconds between the two writes. A create that fails with a client error (4xx) created nothing, so its
//! claim is released at once and a corrected retry with the same key may proceed.

use std::future::Future;

use aws_lc_rs::digest;
use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ApiError, ApiJson};
use crate::auth::WorkspaceId;
use crate::ports::{Condition, Item, Key, TableError};
use crate::state::AppState;

/// The request header carrying the key.
pub const HEADER: &str = "idempotency-key";
/// How long a key is remembered.
pub const WINDOW_SECONDS: i64 = 24 * 3600;
/// How long a claim without a recorded result holds off repeats before one may take it over.
pub const CLAIM_LEASE_SECONDS: i64 = 60;
const MAX_LEN: usize = 255;

/// A client's idempotency key: 1–255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let ok = (1..=MAX_LEN).contains(&raw.len()) && raw.bytes().all(|b| (0x20..=0x7e).contains(&b));
        ok.then(|| Self(raw.to_owned())).ok_or_else(|| ApiError::Validation(format!("the idempotency key must be 1–{MAX_LEN} printable ASCII characters")))
    }

    /// The `Idempotency-Key` header, if present; `body_field` (e.g. `client_notification_id`) is the same key
    /// given in the body, and must agree with the header when both are sent.
    pub fn from_request(headers: &HeaderMap, body_field: Option<&str>) -> Result<Option<Self>, ApiError> {
        let header = match headers.get(HEADER) {
            None => None,
            Some(v) => Some(Self::parse(v.to_str().map_err(|_| ApiError::Validation("the Idempotency-Key header must be printable ASCII".into()))?)?),
        };
        let field = body_field.map(Self::parse).transpose()?;
        match (header, field) {
            (Some(h), Some(f)) if h != f => Err(ApiError::Validation("the Idempotency-Key header and the body's id differ; send one, or the same in both".into())),
            (h, f) => Ok(h.or(f)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A JSON body with its canonical form (object keys sorted) and the `Idempotency-Key` header.
pub struct Idempotent<T> {
    pub body: T,
    pub canonical: Vec<u8>,
    pub headers: HeaderMap,
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Idempotent<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let ApiJson(value) = ApiJson::<Value>::from_request(req, state).await?;
        let mut canonical = Vec::new();
        write_canonical(&value, &mut canonical);
        let body = serde_json::from_value(value).map_err(|e| ApiError::Validation(format!("invalid request body: {e}")))?;
        Ok(Self { body, canonical, headers })
    }
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend(serde_json::to_vec(k).expect("a string serialises"));
                out.push(b':');
                write_canonical(&map[k], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend(serde_json::to_vec(scalar).expect("a JSON value serialises")),
    }
}

/// One keyed request: its route, key and fingerprint.
#[derive(Debug, Clone)]
pub struct Attempt {
    route: &'static str,
    key: IdempotencyKey,
    fingerprint: String,
}

impl Attempt {
    /// `parts` identify the request besides its key (path ids, the canonical body); each is length-prefixed
    /// so two different splits can never hash alike.
    pub fn new(route: &'static str, key: IdempotencyKey, parts: &[&[u8]]) -> Self {
        let mut ctx = digest::Context::new(&digest::SHA256);
        for part in parts {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        let fingerprint = ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect();
        Self { route, key, fingerprint }
    }
}

/// What a keyed create did.
#[derive(Debug)]
pub enum Outcome<T> {
    /// This request created it.
    Created(T),
    /// A repeat: the resource the first request created.
    Repeated(T),
}

fn claim_key(ws: &WorkspaceId, a: &Attempt) -> Key {
    Key::new(format!("WS#{ws}#IDEM"), format!("{}#{}", a.route, a.key.as_str()))
}

/// A claim this request holds, at `version`.
struct Ticket {
    key: Key,
    version: u64,
}

enum Claimed {
    Fresh(Ticket),
    Done(String),
}

/// Runs `create` at most once per key (see the module doc); a repeat answers `load(id of the first result)`.
/// Without a key, just `create`.
pub async fn once<T, C, CF, L, LF>(state: &AppState, ws: &WorkspaceId, attempt: Option<Attempt>, id_of: fn(&T) -> String, create: C, load: L) -> Result<Outcome<T>, ApiError>
where
    C: FnOnce() -> CF,
    CF: Future<Output = Result<T, ApiError>>,
    L: FnOnce(String) -> LF,
    LF: Future<Output = Result<T, ApiError>>,
{
    let Some(attempt) = attempt else { return create().await.map(Outcome::Created) };
    let ticket = match claim(state, ws, &attempt).await? {
        Claimed::Done(id) => return load(id).await.map(Outcome::Repeated),
        Claimed::Fresh(ticket) => ticket,
    };
    match create().await {
        Ok(created) => {
            record(state, &ticket, &attempt, &id_of(&created)).await;
            Ok(Outcome::Created(created))
        }
        Err(e) => {
            if e.status().is_client_error() {
                if let Err(err) = state.table.delete(&ticket.key, Condition::VersionIs(ticket.version)).await {
                    tracing::warn!(error = %err, "idempotency claim not released; it lapses after its lease");
                }
            }
            Err(e)
        }
    }
}

fn claim_item(state: &AppState, key: Key, a: &Attempt, version: u64) -> Item {
    let now = state.clock.epoch_seconds();
    Item::new(key).with_attr("fingerprint", a.fingerprint.as_str()).with_attr("claimed_at", now).with_expiry(now + WINDOW_SECONDS).with_version(version)
}

async fn claim(state: &AppState, ws: &WorkspaceId, a: &Attempt) -> Result<Claimed, ApiError> {
    let key = claim_key(ws, a);
    let in_progress = || ApiError::Conflict("a request with this Idempotency-Key is still in progress; retry shortly".into());
    // Twice at most: a stored claim can lapse or be released between our put and our read.
    for _ in 0..2 {
        match state.table.put(claim_item(state, key.clone(), a, 1), Condition::NotExists).await {
            Ok(()) => return Ok(Claimed::Fresh(Ticket { key, version: 1 })),
            Err(TableError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
        let Some(stored) = state.table.get(&key).await? else { continue };
        if stored.attrs.get("fingerprint").and_then(Value::as_str) != Some(a.fingerprint.as_str()) {
            return Err(ApiError::Refused { code: "idempotency_key_reused", message: "this Idempotency-Key was used for a different request in the last 24 hours".into() });
        }
        if let Some(id) = stored.attrs.get("resource").and_then(Value::as_str) {
            return Ok(Claimed::Done(id.to_owned()));
        }
        let claimed_at = stored.attrs.get("claimed_at").and_then(Value::as_i64).unwrap_or(0);
        if state.clock.epoch_seconds() < claimed_at + CLAIM_LEASE_SECONDS {
            return Err(in_progress());
        }
        // Abandoned: take it over; of several takers the versioned put lets one through.
        let version = stored.version + 1;
        return match state.table.put(claim_item(state, key.clone(), a, version), Condition::VersionIs(stored.version)).await {
            Ok(()) => Ok(Claimed::Fresh(Ticket { key, version })),
            Err(TableError::ConditionFailed) => Err(in_progress()),
            Err(e) => Err(e.into()),
        };
    }
    Err(in_progress())
}

/// Records the created resource on the claim. Failing here must not fail the request: the send happened.
async fn record(state: &AppState, ticket: &Ticket, a: &Attempt, id: &str) {
    let item = claim_item(state, ticket.key.clone(), a, ticket.version + 1).with_attr("resource", id);
    if let Err(e) = state.table.put(item, Condition::VersionIs(ticket.version)).await {
        tracing::warn!(error = %e, "idempotency result not recorded; a repeat after the lease creates again");
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii_up_to_255() {
        assert!(IdempotencyKey::parse("order-42/retry 1").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        for bad in ["", "tab\there", "caf\u{e9}", "new\nline"] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
    }

    #[test]
    fn header_and_body_field_must_agree() {
        let mut headers = HeaderMap::new();
        assert_eq!(IdempotencyKey::from_request(&headers, None).unwrap(), None);
        assert_eq!(IdempotencyKey::from_request(&headers, Some("a")).unwrap().unwrap().as_str(), "a");
        headers.insert(HEADER, "a".parse().unwrap());
        assert_eq!(IdempotencyKey::from_request(&headers, Some("a")).unwrap().unwrap().as_str(), "a");
        assert!(IdempotencyKey::from_request(&headers, Some("b")).is_err());
    }

    #[test]
    fn fingerprint_ignores_key_order_and_whitespace_but_not_values() {
        let canonical = |s: &str| {
            let mut out = Vec::new();
            write_canonical(&serde_json::from_str(s).unwrap(), &mut out);
            out
        };
        assert_eq!(canonical(r#"{"b": [1, {"y":2,"x":1}], "a": "t"}"#), canonical(r#"{"a":"t","b":[1,{"x":1,"y":2}]}"#));
        assert_ne!(canonical(r#"{"a":"t"}"#), canonical(r#"{"a":"u"}"#));
        let key = IdempotencyKey::parse("k").unwrap();
        let (ab, a_b) = (Attempt::new("r", key.clone(), &[b"ab", b""]), Attempt::new("r", key, &[b"a", b"b"]));
        assert_ne!(ab.fingerprint, a_b.fingerprint, "parts are length-prefixed");
    }

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use crate::ports::FixedClock;

    fn state(clock: Arc<FixedClock>) -> (AppState, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("webtrigger-idem-{}", ulid::Ulid::new()));
        let keyring = crate::adapters::LocalKeyring::open(&dir.join("keys")).unwrap();
        let secrets = crate::adapters::LocalSecrets::with_dir(dir.join("secrets"));
        (AppState::embedded_parts(crate::adapters::SqliteDb::in_memory().unwrap(), Arc::new(keyring), Arc::new(secrets), clock), dir)
    }

    fn attempt(key: &str, body: &[u8]) -> Option<Attempt> {
        Some(Attempt::new("test", IdempotencyKey::parse(key).unwrap(), &[body]))
    }

    /// `once` with a create that counts its runs and returns the n-th id, and a load that echoes the id.
    async fn run(state: &AppState, ws: &WorkspaceId, a: Option<Attempt>, creates: &AtomicUsize, result: Result<(), ApiError>) -> Result<Outcome<String>, ApiError> {
        once(
            state,
            ws,
            a,
            |id: &String| id.clone(),
            || async {
                let n = creates.fetch_add(1, Ordering::SeqCst) + 1;
                result.map(|()| format!("res_{n}"))
            },
            |id| async move { Ok(id) },
        )
        .await
    }

    fn ws() -> WorkspaceId {
        WorkspaceId::parse("ws_01jd5x8q0y8m3n2b7c4v6w9z1a").unwrap()
    }

    #[tokio::test]
    async fn a_key_creates_once_per_window_and_refuses_another_request() {
        let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
        let (state, dir) = state(clock.clone());
        let creates = AtomicUsize::new(0);
        assert!(matches!(run(&state, &ws(), attempt("k", b"a"), &creates, Ok(())).await.unwrap(), Outcome::Created(id) if id == "res_1"));
        assert!(matches!(run(&state, &ws(), attempt("k", b"a"), &creates, Ok(())).await.unwrap(), Outcome::Repeated(id) if id == "res_1"));
        let other = run(&state, &ws(), attempt("k", b"b"), &creates, Ok(())).await.unwrap_err();
        assert_eq!(other.code(), "idempotency_key_reused");
        let other_ws = WorkspaceId::parse("ws_01jd5x8q0y8m3n2b7c4v6w9z1b").unwrap();
        assert!(matches!(run(&state, &other_ws, attempt("k", b"b"), &creates, Ok(())).await.unwrap(), Outcome::Created(_)), "keys are per workspace");
        assert!(matches!(run(&state, &ws(), None, &creates, Ok(())).await.unwrap(), Outcome::Created(_)), "no key: always creates");
        assert_eq!(creates.load(Ordering::SeqCst), 3);

        clock.advance(chrono::Duration::seconds(WINDOW_SECONDS - 1));
        assert!(matches!(run(&state, &ws(), attempt("k", b"a"), &creates, Ok(())).await.unwrap(), Outcome::Repeated(_)), "still within 24 h");
        clock.advance(chrono::Duration::seconds(1));
        assert!(matches!(run(&state, &ws(), attempt("k", b"b"), &creates, Ok(())).await.unwrap(), Outcome::Created(_)), "after 24 h the key is free");
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn a_client_error_releases_the_claim_a_server_error_holds_it_for_the_lease() {
        let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
        let (state, dir) = state(clock.clone());
        let creates = AtomicUsize::new(0);
        let refused = run(&state, &ws(), attempt("k", b"a"), &creates, Err(ApiError::Validation("bad".into()))).await.unwrap_err();
        assert_eq!(refused.code(), "validation_failed");
        assert!(matches!(run(&state, &ws(), attempt("k", b"a"), &creates, Ok(())).await.unwrap(), Outcome::Created(_)), "a 4xx created nothing: retry at once");

        let down = run(&state, &ws(), attempt("j", b"a"), &creates, Err(ApiError::Unavailable("queue".into()))).await.unwrap_err();
        assert_eq!(down.code(), "unavailable");
        let held = run(&state, &ws(), attempt("j", b"a"), &creates, Ok(())).await.unwrap_err();
        assert_eq!(held.code(), "conflict", "a 5xx may have half-created: held for the lease");
        clock.advance(chrono::Duration::seconds(CLAIM_LEASE_SECONDS));
        assert!(matches!(run(&state, &ws(), attempt("j", b"a"), &creates, Ok(())).await.unwrap(), Outcome::Created(_)), "taken over after the lease");
        assert!(matches!(run(&state, &ws(), attempt("j", b"a"), &creates, Ok(())).await.unwrap(), Outcome::Repeated(_)));
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn a_crashed_claim_blocks_only_for_the_lease_and_one_taker_wins() {
        let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
        let (state, dir) = state(clock.clone());
        // The process died after claiming: a claim with no result.
        assert!(matches!(claim(&state, &ws(), attempt("k", b"a").as_ref().unwrap()).await.unwrap(), Claimed::Fresh(_)));
        let creates = AtomicUsize::new(0);
        assert_eq!(run(&state, &ws(), attempt("k", b"a"), &creates, Ok(())).await.unwrap_err().code(), "conflict");
        clock.advance(chrono::Duration::seconds(CLAIM_LEASE_SECONDS));
        let takers = [claim(&state, &ws(), attempt("k", b"a").as_ref().unwrap()).await, claim(&state, &ws(), attempt("k", b"a").as_ref().unwrap()).await];
        assert_eq!(takers.iter().filter(|t| matches!(t, Ok(Claimed::Fresh(_)))).count(), 1, "the versioned take-over lets one through");
        assert_eq!(creates.load(Ordering::SeqCst), 0);
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_duplicates_create_once() {
        let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
        let (state, dir) = state(clock);
        let creates = Arc::new(AtomicUsize::new(0));
        let tasks = (0..8).map(|_| {
            let (state, creates) = (state.clone(), creates.clone());
            tokio::spawn(async move { run(&state, &ws(), attempt("k", b"a"), &creates, Ok(())).await.map(|o| matches!(o, Outcome::Created(_))) })
        });
        let results: Vec<_> = futures_util::future::join_all(tasks).await.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(creates.load(Ordering::SeqCst), 1, "{results:?}");
        assert_eq!(results.iter().filter(|r| matches!(r, Ok(true))).count(), 1);
        assert!(results.iter().all(|r| r.is_ok() || r.as_ref().is_err_and(|e| e.code() == "conflict")), "the others repeat or are told to retry");
        std::fs::remove_dir_all(dir).ok();
    }
}
