//! Segment estimate over 100k subscribers on the embedded backend (SQLite in a data dir, as the local
//! binary runs): the same scan and `matches` the estimate endpoint uses, for a rule set that reads tags,
//! country, a custom attribute and the subscription time. Target: ≤ 2 s.
//! Run: `cargo bench -p webtrigger-tests --bench segment_estimate`.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use webtrigger::auth::WorkspaceId;
use webtrigger::ports::table::MAX_TRANSACTION_WRITES;
use webtrigger::ports::{Condition, Item, Key, TxWrite};
use webtrigger::push::segment_rules::Rules;
use webtrigger::push::sites::SiteId;
use webtrigger::push::subscriber_data::AttrValue;
use webtrigger::push::subscribers::{shard_partition, shard_of, ClientInfo, Subscriber};
use webtrigger::push::types::PushSubscription;
use webtrigger_tests::cpu::process_cpu;

const SUBSCRIBERS: usize = 100_000;
const ZONES: [(&str, &str); 4] = [("Europe/Berlin", "DE"), ("Europe/Paris", "FR"), ("America/New_York", "US"), ("Asia/Tokyo", "JP")];

fn subscriber(i: usize) -> Subscriber {
    // Real sizes: an FCM endpoint, a 65-byte key and a 16-byte secret in base64url.
    let sub = PushSubscription { endpoint: format!("https://fcm.googleapis.com/fcm/send/{i:08}:APA91bH{}", "x".repeat(140)), p256dh: "B".repeat(87), auth: "a".repeat(22) };
    let (zone, country) = ZONES[i % ZONES.len()];
    Subscriber {
        id: sub.id(),
        subscription: sub,
        client: ClientInfo {
            browser: Some(if i.is_multiple_of(3) { "Firefox" } else { "Chrome" }.into()),
            os: Some("Windows".into()),
            language: Some("en-US".into()),
            timezone: Some(zone.into()),
            page_url: Some(format!("https://shop.example.com/products/{i}")),
            external_id: i.is_multiple_of(5).then(|| format!("user-{i}")),
        },
        tags: if i.is_multiple_of(2) { vec!["newsletter".into(), "vip".into()] } else { vec!["newsletter".into()] },
        created_at: format!("2026-0{}-15T10:00:00+00:00", 1 + i % 6),
        last_seen: "2026-06-20T10:00:00+00:00".into(),
        country: Some(country.into()),
        attributes: [("plan".to_owned(), AttrValue::String(if i.is_multiple_of(4) { "pro" } else { "free" }.into())), ("seats".to_owned(), AttrValue::Number((i % 50) as f64))].into(),
        clicks: (i % 7) as u64,
    }
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        // SEGMENT_BENCH_DIR keeps the data between runs (for profiling the estimate alone).
        let kept = std::env::var_os("SEGMENT_BENCH_DIR").map(std::path::PathBuf::from);
        let temp = tempfile::tempdir()?;
        let dir = kept.clone().unwrap_or_else(|| temp.path().to_owned());
        let reuse = kept.is_some() && dir.join("ids").exists();
        let state = webtrigger::AppState::embedded(&dir, Arc::new(webtrigger::ports::SystemClock))?;
        let (ws, site) = if reuse {
            let ids = std::fs::read_to_string(dir.join("ids"))?;
            let (w, s) = ids.split_once(' ').ok_or_else(|| anyhow::anyhow!("bad ids file"))?;
            (WorkspaceId::parse(w)?, SiteId::parse(s.trim())?)
        } else {
            (WorkspaceId::new(ulid::Ulid::new()), SiteId::new(ulid::Ulid::new()))
        };
        let t = Instant::now();
        let mut writes = Vec::with_capacity(MAX_TRANSACTION_WRITES);
        for i in (0..SUBSCRIBERS).filter(|_| !reuse) {
            let s = subscriber(i);
            let key = Key::new(shard_partition(&ws, &site, shard_of(&s.id)), format!("SUB#{}", s.id));
            writes.push(TxWrite::Put { item: Item::of(key, &s), condition: Condition::None });
            if writes.len() == MAX_TRANSACTION_WRITES {
                state.table.transact(std::mem::take(&mut writes)).await?;
            }
        }
        if !writes.is_empty() {
            state.table.transact(writes).await?;
        }
        if kept.is_some() && !reuse {
            std::fs::write(dir.join("ids"), format!("{ws} {site}"))?;
        }
        println!("segment estimate benchmark: {SUBSCRIBERS} subscribers written in {:.1} s", t.elapsed().as_secs_f64());
        let rules = Rules::parse(
            &json!({"match": "any", "groups": [
                {"conditions": [{"field": "tags", "op": "any", "value": ["vip"]}, {"field": "country", "op": "in", "value": ["de", "fr"]}, {"field": "attribute", "key": "plan", "op": "eq", "value": "pro"}]},
                {"conditions": [{"field": "subscribed", "op": "before", "value": "2026-02-01"}, {"field": "clicks", "op": "gte", "value": 5}]},
            ]}),
            "rules",
        )?;
        let (mut best, mut best_cpu) = (f64::MAX, f64::MAX);
        for run in 1..=3 {
            let (t, cpu) = (Instant::now(), process_cpu().as_secs_f64());
            let estimate = webtrigger::push::segments::count_matching(&state, &ws, &site, &rules).await?;
            let (secs, cpu) = (t.elapsed().as_secs_f64(), process_cpu().as_secs_f64() - cpu);
            (best, best_cpu) = (best.min(secs), best_cpu.min(cpu));
            println!("  run {run}: {} of {} match, {secs:.3} s wall, {cpu:.2} s CPU", estimate.count, estimate.total);
            anyhow::ensure!(estimate.total == SUBSCRIBERS as u64, "scanned {} of {SUBSCRIBERS}", estimate.total);
        }
        println!("best {best:.3} s wall, {best_cpu:.2} s CPU (target ≤ 2 s): {}", if best <= 2.0 { "met" } else { "NOT met" });
        Ok(())
    })
}
