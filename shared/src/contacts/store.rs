//! Contact records (`WS#<ws>#CONTACT` / E.164 number, names indexed lower-case on `gsi1` for prefix
//! search): upserts from the inbox and the send path, detail, search, patch, CSV export and the GDPR erase.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::types::{check_fields, check_name, parse_tags, parse_time_zone, Contact, FieldValue};
use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::inbox::consent::{self, ConsentChange};
use crate::inbox::conversations::{self, Conversation, ConversationId};
use crate::ports::{Condition, Cursor, Item, Key, Query, TableError};
use crate::state::AppState;
use crate::whatsapp::types::{ChannelId, PhoneNumber};

pub fn partition(ws: &WorkspaceId) -> String {
    format!("WS#{ws}#CONTACT")
}

pub fn contact_key(ws: &WorkspaceId, phone: &PhoneNumber) -> Key {
    Key::new(partition(ws), phone.as_str().to_owned())
}

fn name_index(ws: &WorkspaceId) -> String {
    format!("WS#{ws}#CONTACTNAME")
}

pub fn item_of(ws: &WorkspaceId, c: &Contact) -> Item {
    let mut stored = c.clone();
    stored.opted_out = false;
    let item = Item::of(contact_key(ws, &c.phone), &stored);
    match c.name.as_deref().filter(|n| !n.is_empty()) {
        Some(n) => item.with_gsi1(name_index(ws), format!("{}#{}", n.to_lowercase(), c.phone.as_str())),
        None => item,
    }
}

pub async fn load(state: &AppState, ws: &WorkspaceId, phone: &PhoneNumber) -> Result<Option<(Item, Contact)>, ApiError> {
    match state.table.get(&contact_key(ws, phone)).await? {
        Some(item) => {
            let c = item.parse()?;
            Ok(Some((item, c)))
        }
        None => Ok(None),
    }
}

/// Applies `change` to the contact (created first when missing), with an optimistic version check retried on races.
pub async fn upsert(state: &AppState, ws: &WorkspaceId, phone: &PhoneNumber, change: impl Fn(&mut Contact) -> Result<(), ApiError>) -> Result<Contact, ApiError> {
    for _ in 0..8 {
        let now = state.clock.now().to_rfc3339();
        let (condition, version, mut c) = match load(state, ws, phone).await? {
            Some((item, c)) => (Condition::VersionIs(item.version), item.version + 1, c),
            None => (Condition::NotExists, 1, Contact::new(phone.clone(), &now)),
        };
        change(&mut c)?;
        c.updated_at = now;
        match state.table.put(item_of(ws, &c).with_version(version), condition).await {
            Ok(()) => return Ok(c),
            Err(TableError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict("the contact kept changing; retry".into()))
}

/// Records that the inbox or the sender talked to `phone` on `channel`. Best effort: a failure is logged,
/// never fails the message it accompanies.
pub async fn seen(state: &AppState, ws: &WorkspaceId, phone: &PhoneNumber, name: Option<&str>, channel: &ChannelId, inbound_at: Option<&str>) {
    let result = upsert(state, ws, phone, |c| {
        if let Some(n) = name.filter(|n| !n.trim().is_empty()) {
            c.name = Some(check_name(n).unwrap_or_else(|_| n.chars().filter(|ch| !ch.is_control()).take(super::types::MAX_NAME).collect()));
        }
        if !c.channels.contains(channel) {
            c.channels.push(channel.clone());
        }
        if let Some(at) = inbound_at {
            c.last_inbound_at = Some(at.to_owned());
        }
        Ok(())
    })
    .await;
    if let Err(e) = result {
        tracing::warn!(workspace = %ws, error = %e, "contact not recorded");
    }
}

/// Every opted-out number of the workspace (the consent ledger's current states).
pub async fn opted_out_set(state: &AppState, ws: &WorkspaceId) -> Result<HashSet<String>, ApiError> {
    let mut out = HashSet::new();
    let mut after = None;
    loop {
        let page = state.table.query(Query::partition(format!("WS#{ws}#CONSENT")).limit(500).after(after)).await?;
        for item in &page.items {
            if item.parse::<ConsentChange>()?.opted_out {
                out.insert(item.key.sk.clone());
            }
        }
        match page.next {
            Some(c) => after = Some(c),
            None => return Ok(out),
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ContactFilter {
    /// A phone number prefix (`+44`, `0791` is not E.164 and matches nothing) or a name prefix.
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// One page of contacts: by number, or by name when `q` is a name prefix.
pub async fn list(state: &AppState, ws: &WorkspaceId, f: &ContactFilter) -> Result<(Vec<Contact>, Option<String>), ApiError> {
    let after = f.cursor.as_deref().map(Cursor::parse).transpose()?;
    let limit = f.limit.unwrap_or(50).clamp(1, 200);
    let q = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let query = match q {
        Some(q) if q.starts_with(|c: char| c == '+' || c.is_ascii_digit()) => {
            let digits: String = q.chars().filter(char::is_ascii_digit).collect();
            Query::partition(partition(ws)).prefix(format!("+{digits}"))
        }
        Some(q) => Query::gsi1(name_index(ws)).prefix(q.to_lowercase()),
        None => Query::partition(partition(ws)),
    };
    let page = state.table.query(query.limit(limit).after(after)).await?;
    let opted_out = opted_out_set(state, ws).await?;
    let mut contacts = page.items.iter().map(Item::parse::<Contact>).collect::<Result<Vec<_>, _>>()?;
    for c in &mut contacts {
        c.opted_out = opted_out.contains(c.phone.as_str());
    }
    Ok((contacts, page.next.map(|c| c.as_str().to_owned())))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactDetail {
    #[serde(flatten)]
    pub contact: Contact,
    pub conversations: Vec<Conversation>,
    pub consent_history: Vec<ConsentChange>,
}

async fn conversations_of(state: &AppState, ws: &WorkspaceId, c: &Contact) -> Result<Vec<ConversationId>, ApiError> {
    let mut ids = Vec::new();
    let mut channels: Vec<ChannelId> = crate::whatsapp::channels::list_all(state, ws).await?.into_iter().map(|ch| ch.id).collect();
    channels.extend(c.channels.iter().cloned());
    channels.sort();
    channels.dedup();
    for ch in channels {
        if let Some(p) = state.table.get(&conversations::by_contact_key(ws, &ch, &c.phone)).await? {
            if let Some(id) = p.attrs.get("conversation").and_then(|v| v.as_str()) {
                ids.push(ConversationId::parse(id)?);
            }
        }
    }
    Ok(ids)
}

pub async fn detail(state: &AppState, ws: &WorkspaceId, phone: &PhoneNumber) -> Result<ContactDetail, ApiError> {
    let (_, mut contact) = load(state, ws, phone).await?.ok_or_else(|| ApiError::NotFound(format!("no contact {}", phone.as_str())))?;
    contact.opted_out = consent::is_opted_out(state, ws, phone).await?;
    let mut conversations = Vec::new();
    for id in conversations_of(state, ws, &contact).await? {
        conversations.push(conversations::load(state, ws, &id).await?);
    }
    let consent_history = consent::history(state, ws, phone).await?;
    Ok(ContactDetail { contact, conversations, consent_history })
}

/// A change to a contact; absent members stay as they are, a `null` field value removes the field.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ContactPatch {
    pub name: Option<String>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub add_tags: Vec<String>,
    #[serde(default)]
    pub remove_tags: Vec<String>,
    /// Field name → value (text, number, true/false), or null to remove the field.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, Option<FieldValue>>,
    pub time_zone: Option<String>,
}

pub async fn patch(state: &AppState, ws: &WorkspaceId, phone: &PhoneNumber, p: ContactPatch) -> Result<Contact, ApiError> {
    load(state, ws, phone).await?.ok_or_else(|| ApiError::NotFound(format!("no contact {}", phone.as_str())))?;
    let name = p.name.as_deref().map(check_name).transpose()?;
    let tags = p.tags.as_ref().map(|t| parse_tags(t.iter().map(String::as_str))).transpose()?;
    let add = parse_tags(p.add_tags.iter().map(String::as_str))?;
    let remove = parse_tags(p.remove_tags.iter().map(String::as_str))?;
    let set = check_fields(p.fields.iter().filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v))).collect())?;
    let unset = p.fields.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| super::types::parse_field_name(k)).collect::<Result<Vec<_>, _>>()?;
    let tz = p.time_zone.as_deref().map(|t| if t.is_empty() { Ok(String::new()) } else { parse_time_zone(t) }).transpose()?;
    let mut c = upsert(state, ws, phone, |c| {
        if let Some(n) = &name {
            c.name = Some(n.clone()).filter(|n| !n.is_empty());
        }
        if let Some(t) = &tags {
            c.tags = t.clone();
        }
        c.add_tags(&add)?;
        c.tags.retain(|t| !remove.contains(t));
        for k in &unset {
            c.fields.remove(k);
        }
        c.set_fields(set.clone())?;
        if let Some(tz) = &tz {
            c.time_zone = Some(tz.clone()).filter(|t| !t.is_empty());
        }
        Ok(())
    })
    .await?;
    c.opted_out = consent::is_opted_out(state, ws, phone).await?;
    Ok(c)
}

fn csv_cell(s: &str) -> String {
    // A leading = + - @ makes spreadsheets evaluate the cell: quote it as text.
    let s = if s.starts_with(['=', '+', '-', '@']) && !s[1..].chars().all(|c| c.is_ascii_digit()) { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

/// Every contact as CSV: phone, name, tags (`;`-separated), time zone, opted out, consent, then one column per field.
pub async fn export_csv(state: &AppState, ws: &WorkspaceId) -> Result<String, ApiError> {
    let opted_out = opted_out_set(state, ws).await?;
    let mut contacts = Vec::new();
    let mut after = None;
    loop {
        let page = state.table.query(Query::partition(partition(ws)).limit(500).after(after)).await?;
        contacts.extend(page.items.iter().map(Item::parse::<Contact>).collect::<Result<Vec<_>, _>>()?);
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    let mut names: Vec<&String> = contacts.iter().flat_map(|c| c.fields.keys()).collect();
    names.sort();
    names.dedup();
    let mut out = String::from("phone,name,tags,time_zone,opted_out,consent_source,consent_at");
    for n in &names {
        out.push(',');
        out.push_str(&csv_cell(n));
    }
    out.push('\n');
    for c in &contacts {
        let consent = c.consent.as_ref();
        let mut row = vec![c.phone.as_str().to_owned(), csv_cell(c.name.as_deref().unwrap_or_default()), csv_cell(&c.tags.join(";")), c.time_zone.clone().unwrap_or_default(),
            opted_out.contains(c.phone.as_str()).to_string(), csv_cell(consent.map_or("", |s| s.source.as_str())), consent.map_or(String::new(), |s| s.at.clone())];
        row.extend(names.iter().map(|n| csv_cell(&c.fields.get(*n).map(FieldValue::display).unwrap_or_default())));
        out.push_str(&row.join(","));
        out.push('\n');
    }
    Ok(out)
}
