//! The consent ledger: STOP / UNSUBSCRIBE / CANCEL / END / QUIT / OPT OUT / REVOKE opt a contact out,
//! START opts them back in; every change is kept (who, when, how) and every send checks the current state.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::WorkspaceId;
use crate::http::ApiError;
use crate::ports::{Condition, Item, Key, Query};
use crate::state::AppState;
use crate::whatsapp::types::PhoneNumber;

const STOP: [&str; 7] = ["STOP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPT OUT", "REVOKE"];
const START: [&str; 1] = ["START"];

/// `Some(true)` for an opt-out keyword, `Some(false)` for opt-in, `None` for anything else. The whole
/// message must be the keyword (case, spacing and trailing punctuation aside).
pub fn keyword(text: &str) -> Option<bool> {
    let norm = text.trim().trim_end_matches(['.', '!']).split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase();
    if STOP.contains(&norm.as_str()) {
        Some(true)
    } else if START.contains(&norm.as_str()) {
        Some(false)
    } else {
        None
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ConsentChange {
    pub contact: PhoneNumber,
    pub opted_out: bool,
    pub at: String,
    /// e.g. `keyword STOP on chan_…`, or the member who changed it.
    pub how: String,
}

fn current_key(ws: &WorkspaceId, contact: &PhoneNumber) -> Key {
    Key::new(format!("WS#{ws}#CONSENT"), contact.as_str().to_owned())
}

fn ledger_partition(ws: &WorkspaceId, contact: &PhoneNumber) -> String {
    format!("WS#{ws}#CONSENT#{}", contact.as_str())
}

pub async fn record(state: &AppState, ws: &WorkspaceId, change: &ConsentChange) -> Result<(), ApiError> {
    let entry = Key::new(ledger_partition(ws, &change.contact), format!("{}#{}", change.at, state.clock.new_id()));
    state.table.put(Item::of(entry, change), Condition::None).await?;
    state.table.put(Item::of(current_key(ws, &change.contact), change), Condition::None).await?;
    Ok(())
}

pub async fn is_opted_out(state: &AppState, ws: &WorkspaceId, contact: &PhoneNumber) -> Result<bool, ApiError> {
    Ok(match state.table.get(&current_key(ws, contact)).await? {
        Some(item) => item.parse::<ConsentChange>()?.opted_out,
        None => false,
    })
}

/// Every change for a contact, newest first.
pub async fn history(state: &AppState, ws: &WorkspaceId, contact: &PhoneNumber) -> Result<Vec<ConsentChange>, ApiError> {
    let page = state.table.query(Query::partition(ledger_partition(ws, contact)).reverse().limit(100)).await?;
    Ok(page.items.iter().map(Item::parse).collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::keyword;

    #[test]
    fn keywords() {
        for k in ["STOP", "stop", " Stop! ", "opt  out", "Unsubscribe.", "REVOKE", "quit"] {
            assert_eq!(keyword(k), Some(true), "{k}");
        }
        assert_eq!(keyword("start"), Some(false));
        for k in ["please stop sending", "stopped", "", "STOP IT"] {
            assert_eq!(keyword(k), None, "{k}");
        }
    }
}
