//! Provider webhook payloads → one normalized event list. Pure functions over bytes: malformed input is
//! an error or an `Ignored` event, never a panic (fuzzed below).

use serde_json::Value;

use crate::whatsapp::types::{MessageStatus, PhoneNumber};

#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    pub provider_message_id: String,
    pub from: PhoneNumber,
    pub name: Option<String>,
    /// text, image, video, audio, document, sticker, location, contacts, interactive, button, reaction, unknown
    pub kind: String,
    /// The text, caption, chosen button title, or a readable summary (location, contacts).
    pub text: Option<String>,
    /// A media id (Meta) or URL (Twilio, Whapi).
    pub media: Option<String>,
    /// The id of the reply button or list row that was tapped (what the bot sent as the option's id).
    pub reply_id: Option<String>,
    pub timestamp: i64,
}

/// Whapi answers a tap with the id it was sent under a kind prefix (`ButtonsV3:yes`, `ListV3:mon`).
fn whapi_reply_id(raw: String) -> String {
    match raw.split_once(':') {
        Some((prefix, id)) if prefix.ends_with("V3") && !id.is_empty() => id.to_owned(),
        _ => raw,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub provider_message_id: String,
    pub status: MessageStatus,
    pub error: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InboundEvent {
    Message(InboundMessage),
    Status(StatusUpdate),
    Edit { provider_message_id: String, text: String },
    Revoke { provider_message_id: String },
    /// Whapi channel health (`AUTH` means linked).
    ChannelHealth { status: String },
    Ignored(String),
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("unreadable webhook payload: {0}")]
pub struct ParseError(pub String);

fn s(v: &Value, path: &str) -> Option<String> {
    v.pointer(path).and_then(|x| match x {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn phone(digits_or_e164: &str) -> Option<PhoneNumber> {
    let raw = digits_or_e164.trim().trim_start_matches("whatsapp:");
    let raw = raw.split('@').next().unwrap_or_default();
    PhoneNumber::parse(&if raw.starts_with('+') { raw.to_owned() } else { format!("+{raw}") }).ok()
}

fn status_of(raw: &str) -> Option<MessageStatus> {
    Some(match raw.to_ascii_lowercase().as_str() {
        "sent" => MessageStatus::Sent,
        "delivered" => MessageStatus::Delivered,
        "read" | "played" => MessageStatus::Read,
        "failed" | "undelivered" => MessageStatus::Failed,
        _ => return None,
    })
}

/// Meta: `entry[].changes[].value` with `messages`, `statuses`, `contacts`.
pub fn meta(body: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let root: Value = serde_json::from_slice(body).map_err(|e| ParseError(e.to_string()))?;
    let mut out = Vec::new();
    for change in root["entry"].as_array().into_iter().flatten().flat_map(|e| e["changes"].as_array().into_iter().flatten()) {
        let value = &change["value"];
        if change["field"].as_str() != Some("messages") {
            out.push(InboundEvent::Ignored(format!("field {}", change["field"].as_str().unwrap_or("?").chars().take(40).collect::<String>())));
            continue;
        }
        let name_of = |wa_id: &str| value["contacts"].as_array().into_iter().flatten().find(|c| c["wa_id"].as_str() == Some(wa_id)).and_then(|c| s(c, "/profile/name"));
        for m in value["messages"].as_array().into_iter().flatten() {
            let (Some(id), Some(from)) = (s(m, "/id"), s(m, "/from")) else {
                out.push(InboundEvent::Ignored("message without id or sender".into()));
                continue;
            };
            let Some(sender) = phone(&from) else {
                out.push(InboundEvent::Ignored("sender is not a phone number".into()));
                continue;
            };
            let kind = s(m, "/type").unwrap_or_else(|| "unknown".into());
            // A reply button or list row carries the id it was sent with; a template's quick reply its payload.
            let reply_id = match kind.as_str() {
                "interactive" => s(m, "/interactive/button_reply/id").or_else(|| s(m, "/interactive/list_reply/id")),
                "button" => s(m, "/button/payload"),
                _ => None,
            };
            let (text, media) = match kind.as_str() {
                "text" => (s(m, "/text/body"), None),
                "image" | "video" | "audio" | "document" | "sticker" => (s(m, &format!("/{kind}/caption")), s(m, &format!("/{kind}/id"))),
                "location" => (Some(format!("📍 {}, {}{}", s(m, "/location/latitude").unwrap_or_default(), s(m, "/location/longitude").unwrap_or_default(), s(m, "/location/name").map(|n| format!(" ({n})")).unwrap_or_default())), None),
                "contacts" => (Some(m["contacts"].as_array().into_iter().flatten().filter_map(|c| s(c, "/name/formatted_name")).collect::<Vec<_>>().join(", ")), None),
                "interactive" => (s(m, "/interactive/button_reply/title").or_else(|| s(m, "/interactive/list_reply/title")), None),
                "button" => (s(m, "/button/text"), None),
                "reaction" => (s(m, "/reaction/emoji"), None),
                _ => (None, None),
            };
            let timestamp = s(m, "/timestamp").and_then(|t| t.parse().ok()).unwrap_or(0);
            out.push(InboundEvent::Message(InboundMessage { provider_message_id: id, name: name_of(&from), from: sender, kind, text, media, reply_id, timestamp }));
        }
        for st in value["statuses"].as_array().into_iter().flatten() {
            match (s(st, "/id"), s(st, "/status").as_deref().and_then(status_of)) {
                (Some(id), Some(status)) => {
                    let error = st["errors"].as_array().and_then(|e| e.first()).map(|e| (s(e, "/code").unwrap_or_default(), s(e, "/message").or_else(|| s(e, "/title")).unwrap_or_default()));
                    out.push(InboundEvent::Status(StatusUpdate { provider_message_id: id, status, error }));
                }
                _ => out.push(InboundEvent::Ignored("status without id or known value".into())),
            }
        }
    }
    Ok(out)
}

/// Twilio: an incoming message or a status callback, as form parameters.
pub fn twilio(params: &[(String, String)]) -> Vec<InboundEvent> {
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let Some(sid) = get("MessageSid").or_else(|| get("SmsSid")) else { return vec![InboundEvent::Ignored("no MessageSid".into())] };
    if let Some(raw) = get("MessageStatus") {
        return match status_of(&raw) {
            Some(status) => {
                let error = (status == MessageStatus::Failed).then(|| (get("ErrorCode").unwrap_or_default(), get("ErrorMessage").unwrap_or_else(|| raw.clone())));
                vec![InboundEvent::Status(StatusUpdate { provider_message_id: sid, status, error })]
            }
            None => vec![InboundEvent::Ignored(format!("status {}", raw.chars().take(20).collect::<String>()))],
        };
    }
    let Some(from) = get("From").as_deref().and_then(phone) else { return vec![InboundEvent::Ignored("sender is not a phone number".into())] };
    let media = get("MediaUrl0");
    let kind = match (get("Latitude"), &media, get("MediaContentType0")) {
        (Some(_), _, _) => "location".to_owned(),
        (_, Some(_), Some(t)) => t.split('/').next().filter(|k| ["image", "video", "audio"].contains(k)).unwrap_or("document").to_owned(),
        _ if get("ButtonText").is_some() || get("ButtonPayload").is_some() => "button".to_owned(),
        _ if get("ListId").is_some() => "interactive".to_owned(),
        _ => "text".to_owned(),
    };
    let text = match kind.as_str() {
        "location" => Some(format!("📍 {}, {}", get("Latitude").unwrap_or_default(), get("Longitude").unwrap_or_default())),
        "button" => get("ButtonText").or_else(|| get("Body")),
        "interactive" => get("ListTitle").or_else(|| get("Body")),
        _ => get("Body").filter(|b| !b.is_empty()),
    };
    // Quick replies come as ButtonPayload (the id sent with the button), list picks as ListId.
    let reply_id = get("ButtonPayload").or_else(|| get("ListId")).filter(|id| !id.is_empty());
    vec![InboundEvent::Message(InboundMessage { provider_message_id: sid, from, name: get("ProfileName"), kind, text, media, reply_id, timestamp: 0 })]
}

/// Whapi: `messages`, `statuses`, `messages_updates`, `messages_removed`, `health`, … arrays.
pub fn whapi(body: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let root: Value = serde_json::from_slice(body).map_err(|e| ParseError(e.to_string()))?;
    if !root.is_object() {
        return Err(ParseError("not a JSON object".into()));
    }
    let mut out = Vec::new();
    for m in root["messages"].as_array().into_iter().flatten() {
        if m["from_me"].as_bool() == Some(true) {
            out.push(InboundEvent::Ignored("our own message".into()));
            continue;
        }
        let Some(id) = s(m, "/id") else { continue };
        if m["chat_id"].as_str().is_some_and(|c| c.ends_with("@g.us")) {
            out.push(InboundEvent::Ignored("group message".into()));
            continue;
        }
        let Some(from) = s(m, "/from").or_else(|| s(m, "/chat_id")).as_deref().and_then(phone) else {
            out.push(InboundEvent::Ignored("sender is not a phone number".into()));
            continue;
        };
        let kind = s(m, "/type").unwrap_or_else(|| "unknown".into());
        let (text, media) = match kind.as_str() {
            "text" => (s(m, "/text/body"), None),
            "image" | "video" | "audio" | "voice" | "document" | "sticker" => (s(m, &format!("/{kind}/caption")), s(m, &format!("/{kind}/link")).or_else(|| s(m, &format!("/{kind}/id")))),
            "location" => (Some(format!("📍 {}, {}", s(m, "/location/latitude").unwrap_or_default(), s(m, "/location/longitude").unwrap_or_default())), None),
            "reply" => (s(m, "/reply/buttons_reply/title").or_else(|| s(m, "/reply/list_reply/title")), None),
            _ => (None, None),
        };
        let reply_id = (kind == "reply").then(|| s(m, "/reply/buttons_reply/id").or_else(|| s(m, "/reply/list_reply/id"))).flatten().map(whapi_reply_id);
        let timestamp = m["timestamp"].as_i64().unwrap_or(0);
        out.push(InboundEvent::Message(InboundMessage { provider_message_id: id, from, name: s(m, "/from_name"), kind, text, media, reply_id, timestamp }));
    }
    for st in root["statuses"].as_array().into_iter().flatten() {
        match (s(st, "/id"), s(st, "/status").as_deref().and_then(status_of)) {
            (Some(id), Some(status)) => out.push(InboundEvent::Status(StatusUpdate { provider_message_id: id, status, error: None })),
            _ => out.push(InboundEvent::Ignored("status without id or known value".into())),
        }
    }
    for u in root["messages_updates"].as_array().into_iter().flatten() {
        if let (Some(id), Some(text)) = (s(u, "/id"), s(u, "/after_update/text/body")) {
            out.push(InboundEvent::Edit { provider_message_id: id, text });
        }
    }
    for r in root["messages_removed"].as_array().into_iter().flatten() {
        if let Some(id) = s(r, "/id").or_else(|| r.as_str().map(str::to_owned)) {
            out.push(InboundEvent::Revoke { provider_message_id: id });
        }
    }
    if let Some(status) = s(&root, "/health/status/text") {
        out.push(InboundEvent::ChannelHealth { status });
    }
    if out.is_empty() {
        out.push(InboundEvent::Ignored(format!("event {}", s(&root, "/event/type").unwrap_or_else(|| "?".into()).chars().take(30).collect::<String>())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn meta_documented_samples() {
        let inbound = br#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=","timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color?"}}]},"field":"messages"}]}]}"#;
        let events = meta(inbound).unwrap();
        let InboundEvent::Message(m) = &events[0] else { panic!("{events:?}") };
        assert_eq!((m.from.as_str(), m.name.as_deref(), m.text.as_deref(), m.timestamp), ("+16505551234", Some("Sheena Nelson"), Some("Does it come in another color?"), 1749416383));
        let failed = br#"{"entry":[{"changes":[{"field":"messages","value":{"statuses":[{"id":"wamid.X","status":"failed","timestamp":"1683871427","recipient_id":"919999999999","errors":[{"code":131047,"title":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."}]}]}}]}]}"#;
        assert_eq!(meta(failed).unwrap(), vec![InboundEvent::Status(StatusUpdate { provider_message_id: "wamid.X".into(), status: MessageStatus::Failed, error: Some(("131047".into(), "Message failed to send because more than 24 hours have passed since the customer last replied to this number.".into())) })]);
    }

    #[test]
    fn twilio_inbound_and_status() {
        let p = |s: &str| -> Vec<(String, String)> { form_urlencoded::parse(s.as_bytes()).into_owned().collect() };
        let inbound = twilio(&p("SmsMessageSid=SM45e9&NumMedia=0&ProfileName=Ranjit+Sankar&SmsSid=SM45e9&WaId=91990000000&SmsStatus=received&Body=hey&To=whatsapp%3A%2B14155238886&NumSegments=1&MessageSid=SM45e9&AccountSid=AC8e90&From=whatsapp%3A%2B919900000000&ApiVersion=2010-04-01"));
        let InboundEvent::Message(m) = &inbound[0] else { panic!() };
        assert_eq!((m.from.as_str(), m.name.as_deref(), m.text.as_deref()), ("+919900000000", Some("Ranjit Sankar"), Some("hey")));
        let status = twilio(&p("SmsSid=SMc4c9&SmsStatus=undelivered&MessageStatus=undelivered&ErrorCode=63016&To=whatsapp%3A%2B919900000000&MessageSid=SMc4c9&AccountSid=AC8e90"));
        assert!(matches!(&status[0], InboundEvent::Status(s) if s.status == MessageStatus::Failed && s.error.as_ref().unwrap().0 == "63016"));
    }

    #[test]
    fn whapi_skips_own_messages_and_reads_health() {
        let body = br#"{"messages":[{"id":"p.w30M7fgwWD4XwHu.g4CA-gBgTwl0rVw","from_me":false,"type":"text","chat_id":"14155552671@s.whatsapp.net","timestamp":1712995245,"source":"mobile","text":{"body":"Hello!"},"from":"14155552671","from_name":"John"},{"id":"x","from_me":true,"type":"text","chat_id":"1@s.whatsapp.net"}],"event":{"type":"messages","event":"post"},"channel_id":"C"}"#;
        let events = whapi(body).unwrap();
        assert!(matches!(&events[0], InboundEvent::Message(m) if m.from.as_str() == "+14155552671" && m.text.as_deref() == Some("Hello!")));
        assert!(matches!(&events[1], InboundEvent::Ignored(_)));
        let health = whapi(br#"{"health":{"status":{"code":3,"text":"QR"}},"event":{"type":"channel","event":"post"}}"#).unwrap();
        assert_eq!(health, vec![InboundEvent::ChannelHealth { status: "QR".into() }]);
    }

    #[test]
    fn reply_button_and_list_row_ids_on_every_provider() {
        let meta_reply = |interactive: &str| format!(r#"{{"entry":[{{"changes":[{{"field":"messages","value":{{"contacts":[{{"profile":{{"name":"Sheena"}},"wa_id":"16505551234"}}],"messages":[{{"context":{{"from":"15550783881","id":"wamid.OUT"}},"from":"16505551234","id":"wamid.IN","timestamp":"1749416383","type":"interactive","interactive":{interactive}}}]}}}}]}}]}}"#);
        let picked = |events: Vec<InboundEvent>| match &events[0] {
            InboundEvent::Message(m) => (m.kind.clone(), m.text.clone(), m.reply_id.clone()),
            other => panic!("{other:?}"),
        };
        let button = meta_reply(r#"{"type":"button_reply","button_reply":{"id":"plan_large","title":"Large"}}"#);
        assert_eq!(picked(meta(button.as_bytes()).unwrap()), ("interactive".into(), Some("Large".into()), Some("plan_large".into())));
        let row = meta_reply(r#"{"type":"list_reply","list_reply":{"id":"tue","title":"Tuesday","description":"9–17"}}"#);
        assert_eq!(picked(meta(row.as_bytes()).unwrap()), ("interactive".into(), Some("Tuesday".into()), Some("tue".into())));
        let quick = br#"{"entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"16505551234","id":"wamid.Q","timestamp":"1","type":"button","button":{"text":"Track order","payload":"track"}}]}}]}]}"#;
        assert_eq!(picked(meta(quick).unwrap()), ("button".into(), Some("Track order".into()), Some("track".into())));

        let p = |s: &str| -> Vec<(String, String)> { form_urlencoded::parse(s.as_bytes()).into_owned().collect() };
        let tw = twilio(&p("MessageSid=SM1&From=whatsapp%3A%2B16505551234&Body=Large&ButtonText=Large&ButtonPayload=plan_large"));
        assert_eq!(picked(tw), ("button".into(), Some("Large".into()), Some("plan_large".into())));
        let tw_list = twilio(&p("MessageSid=SM2&From=whatsapp%3A%2B16505551234&Body=Tuesday&ListId=tue&ListTitle=Tuesday"));
        assert_eq!(picked(tw_list), ("interactive".into(), Some("Tuesday".into()), Some("tue".into())));
        assert_eq!(picked(twilio(&p("MessageSid=SM3&From=whatsapp%3A%2B16505551234&Body=hi"))).2, None, "plain text has no reply id");

        let wh = br#"{"messages":[{"id":"w1","from_me":false,"type":"reply","chat_id":"16505551234@s.whatsapp.net","from":"16505551234","timestamp":1712995245,"reply":{"type":"buttons_reply","buttons_reply":{"id":"ButtonsV3:plan_large","title":"Large"}}}]}"#;
        assert_eq!(picked(whapi(wh).unwrap()), ("reply".into(), Some("Large".into()), Some("plan_large".into())));
        let wh_list = br#"{"messages":[{"id":"w2","from_me":false,"type":"reply","chat_id":"16505551234@s.whatsapp.net","from":"16505551234","reply":{"type":"list_reply","list_reply":{"id":"ListV3:tue","title":"Tuesday"}}}]}"#;
        assert_eq!(picked(whapi(wh_list).unwrap()).2, Some("tue".into()));
        // Whapi documents that a tap from WhatsApp Web can arrive slightly differently; public handlers
        // see the bare id there, which is kept as it is.
        let wh_web = br#"{"messages":[{"id":"w3","from_me":false,"type":"reply","chat_id":"16505551234@s.whatsapp.net","from":"16505551234","reply":{"type":"buttons_reply","buttons_reply":{"id":"plan_large","title":"Large"}}}]}"#;
        assert_eq!(picked(whapi(wh_web).unwrap()).2, Some("plan_large".into()));
        assert_eq!(whapi_reply_id("a:b".into()), "a:b", "only Whapi's kind prefix is stripped");
    }

    /// Arbitrary JSON of provider-ish shape (random keys from the real vocabulary, random types).
    fn arbitrary(rng: &mut impl Rng, depth: u32) -> Value {
        const KEYS: [&str; 24] = ["entry", "changes", "value", "field", "messages", "statuses", "contacts", "id", "from", "type", "text", "body", "status", "errors", "code", "timestamp", "from_me", "chat_id", "health", "location", "interactive", "messages_updates", "after_update", "wa_id"];
        match if depth > 4 { rng.gen_range(0..4) } else { rng.gen_range(0..7) } {
            0 => Value::Null,
            1 => Value::Bool(rng.gen()),
            2 => Value::from(rng.gen::<i64>()),
            3 => Value::String(["messages", "text", "sent", "read", "+1415", "16505551234", "", "é✓"][rng.gen_range(0..8)].to_owned()),
            4 | 5 => Value::Object((0..rng.gen_range(0..6)).map(|_| (KEYS[rng.gen_range(0..KEYS.len())].to_owned(), arbitrary(rng, depth + 1))).collect()),
            _ => Value::Array((0..rng.gen_range(0..4)).map(|_| arbitrary(rng, depth + 1)).collect()),
        }
    }

    #[test]
    fn arbitrary_payloads_never_panic() {
        let mut rng = rand::thread_rng();
        for _ in 0..3000 {
            let body = serde_json::to_vec(&arbitrary(&mut rng, 0)).unwrap();
            let _ = meta(&body);
            let _ = whapi(&body);
            let mut bytes = body.clone();
            if !bytes.is_empty() {
                let i = rng.gen_range(0..bytes.len());
                bytes[i] = rng.gen();
            }
            let _ = meta(&bytes);
            let _ = whapi(&bytes);
            let params: Vec<(String, String)> = (0..rng.gen_range(0..8)).map(|_| {
                let k = ["MessageSid", "From", "Body", "MessageStatus", "ErrorCode", "MediaUrl0", "MediaContentType0", "Latitude", "ButtonText"][rng.gen_range(0..9)];
                (k.to_owned(), ["whatsapp:+14155552671", "", "x", "failed", "image/png", "\u{0}", "+0", "read"][rng.gen_range(0..8)].to_owned())
            }).collect();
            let _ = twilio(&params);
        }
    }
}
