//! Templates and filters over a webhook payload (minijinja, strict: a missing field is an error, not an
//! empty string). `check` runs at save time; `render` at run time and for previews. Pure functions.

use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;
use serde_json::Value as Json;
use utoipa::ToSchema;

use super::types::{ActionSpec, PushTargetSpec, MAX_RECIPIENTS};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    #[error("{field}: {message}")]
    Template { field: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// Instructions one render may execute: far above any real template, low enough that a loop bomb
/// (`{% for a in range(99999) %}{% for b in range(99999) %}…`) stops in milliseconds.
const RENDER_FUEL: u64 = 200_000;

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(RENDER_FUEL));
    env
}

fn describe(e: &minijinja::Error) -> String {
    let mut message = e.kind().to_string();
    if let Some(detail) = e.detail() {
        message = format!("{message}: {detail}");
    }
    if let Some(line) = e.line() {
        message = format!("{message} (line {line})");
    }
    message
}

/// The template context: the payload's top-level fields, plus the whole payload as `payload`.
pub fn context(payload: &Json) -> Value {
    let mut map = match payload {
        Json::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    map.insert("payload".into(), payload.clone());
    Value::from_serialize(&map)
}

fn compile(env: &Environment<'_>, field: &str, source: &str) -> Result<(), RenderError> {
    env.template_from_str(source).map(drop).map_err(|e| RenderError::Template { field: field.into(), message: describe(&e) })
}

fn fields(action: &ActionSpec) -> Vec<(&'static str, &str)> {
    let mut out: Vec<(&'static str, &str)> = Vec::new();
    match action {
        ActionSpec::Push { title, body, url, icon, image, target, .. } => {
            out.push(("title", title));
            for (name, v) in [("body", body), ("url", url), ("icon", icon), ("image", image)] {
                if let Some(v) = v {
                    out.push((name, v));
                }
            }
            match target {
                PushTargetSpec::All => {}
                PushTargetSpec::Tags { tags } => out.push(("target.tags", tags)),
                PushTargetSpec::ExternalId { external_id } => out.push(("target.external_id", external_id)),
            }
        }
        ActionSpec::Members { title, body, url } => {
            out.push(("title", title));
            for (name, v) in [("body", body), ("url", url)] {
                if let Some(v) = v {
                    out.push((name, v));
                }
            }
        }
        ActionSpec::Whatsapp { to, text, template_variables, .. } => {
            out.push(("to", to));
            if let Some(t) = text {
                out.push(("text", t));
            }
            for v in template_variables {
                out.push(("template_variables", v));
            }
        }
    }
    out
}

/// Save-time check of a trigger's filter and every action template: syntax only, since fields depend
/// on the payload. Errors name the action and field.
pub fn check(filter: Option<&str>, actions: &[ActionSpec]) -> Result<(), RenderError> {
    let env = env();
    if let Some(f) = filter {
        env.compile_expression(f).map_err(|e| RenderError::Template { field: "filter".into(), message: describe(&e) })?;
    }
    for (i, action) in actions.iter().enumerate() {
        for (name, source) in fields(action) {
            compile(&env, &format!("actions[{i}].{name}"), source)?;
        }
        if let ActionSpec::Whatsapp { text, template_name, .. } = action {
            if text.is_none() == template_name.is_none() {
                return Err(RenderError::Invalid(format!("actions[{i}]: a WhatsApp action needs either text or template_name")));
            }
        }
        if let ActionSpec::Push { title, .. } | ActionSpec::Members { title, .. } = action {
            if title.trim().is_empty() {
                return Err(RenderError::Invalid(format!("actions[{i}].title is empty")));
            }
        }
    }
    Ok(())
}

/// Whether the filter lets this payload through (no filter: always).
pub fn passes(filter: Option<&str>, ctx: &Value) -> Result<bool, RenderError> {
    let Some(f) = filter else { return Ok(true) };
    let env = env();
    let expr = env.compile_expression(f).map_err(|e| RenderError::Template { field: "filter".into(), message: describe(&e) })?;
    expr.eval(ctx.clone()).map(|v| v.is_true()).map_err(|e| RenderError::Template { field: "filter".into(), message: describe(&e) })
}

/// An action with every template filled in: what will be (or was) sent.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RenderedAction {
    Push { site_id: String, target: RenderedTarget, title: String, body: Option<String>, url: Option<String>, icon: Option<String>, image: Option<String>, transactional: bool },
    Members { title: String, body: Option<String>, url: Option<String> },
    Whatsapp { channel_id: String, to: Vec<String>, text: Option<String>, template_name: Option<String>, template_language: Option<String>, template_variables: Vec<String> },
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RenderedTarget {
    All,
    Tags { tags: Vec<String> },
    ExternalId { external_id: String },
}

fn one(env: &Environment<'_>, ctx: &Value, field: &str, source: &str) -> Result<String, RenderError> {
    env.render_str(source, ctx.clone()).map(|s| s.trim().to_owned()).map_err(|e| RenderError::Template { field: field.into(), message: describe_in(&e, source) })
}

/// `describe`, naming the expression that was undefined (`undefined value order.customer.phone`):
/// minijinja reports only the kind, but knows the span of the failing expression in `source`.
fn describe_in(e: &minijinja::Error, source: &str) -> String {
    // The span covers the failing attribute access (`.customer.phone`); widen it back over the dotted
    // path it hangs off so the message shows the whole name.
    let widen = |r: std::ops::Range<usize>| {
        let start = source[..r.start].rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')).map_or(0, |i| i + 1);
        source.get(start..r.end)
    };
    let name = (e.kind() == minijinja::ErrorKind::UndefinedError).then(|| e.range().filter(|r| source.is_char_boundary(r.start)).and_then(widen)).flatten().map(str::trim).filter(|n| !n.is_empty() && n.len() <= 120);
    match name {
        Some(n) => format!("{} {n}{}", e.kind(), e.line().map(|l| format!(" (line {l})")).unwrap_or_default()),
        None => describe(e),
    }
}

fn optional(env: &Environment<'_>, ctx: &Value, field: &str, source: &Option<String>) -> Result<Option<String>, RenderError> {
    Ok(match source {
        Some(s) => Some(one(env, ctx, field, s)?).filter(|v| !v.is_empty()),
        None => None,
    })
}

fn list(raw: &str) -> Vec<String> {
    raw.split([',', ' ', '\n']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// Renders one action for a payload context.
pub fn render_action(index: usize, action: &ActionSpec, ctx: &Value) -> Result<RenderedAction, RenderError> {
    let env = env();
    let f = |name: &str| format!("actions[{index}].{name}");
    Ok(match action {
        ActionSpec::Push { site_id, target, title, body, url, icon, image, transactional } => RenderedAction::Push {
            transactional: *transactional,
            site_id: site_id.clone(),
            target: match target {
                PushTargetSpec::All => RenderedTarget::All,
                PushTargetSpec::Tags { tags } => RenderedTarget::Tags { tags: list(&one(&env, ctx, &f("target.tags"), tags)?) },
                PushTargetSpec::ExternalId { external_id } => RenderedTarget::ExternalId { external_id: one(&env, ctx, &f("target.external_id"), external_id)? },
            },
            title: one(&env, ctx, &f("title"), title)?,
            body: optional(&env, ctx, &f("body"), body)?,
            url: optional(&env, ctx, &f("url"), url)?,
            icon: optional(&env, ctx, &f("icon"), icon)?,
            image: optional(&env, ctx, &f("image"), image)?,
        },
        ActionSpec::Members { title, body, url } => RenderedAction::Members { title: one(&env, ctx, &f("title"), title)?, body: optional(&env, ctx, &f("body"), body)?, url: optional(&env, ctx, &f("url"), url)? },
        ActionSpec::Whatsapp { channel_id, to, text, template_name, template_language, template_variables } => {
            let to = list(&one(&env, ctx, &f("to"), to)?);
            if to.is_empty() || to.len() > MAX_RECIPIENTS {
                return Err(RenderError::Invalid(format!("{}: rendered to {} recipients; 1–{MAX_RECIPIENTS} allowed", f("to"), to.len())));
            }
            RenderedAction::Whatsapp {
                channel_id: channel_id.clone(),
                to,
                text: optional(&env, ctx, &f("text"), text)?,
                template_name: template_name.clone(),
                template_language: template_language.clone(),
                template_variables: template_variables.iter().map(|v| one(&env, ctx, &f("template_variables"), v)).collect::<Result<_, _>>()?,
            }
        }
    })
}

/// Every action rendered, or the first error.
pub fn render_all(actions: &[ActionSpec], ctx: &Value) -> Result<Vec<RenderedAction>, RenderError> {
    actions.iter().enumerate().map(|(i, a)| render_action(i, a, ctx)).collect()
}

/// The value at a dotted path (`event.id`, `items.0.sku`) as a string, for idempotency keys.
pub fn path_value(payload: &Json, path: &str) -> Option<String> {
    let pointer = format!("/{}", path.split('.').map(|p| p.replace('~', "~0").replace('/', "~1")).collect::<Vec<_>>().join("/"));
    match payload.pointer(&pointer)? {
        Json::String(s) => Some(s.clone()),
        Json::Null => None,
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn push(title: &str, tags: &str) -> ActionSpec {
        ActionSpec::Push { site_id: "site_x".into(), target: PushTargetSpec::Tags { tags: tags.into() }, title: title.into(), body: Some("{{ payload.total }} {{ currency | upper }}".into()), url: None, icon: None, image: None, transactional: false }
    }

    #[test]
    fn renders_fields_from_the_payload() {
        let ctx = context(&json!({"order": {"id": 42}, "total": "19.90", "currency": "eur", "tags": ["vip", "eu"]}));
        let r = render_action(0, &push("Order #{{ order.id }}", "{{ tags | join(',') }}"), &ctx).unwrap();
        assert_eq!(r, RenderedAction::Push { site_id: "site_x".into(), target: RenderedTarget::Tags { tags: vec!["vip".into(), "eu".into()] }, title: "Order #42".into(), body: Some("19.90 EUR".into()), url: None, icon: None, image: None, transactional: false });
    }

    #[test]
    fn a_missing_field_is_an_error_naming_the_field() {
        let ctx = context(&json!({"order": {}}));
        let e = render_action(1, &push("Order #{{ order.id }}", "x"), &ctx).unwrap_err();
        assert!(matches!(&e, RenderError::Template { field, message } if field == "actions[1].title" && message.contains("undefined")), "{e}");
        let e = render_action(1, &push("Hi {{ order.customer.phone }}", "x"), &ctx).unwrap_err();
        assert_eq!(e.to_string(), "actions[1].title: undefined value order.customer.phone (line 1)");
        let e = render_action(0, &push("Dear {{ customer_name }}", "x"), &ctx).unwrap_err();
        assert_eq!(e.to_string(), "actions[0].title: undefined value customer_name (line 1)");
    }

    #[test]
    fn a_loop_bomb_runs_out_of_fuel_instead_of_hanging() {
        let ctx = context(&json!({"items": (0..200).collect::<Vec<_>>()}));
        let members = |title: &str| ActionSpec::Members { title: title.into(), body: None, url: None };
        let fine = render_action(0, &members("{% for i in items %}{{ i }},{% endfor %}"), &ctx).unwrap();
        assert!(matches!(&fine, RenderedAction::Members { title, .. } if title.ends_with("199,")));
        let started = std::time::Instant::now();
        let bomb = "{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}{% endfor %}";
        let e = render_action(0, &members(bomb), &ctx).unwrap_err();
        assert!(matches!(&e, RenderError::Template { field, message } if field == "actions[0].title" && message.contains("fuel")), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "stopped early: {:?}", started.elapsed());
    }

    #[test]
    fn bad_syntax_is_refused_at_save_time() {
        assert!(check(None, &[push("Order #{{ order.id }}", "a")]).is_ok());
        let e = check(None, &[push("Order #{{ order.id ", "a")]).unwrap_err();
        assert!(matches!(&e, RenderError::Template { field, .. } if field == "actions[0].title"), "{e}");
        let e = check(Some("status == "), &[]).unwrap_err();
        assert!(matches!(&e, RenderError::Template { field, .. } if field == "filter"), "{e}");
        let wa = ActionSpec::Whatsapp { channel_id: "c".into(), to: "+1".into(), text: None, template_name: None, template_language: None, template_variables: vec![] };
        assert!(matches!(check(None, &[wa]), Err(RenderError::Invalid(m)) if m.contains("either text or template_name")));
    }

    #[test]
    fn filters_decide_whether_the_trigger_fires() {
        let ctx = context(&json!({"status": "paid", "amount": 120}));
        assert!(passes(Some("status == 'paid' and amount > 100"), &ctx).unwrap());
        assert!(!passes(Some("status == 'refunded'"), &ctx).unwrap());
        assert!(passes(None, &ctx).unwrap());
        assert!(passes(Some("missing.field"), &ctx).is_err(), "strict: an unknown field is an error, not false");
    }

    #[test]
    fn whatsapp_recipients_are_split_and_bounded() {
        let ctx = context(&json!({"phones": ["+14155552671", "+14155552672"]}));
        let wa = |to: &str| ActionSpec::Whatsapp { channel_id: "c".into(), to: to.into(), text: Some("hi {{ phones | length }}".into()), template_name: None, template_language: None, template_variables: vec![] };
        let RenderedAction::Whatsapp { to, text, .. } = render_action(0, &wa("{{ phones | join(', ') }}"), &ctx).unwrap() else { panic!() };
        assert_eq!((to, text.as_deref()), (vec!["+14155552671".to_owned(), "+14155552672".to_owned()], Some("hi 2")));
        assert!(matches!(render_action(0, &wa(""), &ctx), Err(RenderError::Invalid(_))));
    }

    #[test]
    fn dedupe_paths() {
        let p = json!({"event": {"id": "evt_1", "n": 7}, "items": [{"sku": "A"}]});
        assert_eq!(path_value(&p, "event.id").as_deref(), Some("evt_1"));
        assert_eq!(path_value(&p, "event.n").as_deref(), Some("7"));
        assert_eq!(path_value(&p, "items.0.sku").as_deref(), Some("A"));
        assert_eq!(path_value(&p, "event.nope"), None);
    }
}
