//! Table-driven checks of flow validation and scripted runs of the engine on a fake environment.

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::engine::{self, ContactData, Effect, Env, Input, Waiting};
use super::check::check;
use super::types::{FlowDoc, FlowId};

fn doc(steps: Value) -> FlowDoc {
    serde_json::from_value(json!({"name": "Leads", "triggers": [{"type": "keyword", "value": "hi"}], "steps": steps})).expect("document parses")
}

/// (case name, steps, the expected problem's (step, field), or none).
type Case = (&'static str, Value, Option<(&'static str, &'static str)>);

#[test]
fn validation_names_the_step_and_field() {
    let choice = |i: usize| json!({"id": format!("c{i}"), "title": format!("Option {i}")});
    let cases: Vec<Case> = vec![
        ("valid", json!([{"id": "a", "type": "send_text", "text": "hi", "next": "b"}, {"id": "b", "type": "end"}]), None),
        ("unknown target", json!([{"id": "a", "type": "send_text", "text": "hi", "next": "nope"}]), Some(("a", "next"))),
        ("branch default target", json!([{"id": "a", "type": "branch", "rules": [{"when": [{"op": "exists", "var": "x"}], "next": "a2"}], "default": "zz"}, {"id": "a2", "type": "end"}]), Some(("a", "default"))),
        ("branch without rules", json!([{"id": "a", "type": "branch", "rules": [], "default": "a"}]), Some(("a", "rules"))),
        ("four buttons", json!([{"id": "q", "type": "buttons", "text": "pick", "buttons": [choice(1), choice(2), choice(3), choice(4)]}]), Some(("q", "buttons"))),
        ("eleven rows", json!([{"id": "l", "type": "list", "text": "pick", "rows": (0..11).map(choice).collect::<Vec<_>>()}]), Some(("l", "rows"))),
        ("duplicate id", json!([{"id": "a", "type": "end"}, {"id": "a", "type": "end"}]), Some(("a", "id"))),
        ("bad capture target", json!([{"id": "q", "type": "ask", "text": "name?", "into": "has space"}]), Some(("q", "into"))),
        ("choice without choices", json!([{"id": "q", "type": "ask", "text": "pick", "into": "x", "kind": "choice"}]), Some(("q", "choices"))),
        ("loop without wait", json!([{"id": "a", "type": "set_tag", "tag": "x", "next": "b"}, {"id": "b", "type": "send_text", "text": "again", "next": "a"}]), Some(("a", "next"))),
        ("loop through a wait", json!([{"id": "a", "type": "send_text", "text": "ping", "next": "w"}, {"id": "w", "type": "wait", "seconds": 3600, "next": "a"}]), None),
        ("bad time", json!([{"id": "a", "type": "branch", "rules": [{"when": [{"op": "time_between", "from": "9am", "to": "17:00"}], "next": "a"}], "default": "a"}]), Some(("a", "rules[0].when"))),
        ("webhook timeout", json!([{"id": "w", "type": "webhook", "url": "https://example.com/h", "timeout_seconds": 99}]), Some(("w", "timeout_seconds"))),
        ("media over http", json!([{"id": "m", "type": "send_media", "media": "image", "url": "http://x/y.png"}]), Some(("m", "url"))),
        ("reply wait without timeout", json!([{"id": "w", "type": "wait", "seconds": 0, "for_reply": true}]), Some(("w", "seconds"))),
        ("business hours", json!([{"id": "a", "type": "branch", "rules": [{"when": [{"op": "business_hours", "days": ["mon", "Friday"], "from": "09:00", "to": "17:30", "time_zone": "Europe/Berlin"}], "next": "b"}], "default": "b"}, {"id": "b", "type": "end"}]), None),
        ("business hours bad day", json!([{"id": "a", "type": "branch", "rules": [{"when": [{"op": "business_hours", "days": ["someday"], "from": "09:00", "to": "17:00"}], "next": "a"}], "default": "a"}]), Some(("a", "rules[0].when"))),
        ("business hours bad zone", json!([{"id": "a", "type": "branch", "rules": [{"when": [{"op": "business_hours", "from": "09:00", "to": "17:00", "time_zone": "Mars/Olympus"}], "next": "a"}], "default": "a"}]), Some(("a", "rules[0].when"))),
        ("business hours bad time", json!([{"id": "a", "type": "branch", "rules": [{"when": [{"op": "business_hours", "from": "09:00", "to": "25:00"}], "next": "a"}], "default": "a"}]), Some(("a", "rules[0].when"))),
        ("hand-off to a team", json!([{"id": "h", "type": "handoff", "team": "team_01J0000000000000000000000A"}]), None),
        ("hand-off to no team", json!([{"id": "h", "type": "handoff", "team": "support"}]), Some(("h", "team"))),
        ("list button label", json!([{"id": "l", "type": "list", "text": "pick", "button": "A label far too long to show", "rows": [choice(1)]}]), Some(("l", "button"))),
    ];
    for (name, steps, expected) in cases {
        let problems = check(&doc(steps));
        match expected {
            None => assert!(problems.is_empty(), "{name}: {problems:?}"),
            Some((step, field)) => assert!(problems.iter().any(|p| p.step.as_deref() == Some(step) && p.field == field), "{name}: expected {step}.{field} in {problems:?}"),
        }
    }
    let mut bad_regex = doc(json!([{"id": "a", "type": "end"}]));
    bad_regex.triggers = serde_json::from_value(json!([{"type": "keyword", "match": "regex", "value": "(unclosed"}])).unwrap();
    assert!(check(&bad_regex).iter().any(|p| p.field == "triggers[0]" && p.message.contains("regex")));
    let mut bad_broadcast = doc(json!([{"id": "a", "type": "end"}]));
    bad_broadcast.triggers = serde_json::from_value(json!([{"type": "broadcast_reply", "broadcast_id": "nope"}, {"type": "broadcast_reply"}])).unwrap();
    let problems = check(&bad_broadcast);
    assert!(problems.len() == 1 && problems[0].field == "triggers[0]", "{problems:?}");
}

#[test]
fn answers_are_validated_and_normalised() {
    use super::eval::validate_answer as v;
    use super::types::AnswerKind::*;
    let choices = vec!["Small".to_owned(), "Large".to_owned()];
    let cases: Vec<(super::types::AnswerKind, &str, Option<&str>)> = vec![
        (Number, "42", Some("42")),
        (Number, "3,5", Some("3.5")),
        (Number, "many", None),
        (Email, "Ada@Example.com", Some("ada@example.com")),
        (Email, "ada@", None),
        (Email, "a b@c.de", None),
        (Phone, "14155552671", Some("+14155552671")),
        (Phone, "12", None),
        (Date, "2026-02-28", Some("2026-02-28")),
        (Date, "31/12/2026", Some("2026-12-31")),
        (Date, "2026-02-30", None),
        (Choice, "large", Some("Large")),
        (Choice, "1", Some("Small")),
        (Choice, "3", None),
        (Text, "  ", None),
    ];
    for (kind, input, expected) in cases {
        assert_eq!(v(kind, &choices, input).ok().as_deref(), expected, "{kind:?} {input:?}");
    }
}

struct FakeEnv {
    answer: Result<Value, String>,
}

#[async_trait]
impl Env for FakeEnv {
    /// A Monday.
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-03-02T10:30:00Z").unwrap().into()
    }
    async fn webhook(&self, _url: &str, _body: &Value, _timeout: u32) -> Result<Value, String> {
        self.answer.clone()
    }
}

fn texts(effects: &[Effect]) -> Vec<String> {
    effects.iter().filter_map(|e| match e {
        Effect::Send { content: crate::whatsapp::types::Content::Text { body, .. } } => Some(body.clone()),
        Effect::Send { content: crate::whatsapp::types::Content::Interactive { body, .. } } => Some(body.clone()),
        _ => None,
    }).collect()
}

#[tokio::test]
async fn a_scripted_conversation_reprompts_branches_and_maps_the_webhook() {
    let d = doc(json!([
        {"id": "ask_age", "type": "ask", "text": "How old are you?", "into": "age", "kind": "number", "retries": 1, "retry_text": "A number, please", "next": "route"},
        {"id": "route", "type": "branch", "rules": [{"when": [{"op": "gt", "var": "age", "value": 17}, {"op": "time_between", "from": "09:00", "to": "17:00"}], "next": "hook"}], "default": "minor"},
        {"id": "minor", "type": "send_text", "text": "Sorry"},
        {"id": "hook", "type": "webhook", "url": "https://crm.example.com/lead", "map": {"tier": "data.tier"}, "next": "tell", "on_error": "minor"},
        {"id": "tell", "type": "send_text", "text": "You are {{tier}}, aged {{age}}", "next": "bye"},
        {"id": "bye", "type": "handoff", "note": "Lead {{age}}"}
    ]));
    let env = FakeEnv { answer: Ok(json!({"data": {"tier": "gold"}})) };
    let id = FlowId::new(ulid::Ulid::new());
    let mut s = engine::start(&d, &id, 1, Map::new(), env.now());
    let mut c = ContactData::default();
    assert_eq!(texts(&engine::advance(&d, &mut s, &mut c, Input::Start, &env).await), ["How old are you?"]);
    assert_eq!(s.waiting, Waiting::Reply);
    assert_eq!(texts(&engine::advance(&d, &mut s, &mut c, Input::Message("old enough"), &env).await), ["A number, please"]);
    let effects = engine::advance(&d, &mut s, &mut c, Input::Message("30"), &env).await;
    assert_eq!(texts(&effects), ["You are gold, aged 30"]);
    let Some(Effect::Handoff { note, .. }) = effects.iter().find(|e| matches!(e, Effect::Handoff { .. })) else { panic!("no hand-off in {effects:?}") };
    assert!(note.starts_with("Lead 30") && note.contains("age: 30") && note.contains("tier: gold"), "{note}");
    assert!(s.done);
    // A second invalid answer past the retries ends the flow instead of asking forever.
    let mut s = engine::start(&d, &id, 1, Map::new(), env.now());
    engine::advance(&d, &mut s, &mut c, Input::Start, &env).await;
    engine::advance(&d, &mut s, &mut c, Input::Message("x"), &env).await;
    let last = engine::advance(&d, &mut s, &mut c, Input::Message("y"), &env).await;
    assert!(s.done && last.iter().any(|e| matches!(e, Effect::Dropped { step } if step == "ask_age")), "{last:?}");
    // A failing webhook takes the error branch.
    let failing = FakeEnv { answer: Err("HTTP 500".into()) };
    let mut s = engine::start(&d, &id, 1, Map::new(), env.now());
    engine::advance(&d, &mut s, &mut c, Input::Start, &failing).await;
    assert_eq!(texts(&engine::advance(&d, &mut s, &mut c, Input::Message("40"), &failing).await), ["Sorry"]);
}

#[tokio::test]
async fn the_step_budget_stops_a_zero_second_loop() {
    let d = doc(json!([{"id": "a", "type": "send_text", "text": "again", "next": "w"}, {"id": "w", "type": "wait", "seconds": 0, "next": "a"}]));
    assert!(check(&d).is_empty(), "a loop through a wait is allowed");
    let env = FakeEnv { answer: Ok(Value::Null) };
    let mut s = engine::start(&d, &FlowId::new(ulid::Ulid::new()), 1, Map::new(), env.now());
    let effects = engine::advance(&d, &mut s, &mut ContactData::default(), Input::Start, &env).await;
    assert!(s.done);
    assert!(matches!(effects.last(), Some(Effect::BudgetExhausted { .. })));
    assert_eq!(texts(&effects).len(), engine::STEP_BUDGET / 2);
}

#[tokio::test]
async fn a_reply_wait_times_out_to_its_branch_and_a_late_timer_moves_nothing() {
    let d = doc(json!([
        {"id": "w", "type": "wait", "seconds": 600, "for_reply": true, "next": "got", "on_timeout": "late"},
        {"id": "got", "type": "send_text", "text": "You said {{last_reply}}"},
        {"id": "late", "type": "send_text", "text": "Still there?"}
    ]));
    let env = FakeEnv { answer: Ok(Value::Null) };
    let id = FlowId::new(ulid::Ulid::new());
    let mut s = engine::start(&d, &id, 1, Map::new(), env.now());
    let mut c = ContactData::default();
    engine::advance(&d, &mut s, &mut c, Input::Start, &env).await;
    assert_eq!((s.waiting, s.resume_at), (Waiting::Reply, Some(env.now().timestamp() + 600)));
    assert_eq!(texts(&engine::advance(&d, &mut s, &mut c, Input::Timer, &env).await), ["Still there?"]);
    assert!(s.done);
    assert!(engine::advance(&d, &mut s, &mut c, Input::Timer, &env).await.is_empty(), "a finished session ignores timers");
    let mut s = engine::start(&d, &id, 1, Map::new(), env.now());
    engine::advance(&d, &mut s, &mut c, Input::Start, &env).await;
    assert_eq!(texts(&engine::advance(&d, &mut s, &mut c, Input::Message("yes"), &env).await), ["You said yes"]);
}

/// The same clock as `FakeEnv`, in a workspace time zone.
struct ZonedEnv(chrono_tz::Tz);

#[async_trait]
impl Env for ZonedEnv {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        FakeEnv { answer: Ok(Value::Null) }.now()
    }
    fn time_zone(&self) -> chrono_tz::Tz {
        self.0
    }
    async fn webhook(&self, _url: &str, _body: &Value, _timeout: u32) -> Result<Value, String> {
        Ok(Value::Null)
    }
}

#[tokio::test]
async fn business_hours_are_read_in_the_workspace_time_zone() {
    let d = doc(json!([
        {"id": "route", "type": "branch", "rules": [{"when": [{"op": "business_hours", "days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}], "next": "open"}], "default": "closed"},
        {"id": "open", "type": "send_text", "text": "open"},
        {"id": "closed", "type": "send_text", "text": "closed"}
    ]));
    // Monday 10:30 UTC: 11:30 in Berlin (open), 19:30 in Tokyo (closed), 05:30 in New York (closed).
    for (zone, expected) in [(chrono_tz::Tz::UTC, "open"), (chrono_tz::Europe::Berlin, "open"), (chrono_tz::Asia::Tokyo, "closed"), (chrono_tz::America::New_York, "closed")] {
        let env = ZonedEnv(zone);
        let mut s = engine::start(&d, &FlowId::new(ulid::Ulid::new()), 1, Map::new(), env.now());
        assert_eq!(texts(&engine::advance(&d, &mut s, &mut ContactData::default(), Input::Start, &env).await), [expected], "{zone}");
    }
    // A condition's own zone wins over the workspace's; weekend days are closed.
    let own = doc(json!([
        {"id": "route", "type": "branch", "rules": [{"when": [{"op": "business_hours", "from": "18:00", "to": "20:00", "time_zone": "Asia/Tokyo"}], "next": "open"}], "default": "closed"},
        {"id": "open", "type": "send_text", "text": "open"}, {"id": "closed", "type": "send_text", "text": "closed"}
    ]));
    let weekend = doc(json!([
        {"id": "route", "type": "branch", "rules": [{"when": [{"op": "business_hours", "days": ["sat", "sun"], "from": "00:00", "to": "23:59"}], "next": "open"}], "default": "closed"},
        {"id": "open", "type": "send_text", "text": "open"}, {"id": "closed", "type": "send_text", "text": "closed"}
    ]));
    for (d, expected) in [(own, "open"), (weekend, "closed")] {
        let env = ZonedEnv(chrono_tz::Europe::Berlin);
        let mut s = engine::start(&d, &FlowId::new(ulid::Ulid::new()), 1, Map::new(), env.now());
        assert_eq!(texts(&engine::advance(&d, &mut s, &mut ContactData::default(), Input::Start, &env).await), [expected]);
    }
}

#[tokio::test]
async fn lists_go_out_as_lists_and_taps_are_matched_by_id() {
    use crate::whatsapp::types::Content;
    let d = doc(json!([
        {"id": "day", "type": "list", "text": "Which day?", "button": "Days", "rows": [{"id": "mon", "title": "Monday"}, {"id": "tue", "title": "Tuesday", "next": "tuesday"}], "into": "day", "next": "route"},
        {"id": "route", "type": "branch", "rules": [{"when": [{"op": "eq", "var": "reply_id", "value": "mon"}], "next": "monday"}], "default": "other"},
        {"id": "monday", "type": "send_text", "text": "Monday it is ({{day}})"},
        {"id": "tuesday", "type": "send_text", "text": "Tuesday it is"},
        {"id": "other", "type": "send_text", "text": "typed {{day}}"}
    ]));
    let env = FakeEnv { answer: Ok(Value::Null) };
    let id = FlowId::new(ulid::Ulid::new());
    let mut c = ContactData::default();
    let mut s = engine::start(&d, &id, 1, Map::new(), env.now());
    let first = engine::advance(&d, &mut s, &mut c, Input::Start, &env).await;
    let Some(Effect::Send { content: Content::List { body, button, rows } }) = first.iter().find(|e| matches!(e, Effect::Send { .. })) else { panic!("{first:?}") };
    assert_eq!((body.as_str(), button.as_str(), rows.len(), rows[1].id.as_str()), ("Which day?", "Days", 2, "tue"));
    // A tap is matched by its id even when the title it shows differs; the id is a variable for conditions.
    assert_eq!(texts(&engine::advance(&d, &mut s, &mut c, Input::Tap { text: "Montag", id: "mon" }, &env).await), ["Monday it is (mon)"]);
    let mut s = engine::start(&d, &id, 1, Map::new(), env.now());
    engine::advance(&d, &mut s, &mut c, Input::Start, &env).await;
    assert_eq!(texts(&engine::advance(&d, &mut s, &mut c, Input::Tap { text: "?", id: "tue" }, &env).await), ["Tuesday it is"], "a row's own next");
    // Typed text still works (by number or title), and leaves no reply id behind.
    let mut s = engine::start(&d, &id, 1, Map::new(), env.now());
    s.vars.insert("reply_id".into(), json!("mon"));
    engine::advance(&d, &mut s, &mut c, Input::Start, &env).await;
    assert_eq!(texts(&engine::advance(&d, &mut s, &mut c, Input::Message("1"), &env).await), ["typed mon"]);
    // An unknown tapped id with no matching title re-prompts.
    let mut s = engine::start(&d, &id, 1, Map::new(), env.now());
    engine::advance(&d, &mut s, &mut c, Input::Start, &env).await;
    let again = engine::advance(&d, &mut s, &mut c, Input::Tap { text: "Sunday", id: "sun" }, &env).await;
    assert!(matches!(again.as_slice(), [Effect::Send { content: Content::List { .. } }]), "{again:?}");
}

#[test]
fn triggers_pick_by_tap_id_and_broadcast_reply_by_priority() {
    use super::runtime::{pick_flow, Inbound};
    use super::store::Flow;
    let flow = |name: &str, priority: i32, triggers: Value| -> Flow {
        let doc: FlowDoc = serde_json::from_value(json!({"name": name, "priority": priority, "triggers": triggers, "steps": [{"id": "a", "type": "end"}]})).unwrap();
        Flow { id: FlowId::new(ulid::Ulid::new()), draft: doc.clone(), live_version: Some(1), versions: 1, live: Some(doc), created_at: String::new(), updated_at: String::new() }
    };
    let conv: crate::inbox::conversations::Conversation = serde_json::from_value(json!({"id": crate::inbox::conversations::ConversationId::new(ulid::Ulid::new()), "channel_id": crate::whatsapp::types::ChannelId::new(ulid::Ulid::new()),
        "contact": "+16505551234", "contact_name": null, "status": "open", "snoozed_until": null, "assignee": "usr_x", "labels": [], "unread": 0, "last_message": null, "last_inbound_at": null, "created_at": "", "updated_at": ""})).unwrap();
    let bc = crate::broadcasts::types::BroadcastId::new(ulid::Ulid::new()).to_string();
    let other_bc = crate::broadcasts::types::BroadcastId::new(ulid::Ulid::new()).to_string();
    let flows = vec![
        flow("tap", 0, json!([{"type": "button_reply", "id": "menu"}])),
        flow("any broadcast", 0, json!([{"type": "broadcast_reply"}])),
        flow("that broadcast", 0, json!([{"type": "broadcast_reply", "broadcast_id": bc}])),
    ];
    let pick = |msg: Inbound| pick_flow(&flows, &conv, false, &msg).map(|f| f.draft.name.clone());
    assert_eq!(pick(Inbound { text: Some("Open the menu"), reply_id: Some("menu"), ..Default::default() }).as_deref(), Some("tap"), "by the tapped id, not the title");
    assert_eq!(pick(Inbound { text: Some("menu"), ..Default::default() }).as_deref(), Some("tap"), "the id typed as text");
    assert_eq!(pick(Inbound { text: Some("Open the menu"), reply_id: Some("other"), ..Default::default() }), None);
    let reply = pick(Inbound { text: Some("yes please"), broadcast_reply: Some(&bc), ..Default::default() }).unwrap();
    assert!(reply.ends_with("broadcast"), "{reply}");
    assert_eq!(pick(Inbound { text: Some("yes please"), broadcast_reply: Some(&other_bc), ..Default::default() }).as_deref(), Some("any broadcast"), "a named broadcast only starts on its own replies");
    assert_eq!(pick(Inbound { text: Some("yes please"), ..Default::default() }), None, "not a reply to a broadcast");
    // A tap outranks a broadcast reply at equal priority; priority outranks both.
    assert_eq!(pick(Inbound { text: Some("x"), reply_id: Some("menu"), broadcast_reply: Some(&bc), ..Default::default() }).as_deref(), Some("tap"));
    let mut flows = flows;
    flows.push(flow("urgent", 5, json!([{"type": "broadcast_reply"}])));
    assert_eq!(pick_flow(&flows, &conv, false, &Inbound { text: Some("x"), reply_id: Some("menu"), broadcast_reply: Some(&bc), ..Default::default() }).map(|f| f.draft.name.as_str()), Some("urgent"));
}

#[tokio::test]
async fn one_move_counts_each_step_once_in_the_commit() {
    use crate::ports::TxWrite;
    let d = doc(json!([
        {"id": "hello", "type": "send_text", "text": "Hi", "next": "q"},
        {"id": "q", "type": "ask", "text": "Email?", "into": "email", "kind": "email", "retries": 0, "next": "bye"},
        {"id": "bye", "type": "end"}
    ]));
    let env = FakeEnv { answer: Ok(Value::Null) };
    let ws = crate::auth::WorkspaceId::new(ulid::Ulid::new());
    let mut s = engine::start(&d, &FlowId::new(ulid::Ulid::new()), 3, Map::new(), env.now());
    let mut c = ContactData::default();
    let effects = engine::advance(&d, &mut s, &mut c, Input::Start, &env).await;
    let adds: Vec<(String, Vec<(String, i64)>)> = super::data::funnel_writes(&ws, &s, &effects).into_iter().map(|w| match w {
        TxWrite::Add { key, deltas } => (key.sk, deltas),
        other => panic!("{other:?}"),
    }).collect();
    // `hello` was entered and left at once (0 s: no seconds attribute); `q` waits for its answer.
    assert_eq!(adds, vec![
        ("000003#hello".to_owned(), vec![("entered".to_owned(), 1), ("completed".to_owned(), 1)]),
        ("000003#q".to_owned(), vec![("entered".to_owned(), 1)]),
    ]);
    // An invalid answer with no retries left drops the step; nothing else moves.
    let effects = engine::advance(&d, &mut s, &mut c, Input::Message("nope"), &env).await;
    let keys: Vec<String> = super::data::funnel_writes(&ws, &s, &effects).into_iter().map(|w| match w { TxWrite::Add { key, deltas } => format!("{} {deltas:?}", key.sk), other => panic!("{other:?}") }).collect();
    assert_eq!(keys, [r#"000003#q [("dropped", 1)]"#]);
}
