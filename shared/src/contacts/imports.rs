//! CSV contact imports as a background job. The client uploads the file in numbered parts (each under
//! the request size limit; part 1 carries the header); each part is stored as chunks of rows, each chunk
//! written together with the row counter and queued on the campaigns queue. The worker applies a chunk and
//! writes its done marker (with the per-row errors) in one transaction with the progress counters, so a
//! redelivered chunk or a retried part never counts twice. A part number can be retried safely.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::csv::{self, Columns};
use super::phone::Country;
use super::store;
use crate::auth::types::prefixed_id;
use crate::auth::{Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::inbox::consent::{self, ConsentChange};
use crate::ports::{Condition, Cursor, Item, Key, Query, TableError, TxWrite};
use crate::state::AppState;

prefixed_id!(ImportId, "imp_", "import");

pub const CHUNK_ROWS: usize = 500;
pub const MAX_ROWS: u64 = 100_000;

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewImport {
    /// ISO country for numbers written without a country code (e.g. `US`, `GB`).
    pub default_country: Option<String>,
    /// Consent source for rows without a `consent_source` column value (e.g. `signup form`).
    pub consent_source: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportRecord {
    pub id: ImportId,
    pub default_country: Option<String>,
    pub consent_source: Option<String>,
    #[serde(skip)]
    #[schema(ignore)]
    pub columns: Option<Columns>,
    /// The header's columns, once part 1 is in.
    #[serde(default)]
    pub header: Vec<String>,
    pub last_part: Option<u32>,
    pub created_at: String,
    pub created_by: String,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(flatten)]
    record: ImportRecord,
    columns: Option<Columns>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportView {
    #[serde(flatten)]
    pub record: ImportRecord,
    /// `uploading` (waiting for the last part), `processing`, `completed`.
    pub status: String,
    pub rows_total: i64,
    pub rows_processed: i64,
    pub imported: i64,
    pub failed: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Part {
    /// 1, 2, 3…; part 1 starts with the header row. Re-sending a part is harmless.
    pub part: u32,
    pub csv: String,
    /// True on the final part.
    #[serde(default)]
    pub last: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RowError {
    pub part: u32,
    /// Line within the part (the header is line 1 of part 1).
    pub line: u32,
    pub error: String,
}

/// A queued chunk of rows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChunkJob {
    pub workspace: WorkspaceId,
    pub import: ImportId,
    pub chunk: String,
}

#[derive(Serialize, Deserialize)]
struct Chunk {
    part: u32,
    rows: Vec<(u32, Vec<String>)>,
}

fn record_key(ws: &WorkspaceId, id: &ImportId) -> Key {
    Key::new(format!("WS#{ws}#IMPORT"), id.to_string())
}

fn sub(ws: &WorkspaceId, id: &ImportId) -> String {
    format!("WS#{ws}#IMPORT#{id}")
}

fn counters_key(ws: &WorkspaceId, id: &ImportId) -> Key {
    Key::new(sub(ws, id), "COUNTERS")
}

pub async fn create(state: &AppState, ws: &Workspace, req: NewImport) -> Result<ImportView, ApiError> {
    ws.require(crate::auth::Action::ContactsManage)?;
    if let Some(c) = &req.default_country {
        Country::parse(c).map_err(ApiError::Validation)?;
    }
    let source = req.consent_source.map(|s| s.trim().chars().take(200).collect::<String>()).filter(|s| !s.is_empty());
    let record = ImportRecord { id: ImportId::new(state.clock.new_id()), default_country: req.default_country.map(|c| c.trim().to_uppercase()), consent_source: source, columns: None, header: vec![], last_part: None, created_at: state.clock.now().to_rfc3339(), created_by: ws.principal().actor() };
    let stored = Stored { record: record.clone(), columns: None };
    state.table.put(Item::of(record_key(ws.id(), &record.id), &stored).with_version(1).with_expiry(state.clock.epoch_seconds() + 30 * 86_400), Condition::NotExists).await?;
    view(state, ws.id(), record).await
}

async fn load(state: &AppState, ws: &WorkspaceId, id: &ImportId) -> Result<(Item, ImportRecord), ApiError> {
    let item = state.table.get(&record_key(ws, id)).await?.ok_or_else(|| ApiError::NotFound(format!("no import `{id}`")))?;
    let s: Stored = item.parse()?;
    Ok((item, ImportRecord { columns: s.columns, ..s.record }))
}

async fn save(state: &AppState, item: &Item, r: &ImportRecord) -> Result<(), ApiError> {
    let stored = Stored { record: r.clone(), columns: r.columns.clone() };
    let next = Item::of(item.key.clone(), &stored).with_version(item.version + 1).with_expiry(item.expires_at.unwrap_or(state.clock.epoch_seconds() + 30 * 86_400));
    match state.table.put(next, Condition::VersionIs(item.version)).await {
        Ok(()) => Ok(()),
        Err(TableError::ConditionFailed) => Err(ApiError::Conflict(format!("import {} changed meanwhile; send the part again", r.id))),
        Err(e) => Err(e.into()),
    }
}

pub async fn view(state: &AppState, ws: &WorkspaceId, record: ImportRecord) -> Result<ImportView, ApiError> {
    let c = state.table.get(&counters_key(ws, &record.id)).await?;
    let n = |name: &str| c.as_ref().and_then(|i| i.attrs.get(name)).and_then(|v| v.as_i64()).unwrap_or(0);
    let (total, processed) = (n("rows_total"), n("rows_processed"));
    let status = if record.last_part.is_none() { "uploading" } else if processed < total { "processing" } else { "completed" };
    Ok(ImportView { status: status.into(), rows_total: total, rows_processed: processed, imported: n("imported"), failed: n("failed"), record })
}

pub async fn get(state: &AppState, ws: &Workspace, id: &ImportId) -> Result<ImportView, ApiError> {
    ws.require(crate::auth::Action::WorkspaceRead)?;
    let (_, r) = load(state, ws.id(), id).await?;
    view(state, ws.id(), r).await
}

/// Stores one part's rows as queued chunks.
pub async fn add_part(state: &AppState, ws: &Workspace, id: &ImportId, p: Part) -> Result<ImportView, ApiError> {
    ws.require(crate::auth::Action::ContactsManage)?;
    let (item, mut r) = load(state, ws.id(), id).await?;
    if p.part == 0 || p.part > 10_000 {
        return Err(ApiError::Validation("part numbers start at 1".into()));
    }
    if r.last_part.is_some_and(|l| p.part > l) {
        return Err(ApiError::Conflict(format!("part {} was the last part of this import", r.last_part.unwrap_or_default())));
    }
    let mut rows = csv::parse(&p.csv).map_err(|e| ApiError::Validation(format!("part {}: {e}", p.part)))?.into_iter().enumerate().map(|(i, r)| (i as u32 + 1, r)).collect::<Vec<_>>();
    if p.part == 1 {
        if rows.is_empty() {
            return Err(ApiError::Validation("part 1 must start with the header row (phone, name, tags, …)".into()));
        }
        let (_, header) = rows.remove(0);
        let cols = Columns::from_header(&header).map_err(ApiError::Validation)?;
        if r.columns.as_ref().is_some_and(|c| c != &cols) {
            return Err(ApiError::Conflict("part 1 was already uploaded with a different header".into()));
        }
        (r.columns, r.header) = (Some(cols), header);
    } else if r.columns.is_none() {
        return Err(ApiError::Conflict("upload part 1 (with the header) first".into()));
    }
    let c = state.table.get(&counters_key(ws.id(), id)).await?;
    let total = c.as_ref().and_then(|i| i.attrs.get("rows_total")).and_then(|v| v.as_i64()).unwrap_or(0);
    if total as u64 + rows.len() as u64 > MAX_ROWS {
        return Err(ApiError::Validation(format!("an import holds at most {MAX_ROWS} rows")));
    }
    let mut jobs = Vec::new();
    for (n, chunk) in rows.chunks(CHUNK_ROWS).enumerate() {
        let sk = format!("CHUNK#{:05}#{n:04}", p.part);
        let item = Item::of(Key::new(sub(ws.id(), id), sk.clone()), &Chunk { part: p.part, rows: chunk.to_vec() }).with_expiry(state.clock.epoch_seconds() + 30 * 86_400);
        let writes = vec![TxWrite::Put { item, condition: Condition::NotExists }, TxWrite::Add { key: counters_key(ws.id(), id), deltas: vec![("rows_total".into(), chunk.len() as i64)] }];
        match state.table.transact(writes).await {
            // A retried part: the chunk is stored and counted already; queue it again (the worker skips done chunks).
            Ok(()) | Err(TableError::TransactionCancelled { index: 0 }) => {}
            Err(e) => return Err(e.into()),
        }
        jobs.push(crate::broadcasts::worker::CampaignJob::ImportChunk(ChunkJob { workspace: ws.id().clone(), import: id.clone(), chunk: sk }));
    }
    if p.last {
        r.last_part = Some(p.part);
    }
    if p.part == 1 || p.last {
        save(state, &item, &r).await?;
    }
    crate::broadcasts::worker::enqueue(state, &jobs).await?;
    view(state, ws.id(), r).await
}

/// Applies one chunk: each valid row upserts its contact (tags merged, fields set, consent recorded unless
/// the contact opted out); invalid rows go to the error report.
pub async fn process_chunk(state: &AppState, job: &ChunkJob) -> Result<(), ApiError> {
    let ws = &job.workspace;
    let done_key = Key::new(sub(ws, &job.import), format!("DONE#{}", job.chunk));
    if state.table.get(&done_key).await?.is_some() {
        return Ok(());
    }
    let (_, r) = load(state, ws, &job.import).await?;
    let chunk: Chunk = state.table.get(&Key::new(sub(ws, &job.import), job.chunk.clone())).await?.ok_or_else(|| ApiError::NotFound(format!("chunk {} expired", job.chunk)))?.parse()?;
    let cols = r.columns.ok_or_else(|| ApiError::NotFound("import has no header".into()))?;
    let country = r.default_country.as_deref().map(Country::parse).transpose().map_err(ApiError::Validation)?;
    let now = state.clock.now().to_rfc3339();
    let (mut imported, mut errors) = (0i64, Vec::new());
    for (line, cells) in &chunk.rows {
        let change = match csv::row(&cols, cells, country, r.consent_source.as_deref(), &now) {
            Ok(c) => c,
            Err(error) => {
                errors.push(RowError { part: chunk.part, line: *line, error });
                continue;
            }
        };
        let applied = store::upsert(state, ws, &change.phone, |c| {
            if change.name.is_some() {
                c.name.clone_from(&change.name);
            }
            c.add_tags(&change.tags)?;
            c.set_fields(change.fields.clone())?;
            if change.time_zone.is_some() {
                c.time_zone.clone_from(&change.time_zone);
            }
            if let Some((source, at)) = &change.consent {
                c.consent = Some(super::types::ConsentSource { source: source.clone(), at: at.clone() });
            }
            Ok(())
        })
        .await;
        match applied {
            Ok(_) => imported += 1,
            Err(ApiError::Validation(e)) => {
                errors.push(RowError { part: chunk.part, line: *line, error: e });
                continue;
            }
            Err(e) => return Err(e),
        }
        // An import never overrides a STOP: only contacts not opted out get the consent entry.
        if let Some((source, at)) = &change.consent {
            if !consent::is_opted_out(state, ws, &change.phone).await? && consent::history(state, ws, &change.phone).await?.iter().all(|h| h.how != format!("import {}: {source}", job.import)) {
                consent::record(state, ws, &ConsentChange { contact: change.phone.clone(), opted_out: false, at: at.clone(), how: format!("import {}: {source}", job.import) }).await?;
            }
        }
    }
    let failed = errors.len() as i64;
    let done = Item::new(done_key).with_attr("errors", serde_json::to_value(&errors).expect("errors serialise")).with_expiry(state.clock.epoch_seconds() + 30 * 86_400);
    let deltas = vec![("rows_processed".into(), chunk.rows.len() as i64), ("imported".into(), imported), ("failed".into(), failed)];
    match state.table.transact(vec![TxWrite::Put { item: done, condition: Condition::NotExists }, TxWrite::Add { key: counters_key(ws, &job.import), deltas }]).await {
        Ok(()) | Err(TableError::TransactionCancelled { index: 0 }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The per-row error report, in part and line order.
pub async fn errors(state: &AppState, ws: &Workspace, id: &ImportId, cursor: Option<&str>) -> Result<(Vec<RowError>, Option<String>), ApiError> {
    ws.require(crate::auth::Action::WorkspaceRead)?;
    load(state, ws.id(), id).await?;
    let after = cursor.map(Cursor::parse).transpose()?;
    let page = state.table.query(Query::partition(sub(ws.id(), id)).prefix("DONE#").limit(20).after(after)).await?;
    let mut out = Vec::new();
    for item in &page.items {
        out.extend(serde_json::from_value::<Vec<RowError>>(item.attrs.get("errors").cloned().unwrap_or_default()).unwrap_or_default());
    }
    Ok((out, page.next.map(|c| c.as_str().to_owned())))
}

