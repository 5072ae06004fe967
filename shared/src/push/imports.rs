//! Subscriber import: CSV (with a header naming the columns) or JSON lines of endpoint, p256dh, auth,
//! tags, external_id, attributes, time_zone, run as a background job on the `push-send` queue. A file
//! comes in numbered parts (each under the request body limit; part 1 of a CSV starts with the header)
//! or, when small, in one request that is part 1 and the last. Each part is cut into chunks stored
//! with the job (`WS#…#IMPORT#<id>`: `JOB`, `PART#n`, `CHUNK#n`, `LAST`); one queue message per chunk
//! upserts its rows through the public subscribe path (so validation is exactly as strict), then
//! writes `DONE#n` with the chunk's row errors and adds its counters in one transaction, so a
//! redelivered chunk counts nothing twice. A part is accepted in one transaction that needs the part
//! before it and no last part yet, so parts land in order and a re-sent part is recognised (and its
//! chunks queued again, which covers a crash between the commit and the enqueue).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::import_rows::{csv_cells, row_request, Format};
use super::sites::{self, SiteId};
use super::subscribers;
use crate::auth::types::prefixed_id;
use crate::auth::{Action, RequestMeta, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, OutgoingMessage, Query, TableError, TxWrite};
use crate::state::AppState;
use crate::worker::JobError;

prefixed_id!(ImportId, "imp_", "import");

const CHUNK_ROWS: usize = 500;
/// Under DynamoDB's 400 KB item limit with room for the attribute names.
const CHUNK_BYTES: usize = 300_000;
const MAX_LINE: usize = 8192;
const MAX_ERRORS_SHOWN: usize = 1000;
/// Rows per import; a larger file is split into several imports.
pub const MAX_ROWS: u64 = 1_000_000;
pub const MAX_PARTS: u32 = 10_000;
const COUNTERS: [&str; 8] = ["created", "updated", "failed", "chunks_done", "rows", "chunks", "parts", "last_part"];

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ImportJob {
    id: ImportId,
    site_id: SiteId,
    format: Format,
    /// CSV column names of imports stored before chunks carried their own.
    #[serde(default)]
    columns: Vec<String>,
    created_at: String,
    created_by: String,
}

/// What a stored part holds, for the next part's numbering and a re-sent part's re-queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PartRecord {
    first_chunk: u64,
    chunks: u64,
    rows: u64,
    /// File lines up to the end of this part (the next part's first line is this + 1).
    line_end: u64,
    /// CSV column names (from part 1's header; later parts copy them).
    columns: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Chunk {
    #[serde(default)]
    columns: Option<Vec<String>>,
    /// File line number (1-based) of each row.
    lines: Vec<(u64, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct RowError {
    /// The row's line in the uploaded file (1-based, the CSV header is line 1), counted across parts.
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportView {
    pub id: ImportId,
    pub format: Format,
    /// `uploading` until the last part is in, `running` until every chunk is done, then `completed`.
    pub status: &'static str,
    /// Parts received so far.
    pub parts: u64,
    /// The largest part the API takes (its request body limit), for clients that cut a file.
    pub max_part_bytes: usize,
    pub rows: u64,
    pub processed: u64,
    pub created: u64,
    pub updated: u64,
    pub failed: u64,
    /// Row errors in line order (the first 1000).
    pub errors: Vec<RowError>,
    pub created_at: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewImport {
    /// `csv` (part 1 starts with the header) or `json_lines`.
    pub format: Format,
}

/// The queue message of one chunk (on `push-send`, told apart from push jobs by its `kind`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImportMessage {
    ImportChunk { workspace: WorkspaceId, site: SiteId, import: ImportId, chunk: u64 },
}

impl ImportMessage {
    /// The message when `body` is an import chunk, else `None` (a push job).
    pub fn from_body(body: &str) -> Option<Self> {
        body.contains("\"import_chunk\"").then(|| serde_json::from_str(body).ok()).flatten()
    }
}

fn partition(ws: &WorkspaceId, site: &SiteId, id: &ImportId) -> String {
    format!("WS#{ws}#SITE#{site}#IMPORT#{id}")
}

fn part_key(pk: &str, n: u32) -> Key {
    Key::new(pk.to_owned(), format!("PART#{n:05}"))
}

/// Creates an import waiting for its parts.
pub async fn create(state: &AppState, ws: &Workspace, meta: &RequestMeta, site: &SiteId, format: Format) -> Result<ImportView, ApiError> {
    ws.require(Action::SubscribersManage)?;
    sites::get(state, ws, site).await?;
    let id = ImportId::new(state.clock.new_id());
    let job = ImportJob { id: id.clone(), site_id: site.clone(), format, columns: Vec::new(), created_at: state.clock.now().to_rfc3339(), created_by: ws.principal().actor() };
    let mut item = Item::of(Key::new(partition(ws.id(), site, &id), "JOB"), &job);
    for c in COUNTERS {
        item.attrs.insert(c.into(), 0.into());
    }
    state.table.transact(vec![TxWrite::Put { item, condition: Condition::NotExists }, crate::workspaces::audit::entry(state, ws, meta, "subscribers.import", id.as_str())]).await?;
    get(state, ws, site, &id).await
}

/// A whole file in one request: an import of one part, the last.
pub async fn start(state: &AppState, ws: &Workspace, meta: &RequestMeta, site: &SiteId, content_type: Option<&str>, body: &str) -> Result<ImportView, ApiError> {
    let view = create(state, ws, meta, site, super::import_rows::detect(content_type, body)).await?;
    add_part(state, ws, site, &view.id, 1, true, body).await
}

/// Stores part `n` of the file as chunks and queues them. 409 when part `n - 1` is missing or the
/// last part is in already; a part sent again is answered as stored (its chunks queued again).
pub async fn add_part(state: &AppState, ws: &Workspace, site: &SiteId, id: &ImportId, n: u32, last: bool, body: &str) -> Result<ImportView, ApiError> {
    ws.require(Action::SubscribersManage)?;
    if n == 0 || n > MAX_PARTS {
        return Err(ApiError::Validation(format!("part: numbers run from 1 to {MAX_PARTS}")));
    }
    let pk = partition(ws.id(), site, id);
    let job_item = state.table.get(&Key::new(pk.clone(), "JOB")).await?.ok_or_else(|| ApiError::NotFound("no such import".into()))?;
    let job: ImportJob = job_item.parse()?;
    if let Some(stored) = state.table.get(&part_key(&pk, n)).await? {
        // Queued already unless the first request stopped between its commit and its enqueue.
        if stored.attrs.get("queued").and_then(Value::as_i64).unwrap_or(0) == 0 {
            enqueue(state, ws.id(), site, id, n, &stored.parse()?).await?;
        }
        return get(state, ws, site, id).await;
    }
    let previous: Option<PartRecord> = match n {
        1 => None,
        _ => Some(state.table.get(&part_key(&pk, n - 1)).await?.ok_or_else(|| ApiError::Conflict(format!("send part {} first: parts go in order", n - 1)))?.parse()?),
    };
    let line_start = previous.as_ref().map_or(0, |p| p.line_end);
    let mut lines = body.lines().enumerate().map(|(i, l)| (line_start + i as u64 + 1, l.trim_end_matches('\r'))).filter(|(_, l)| !l.trim().is_empty());
    let columns = match (&previous, job.format) {
        (Some(p), _) => p.columns.clone(),
        (None, Format::JsonLines) => Vec::new(),
        (None, Format::Csv) => header(lines.next().map(|(_, l)| l))?,
    };
    let first_chunk = previous.as_ref().map_or(0, |p| p.first_chunk + p.chunks);
    let job_rows = job_item.attrs.get("rows").and_then(Value::as_u64).unwrap_or(0);
    let (mut chunk, mut bytes, mut chunk_no, mut rows) = (Vec::new(), 0usize, first_chunk, 0u64);
    let store = |no: u64, lines: Vec<(u64, String)>| {
        let item = Item::of(Key::new(pk.clone(), format!("CHUNK#{no:06}")), &Chunk { columns: Some(columns.clone()), lines });
        async move { state.table.put(item, Condition::None).await }
    };
    for (n, line) in lines {
        // An over-long line is kept short and refused by its row: it reports like any bad row.
        let kept = if line.len() > MAX_LINE { String::new() } else { line.to_owned() };
        bytes += kept.len() + 16;
        chunk.push((n, kept));
        rows += 1;
        if job_rows + rows > MAX_ROWS {
            return Err(ApiError::Validation(format!("an import holds at most {MAX_ROWS} rows; split the file into several imports")));
        }
        if chunk.len() == CHUNK_ROWS || bytes >= CHUNK_BYTES {
            store(chunk_no, std::mem::take(&mut chunk)).await?;
            (bytes, chunk_no) = (0, chunk_no + 1);
        }
    }
    if !chunk.is_empty() {
        store(chunk_no, chunk).await?;
        chunk_no += 1;
    }
    if last && job_rows + rows == 0 {
        return Err(ApiError::Validation("the file has no rows".into()));
    }
    let record = PartRecord { first_chunk, chunks: chunk_no - first_chunk, rows, line_end: line_start + body.lines().count() as u64, columns };
    let mut deltas = vec![("rows".to_owned(), rows as i64), ("chunks".to_owned(), record.chunks as i64), ("parts".to_owned(), 1)];
    let last_key = Key::new(pk.clone(), "LAST");
    let mut writes = vec![TxWrite::Put { item: Item::of(part_key(&pk, n), &record), condition: Condition::NotExists }];
    writes.push(match last {
        true => TxWrite::Put { item: Item::new(last_key.clone()).with_attr("part", Value::from(n)), condition: Condition::NotExists },
        false => TxWrite::Check { key: last_key.clone(), condition: Condition::NotExists },
    });
    if last {
        deltas.push(("last_part".into(), n.into()));
    }
    if n > 1 {
        writes.push(TxWrite::Check { key: part_key(&pk, n - 1), condition: Condition::Exists });
    }
    writes.push(TxWrite::Add { key: Key::new(pk.clone(), "JOB"), deltas });
    match state.table.transact(writes).await {
        Ok(()) => {}
        // Sent twice at once: the other request stored it; queue what it stored.
        Err(TableError::TransactionCancelled { index: 0 }) => return Box::pin(add_part(state, ws, site, id, n, last, body)).await,
        Err(TableError::TransactionCancelled { index: 1 }) => {
            let at = state.table.get(&last_key).await?.and_then(|i| i.attrs.get("part").and_then(Value::as_u64)).unwrap_or_default();
            return Err(ApiError::Conflict(format!("part {at} was the last part of this import")));
        }
        Err(e) => return Err(e.into()),
    }
    enqueue(state, ws.id(), site, id, n, &record).await?;
    get(state, ws, site, id).await
}

fn header(line: Option<&str>) -> Result<Vec<String>, ApiError> {
    let line = line.ok_or_else(|| ApiError::Validation("the file is empty".into()))?;
    let columns: Vec<String> = csv_cells(line).map_err(|e| ApiError::Validation(format!("header: {e}")))?.into_iter().map(|c| c.trim().to_ascii_lowercase()).collect();
    for needed in ["endpoint", "p256dh", "auth"] {
        if !columns.iter().any(|c| c == needed) {
            return Err(ApiError::Validation(format!("header: no `{needed}` column")));
        }
    }
    Ok(columns)
}

/// Queues a part's chunks, then marks the part queued so a re-sent part does not run them twice (a run
/// twice counts nothing twice, but its rows would show as updated rather than created).
async fn enqueue(state: &AppState, ws: &WorkspaceId, site: &SiteId, id: &ImportId, n: u32, part: &PartRecord) -> Result<(), ApiError> {
    let messages: Vec<OutgoingMessage> = (part.first_chunk..part.first_chunk + part.chunks)
        .map(|chunk| OutgoingMessage::new(serde_json::to_string(&ImportMessage::ImportChunk { workspace: ws.clone(), site: site.clone(), import: id.clone(), chunk }).expect("serialises")))
        .collect();
    for batch in messages.chunks(crate::ports::queue::MAX_BATCH) {
        state.queue.send(&crate::queues::push_send().name, batch.to_vec()).await?;
    }
    state.table.add(&part_key(&partition(ws, site, id), n), &[("queued", 1)]).await?;
    Ok(())
}

/// Runs one chunk: upserts its rows, then records its errors and counters once.
pub async fn run_chunk(state: &AppState, message: ImportMessage) -> Result<(), JobError> {
    let ImportMessage::ImportChunk { workspace, site, import, chunk } = message;
    let pk = partition(&workspace, &site, &import);
    let done = Key::new(pk.clone(), format!("DONE#{chunk:06}"));
    if state.table.get(&done).await.map_err(JobError::retry)?.is_some() {
        return Ok(());
    }
    let load = |sk: String| {
        let key = Key::new(pk.clone(), sk);
        async move { state.table.get(&key).await.map_err(JobError::retry)?.ok_or_else(|| JobError::Permanent("import record gone".into())) }
    };
    let job: ImportJob = load("JOB".into()).await?.parse().map_err(|e| JobError::Permanent(e.to_string()))?;
    let rows: Chunk = load(format!("CHUNK#{chunk:06}")).await?.parse().map_err(|e| JobError::Permanent(e.to_string()))?;
    let columns = rows.columns.as_ref().unwrap_or(&job.columns);
    let (mut created, mut updated, mut errors) = (0i64, 0i64, Vec::new());
    for (line, text) in &rows.lines {
        let outcome = match row_request(job.format, columns, text) {
            Err(message) => Err(message),
            Ok(req) => match subscribers::subscribe(state, &state.push.policy, &workspace, &site, &req).await {
                Ok((_, is_new)) => Ok(is_new),
                Err(ApiError::Validation(m)) => Err(m),
                Err(e) => return Err(JobError::retry(e)),
            },
        };
        match outcome {
            Ok(true) => created += 1,
            Ok(false) => updated += 1,
            Err(message) => errors.push(RowError { line: *line, message: if text.is_empty() { format!("line longer than {MAX_LINE} bytes, or empty") } else { message } }),
        }
    }
    let deltas = vec![("created".into(), created), ("updated".into(), updated), ("failed".into(), errors.len() as i64), ("chunks_done".into(), 1)];
    let marker = Item::of(done, &json!({"errors": errors}));
    match state.table.transact(vec![TxWrite::Put { item: marker, condition: Condition::NotExists }, TxWrite::Add { key: Key::new(pk, "JOB"), deltas }]).await {
        Ok(()) | Err(TableError::TransactionCancelled { index: 0 }) => Ok(()),
        Err(e) => Err(JobError::retry(e)),
    }
}

pub async fn get(state: &AppState, ws: &Workspace, site: &SiteId, id: &ImportId) -> Result<ImportView, ApiError> {
    ws.require(Action::WorkspaceRead)?;
    let pk = partition(ws.id(), site, id);
    let item = state.table.get(&Key::new(pk.clone(), "JOB")).await?.ok_or_else(|| ApiError::NotFound("no such import".into()))?;
    let job: ImportJob = item.parse()?;
    let n = |c: &str| item.attrs.get(c).and_then(Value::as_u64).unwrap_or(0);
    let mut errors = Vec::new();
    let mut cursor = None;
    loop {
        let page = state.table.query(Query::partition(pk.clone()).prefix("DONE#").limit(100).after(cursor)).await?;
        for done in &page.items {
            let list: Vec<RowError> = done.attrs.get("errors").cloned().map(serde_json::from_value).transpose().map_err(|e| ApiError::Internal(e.to_string()))?.unwrap_or_default();
            errors.extend(list);
        }
        match page.next {
            Some(next) if errors.len() < MAX_ERRORS_SHOWN => cursor = Some(next),
            _ => break,
        }
    }
    errors.sort_by_key(|e| e.line);
    errors.truncate(MAX_ERRORS_SHOWN);
    let (created, updated, failed) = (n("created"), n("updated"), n("failed"));
    // Imports stored before parts existed have no `parts` counter and were whole at once.
    let uploaded = n("last_part") > 0 || !item.attrs.contains_key("parts");
    let status = match (uploaded, n("chunks_done") >= n("chunks")) {
        (false, _) => "uploading",
        (true, false) => "running",
        (true, true) => "completed",
    };
    Ok(ImportView { id: job.id, format: job.format, status, parts: n("parts"), max_part_bytes: state.max_body_bytes, rows: n("rows"), processed: created + updated + failed, created, updated, failed, errors, created_at: job.created_at })
}
