//! Subscriber export as CSV: every subscriber of a site with the columns an import elsewhere needs
//! (endpoint, keys, tags, external id, attributes, time zone) and the derived data. Cells a spreadsheet
//! would run as a formula are prefixed with `'`.

use super::segments;
use super::sites::{self, SiteId};
use super::subscribers::Subscriber;
use crate::auth::{Action, Workspace};
use crate::http::ApiError;
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

/// The site's subscribers as CSV (header first, rows in shard order). The keys are in it, so exporting
/// takes the right to manage subscribers.
pub async fn export_csv(state: &AppState, ws: &Workspace, site: &SiteId) -> Result<String, ApiError> {
    ws.require(Action::SubscribersManage)?;
    sites::get(state, ws, site).await?;
    let mut out = String::from(HEADER);
    out.push_str("\r\n");
    segments::scan(state, ws.id(), site, |s| {
        out.push_str(&row(&s));
        out.push_str("\r\n");
    })
    .await?;
    Ok(out)
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
