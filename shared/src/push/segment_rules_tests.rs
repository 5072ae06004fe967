//! Table-driven tests of rule parsing (with the JSON path each refusal names) and evaluation.

use super::*;
use crate::push::subscribers::ClientInfo;
use crate::push::types::PushSubscription;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-15T12:00:00Z").unwrap().with_timezone(&Utc)
}

fn one(condition: Value) -> Value {
    json!({"groups": [{"conditions": [condition]}]})
}

/// A German Chrome user on Windows: vip + eu tags, 3 clicks, plan=pro, seats=5, subscribed 10 days ago,
/// last seen 2 days ago, with an external id.
fn ada() -> Subscriber {
    let sub = PushSubscription { endpoint: "https://fcm.googleapis.com/fcm/send/ada".into(), p256dh: "k".into(), auth: "a".into() };
    Subscriber {
        id: sub.id(),
        subscription: sub,
        client: ClientInfo {
            browser: Some("Chrome".into()),
            os: Some("Windows".into()),
            language: Some("de-DE".into()),
            timezone: Some("Europe/Berlin".into()),
            page_url: None,
            external_id: Some("user-1".into()),
        },
        tags: vec!["eu".into(), "vip".into()],
        created_at: "2026-06-05T12:00:00Z".into(),
        last_seen: "2026-06-13T12:00:00Z".into(),
        country: Some("DE".into()),
        attributes: [("plan".to_owned(), AttrValue::String("pro".into())), ("seats".to_owned(), AttrValue::Number(5.0)), ("beta".to_owned(), AttrValue::Bool(true))].into(),
        clicks: 3,
    }
}

#[test]
fn refusals_name_the_offending_rule_by_path() {
    // (rules, path the error must name, why)
    let cases = [
        (json!([]), "rules", "rules are an object"),
        (json!({"groups": []}), "rules.groups", "an empty segment would select everyone by accident"),
        (json!({"match": "some", "groups": [{"conditions": [{"field": "clicks", "op": "gte", "value": 1}]}]}), "rules.match", "only all/any combine"),
        (json!({"groups": [{"conditions": [{"field": "clicks", "op": "gte", "value": 1}]}, {"conditions": [{"field": "tags", "op": "has", "value": ["a"]}]}]}), "rules.groups[1].conditions[0].op", "the second group's first condition"),
        (json!({"groups": [{"conditions": []}]}), "rules.groups[0].conditions", "an empty group"),
        (json!({"groups": [{"match": "none", "conditions": [{"field": "os", "op": "in", "value": ["ios"]}]}]}), "rules.groups[0].match", "group combine"),
        (one(json!({"field": "zodiac", "op": "eq", "value": "leo"})), "rules.groups[0].conditions[0].field", "unknown field"),
        (one(json!({"op": "eq"})), "rules.groups[0].conditions[0].field", "field missing"),
        (one(json!({"field": "tags", "op": "any", "value": "vip"})), "rules.groups[0].conditions[0].value", "tags need a list"),
        (one(json!({"field": "tags", "op": "any", "value": ["no spaces"]})), "rules.groups[0].conditions[0].value", "tag characters as the subscribe endpoint checks them"),
        (one(json!({"field": "browser", "op": "any", "value": ["chrome"]})), "rules.groups[0].conditions[0].op", "text fields take in/not_in"),
        (one(json!({"field": "country", "op": "in", "value": ["de", 7]})), "rules.groups[0].conditions[0].value[1]", "each list entry is checked"),
        (one(json!({"field": "subscribed", "op": "before", "value": "last tuesday"})), "rules.groups[0].conditions[0].value", "dates are dates"),
        (one(json!({"field": "last_seen", "op": "within_days", "value": 0})), "rules.groups[0].conditions[0].value", "a zero-day window is empty"),
        (one(json!({"field": "last_seen", "op": "within_days", "value": 2.5})), "rules.groups[0].conditions[0].value", "whole days"),
        (one(json!({"field": "clicks", "op": "gt", "value": 1})), "rules.groups[0].conditions[0].op", "clicks compare with gte/lte/eq"),
        (one(json!({"field": "clicks", "op": "gte", "value": -1})), "rules.groups[0].conditions[0].value", "negative clicks"),
        (one(json!({"field": "attribute", "op": "eq", "value": "pro"})), "rules.groups[0].conditions[0].key", "an attribute rule names its key"),
        (one(json!({"field": "attribute", "key": "plan", "op": "gt", "value": "pro"})), "rules.groups[0].conditions[0].value", "gt/lt compare numbers"),
        (one(json!({"field": "attribute", "key": "plan", "op": "eq", "value": {"a": 1}})), "rules.groups[0].conditions[0].value", "values are scalars"),
        (one(json!({"field": "attribute", "key": "plan", "op": "like", "value": "p%"})), "rules.groups[0].conditions[0].op", "unknown attribute op"),
    ];
    for (input, path, why) in cases {
        match Rules::parse(&input, "rules") {
            Err(e) => assert_eq!(e.path, path, "{why}: {e}"),
            Ok(r) => panic!("{why}: accepted {r:?}"),
        }
    }
    let too_many = json!({"groups": (0..=MAX_GROUPS).map(|_| json!({"conditions": [{"field": "clicks", "op": "gte", "value": 1}]})).collect::<Vec<_>>()});
    assert_eq!(Rules::parse(&too_many, "rules").unwrap_err().path, "rules.groups", "group count is capped");
}

#[test]
fn evaluation() {
    // (rules, whether Ada matches, why)
    let cases = [
        (one(json!({"field": "tags", "op": "any", "value": ["vip", "us"]})), true, "has one of the tags"),
        (one(json!({"field": "tags", "op": "all", "value": ["vip", "us"]})), false, "lacks us"),
        (one(json!({"field": "tags", "op": "all", "value": ["VIP", "eu"]})), true, "tags compare case-insensitively, like the subscribe endpoint stores them"),
        (one(json!({"field": "tags", "op": "none", "value": ["churned"]})), true, "has none of them"),
        (one(json!({"field": "external_id", "op": "exists"})), true, "linked to a user"),
        (one(json!({"field": "external_id", "op": "not_exists"})), false, "linked to a user"),
        (one(json!({"field": "browser", "op": "in", "value": ["chrome", "edge"]})), true, "browser names compare case-insensitively"),
        (one(json!({"field": "os", "op": "not_in", "value": ["windows"]})), false, "on Windows"),
        (one(json!({"field": "language", "op": "in", "value": ["de"]})), true, "a primary subtag matches de-DE"),
        (one(json!({"field": "language", "op": "in", "value": ["de-at"]})), false, "another region does not"),
        (one(json!({"field": "country", "op": "in", "value": ["DE"]})), true, "derived country"),
        (one(json!({"field": "time_zone", "op": "in", "value": ["Europe/Berlin"]})), true, "zone names compare case-insensitively"),
        (one(json!({"field": "subscribed", "op": "before", "value": "2026-06-06"})), true, "subscribed on the 5th"),
        (one(json!({"field": "subscribed", "op": "after", "value": "2026-06-06T00:00:00+02:00"})), false, "offsets are honoured"),
        (one(json!({"field": "subscribed", "op": "within_days", "value": 10})), true, "exactly 10 days ago is within 10 days"),
        (one(json!({"field": "subscribed", "op": "within_days", "value": 9})), false, "not within 9"),
        (one(json!({"field": "last_seen", "op": "within_days", "value": 7})), true, "seen 2 days ago"),
        (one(json!({"field": "last_seen", "op": "not_within_days", "value": 30})), false, "not inactive"),
        (one(json!({"field": "clicks", "op": "gte", "value": 3})), true, "3 ≥ 3"),
        (one(json!({"field": "clicks", "op": "lte", "value": 2})), false, "3 > 2"),
        (one(json!({"field": "clicks", "op": "eq", "value": 3})), true, "exactly 3"),
        (one(json!({"field": "attribute", "key": "plan", "op": "eq", "value": "pro"})), true, "string equality"),
        (one(json!({"field": "attribute", "key": "plan", "op": "eq", "value": "Pro"})), false, "attribute values are exact"),
        (one(json!({"field": "attribute", "key": "seats", "op": "eq", "value": 5})), true, "number equality"),
        (one(json!({"field": "attribute", "key": "seats", "op": "eq", "value": "5"})), false, "types are not coerced"),
        (one(json!({"field": "attribute", "key": "beta", "op": "eq", "value": true})), true, "bool equality"),
        (one(json!({"field": "attribute", "key": "plan", "op": "neq", "value": "free"})), true, "differs"),
        (one(json!({"field": "attribute", "key": "region", "op": "neq", "value": "us"})), true, "a missing attribute does not have the value"),
        (one(json!({"field": "attribute", "key": "seats", "op": "gt", "value": 4.5})), true, "5 > 4.5"),
        (one(json!({"field": "attribute", "key": "seats", "op": "lt", "value": 5})), false, "strict"),
        (one(json!({"field": "attribute", "key": "plan", "op": "gt", "value": 1})), false, "a string is never greater than a number"),
        (one(json!({"field": "attribute", "key": "plan", "op": "exists"})), true, "set"),
        (one(json!({"field": "attribute", "key": "region", "op": "not_exists"})), true, "not set"),
        (
            json!({"match": "any", "groups": [{"conditions": [{"field": "os", "op": "in", "value": ["ios"]}]}, {"conditions": [{"field": "clicks", "op": "gte", "value": 1}, {"field": "country", "op": "in", "value": ["de"]}]}]}),
            true,
            "any group: the second matches on both conditions",
        ),
        (
            json!({"match": "all", "groups": [{"match": "any", "conditions": [{"field": "os", "op": "in", "value": ["ios"]}, {"field": "browser", "op": "in", "value": ["chrome"]}]}, {"conditions": [{"field": "clicks", "op": "gte", "value": 5}]}]}),
            false,
            "all groups: the first matches by its any, the second does not",
        ),
    ];
    let s = ada();
    for (input, expected, why) in cases {
        let rules = Rules::parse(&input, "rules").unwrap_or_else(|e| panic!("{why}: {e}"));
        assert_eq!(matches(&rules, &s, now()), expected, "{why}");
        let again = Rules::parse(&rules.to_json(), "rules").unwrap();
        assert_eq!(again, rules, "{why}: the stored form reads back the same");
    }
}

#[test]
fn missing_data_never_matches_a_positive_rule() {
    let mut s = ada();
    s.client = ClientInfo::default();
    s.country = None;
    s.created_at = "not a time".into();
    for (rule, expected) in [
        (json!({"field": "browser", "op": "in", "value": ["chrome"]}), false),
        (json!({"field": "browser", "op": "not_in", "value": ["chrome"]}), true),
        (json!({"field": "country", "op": "in", "value": ["de"]}), false),
        (json!({"field": "subscribed", "op": "before", "value": "2030-01-01"}), false),
        (json!({"field": "subscribed", "op": "after", "value": "2000-01-01"}), false),
    ] {
        assert_eq!(matches(&Rules::parse(&one(rule.clone()), "rules").unwrap(), &s, now()), expected, "{rule}");
    }
}
