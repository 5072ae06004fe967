//! Subscriber imports past the body limit, on both backends: a file sent in parts (in order, a re-sent
//! part harmless, nothing after the last), its row errors by line of the whole file, and the bad paths.

#[path = "api/client.rs"]
mod client;


use axum::http::Method;
use serde_json::json;
use webtrigger::state::AppState;

const KEY: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
const HOST: &str = "127.0.0.1:9";
const LIMIT: usize = 16 * 1024;

/// 400 rows (about 190 bytes each, so 5 parts under a 16 KiB limit); rows 57 and 301 are bad.
fn csv_file() -> String {
    let mut csv = String::from("endpoint,p256dh,auth,tags,external_id,time_zone\n");
    for i in 0..400 {
        let key = if i == 57 { &KEY[..30] } else { KEY };
        let zone = if i == 301 { "Mars/Olympus" } else { "Europe/Paris" };
        csv.push_str(&format!("http://{HOST}/push/part-row-{i},{key},{AUTH},imported,user-{i},{zone}\n"));
    }
    csv
}

/// Cuts `text` at line ends into parts of at most `max` bytes.
fn parts(text: &str, max: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    for line in text.split_inclusive('\n') {
        if out.last().unwrap().len() + line.len() > max {
            out.push(String::new());
        }
        out.last_mut().unwrap().push_str(line);
    }
    out
}

async fn import_in_parts(mut state: AppState) {
    state.max_body_bytes = LIMIT;
    let (stop_tx, worker) = client::push_consumer(&mut state, HOST);
    let (mut ada, sites, site_id) = client::shop_site(&state).await;
    let file = csv_file();
    assert!(file.len() > 3 * LIMIT, "the file must need several parts");

    // Whole, it is past the limit: the answer says so and points nowhere else.
    ada.extra_headers = vec![("content-type".into(), "text/csv".into())];
    ada.call_raw(Method::POST, &format!("{sites}/{site_id}/subscribers/import"), file.clone().into_bytes()).await.assert_error(413, "payload_too_large");
    ada.extra_headers.clear();

    ada.post(&format!("{sites}/{site_id}/imports"), json!({"format": "xml"})).await.assert_error(422, "validation_failed");
    let created = ada.post(&format!("{sites}/{site_id}/imports"), json!({"format": "csv"})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!((created.data()["status"].as_str(), created.data()["max_part_bytes"].as_u64()), (Some("uploading"), Some(LIMIT as u64)), "{}", created.body);
    let id = created.data()["id"].as_str().unwrap().to_owned();
    let part_url = |n: u32, last: bool| format!("{sites}/{site_id}/imports/{id}/parts/{n}{}", if last { "?last=true" } else { "" });

    let pieces = parts(&file, LIMIT - 1024);
    assert!(pieces.len() >= 4, "{} parts", pieces.len());
    ada.call_raw(Method::PUT, &part_url(2, false), pieces[1].clone().into_bytes()).await.assert_error(409, "conflict");
    ada.call_raw(Method::PUT, &part_url(0, false), pieces[0].clone().into_bytes()).await.assert_error(422, "validation_failed");
    ada.call_raw(Method::PUT, &part_url(1, false), vec![0xff, 0xfe, b'\n']).await.assert_error(422, "validation_failed");
    ada.call_raw(Method::PUT, &format!("{sites}/{site_id}/imports/imp_01HZZZZZZZZZZZZZZZZZZZZZZZ/parts/1"), pieces[0].clone().into_bytes()).await.assert_error(404, "not_found");
    let mut rows = 0;
    for (i, piece) in pieces.iter().enumerate() {
        let n = i as u32 + 1;
        let last = i + 1 == pieces.len();
        let r = ada.call_raw(Method::PUT, &part_url(n, last), piece.clone().into_bytes()).await;
        assert_eq!(r.status, 202, "part {n}: {}", r.body);
        rows = r.data()["rows"].as_u64().unwrap();
        assert_eq!(r.data()["parts"], n, "{}", r.body);
        if i == 1 {
            // A client that lost the answer sends the part again: nothing is counted twice.
            let again = ada.call_raw(Method::PUT, &part_url(n, false), piece.clone().into_bytes()).await;
            assert_eq!((again.status, again.data()["rows"].as_u64(), again.data()["parts"].as_u64()), (202, Some(rows), Some(2)), "{}", again.body);
        }
        if !last {
            assert_eq!(r.data()["status"], "uploading");
        }
    }
    assert_eq!(rows, 400);
    ada.call_raw(Method::PUT, &part_url(pieces.len() as u32 + 1, true), pieces[0].clone().into_bytes()).await.assert_error(409, "conflict");

    let view = client::wait_import_completed(&mut ada, &format!("{sites}/{site_id}/imports/{id}")).await;
    let lines: Vec<u64> = view["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [59, 303], "file lines of rows 57 and 301, counted across parts (the header is line 1): {}", view["errors"]);
    assert_eq!((view["created"].as_u64(), view["updated"].as_u64(), view["failed"].as_u64(), view["processed"].as_u64()), (Some(398), Some(0), Some(2), Some(400)), "{view}");
    let subs = ada.get(&format!("{sites}/{site_id}/subscribers?limit=1")).await;
    assert_eq!(subs.data()["total"], 398, "{}", subs.body);

    // The export comes in pages (the header on the first only) that together hold each subscriber once.
    let export = format!("{sites}/{site_id}/subscribers/export");
    let (mut endpoints, mut cursor, mut pages) = (std::collections::BTreeSet::new(), None::<String>, Vec::new());
    loop {
        let url = match &cursor {
            Some(c) => format!("{export}?limit=150&cursor={c}"),
            None => format!("{export}?limit=150"),
        };
        let r = ada.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let text = r.body.as_str().unwrap().to_owned();
        let mut lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        if cursor.is_none() {
            assert_eq!(lines.remove(0), webtrigger::push::subscriber_export::HEADER);
        }
        assert!(lines.iter().all(|l| !l.starts_with("id,")), "the header only on the first page");
        pages.push(lines.len());
        endpoints.extend(lines.iter().map(|l| l.split(',').nth(1).unwrap().to_owned()));
        match r.headers.get("x-next-cursor") {
            Some(next) => {
                assert!(r.headers.get("link").unwrap().to_str().unwrap().contains("rel=\"next\""));
                cursor = Some(next.to_str().unwrap().to_owned());
            }
            None => break,
        }
    }
    assert_eq!((pages, endpoints.len()), (vec![150, 150, 98], 398));
    ada.get(&format!("{export}?cursor=zz")).await.assert_error(422, "validation_failed");
    ada.get(&format!("{export}?cursor=99.")).await.assert_error(422, "validation_failed");
    // A cursor of this site's export does not open another site's.
    let other = ada.post(&sites, json!({"name": "Other", "allowed_origins": ["https://other.example.com"], "contact": "mailto:ops@example.com"})).await;
    let first = ada.get(&format!("{export}?limit=1")).await;
    let foreign = first.headers.get("x-next-cursor").unwrap().to_str().unwrap().to_owned();
    ada.get(&format!("{sites}/{}/subscribers/export?cursor={foreign}", other.data()["id"].as_str().unwrap())).await.assert_error(422, "validation_failed");
    stop_tx.send(true).unwrap();
    worker.await.unwrap();
}

webtrigger_tests::on_both_backends!(import_in_parts);
