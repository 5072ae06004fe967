//! Subscriber import: CSV (with a header naming the columns) or JSON lines of endpoint, p256dh, auth,
//! tags, external_id, attributes, time_zone, run as a background job on the `push-send` queue. The
//! upload is cut into chunks stored with the job (`WS#…#IMPORT#<id>`: `JOB`, `CHUNK#n`); one queue
//! message per chunk upserts its rows through the public subscribe path (so validation is exactly as
//! strict), then writes `DONE#n` with the chunk's row errors and adds its counters in one transaction,
//! so a redelivered chunk counts nothing twice.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::sites::{self, SiteId};
use super::subscribers::{self, SubscribeRequest};
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
const COUNTERS: [&str; 4] = ["created", "updated", "failed", "chunks_done"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    JsonLines,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ImportJob {
    id: ImportId,
    site_id: SiteId,
    format: Format,
    /// CSV column names, lower-cased.
    columns: Vec<String>,
    rows: u64,
    chunks: u64,
    created_at: String,
    created_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Chunk {
    /// File line number (1-based) of each row.
    lines: Vec<(u64, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct RowError {
    /// The row's line in the uploaded file (1-based, the CSV header is line 1).
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportView {
    pub id: ImportId,
    pub format: Format,
    /// `running` until every chunk is done, then `completed`.
    pub status: &'static str,
    pub rows: u64,
    pub processed: u64,
    pub created: u64,
    pub updated: u64,
    pub failed: u64,
    /// Row errors in line order (the first 1000).
    pub errors: Vec<RowError>,
    pub created_at: String,
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

/// The format: from the content type, else sniffed (`{` first means JSON lines).
pub fn detect(content_type: Option<&str>, body: &str) -> Format {
    match content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase()).as_deref() {
        Some("text/csv") => Format::Csv,
        Some("application/x-ndjson" | "application/jsonl" | "application/x-jsonlines") => Format::JsonLines,
        _ if body.trim_start().starts_with('{') => Format::JsonLines,
        _ => Format::Csv,
    }
}

/// RFC 4180 cells of one line (quoted cells may hold commas and doubled quotes, not line breaks).
pub fn csv_cells(line: &str) -> Result<Vec<String>, String> {
    let mut cells = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut cell = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        cell.push('"');
                    }
                    Some('"') => break,
                    Some(c) => cell.push(c),
                    None => return Err("a quoted cell is not closed".into()),
                }
            }
            if !matches!(chars.peek(), None | Some(',')) {
                return Err("text after a closing quote".into());
            }
        } else {
            while let Some(c) = chars.peek().copied().filter(|c| *c != ',') {
                cell.push(c);
                chars.next();
            }
        }
        cells.push(cell);
        if chars.next().is_none() {
            return Ok(cells);
        }
    }
}

/// One row as the subscribe request the public endpoint takes, or why not.
fn row_request(format: Format, columns: &[String], line: &str) -> Result<SubscribeRequest, String> {
    let fields: Map<String, Value> = match format {
        Format::JsonLines => match serde_json::from_str(line) {
            Ok(Value::Object(m)) => m,
            _ => return Err("not a JSON object".into()),
        },
        Format::Csv => {
            let cells = csv_cells(line)?;
            if cells.len() != columns.len() {
                return Err(format!("{} cells where the header names {}", cells.len(), columns.len()));
            }
            let mut m = Map::new();
            for (name, cell) in columns.iter().zip(cells) {
                let value = match name.as_str() {
                    "tags" => Value::from(cell.split([' ', '|', ';']).filter(|t| !t.is_empty()).map(str::to_owned).collect::<Vec<_>>()),
                    "attributes" if cell.trim().is_empty() => continue,
                    "attributes" => serde_json::from_str(&cell).map_err(|_| "attributes: not a JSON object".to_owned())?,
                    _ => Value::from(cell),
                };
                m.insert(name.clone(), value);
            }
            m
        }
    };
    let text = |k: &str| fields.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let tags = match fields.get("tags") {
        Some(Value::String(s)) => Value::from(s.split([' ', '|', ';', ',']).filter(|t| !t.is_empty()).collect::<Vec<_>>()),
        Some(v @ Value::Array(_)) => v.clone(),
        _ => json!([]),
    };
    let request = json!({
        "subscription": {"endpoint": text("endpoint"), "keys": {"p256dh": text("p256dh"), "auth": text("auth")}},
        "tags": tags, "external_id": fields.get("external_id").cloned().unwrap_or(Value::Null),
        "timezone": fields.get("time_zone").cloned().unwrap_or(Value::Null), "attributes": fields.get("attributes").cloned().unwrap_or(Value::Null),
    });
    serde_json::from_value(request).map_err(|e| format!("malformed row: {e}"))
}

/// Stores the upload as a job and queues its chunks. 422 when there is nothing to import.
pub async fn start(state: &AppState, ws: &Workspace, meta: &RequestMeta, site: &SiteId, content_type: Option<&str>, body: &str) -> Result<ImportView, ApiError> {
    ws.require(Action::SubscribersManage)?;
    sites::get(state, ws, site).await?;
    let format = detect(content_type, body);
    let mut lines = body.lines().enumerate().map(|(i, l)| (i as u64 + 1, l.trim_end_matches('\r'))).filter(|(_, l)| !l.trim().is_empty());
    let columns = match format {
        Format::Csv => {
            let (_, header) = lines.next().ok_or_else(|| ApiError::Validation("the file is empty".into()))?;
            let columns: Vec<String> = csv_cells(header).map_err(|e| ApiError::Validation(format!("header: {e}")))?.into_iter().map(|c| c.trim().to_ascii_lowercase()).collect();
            for needed in ["endpoint", "p256dh", "auth"] {
                if !columns.iter().any(|c| c == needed) {
                    return Err(ApiError::Validation(format!("header: no `{needed}` column")));
                }
            }
            columns
        }
        Format::JsonLines => Vec::new(),
    };
    let id = ImportId::new(state.clock.new_id());
    let pk = partition(ws.id(), site, &id);
    let (mut chunk, mut bytes, mut chunks, mut rows) = (Vec::new(), 0usize, 0u64, 0u64);
    for (n, line) in lines {
        // An over-long line is kept short and refused by its row: it reports like any bad row.
        let kept = if line.len() > MAX_LINE { String::new() } else { line.to_owned() };
        bytes += kept.len() + 16;
        chunk.push((n, kept));
        rows += 1;
        if chunk.len() == CHUNK_ROWS || bytes >= CHUNK_BYTES {
            state.table.put(Item::of(Key::new(pk.clone(), format!("CHUNK#{chunks:06}")), &Chunk { lines: std::mem::take(&mut chunk) }), Condition::None).await?;
            (bytes, chunks) = (0, chunks + 1);
        }
    }
    if !chunk.is_empty() {
        state.table.put(Item::of(Key::new(pk.clone(), format!("CHUNK#{chunks:06}")), &Chunk { lines: chunk }), Condition::None).await?;
        chunks += 1;
    }
    if rows == 0 {
        return Err(ApiError::Validation("the file has no rows".into()));
    }
    let job = ImportJob { id: id.clone(), site_id: site.clone(), format, columns, rows, chunks, created_at: state.clock.now().to_rfc3339(), created_by: ws.principal().actor() };
    let mut item = Item::of(Key::new(pk, "JOB"), &job);
    for c in COUNTERS {
        item.attrs.insert(c.into(), 0.into());
    }
    state.table.transact(vec![TxWrite::Put { item, condition: Condition::NotExists }, crate::workspaces::audit::entry(state, ws, meta, "subscribers.import", id.as_str())]).await?;
    let messages: Vec<OutgoingMessage> = (0..chunks)
        .map(|chunk| OutgoingMessage::new(serde_json::to_string(&ImportMessage::ImportChunk { workspace: ws.id().clone(), site: site.clone(), import: id.clone(), chunk }).expect("serialises")))
        .collect();
    for batch in messages.chunks(crate::ports::queue::MAX_BATCH) {
        state.queue.send(&crate::queues::push_send().name, batch.to_vec()).await?;
    }
    get(state, ws, site, &id).await
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
    let (mut created, mut updated, mut errors) = (0i64, 0i64, Vec::new());
    for (line, text) in &rows.lines {
        let outcome = match row_request(job.format, &job.columns, text) {
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
    let status = if n("chunks_done") >= job.chunks { "completed" } else { "running" };
    Ok(ImportView { id: job.id, format: job.format, status, rows: job.rows, processed: created + updated + failed, created, updated, failed, errors, created_at: job.created_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_follow_rfc_4180() {
        // (line, cells or error, why)
        type Case<'a> = (&'a str, Result<Vec<&'a str>, ()>, &'a str);
        let cases: [Case; 5] = [
            ("a,b,,c", Ok(vec!["a", "b", "", "c"]), "an empty cell"),
            (r#""a,b","say ""hi""""#, Ok(vec!["a,b", r#"say "hi""#]), "quoted separators and doubled quotes"),
            (r#"x,"{""plan"":""pro""}""#, Ok(vec!["x", r#"{"plan":"pro"}"#]), "attributes JSON as the export writes it"),
            (r#""open"#, Err(()), "an unclosed quote"),
            (r#""a"b,c"#, Err(()), "text after the closing quote"),
        ];
        for (line, expected, why) in cases {
            let got = csv_cells(line).map_err(|_| ());
            assert_eq!(got, expected.map(|v| v.into_iter().map(str::to_owned).collect()), "{why}");
        }
    }

    #[test]
    fn formats_are_detected() {
        assert_eq!(detect(Some("text/csv; charset=utf-8"), "{"), Format::Csv, "the content type wins");
        assert_eq!(detect(Some("application/x-ndjson"), "endpoint"), Format::JsonLines);
        assert_eq!(detect(None, "\n{\"endpoint\": 1}"), Format::JsonLines, "sniffed");
        assert_eq!(detect(Some("application/octet-stream"), "endpoint,p256dh,auth"), Format::Csv);
    }
}
