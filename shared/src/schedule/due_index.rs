//! A due index on `gsi1` for records that carry their own next time (a drip enrolment's next step, a
//! recurring schedule's next run). The record's index key is `<kind>#<hour>` / `<minute, 10 digits>#<id>`,
//! so moving the record's time moves its entry in the same write, and a record that is done simply has
//! none. The tick reads what is due up to its minute with one query per hour bucket of its look-back,
//! never a scan; entries stay until their record moves on, so a missed minute is read again by the next
//! tick. The index is eventually consistent on DynamoDB: readers re-read the record before acting.

use crate::ports::{Item, Query, TableError};
use crate::state::AppState;

/// Minutes a tick looks back: entries whose work failed or was not reached by an earlier tick.
pub const LOOK_BACK_MINUTES: i64 = 120;

/// The `gsi1` key of a record due at `minute`.
pub fn key(kind: &str, minute: i64, id: &str) -> (String, String) {
    (format!("{kind}#{}", minute.div_euclid(60)), format!("{minute:010}#{id}"))
}

/// The minute an index sort key names.
pub fn minute_of(sk: &str) -> Option<i64> {
    sk.split_once('#').and_then(|(m, _)| m.parse().ok())
}

/// Up to `limit` records of `kind` due from `first` to `last` (epoch minutes), oldest first.
pub async fn due(state: &AppState, kind: &str, first: i64, last: i64, limit: usize) -> Result<Vec<Item>, TableError> {
    let mut out = Vec::new();
    for hour in first.div_euclid(60)..=last.div_euclid(60) {
        let mut cursor = None;
        loop {
            let want = (limit - out.len()).min(500) as u32;
            let query = Query::gsi1(format!("{kind}#{hour}")).between(format!("{first:010}"), format!("{last:010}~")).limit(want).after(cursor);
            let page = state.table.query(query).await?;
            out.extend(page.items);
            if out.len() >= limit {
                return Ok(out);
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_minute_within_an_hour_bucket() {
        let (pk, sk) = key("DRIPDUE", 29_500_123, "x");
        assert_eq!((pk.as_str(), sk.as_str()), ("DRIPDUE#491668", "0029500123#x"));
        assert_eq!(minute_of(&sk), Some(29_500_123));
        assert!(key("D", 61, "a").1 < key("D", 62, "a").1);
        assert_eq!(key("D", 59, "a").0, "D#0");
        assert_eq!(key("D", 60, "a").0, "D#1");
    }
}
