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
