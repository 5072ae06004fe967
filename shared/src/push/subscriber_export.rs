//! Subscriber export as CSV: every subscriber of a site with the columns an import elsewhere needs
//! (endpoint, keys, tags, external id, attributes, time zone) and the derived data. Cells a spreadsheet
//! would run as a formula are prefixed with `'`.

use super::sites::{self, SiteId};
use super::subscribers::{shard_partition, Subscriber, SHARDS};
use crate::auth::{Action, Workspace};
use crate::http::ApiError;
use crate::ports::{Cursor, Query};
use crate::state::AppState;

pub const HEADER: &str = "id,endpoint,p256dh,auth,tags,external_id,attributes,time_zone,browser,os,language,country,subscribed_at,last_seen_at,clicks";

/// One CSV cell: quoted when it holds a separator, quote or line break; formula-leading text defused
/// (OWASP's CSV injection advice). Also used by the broadcast failures export.
pub(crate) fn cell(raw: &str) -> String {
    let defused = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{raw}") } else { raw.to_owned() };
    if defused.contains([',', '"', '\n', '\r']) { format!("\"{}\"", defused.replace('"', "\"\"")) } else { defused }
}

fn row(s: &Subscriber) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let attributes = if s.attributes.is_empty() { String::new() } else { serde_json::to_string(&s.attributes).unwrap_or_default() };
    let cells = [
        s.id.clone(),
        s.subscription.endpoint.clone(),
        s.subscription.p256dh.clone(),
        s.subscription.auth.clone(),
        s.tags.join(" "),
        opt(&s.client.external_id),
        attributes,
        opt(&s.client.timezone),
        opt(&s.client.browser),
        opt(&s.client.os),
        opt(&s.client.language),
        opt(&s.country),
        s.created_at.clone(),
        s.last_seen.clone(),
        s.clicks.to_string(),
    ];
    cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",")
}

/// Rows per export page: about 2 MB of CSV, under Lambda's 6 MB response limit.
pub const PAGE_ROWS: usize = 10_000;

/// One page of the export: CSV rows (the header on the first page only) and where the next page starts.
pub struct ExportPage {
    pub csv: String,
    pub next_cursor: Option<String>,
}

/// Where an export page starts: a shard and the table's cursor within it (`<shard>.<cursor>`).
fn parse_cursor(raw: &str) -> Result<(usize, Option<Cursor>), ApiError> {
    let bad = || ApiError::Validation("cursor: not one this export gave".into());
    let (shard, rest) = raw.split_once('.').ok_or_else(bad)?;
    let shard: usize = shard.parse().map_err(|_| bad())?;
    if shard >= SHARDS as usize {
        return Err(bad());
    }
    Ok((shard, if rest.is_empty() { None } else { Some(Cursor::parse(rest).map_err(|_| bad())?) }))
}

/// A page of the site's subscribers as CSV, rows in shard order, from `cursor` (the first page when
/// `None`). The keys are in it, so exporting takes the right to manage subscribers.
pub async fn export_page(state: &AppState, ws: &Workspace, site: &SiteId, cursor: Option<&str>, rows: usize) -> Result<ExportPage, ApiError> {
    ws.require(Action::SubscribersManage)?;
    sites::get(state, ws, site).await?;
    let (first_shard, mut after) = cursor.map(parse_cursor).transpose()?.unwrap_or((0, None));
    // A cursor names its partition: one from another site's or workspace's export is refused.
    if after.as_ref().is_some_and(|c| c.decode().map_or(true, |(key, _)| key.pk != shard_partition(ws.id(), site, first_shard as _))) {
        return Err(ApiError::Validation("cursor: not one this export gave".into()));
    }
    let mut csv = String::new();
    if cursor.is_none() {
        csv.push_str(HEADER);
        csv.push_str("\r\n");
    }
    let mut left = rows.clamp(1, PAGE_ROWS);
    for shard in first_shard..SHARDS as usize {
        loop {
            let page = state.table.query(Query::partition(shard_partition(ws.id(), site, shard as _)).prefix("SUB#").limit(left.min(1000) as u32).after(after.take())).await?;
            for item in page.items {
                left -= 1;
                if let Ok(s) = serde_json::from_value::<Subscriber>(serde_json::Value::Object(item.attrs)) {
                    csv.push_str(&row(&s));
                    csv.push_str("\r\n");
                }
            }
            match (page.next, left) {
                (Some(next), 0) => return Ok(ExportPage { csv, next_cursor: Some(format!("{shard}.{}", next.as_str())) }),
                (None, 0) if shard + 1 < SHARDS as usize => return Ok(ExportPage { csv, next_cursor: Some(format!("{}.", shard + 1)) }),
                (Some(next), _) => after = Some(next),
                (None, _) => break,
            }
        }
    }
    Ok(ExportPage { csv, next_cursor: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        // (value, cell, why)
        let cases = [
            ("plain", "plain", "nothing to escape"),
            ("a,b", "\"a,b\"", "a separator is quoted"),
            ("say \"hi\"", "\"say \"\"hi\"\"\"", "quotes are doubled"),
            ("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\"", "a formula is defused, then quoted"),
            ("-1", "'-1", "a leading minus would be read as a formula"),
            ("{\"plan\":\"pro\"}", "\"{\"\"plan\"\":\"\"pro\"\"}\"", "attributes JSON"),
        ];
        for (value, expected, why) in cases {
            assert_eq!(cell(value), expected, "{why}");
        }
    }
}
