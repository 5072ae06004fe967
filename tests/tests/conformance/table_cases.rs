//! `Table` contract cases.

use std::collections::BTreeSet;

use webtrigger::ports::{Condition, Cursor, Index, Item, Key, Query, TableError, TxWrite};

use super::backends::Backend;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub async fn conditional_put_conflict(b: Backend) {
    let key = Key::new("WS#1", "USER#a");
    b.table.put(Item::new(key.clone()).with_attr("name", "first"), Condition::NotExists).await.unwrap();
    let again = b.table.put(Item::new(key.clone()).with_attr("name", "second"), Condition::NotExists).await;
    assert_eq!(again, Err(TableError::ConditionFailed));
    assert_eq!(b.table.get(&key).await.unwrap().unwrap().attrs["name"], "first", "a failed put must not write");

    let missing = Key::new("WS#1", "USER#missing");
    assert_eq!(b.table.put(Item::new(missing.clone()), Condition::Exists).await, Err(TableError::ConditionFailed));
    assert_eq!(b.table.delete(&missing, Condition::Exists).await, Err(TableError::ConditionFailed));
    b.table.delete(&missing, Condition::None).await.expect("unconditional delete of an absent item is fine");
    b.table.put(Item::new(key.clone()).with_attr("name", "third"), Condition::Exists).await.unwrap();
    b.table.delete(&key, Condition::Exists).await.unwrap();
    assert_eq!(b.table.get(&key).await.unwrap(), None);
}

pub async fn reserved_attribute_names_are_refused(b: Backend) {
    let bad = Item::new(Key::new("P", "S")).with_attr("pk", "spoof");
    assert!(matches!(b.table.put(bad, Condition::None).await, Err(TableError::Invalid(_))));
}

pub async fn version_conflict(b: Backend) {
    let key = Key::new("WS#1", "CAMPAIGN#1");
    b.table.put(Item::new(key.clone()).with_attr("status", "draft").with_version(1), Condition::NotExists).await.unwrap();
    b.table.put(Item::new(key.clone()).with_attr("status", "scheduled").with_version(2), Condition::VersionIs(1)).await.unwrap();
    let stale = b.table.put(Item::new(key.clone()).with_attr("status", "sent").with_version(2), Condition::VersionIs(1)).await;
    assert_eq!(stale, Err(TableError::ConditionFailed));
    let stored = b.table.get(&key).await.unwrap().unwrap();
    assert_eq!((stored.version, stored.attrs["status"].as_str()), (2, Some("scheduled")));
    assert_eq!(b.table.delete(&key, Condition::VersionIs(1)).await, Err(TableError::ConditionFailed));
    b.table.delete(&key, Condition::VersionIs(2)).await.unwrap();
}

pub async fn transaction_all_or_nothing(b: Backend) {
    let (ka, kb, kc) = (Key::new("T", "A"), Key::new("T", "B"), Key::new("T", "C"));
    b.table.put(Item::new(kb.clone()).with_attr("v", 1), Condition::None).await.unwrap();
    let failing = vec![
        TxWrite::Put { item: Item::new(ka.clone()), condition: Condition::NotExists },
        TxWrite::Put { item: Item::new(kb.clone()).with_attr("v", 2), condition: Condition::NotExists },
        TxWrite::Put { item: Item::new(kc.clone()), condition: Condition::None },
    ];
    assert_eq!(b.table.transact(failing).await, Err(TableError::TransactionCancelled { index: 1 }));
    assert_eq!(b.table.get(&ka).await.unwrap(), None, "no write of a cancelled transaction may land");
    assert_eq!(b.table.get(&kc).await.unwrap(), None);
    assert_eq!(b.table.get(&kb).await.unwrap().unwrap().attrs["v"], 1);

    let check_fails = vec![
        TxWrite::Put { item: Item::new(ka.clone()), condition: Condition::None },
        TxWrite::Check { key: kc.clone(), condition: Condition::Exists },
    ];
    assert_eq!(b.table.transact(check_fails).await, Err(TableError::TransactionCancelled { index: 1 }));
    assert_eq!(b.table.get(&ka).await.unwrap(), None);
    // Of several failing conditions, the first in order is the one reported, whatever kind each is.
    let both_fail = vec![TxWrite::Check { key: kc.clone(), condition: Condition::Exists }, TxWrite::Put { item: Item::new(kb.clone()), condition: Condition::NotExists }];
    assert_eq!(b.table.transact(both_fail).await, Err(TableError::TransactionCancelled { index: 0 }));
    let both_fail = vec![TxWrite::Put { item: Item::new(kb.clone()), condition: Condition::NotExists }, TxWrite::Check { key: kc.clone(), condition: Condition::Exists }];
    assert_eq!(b.table.transact(both_fail).await, Err(TableError::TransactionCancelled { index: 0 }));
    assert_eq!(b.table.get(&kb).await.unwrap().unwrap().attrs["v"], 1, "a refused put leaves the stored item as it was");

    let ok = vec![
        TxWrite::Put { item: Item::new(ka.clone()).with_attr("v", 9), condition: Condition::NotExists },
        TxWrite::Delete { key: kb.clone(), condition: Condition::Exists },
        TxWrite::Check { key: kc.clone(), condition: Condition::NotExists },
    ];
    b.table.transact(ok).await.unwrap();
    assert_eq!(b.table.get(&ka).await.unwrap().unwrap().attrs["v"], 9);
    assert_eq!(b.table.get(&kb).await.unwrap(), None);

    let duplicate_keys = vec![TxWrite::Check { key: ka.clone(), condition: Condition::None }, TxWrite::Delete { key: ka, condition: Condition::None }];
    assert!(matches!(b.table.transact(duplicate_keys).await, Err(TableError::Invalid(_))));
}

/// A counter add inside a transaction lands with the other writes or not at all: the push worker adds a
/// job's counters in the same transaction as the marker proving they were not added before.
pub async fn transaction_counter_add(b: Backend) {
    let (marker, counters) = (Key::new("TA", "JOB#1"), Key::new("TA", "NTF"));
    let once = || vec![
        TxWrite::Put { item: Item::new(marker.clone()), condition: Condition::NotExists },
        TxWrite::Add { key: counters.clone(), deltas: vec![("accepted".into(), 3), ("failed".into(), 1)] },
    ];
    b.table.transact(once()).await.unwrap();
    assert_eq!(b.table.transact(once()).await, Err(TableError::TransactionCancelled { index: 0 }), "the marker exists");
    let stored = b.table.get(&counters).await.unwrap().expect("created by the add");
    assert_eq!((stored.attrs["accepted"].as_i64(), stored.attrs["failed"].as_i64()), (Some(3), Some(1)), "added exactly once");
    b.table
        .transact(vec![TxWrite::Add { key: counters.clone(), deltas: vec![("accepted".into(), 2), ("fresh".into(), 0)] }, TxWrite::Check { key: marker.clone(), condition: Condition::Exists }])
        .await
        .unwrap();
    assert_eq!(b.table.add(&counters, &[("accepted", 1)]).await.unwrap(), vec![6]);
    let bad = vec![TxWrite::Add { key: counters.clone(), deltas: vec![("version".into(), 1)] }];
    assert!(matches!(b.table.transact(bad).await, Err(TableError::Invalid(_))), "reserved names are refused");
}

async fn collect_pages(b: &Backend, query: Query) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = b.table.query(query.clone().after(cursor)).await.unwrap();
        assert!(page.items.len() <= query.limit as usize);
        seen.extend(page.items.iter().map(|i| i.key.sk.clone()));
        pages += 1;
        assert!(pages < 50, "pagination does not terminate");
        match page.next {
            Some(next) => cursor = Some(Cursor::parse(next.as_str()).unwrap()),
            None => return (seen, pages),
        }
    }
}

pub async fn query_pagination_both_directions(b: Backend) {
    for i in 0..23 {
        b.table.put(Item::new(Key::new("WS#p", format!("MSG#{i:03}"))).with_attr("i", i), Condition::None).await.unwrap();
    }
    b.table.put(Item::new(Key::new("WS#p", "CONTACT#1")), Condition::None).await.unwrap();
    b.table.put(Item::new(Key::new("WS#p", "MSG")), Condition::None).await.unwrap();
    b.table.put(Item::new(Key::new("WS#other", "MSG#000")), Condition::None).await.unwrap();
    let expected: Vec<String> = (0..23).map(|i| format!("MSG#{i:03}")).collect();

    let (forward, pages) = collect_pages(&b, Query::partition("WS#p").prefix("MSG#").limit(5)).await;
    assert_eq!(forward, expected);
    assert!(pages >= 5, "23 items in pages of 5 need at least 5 pages, got {pages}");
    let (reverse, _) = collect_pages(&b, Query::partition("WS#p").prefix("MSG#").limit(5).reverse()).await;
    assert_eq!(reverse, expected.iter().rev().cloned().collect::<Vec<_>>());

    // Back from page 2 to page 1: a cursor at page 2's first item, read in reverse.
    let page1 = b.table.query(Query::partition("WS#p").prefix("MSG#").limit(5)).await.unwrap();
    let page2 = b.table.query(Query::partition("WS#p").prefix("MSG#").limit(5).after(page1.next.clone())).await.unwrap();
    assert_eq!(page2.items[0].key.sk, "MSG#005");
    let back = b.table.query(Query::partition("WS#p").prefix("MSG#").limit(5).reverse().after(Some(Cursor::at(&page2.items[0], Index::Primary)))).await.unwrap();
    let back_sks: Vec<_> = back.items.iter().map(|i| i.key.sk.as_str()).collect();
    assert_eq!(back_sks, ["MSG#004", "MSG#003", "MSG#002", "MSG#001", "MSG#000"]);

    let range = b.table.query(Query::partition("WS#p").between("MSG#010", "MSG#012")).await.unwrap();
    assert_eq!(range.items.iter().map(|i| i.key.sk.as_str()).collect::<Vec<_>>(), ["MSG#010", "MSG#011", "MSG#012"]);
    assert_eq!(range.items[1].attrs["i"], 11);

    let all = b.table.query(Query::partition("WS#p").limit(100)).await.unwrap();
    assert_eq!(all.items.len(), 25);
    assert!(all.next.is_none());

    assert_eq!(Cursor::parse("not-a-cursor!").unwrap_err(), TableError::InvalidCursor);
}

pub async fn gsi_query(b: Backend) {
    for (pk, ts) in [("WS#1#CONV#a", "2026-01-03"), ("WS#1#CONV#b", "2026-01-01"), ("WS#1#CONV#c", "2026-01-02"), ("WS#2#CONV#d", "2026-01-04")] {
        let ws = &pk[..4];
        let item = Item::new(Key::new(pk, "META")).with_gsi1(format!("{ws}#INBOX"), ts).with_attr("ts", ts);
        b.table.put(item, Condition::None).await.unwrap();
    }
    b.table.put(Item::new(Key::new("WS#1#CONV#z", "META")), Condition::None).await.unwrap();

    let first = b.table.query(Query::gsi1("WS#1#INBOX").limit(2).reverse()).await.unwrap();
    let pks: Vec<_> = first.items.iter().map(|i| i.key.pk.as_str()).collect();
    assert_eq!(pks, ["WS#1#CONV#a", "WS#1#CONV#c"], "newest first on the index sort key");
    assert_eq!(first.items[0].gsi1.as_ref().unwrap().sk, "2026-01-03");
    let rest = b.table.query(Query::gsi1("WS#1#INBOX").limit(2).reverse().after(first.next)).await.unwrap();
    assert_eq!(rest.items.iter().map(|i| i.key.pk.as_str()).collect::<Vec<_>>(), ["WS#1#CONV#b"]);
    let ranged = b.table.query(Query::gsi1("WS#1#INBOX").between("2026-01-02", "2026-01-09")).await.unwrap();
    assert_eq!(ranged.items.len(), 2);
    // A primary-index cursor is no position on the index.
    let wrong = b.table.query(Query::gsi1("WS#1#INBOX").after(Some(Cursor::at(&Item::new(Key::new("x", "y")), Index::Primary)))).await;
    assert_eq!(wrong.unwrap_err(), TableError::InvalidCursor);
}

pub async fn counter_add_under_concurrency(b: Backend) {
    let key = Key::new("WS#1", "STATS#notif1");
    assert_eq!(b.table.add(&key, &[("sent", 0), ("bytes", 0)]).await.unwrap(), vec![0, 0], "add creates the item");
    let sent_values: BTreeSet<i64> = if b.atomic_concurrent_adds {
        let adds = (0..50).map(|_| {
            let table = b.table.clone();
            let key = key.clone();
            tokio::spawn(async move { table.add(&key, &[("sent", 1), ("bytes", 100)]).await.unwrap() })
        });
        futures_util::future::join_all(adds).await.into_iter().map(|r| r.unwrap()[0]).collect()
    } else {
        // moto applies concurrent UpdateItem ADDs without isolation (a loaded machine saw 49 distinct values of
        // 50); DynamoDB makes each one atomic. Concurrent atomicity is DynamoDB's contract, not moto's, so on moto
        // only the adapter's part is checked: the adds one after another, each answering its own new value.
        let mut values = BTreeSet::new();
        for _ in 0..50 {
            values.insert(b.table.add(&key, &[("sent", 1), ("bytes", 100)]).await.unwrap()[0]);
        }
        values
    };
    assert_eq!(sent_values, (1..=50).collect(), "every add sees a distinct new value: no lost update");
    let stored = b.table.get(&key).await.unwrap().unwrap();
    assert_eq!((stored.attrs["sent"].as_i64(), stored.attrs["bytes"].as_i64()), (Some(50), Some(5000)));
    assert_eq!(b.table.add(&key, &[("sent", -10)]).await.unwrap(), vec![40]);
    assert!(matches!(b.table.add(&key, &[("bad name", 1)]).await, Err(TableError::Invalid(_))));
}

pub async fn ttl_expiry_honoured_on_read(b: Backend) {
    let (gone, live) = (Key::new("WS#1", "EVENT#old"), Key::new("WS#1", "EVENT#new"));
    let later = now() + 3600;
    b.table.put(Item::new(gone.clone()).with_expiry(now() - 30).with_gsi1("IDX", "1"), Condition::None).await.unwrap();
    b.table.put(Item::new(live.clone()).with_expiry(later).with_gsi1("IDX", "2"), Condition::None).await.unwrap();
    assert_eq!(b.table.get(&gone).await.unwrap(), None);
    assert_eq!(b.table.get(&live).await.unwrap().unwrap().expires_at, Some(later));
    let listed = b.table.query(Query::partition("WS#1").prefix("EVENT#")).await.unwrap();
    assert_eq!(listed.items.iter().map(|i| i.key.sk.as_str()).collect::<Vec<_>>(), ["EVENT#new"]);
    let indexed = b.table.query(Query::gsi1("IDX")).await.unwrap();
    assert_eq!(indexed.items.len(), 1);
    // An expired item counts as absent for conditions: a dedupe window can be reused once it lapses.
    b.table.put(Item::new(gone.clone()).with_attr("again", true), Condition::NotExists).await.unwrap();
    assert_eq!(b.table.get(&gone).await.unwrap().unwrap().attrs["again"], true);
    assert_eq!(b.table.put(Item::new(live), Condition::NotExists).await, Err(TableError::ConditionFailed));
}

pub async fn counter_add_of_zero(b: Backend) {
    let key = Key::new("WS#1", "STATS#zero");
    // A delta of 0 changes nothing, so DynamoDB's UPDATED_NEW leaves the counter out of its reply even though
    // the write was applied; the adapter must still answer with the value.
    assert_eq!(b.table.add(&key, &[("targeted", 0)]).await.unwrap(), vec![0], "add 0 creates the counter at 0");
    assert_eq!(b.table.add(&key, &[("targeted", 7)]).await.unwrap(), vec![7]);
    assert_eq!(b.table.add(&key, &[("targeted", 0)]).await.unwrap(), vec![7], "add 0 reads the current value");
    assert_eq!(b.table.add(&key, &[("targeted", 0), ("accepted", 2), ("failed", 0)]).await.unwrap(), vec![7, 2, 0], "0 next to another delta");
    assert_eq!(b.table.add(&key, &[("accepted", 3), ("targeted", 0)]).await.unwrap(), vec![5, 7], "argument order, 0 last");
    let stored = b.table.get(&key).await.unwrap().unwrap();
    assert_eq!((stored.attrs["targeted"].as_i64(), stored.attrs["accepted"].as_i64(), stored.attrs["failed"].as_i64()), (Some(7), Some(5), Some(0)));
}

pub async fn query_projection(b: Backend) {
    let item = Item::new(Key::new("WS#proj", "SUB#1"))
        .with_gsi1("WS#proj#IDX", "1")
        .with_attr("tags", serde_json::json!(["vip", "b"]))
        .with_attr("flag", true)
        .with_attr("clicks", 3)
        .with_attr("attributes", serde_json::json!({"plan": "pro", "trial": false}))
        .with_attr("gone", serde_json::Value::Null)
        .with_attr("subscription", serde_json::json!({"endpoint": "https://push.example/x".repeat(10)}))
        .with_version(4);
    b.table.put(item, Condition::None).await.unwrap();
    b.table.put(Item::new(Key::new("WS#proj", "SUB#2")).with_attr("tags", serde_json::json!([])), Condition::None).await.unwrap();

    let page = b.table.query(Query::partition("WS#proj").prefix("SUB#").project(&["tags", "flag", "clicks", "attributes", "gone", "missing"])).await.unwrap();
    let first = &page.items[0];
    let keys: BTreeSet<&str> = first.attrs.keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["attributes", "clicks", "flag", "tags"]), "only projected attributes; null and absent ones are absent");
    assert_eq!(first.attrs["flag"], true, "JSON types survive a projection");
    assert_eq!(first.attrs["attributes"]["trial"], false);
    assert_eq!(first.attrs["tags"], serde_json::json!(["vip", "b"]));
    assert_eq!((first.key.sk.as_str(), first.version, first.gsi1.as_ref().map(|g| g.sk.as_str())), ("SUB#1", 4, Some("1")), "key, version and index key come back");
    assert_eq!(page.items[1].attrs.keys().collect::<Vec<_>>(), ["tags"]);

    let paged = b.table.query(Query::partition("WS#proj").prefix("SUB#").limit(1).project(&["clicks"])).await.unwrap();
    let rest = b.table.query(Query::partition("WS#proj").prefix("SUB#").limit(1).project(&["clicks"]).after(paged.next)).await.unwrap();
    assert_eq!(rest.items[0].key.sk, "SUB#2", "a projected query pages like any other");

    for bad in ["pk", "version", "a.b", ""] {
        let refused = b.table.query(Query::partition("WS#proj").project(&[bad])).await;
        assert!(matches!(refused, Err(TableError::Invalid(_))), "`{bad}` is refused: {refused:?}");
    }
}

/// A rollup bucket: counters added in transactions, with a TTL set by the first write and kept by later
/// ones (so the bucket expires a fixed time after it began, however often it is added to).
pub async fn transaction_add_expiring(b: Backend) {
    let bucket = Key::new("WS#1#ROLLUP", "H#2026120305");
    let (first, later) = (now() + 3600, now() + 7200);
    let add = |d: i64, at: i64| vec![TxWrite::AddExpiring { key: bucket.clone(), deltas: vec![("sent".into(), d), ("clicks".into(), 1)], expires_at: at }];
    b.table.transact(add(3, first)).await.unwrap();
    b.table.transact(add(2, later)).await.unwrap();
    let stored = b.table.get(&bucket).await.unwrap().expect("created by the add");
    assert_eq!((stored.attrs["sent"].as_i64(), stored.attrs["clicks"].as_i64()), (Some(5), Some(2)), "both adds landed");
    assert_eq!(stored.expires_at, Some(first), "the first write's TTL stays");
    let marker = Key::new("WS#1#ROLLUP", "EV#1");
    let once = || vec![TxWrite::Put { item: Item::new(marker.clone()), condition: Condition::NotExists }, TxWrite::AddExpiring { key: bucket.clone(), deltas: vec![("sent".into(), 1)], expires_at: later }];
    b.table.transact(once()).await.unwrap();
    assert_eq!(b.table.transact(once()).await, Err(TableError::TransactionCancelled { index: 0 }), "a repeat adds nothing");
    assert_eq!(b.table.get(&bucket).await.unwrap().unwrap().attrs["sent"].as_i64(), Some(6));
    let gone = Key::new("WS#1#ROLLUP", "H#2025010100");
    b.table.transact(vec![TxWrite::AddExpiring { key: gone.clone(), deltas: vec![("sent".into(), 1)], expires_at: now() - 30 }]).await.unwrap();
    assert_eq!(b.table.get(&gone).await.unwrap(), None, "an expired bucket reads as absent");
    let bad = vec![TxWrite::AddExpiring { key: bucket.clone(), deltas: vec![("ttl".into(), 1)], expires_at: later }];
    assert!(matches!(b.table.transact(bad).await, Err(TableError::Invalid(_))), "reserved names are refused");
}
