//! The trigger repository: definitions under the workspace, a public pointer for `/t/{id}`, and the
//! secret sealed beside the definition (plus the previous one during a rotation overlap).

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::render;
use super::types::{ActionSpec, AuthMode, Trigger, TriggerId, TriggerInput, DEFAULT_DEDUPE_WINDOW, MAX_ACTIONS, MAX_DEDUPE_WINDOW};
use crate::auth::{Action, RequestMeta, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::envelope::{open_cached, seal, Sealed};
use crate::ports::{Condition, EncryptionContext, Item, Key, Query, TxWrite};
use crate::state::AppState;
use crate::workspaces::audit;

const CURRENT: &str = "sealed";
const PREVIOUS: &str = "previous_sealed";
pub const MAX_OVERLAP_SECONDS: u32 = 7 * 86_400;

pub fn trigger_key(ws: &WorkspaceId, id: &TriggerId) -> Key {
    Key::new(format!("WS#{ws}"), format!("TRIGGER#{id}"))
}

fn pointer_key(id: &TriggerId) -> Key {
    Key::new(format!("TRIGGER#{id}"), "TRIGGER")
}

#[derive(Serialize, Deserialize)]
struct Pointer {
    workspace: WorkspaceId,
}

fn context(ws: &WorkspaceId, id: &TriggerId) -> EncryptionContext {
    EncryptionContext::new([("workspace", ws.as_str()), ("trigger", id.as_str()), ("purpose", "trigger-secret")])
}

fn generated_secret(auth: AuthMode) -> String {
    let bytes = crate::crypto::random_bytes::<32>();
    match auth {
        AuthMode::StandardWebhooks => format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes)),
        AuthMode::Token => format!("wtt_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)),
        AuthMode::Github | AuthMode::Stripe | AuthMode::Shopify | AuthMode::Hmac => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// The secret a trigger starts with: generated, except Stripe's (Stripe issues it) and an optional
/// GitHub one (the user may already have set one on GitHub).
fn initial_secret(auth: AuthMode, given: Option<&str>) -> Result<String, ApiError> {
    match (auth, given.map(str::trim)) {
        (AuthMode::Stripe, Some(s)) if s.starts_with("whsec_") && s.len() >= 20 => Ok(s.to_owned()),
        (AuthMode::Stripe, _) => Err(ApiError::Validation("stripe triggers need `secret`: the endpoint's signing secret from Stripe (whsec_…)".into())),
        (AuthMode::Shopify, Some(s)) if (8..=200).contains(&s.len()) => Ok(s.to_owned()),
        (AuthMode::Shopify, _) => Err(ApiError::Validation("Shopify triggers need the app's client secret (Shopify signs its webhooks with it)".into())),
        (AuthMode::Github | AuthMode::Hmac, Some(s)) if (16..=200).contains(&s.len()) => Ok(s.to_owned()),
        (AuthMode::Github | AuthMode::Hmac, Some(_)) => Err(ApiError::Validation("a signing secret must be 16–200 characters".into())),
        (_, Some(_)) => Err(ApiError::Validation("`secret` is generated for this auth mode; leave it out".into())),
        (auth, None) => Ok(generated_secret(auth)),
    }
}

fn hint(secret: &str) -> String {
    let tail: String = secret.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("••••{tail}")
}

/// Checks a definition: names, limits, templates, and that referenced sites and channels exist here.
async fn validate(state: &AppState, ws: &Workspace, input: &TriggerInput) -> Result<(), ApiError> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::Validation("name must be 1–100 characters".into()));
    }
    match (input.auth, &input.hmac) {
        (AuthMode::Hmac, Some(h)) => h.check().map_err(ApiError::Validation)?,
        (AuthMode::Hmac, None) => return Err(ApiError::Validation("HMAC triggers need the signature header, algorithm and encoding".into())),
        (_, Some(_)) => return Err(ApiError::Validation("HMAC settings apply only to the HMAC auth mode".into())),
        (_, None) => {}
    }
    if input.actions.is_empty() || input.actions.len() > MAX_ACTIONS {
        return Err(ApiError::Validation(format!("a trigger needs 1–{MAX_ACTIONS} actions")));
    }
    if input.dedupe_window_seconds.is_some_and(|w| !(60..=MAX_DEDUPE_WINDOW).contains(&w)) {
        return Err(ApiError::Validation(format!("dedupe_window_seconds must be 60–{MAX_DEDUPE_WINDOW}")));
    }
    if let Some(p) = &input.dedupe_path {
        if p.is_empty() || p.len() > 200 || !p.split('.').all(|s| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || "_-".contains(c))) {
            return Err(ApiError::Validation("dedupe_path is a dotted payload path such as `event.id`".into()));
        }
    }
    render::check(input.filter.as_deref(), &input.actions).map_err(|e| ApiError::Validation(format!("template error in {e}")))?;
    for (i, action) in input.actions.iter().enumerate() {
        let refers = |m: String| ApiError::Validation(format!("actions[{i}]: {m}"));
        match action {
            ActionSpec::Push { site_id, .. } => {
                let site = crate::push::sites::SiteId::parse(site_id).map_err(|_| refers(format!("no site `{site_id}`")))?;
                crate::push::sites::get(state, ws, &site).await.map_err(|_| refers(format!("no site `{site_id}` in this workspace")))?;
            }
            ActionSpec::Whatsapp { channel_id, .. } => {
                let channel = crate::whatsapp::types::ChannelId::parse(channel_id).map_err(|_| refers(format!("no channel `{channel_id}`")))?;
                crate::whatsapp::channels::load(state, ws.id(), &channel).await.map_err(|_| refers(format!("no channel `{channel_id}` in this workspace")))?;
            }
            ActionSpec::Members { .. } => {}
        }
    }
    Ok(())
}

fn stored(key: Key, trigger: &Trigger, current: &Sealed, previous: Option<&Sealed>) -> Item {
    let mut item = Item::of(key, trigger);
    item.attrs.insert(CURRENT.into(), serde_json::to_value(current).expect("sealed serialises"));
    if let Some(p) = previous {
        item.attrs.insert(PREVIOUS.into(), serde_json::to_value(p).expect("sealed serialises"));
    }
    item
}

/// Creates a trigger. Returns it with its secret, which is shown this once.
pub async fn create(state: &AppState, ws: &Workspace, meta: &RequestMeta, input: &TriggerInput) -> Result<(Trigger, SecretString), ApiError> {
    ws.require(Action::TriggersManage)?;
    validate(state, ws, input).await?;
    let secret = initial_secret(input.auth, input.secret.as_deref())?;
    let id = TriggerId::new(state.clock.new_id());
    let now = state.clock.now().to_rfc3339();
    let trigger = Trigger {
        id: id.clone(),
        name: input.name.trim().to_owned(),
        enabled: input.enabled,
        auth: input.auth,
        hmac: input.hmac.clone(),
        filter: input.filter.clone().filter(|f| !f.trim().is_empty()),
        dedupe_path: input.dedupe_path.clone(),
        dedupe_window_seconds: input.dedupe_window_seconds.unwrap_or(DEFAULT_DEDUPE_WINDOW),
        actions: input.actions.clone(),
        secret_hint: hint(&secret),
        previous_secret_valid_until: None,
        created_at: now.clone(),
        updated_at: now,
    };
    let sealed = seal(state.keyring.as_ref(), &context(ws.id(), &id), secret.as_bytes()).await?;
    let key = trigger_key(ws.id(), &id);
    state
        .table
        .transact(vec![
            TxWrite::Put { item: stored(key.clone(), &trigger, &sealed, None), condition: Condition::NotExists },
            crate::keys::register(&key, CURRENT, &context(ws.id(), &id)),
            TxWrite::Put { item: Item::of(pointer_key(&id), &Pointer { workspace: ws.id().clone() }), condition: Condition::NotExists },
            audit::entry(state, ws, meta, "trigger.create", id.as_str()),
        ])
        .await?;
    Ok((trigger, SecretString::from(secret)))
}

pub(super) async fn load_item(state: &AppState, ws: &WorkspaceId, id: &TriggerId) -> Result<Item, ApiError> {
    state.table.get(&trigger_key(ws, id)).await?.ok_or_else(|| ApiError::NotFound("no such trigger".into()))
}

pub async fn get(state: &AppState, ws: &Workspace, id: &TriggerId) -> Result<Trigger, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    Ok(load_item(state, ws.id(), id).await?.parse()?)
}

pub async fn list(state: &AppState, ws: &Workspace) -> Result<Vec<Trigger>, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let page = state.table.query(Query::partition(ws.pk()).prefix("TRIGGER#").limit(500)).await?;
    page.items.iter().map(|i| i.parse().map_err(ApiError::from)).collect()
}

/// Replaces the definition (name, auth mode, filter, dedupe, actions); the secret stays.
pub async fn update(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &TriggerId, input: &TriggerInput) -> Result<Trigger, ApiError> {
    ws.require(Action::TriggersManage)?;
    validate(state, ws, input).await?;
    let item = load_item(state, ws.id(), id).await?;
    let old: Trigger = item.parse()?;
    if input.auth != old.auth {
        return Err(ApiError::Validation("auth cannot change; create a new trigger (its secret differs)".into()));
    }
    let trigger = Trigger {
        name: input.name.trim().to_owned(),
        enabled: input.enabled,
        hmac: input.hmac.clone(),
        filter: input.filter.clone().filter(|f| !f.trim().is_empty()),
        dedupe_path: input.dedupe_path.clone(),
        dedupe_window_seconds: input.dedupe_window_seconds.unwrap_or(old.dedupe_window_seconds),
        actions: input.actions.clone(),
        updated_at: state.clock.now().to_rfc3339(),
        ..old
    };
    let mut updated = Item::of(item.key.clone(), &trigger).with_version(item.version + 1);
    for field in [CURRENT, PREVIOUS] {
        if let Some(v) = item.attrs.get(field) {
            updated.attrs.insert(field.into(), v.clone());
        }
    }
    state
        .table
        .transact(vec![TxWrite::Put { item: updated, condition: Condition::VersionIs(item.version) }, audit::entry(state, ws, meta, "trigger.update", id.as_str())])
        .await?;
    Ok(trigger)
}

pub async fn delete(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &TriggerId) -> Result<(), ApiError> {
    ws.require(Action::TriggersManage)?;
    let key = trigger_key(ws.id(), id);
    load_item(state, ws.id(), id).await?;
    state
        .table
        .transact(vec![
            TxWrite::Delete { key: key.clone(), condition: Condition::Exists },
            TxWrite::Delete { key: pointer_key(id), condition: Condition::None },
            crate::keys::unregister(&key, CURRENT),
            crate::keys::unregister(&key, PREVIOUS),
            audit::entry(state, ws, meta, "trigger.delete", id.as_str()),
        ])
        .await?;
    Ok(())
}

/// A new secret; the old one keeps working for `overlap_seconds` so senders can switch without loss.
pub async fn rotate(state: &AppState, ws: &Workspace, meta: &RequestMeta, id: &TriggerId, given: Option<&str>, overlap_seconds: u32) -> Result<(Trigger, SecretString), ApiError> {
    ws.require(Action::TriggersManage)?;
    if overlap_seconds > MAX_OVERLAP_SECONDS {
        return Err(ApiError::Validation(format!("overlap_seconds must be at most {MAX_OVERLAP_SECONDS}")));
    }
    let item = load_item(state, ws.id(), id).await?;
    let old: Trigger = item.parse()?;
    let secret = initial_secret(old.auth, given)?;
    let sealed = seal(state.keyring.as_ref(), &context(ws.id(), id), secret.as_bytes()).await?;
    let previous: Option<Sealed> = item.attrs.get(CURRENT).cloned().map(serde_json::from_value).transpose().map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = state.clock.now();
    let trigger = Trigger {
        secret_hint: hint(&secret),
        previous_secret_valid_until: (overlap_seconds > 0).then(|| (now + chrono::Duration::seconds(overlap_seconds.into())).to_rfc3339()),
        updated_at: now.to_rfc3339(),
        ..old
    };
    let previous = previous.filter(|_| overlap_seconds > 0);
    let updated = stored(item.key.clone(), &trigger, &sealed, previous.as_ref()).with_version(item.version + 1);
    let mut writes = vec![TxWrite::Put { item: updated, condition: Condition::VersionIs(item.version) }, audit::entry(state, ws, meta, "trigger.rotate_secret", id.as_str())];
    if previous.is_some() {
        writes.push(crate::keys::register(&item.key, PREVIOUS, &context(ws.id(), id)));
    }
    state.table.transact(writes).await?;
    Ok((trigger, SecretString::from(secret)))
}

/// What the public endpoint needs: the workspace, the definition, and every secret accepted now
/// (the current one first, then the previous one while its overlap lasts).
pub async fn for_ingest(state: &AppState, raw_id: &str) -> Result<(WorkspaceId, Trigger, Vec<SecretString>), ApiError> {
    let not_found = || ApiError::NotFound("no such trigger".into());
    let id = TriggerId::parse(raw_id).map_err(|_| not_found())?;
    let pointer: Pointer = state.table.get(&pointer_key(&id)).await?.ok_or_else(not_found)?.parse()?;
    let item = load_item(state, &pointer.workspace, &id).await?;
    let trigger: Trigger = item.parse()?;
    let ctx = context(&pointer.workspace, &id);
    let mut secrets = Vec::new();
    let overlap_open = trigger.previous_secret_valid_until.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).is_some_and(|until| until > state.clock.now());
    for field in [CURRENT, PREVIOUS] {
        if field == PREVIOUS && !overlap_open {
            continue;
        }
        if let Some(v) = item.attrs.get(field) {
            let sealed: Sealed = serde_json::from_value(v.clone()).map_err(|e| ApiError::Internal(e.to_string()))?;
            let plain = open_cached(&state.data_keys, state.keyring.as_ref(), &ctx, &sealed).await?;
            secrets.push(SecretString::from(String::from_utf8_lossy(plain.expose_secret()).into_owned()));
        }
    }
    Ok((pointer.workspace, trigger, secrets))
}
