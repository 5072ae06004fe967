//! What flows collected: captured answers per flow (cursor pages, CSV) and the per-step funnel, whose
//! counters the runtime adds in the commit that moves a conversation (`funnel_writes`).

use serde::Serialize;
use utoipa::ToSchema;

use super::engine::{Effect, Session};
use super::runtime::{answers_partition, stats_partition, Answer};
use super::store;
use super::types::FlowId;
use crate::auth::{Action, Workspace, WorkspaceId};
use crate::http::ApiError;
use crate::ports::{Cursor, Item, Key, Query, TxWrite};
use crate::state::AppState;

/// Answers, newest first.
pub async fn answers(state: &AppState, ws: &Workspace, flow: &FlowId, cursor: Option<&str>, limit: u32) -> Result<(Vec<Answer>, Option<String>), ApiError> {
    ws.require(Action::FlowsData)?;
    store::get(state, ws, flow).await?;
    let after = cursor.map(Cursor::parse).transpose()?;
    let page = state.table.query(Query::partition(answers_partition(ws.id(), flow)).reverse().limit(limit.clamp(1, 500)).after(after)).await?;
    let rows = page.items.iter().map(Item::parse::<Answer>).collect::<Result<Vec<_>, _>>()?;
    Ok((rows, page.next.map(|c| c.as_str().to_owned())))
}

fn csv_field(s: &str) -> String {
    // A leading = + - @ would run as a formula in spreadsheets: prefix it.
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

/// Every answer as CSV (oldest first), paging through the whole partition.
pub async fn answers_csv(state: &AppState, ws: &Workspace, flow: &FlowId) -> Result<String, ApiError> {
    ws.require(Action::FlowsData)?;
    store::get(state, ws, flow).await?;
    let mut out = String::from("at,conversation_id,contact,version,step,into,value\n");
    let mut after = None;
    loop {
        let page = state.table.query(Query::partition(answers_partition(ws.id(), flow)).limit(500).after(after)).await?;
        for item in &page.items {
            let a: Answer = item.parse()?;
            let row = [a.at.as_str(), a.conversation_id.as_str(), a.contact.as_str(), &a.flow_version.to_string(), &a.step, &a.into, &a.value].map(csv_field);
            out.push_str(&row.join(","));
            out.push('\n');
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepStats {
    pub version: u32,
    pub step: String,
    pub entered: i64,
    pub completed: i64,
    pub dropped: i64,
    /// Mean seconds from entering the step to leaving it forward (over completions).
    pub average_seconds: Option<f64>,
}

pub async fn funnel(state: &AppState, ws: &Workspace, flow: &FlowId) -> Result<Vec<StepStats>, ApiError> {
    ws.require(Action::FlowsData)?;
    store::get(state, ws, flow).await?;
    let page = state.table.query(Query::partition(stats_partition(ws.id(), flow)).limit(1000)).await?;
    let n = |i: &Item, k: &str| i.attrs.get(k).and_then(|v| v.as_i64()).unwrap_or(0);
    Ok(page
        .items
        .iter()
        .filter_map(|i| {
            let (v, step) = i.key.sk.split_once('#')?;
            let completed = n(i, "completed");
            let average_seconds = (completed > 0).then(|| n(i, "seconds") as f64 / completed as f64);
            Some(StepStats { version: v.parse().ok()?, step: step.to_owned(), entered: n(i, "entered"), completed, dropped: n(i, "dropped"), average_seconds })
        })
        .collect())
}

/// Per-step funnel counters (entered, completed, dropped, seconds spent) for one move: one add per
/// step touched, zero deltas left out.
pub(super) fn funnel_writes(ws: &WorkspaceId, session: &Session, effects: &[Effect]) -> Vec<TxWrite> {
    let mut per_step: std::collections::BTreeMap<&str, [i64; 4]> = Default::default();
    for e in effects {
        let (step, i, seconds) = match e {
            Effect::Entered { step } => (step, 0, 0),
            Effect::Completed { step, seconds } => (step, 1, *seconds),
            Effect::Dropped { step } | Effect::BudgetExhausted { step } => (step, 2, 0),
            _ => continue,
        };
        let row = per_step.entry(step.as_str()).or_default();
        row[i] += 1;
        row[3] += seconds;
    }
    per_step
        .into_iter()
        .filter_map(|(step, [entered, completed, dropped, seconds])| {
            let deltas: Vec<(String, i64)> = [("entered", entered), ("completed", completed), ("dropped", dropped), ("seconds", seconds)].into_iter().filter(|(_, d)| *d != 0).map(|(k, d)| (k.to_owned(), d)).collect();
            let key = Key::new(stats_partition(ws, &session.flow_id), format!("{:06}#{step}", session.flow_version));
            (!deltas.is_empty()).then_some(TxWrite::Add { key, deltas })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_escapes_and_defuses_formulas() {
        assert_eq!(super::csv_field("plain"), "plain");
        assert_eq!(super::csv_field("a,b"), "\"a,b\"");
        assert_eq!(super::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(super::csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
