//! Trigger test-send (`POST …/triggers/{trg}/test`): a dry run reports per action what would be sent or
//! the error naming the missing variable, and logs nothing; `send: true` runs the actions once as an
//! invocation marked `test` (not when an action cannot render), an `Idempotency-Key` repeat sends nothing,
//! another workspace's member gets 404, and a malformed request a 422.

#[path = "api/client.rs"]
mod client;

use client::Client;
use serde_json::json;

#[tokio::test]
async fn test_send_renders_per_action_and_sends_once_as_a_test() {
    let (state, _dir) = webtrigger_tests::embedded_state().await;
    let mut ada = Client::new(state.clone());
    ada.sign_up("ada@example.com").await;
    let ws = ada.create_workspace("Shop").await;
    let actions = json!([{"type": "members", "title": "Order {{ order.id }}"}, {"type": "members", "title": "Call {{ order.customer.phone }}"}]);
    let created = ada.post(&format!("/v1/workspaces/{ws}/triggers"), json!({"name": "Orders", "auth": "token", "actions": actions})).await;
    let trg = created.data()["id"].as_str().unwrap().to_owned();
    let test = format!("/v1/workspaces/{ws}/triggers/{trg}/test");
    let log = format!("/v1/workspaces/{ws}/triggers/{trg}/invocations");

    let dry = ada.post(&test, json!({"payload": {"order": {"id": "A-1"}}})).await;
    let report = dry.data();
    assert_eq!(report["fires"], true);
    assert_eq!((report["actions"][0]["ok"].as_bool(), report["actions"][0]["rendered"]["title"].as_str()), (Some(true), Some("Order A-1")), "{report}");
    assert_eq!(report["actions"][1]["error"], "template error in actions[1].title: undefined value order.customer.phone (line 1)");
    assert!(report["invocation"].is_null());
    // With a missing variable, `send: true` sends nothing either.
    let refused = ada.post(&test, json!({"payload": {"order": {"id": "A-1"}}, "send": true})).await;
    assert!(refused.data()["invocation"].is_null(), "{}", refused.body);
    assert_eq!(ada.get(&log).await.data()["invocations"].as_array().unwrap().len(), 0, "a dry run logs nothing");

    // A draft replaces the saved actions; sent, it is one invocation marked `test`, repeated by key only once.
    let body = json!({"payload": {"order": {"id": "A-2"}}, "actions": [{"type": "members", "title": "Draft {{ order.id }}"}], "send": true});
    ada.extra_headers.push(("idempotency-key".into(), "test-send-1".into()));
    let sent = ada.post(&test, body.clone()).await;
    let inv = &sent.data()["invocation"];
    assert_eq!((inv["verification"].as_str(), inv["status"].as_str()), (Some("test"), Some("fired")), "{inv}");
    assert_eq!(inv["rendered"][0]["title"], "Draft A-2");
    let again = ada.post(&test, body).await;
    assert_eq!(again.data()["invocation"]["id"], inv["id"], "the repeat answers the first test invocation");
    ada.extra_headers.clear();
    let listed = ada.get(&log).await;
    assert_eq!(listed.data()["invocations"].as_array().unwrap().len(), 1, "sent once");

    // Bad paths: another workspace's member, an unknown field, a malformed trigger id.
    let mut eve = Client::new(state.clone());
    eve.sign_up("eve@example.com").await;
    eve.create_workspace("Eve").await;
    assert_eq!(eve.post(&test, json!({"payload": {}})).await.status, 404);
    ada.post(&test, json!({"payload": {}, "sned": true})).await.assert_error(422, "validation_failed");
    assert_eq!(ada.post(&format!("/v1/workspaces/{ws}/triggers/nope/test"), json!({"payload": {}})).await.status / 100, 4);
}
