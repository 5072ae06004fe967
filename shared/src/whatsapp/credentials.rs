//! Provider credentials: public identifiers in the clear, secrets sealed with the `Keyring` under a fresh
//! data key bound to {workspace, credential, purpose}. The API only ever shows a masked hint.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::providers::{ProviderSecrets, TwilioAuth};
use super::types::{CredentialId, Provider};
use crate::auth::{Action, RequestMeta, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::envelope::{open_cached, seal, Sealed};
use crate::ports::{Condition, EncryptionContext, Item, Key, Query, TableError, TxWrite};
use crate::state::AppState;
use crate::workspaces::audit;

const SEALED_FIELD: &str = "sealed";

/// A secret from a request body: redacted in `Debug`, never serialised back.
pub struct SecretInput(SecretString);

impl<'de> Deserialize<'de> for SecretInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Self(SecretString::from(s)))
    }
}

impl utoipa::PartialSchema for SecretInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        String::schema()
    }
}
impl ToSchema for SecretInput {}

impl SecretInput {
    fn get(&self) -> &str {
        self.0.expose_secret()
    }
}

/// What a caller supplies per provider.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "provider", rename_all = "lowercase", deny_unknown_fields)]
pub enum CredentialInput {
    /// Account SID with either the auth token or an API key SID + secret (recommended). The auth token
    /// is also what Twilio signs webhooks with.
    Twilio { account_sid: String, auth_token: Option<SecretInput>, api_key_sid: Option<String>, api_key_secret: Option<SecretInput> },
    /// `app_id` (the Meta app's numeric id) is needed to upload media samples for templates with an
    /// image, video or document header (Meta's Resumable Upload API works per app).
    Meta { access_token: SecretInput, app_secret: SecretInput, phone_number_id: String, waba_id: String, app_id: Option<String> },
    Whapi { token: SecretInput },
}

#[derive(Deserialize, ToSchema)]
pub struct NewCredential {
    pub name: String,
    #[serde(flatten)]
    pub input: CredentialInput,
}

#[derive(Deserialize, ToSchema)]
pub struct CredentialUpdate {
    pub name: Option<String>,
    /// New secrets (same provider): re-sealed under a fresh data key.
    pub secrets: Option<CredentialInput>,
    /// Meta only: set or change the app id without re-entering the secrets.
    pub app_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct TestOutcome {
    pub ok: bool,
    pub summary: String,
    pub provider_code: Option<String>,
    pub at: String,
}

/// A stored credential as the API shows it: no secret, only a masked hint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct Credential {
    pub id: CredentialId,
    pub name: String,
    pub provider: Provider,
    /// e.g. `token ••••a1b2`.
    pub hint: String,
    pub account_sid: Option<String>,
    pub api_key_sid: Option<String>,
    pub phone_number_id: Option<String>,
    pub waba_id: Option<String>,
    /// Meta: the app the access token belongs to (for media sample uploads).
    #[serde(default)]
    pub app_id: Option<String>,
    /// The master key the data key is wrapped under (changes with `webtrigger keys rotate`).
    pub key_version: String,
    pub created_at: String,
    pub updated_at: String,
    pub last_test: Option<TestOutcome>,
}

/// The sealed plaintext.
#[derive(Serialize, Deserialize, Default)]
struct SecretFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl Drop for SecretFields {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for s in [&mut self.auth_token, &mut self.api_key_secret, &mut self.access_token, &mut self.app_secret, &mut self.token].into_iter().flatten() {
            s.zeroize();
        }
    }
}

fn sid(value: &str, prefix: &str, what: &str) -> Result<String, ApiError> {
    let v = value.trim();
    let ok = v.len() == 34 && v.starts_with(prefix) && v[2..].bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| v.to_owned()).ok_or_else(|| ApiError::Validation(format!("{what} must be {prefix} followed by 32 hex digits")))
}

fn secret(value: &SecretInput, what: &str, len: std::ops::RangeInclusive<usize>) -> Result<String, ApiError> {
    let v = value.get().trim();
    if len.contains(&v.len()) && !v.chars().any(char::is_whitespace) {
        Ok(v.to_owned())
    } else {
        Err(ApiError::Validation(format!("{what} must be {}–{} characters without spaces", len.start(), len.end())))
    }
}

fn numeric_id(value: &str, what: &str) -> Result<String, ApiError> {
    let v = value.trim();
    ((5..=30).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit())).then(|| v.to_owned()).ok_or_else(|| ApiError::Validation(format!("{what} must be the numeric id from Meta")))
}

fn mask(secret: &str) -> String {
    let tail: String = secret.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("••••{tail}")
}

/// The public part of a checked input, and the fields to seal.
struct Parsed {
    provider: Provider,
    hint: String,
    account_sid: Option<String>,
    api_key_sid: Option<String>,
    phone_number_id: Option<String>,
    waba_id: Option<String>,
    app_id: Option<String>,
    secrets: SecretFields,
}

fn parse_input(input: &CredentialInput) -> Result<Parsed, ApiError> {
    let blank = |provider, hint| Parsed { provider, hint, account_sid: None, api_key_sid: None, phone_number_id: None, waba_id: None, app_id: None, secrets: SecretFields::default() };
    Ok(match input {
        CredentialInput::Twilio { account_sid, auth_token, api_key_sid, api_key_secret } => {
            let account_sid = sid(account_sid, "AC", "account_sid")?;
            let auth_token = auth_token.as_ref().map(|t| secret(t, "auth_token", 16..=128)).transpose()?;
            let (key_sid, key_secret) = match (api_key_sid, api_key_secret) {
                (Some(s), Some(k)) => (Some(sid(s, "SK", "api_key_sid")?), Some(secret(k, "api_key_secret", 16..=128)?)),
                (None, None) => (None, None),
                _ => return Err(ApiError::Validation("api_key_sid and api_key_secret go together".into())),
            };
            if auth_token.is_none() && key_sid.is_none() {
                return Err(ApiError::Validation("Twilio needs auth_token, or api_key_sid with api_key_secret".into()));
            }
            let hint = match (&key_sid, &auth_token) {
                (Some(k), _) => format!("API key {k} secret {}", mask(key_secret.as_deref().unwrap_or_default())),
                (None, Some(t)) => format!("auth token {}", mask(t)),
                (None, None) => unreachable!("checked above"),
            };
            let mut p = blank(Provider::Twilio, hint);
            p.account_sid = Some(account_sid);
            p.api_key_sid = key_sid;
            p.secrets.auth_token = auth_token;
            p.secrets.api_key_secret = key_secret;
            p
        }
        CredentialInput::Meta { access_token, app_secret, phone_number_id, waba_id, app_id } => {
            let token = secret(access_token, "access_token", 20..=1024)?;
            let mut p = blank(Provider::Meta, format!("access token {}", mask(&token)));
            p.phone_number_id = Some(numeric_id(phone_number_id, "phone_number_id")?);
            p.waba_id = Some(numeric_id(waba_id, "waba_id")?);
            p.app_id = app_id.as_deref().map(|a| numeric_id(a, "app_id")).transpose()?;
            p.secrets.access_token = Some(token);
            p.secrets.app_secret = Some(secret(app_secret, "app_secret", 16..=128)?);
            p
        }
        CredentialInput::Whapi { token } => {
            let token = secret(token, "token", 10..=256)?;
            let mut p = blank(Provider::Whapi, format!("token {}", mask(&token)));
            p.secrets.token = Some(token);
            p
        }
    })
}

/// The API view of a stored credential; the key version is read from the sealed value itself, so it
/// follows `webtrigger keys rotate`.
fn view(item: &Item) -> Result<Credential, ApiError> {
    let mut cred: Credential = item.parse()?;
    if let Some(v) = item.attrs.get(SEALED_FIELD).and_then(|s| s.get("master_key_id")).and_then(|v| v.as_str()) {
        cred.key_version = v.to_owned();
    }
    Ok(cred)
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let n = name.trim();
    (!n.is_empty() && n.chars().count() <= 80).then(|| n.to_owned()).ok_or_else(|| ApiError::Validation("name must be 1–80 characters".into()))
}

pub fn context(ws: &WorkspaceId, id: &CredentialId) -> EncryptionContext {
    EncryptionContext::new([("workspace", ws.as_str()), ("credential", id.as_str()), ("purpose", "provider-credential")])
}

pub fn credential_key(ws: &WorkspaceId, id: &CredentialId) -> Key {
    Key::new(format!("WS#{ws}#CRED"), id.to_string())
}

async fn sealed_item(state: &AppState, ws: &WorkspaceId, cred: &Credential, secrets: &SecretFields) -> Result<Item, ApiError> {
    let plaintext = Zeroizing::new(serde_json::to_vec(secrets).expect("secrets serialise"));
    let sealed = seal(state.keyring.as_ref(), &context(ws, &cred.id), &plaintext).await?;
    let cred = Credential { key_version: sealed.master_key_id.clone(), ..cred.clone() };
    Ok(Item::of(credential_key(ws, &cred.id), &cred).with_attr(SEALED_FIELD, serde_json::to_value(&sealed).expect("sealed serialises")))
}

pub async fn create(state: &AppState, ws: &Workspace, meta: &RequestMeta, req: NewCredential) -> Result<Credential, ApiError> {
    ws.require(Action::ChannelsManage)?;
    let name = check_name(&req.name)?;
    let p = parse_input(&req.input)?;
    let now = state.clock.now().to_rfc3339();
    let id = CredentialId::new(state.clock.new_id());
    let cred = Credential { id: id.clone(), name, provider: p.provider, hint: p.hint.clone(), account_sid: p.account_sid.clone(), api_key_sid: p.api_key_sid.clone(), phone_number_id: p.phone_number_id.clone(), waba_id: p.waba_id.clone(), app_id: p.app_id.clone(), key_version: String::new(), created_at: now.clone(), updated_at: now, last_test: None };
    let item = sealed_item(state, ws.id(), &cred, &p.secrets).await?;
    let cred: Credential = item.parse()?;
    let key = item.key.clone();
    state
        .table
        .transact(vec![TxWrite::Put { item, condition: Condition::NotExists }, crate::keys::register(&key, SEALED_FIELD, &context(ws.id(), &id)), audit::entry(state, ws, meta, "credential.create", id.as_str())])
        .await?;
    Ok(cred)
}

pub async fn list(state: &AppState, ws: &Workspace) -> Result<Vec<Credential>, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let page = state.table.query(Query::partition(format!("WS#{}#CRED", ws.id())).limit(200)).await?;
    page.items.iter().map(view).collect()
}

async fn load(state: &AppState, ws: &WorkspaceId, id: &CredentialId) -> Result<Item, ApiError> {
    state.table.get(&credential_key(ws, id)).await?.ok_or_else(|| ApiError::NotFound(format!("no credential `{id}`")))
}

pub async fn get(state: &AppState, ws: &Workspace, id: &CredentialId) -> Result<Credential, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    view(&load(state, ws.id(), id).await?)
}

pub async fn update(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &CredentialId, req: CredentialUpdate) -> Result<Credential, ApiError> {
    ws.require(Action::ChannelsManage)?;
    let item = load(state, ws.id(), id).await?;
    let mut cred = view(&item)?;
    if let Some(name) = &req.name {
        cred.name = check_name(name)?;
    }
    if let Some(app_id) = &req.app_id {
        if cred.provider != Provider::Meta {
            return Err(ApiError::Validation("app_id is for Meta credentials only".into()));
        }
        cred.app_id = Some(numeric_id(app_id, "app_id")?);
    }
    cred.updated_at = state.clock.now().to_rfc3339();
    let updated = match &req.secrets {
        Some(input) => {
            let p = parse_input(input)?;
            if p.provider != cred.provider {
                return Err(ApiError::Validation(format!("this credential is for {}; create a new one for {}", cred.provider.as_str(), p.provider.as_str())));
            }
            cred = Credential { hint: p.hint.clone(), account_sid: p.account_sid.clone(), api_key_sid: p.api_key_sid.clone(), phone_number_id: p.phone_number_id.clone(), waba_id: p.waba_id.clone(), app_id: p.app_id.clone().or(cred.app_id.clone()), last_test: None, ..cred };
            sealed_item(state, ws.id(), &cred, &p.secrets).await?
        }
        None => {
            let sealed = item.attrs.get(SEALED_FIELD).cloned().unwrap_or_default();
            Item::of(item.key.clone(), &cred).with_attr(SEALED_FIELD, sealed)
        }
    };
    let cred: Credential = updated.parse()?;
    let action = if req.secrets.is_some() { "credential.rotate" } else { "credential.update" };
    state
        .table
        .transact(vec![TxWrite::Put { item: updated.with_version(item.version + 1), condition: Condition::VersionIs(item.version) }, audit::entry(state, ws, meta, action, id.as_str())])
        .await
        .map_err(|e| match e {
            TableError::TransactionCancelled { .. } => ApiError::Conflict("the credential changed meanwhile; reload and retry".into()),
            e => e.into(),
        })?;
    Ok(cred)
}

pub async fn delete(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &CredentialId) -> Result<(), ApiError> {
    ws.require(Action::ChannelsManage)?;
    load(state, ws.id(), id).await?;
    let users: Vec<String> = super::channels::list_all(state, ws.id()).await?.into_iter().filter(|c| c.credential_id == *id).map(|c| c.name).collect();
    if !users.is_empty() {
        return Err(ApiError::Conflict(format!("channels still use this credential: {}", users.join(", "))));
    }
    let key = credential_key(ws.id(), id);
    state
        .table
        .transact(vec![TxWrite::Delete { key: key.clone(), condition: Condition::Exists }, crate::keys::unregister(&key, SEALED_FIELD), audit::entry(state, ws, meta, "credential.delete", id.as_str())])
        .await?;
    Ok(())
}

pub async fn record_test(state: &AppState, ws: &WorkspaceId, id: &CredentialId, outcome: &TestOutcome) -> Result<(), ApiError> {
    let item = load(state, ws, id).await?;
    let mut cred: Credential = item.parse()?;
    cred.last_test = Some(outcome.clone());
    let sealed = item.attrs.get(SEALED_FIELD).cloned().unwrap_or_default();
    let updated = Item::of(item.key.clone(), &cred).with_attr(SEALED_FIELD, sealed).with_version(item.version + 1);
    match state.table.put(updated, Condition::VersionIs(item.version)).await {
        Ok(()) | Err(TableError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The credential and its decrypted secrets (the data key is cached briefly per process).
pub async fn unseal(state: &AppState, ws: &WorkspaceId, id: &CredentialId) -> Result<(Credential, Arc<ProviderSecrets>), ApiError> {
    let item = load(state, ws, id).await?;
    let cred: Credential = item.parse()?;
    let sealed: Sealed = serde_json::from_value(item.attrs.get(SEALED_FIELD).cloned().unwrap_or_default()).map_err(|e| ApiError::Internal(format!("credential without sealed secrets: {e}")))?;
    let plaintext = open_cached(&state.data_keys, state.keyring.as_ref(), &context(ws, id), &sealed).await?;
    let fields: SecretFields = serde_json::from_slice(plaintext.expose_secret()).map_err(|e| ApiError::Internal(format!("sealed credential is not readable: {e}")))?;
    let take = |v: &Option<String>| SecretString::from(v.clone().unwrap_or_default());
    let secrets = match cred.provider {
        Provider::Twilio => ProviderSecrets::Twilio {
            account_sid: cred.account_sid.clone().unwrap_or_default(),
            auth: match (&cred.api_key_sid, &fields.api_key_secret) {
                (Some(sid), Some(_)) => TwilioAuth::ApiKey { sid: sid.clone(), secret: take(&fields.api_key_secret) },
                _ => TwilioAuth::AuthToken(take(&fields.auth_token)),
            },
            webhook_token: fields.auth_token.as_ref().map(|t| SecretString::from(t.clone())),
        },
        Provider::Meta => ProviderSecrets::Meta { access_token: take(&fields.access_token), phone_number_id: cred.phone_number_id.clone().unwrap_or_default(), app_secret: take(&fields.app_secret) },
        Provider::Whapi => ProviderSecrets::Whapi { token: take(&fields.token) },
    };
    Ok((cred, Arc::new(secrets)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> Result<Parsed, ApiError> {
        parse_input(&serde_json::from_value::<CredentialInput>(json).map_err(|e| ApiError::Validation(e.to_string()))?)
    }

    #[test]
    fn inputs_are_checked_per_provider() {
        let sid = format!("AC{}", "a".repeat(32));
        let p = input(serde_json::json!({"provider": "twilio", "account_sid": sid, "auth_token": "0123456789abcdef0123456789abcdef"})).unwrap();
        assert_eq!(p.hint, "auth token ••••cdef");
        assert!(input(serde_json::json!({"provider": "twilio", "account_sid": sid})).is_err(), "needs a secret");
        assert!(input(serde_json::json!({"provider": "twilio", "account_sid": "AC1", "auth_token": "0123456789abcdef"})).is_err());
        assert!(input(serde_json::json!({"provider": "meta", "access_token": "EAAG".repeat(10), "app_secret": "f".repeat(32), "phone_number_id": "106540352242922", "waba_id": "abc"})).is_err());
        assert!(input(serde_json::json!({"provider": "whapi", "token": "short"})).is_err());
        assert!(input(serde_json::json!({"provider": "sms", "token": "x"})).is_err());
    }
}
