//! A feed item through the feed's template into notification content (minijinja, lenient: a field the
//! item lacks renders empty; fuel-limited like trigger templates). Output is trimmed to what Web Push
//! notifications allow, and links that are not http(s) are dropped.

use minijinja::{Environment, Value};
use serde_json::json;

use super::parse::Entry;
use super::types::FeedTemplate;
use crate::push::notifications::Content;

const RENDER_FUEL: u64 = 100_000;
pub const MAX_TITLE: usize = 200;
pub const MAX_BODY: usize = 600;

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(RENDER_FUEL));
    env
}

/// Save-time check: the source compiles.
pub fn check(source: &str) -> Result<(), String> {
    env().template_from_str(source).map(drop).map_err(|e| e.to_string())
}

fn render(env: &Environment<'_>, source: &str, ctx: &Value) -> Result<String, String> {
    env.render_str(source, ctx).map(|s| s.trim().to_owned()).map_err(|e| e.to_string())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out = out.trim_end().to_owned();
    out.push('…');
    out
}

fn link(s: String) -> Option<String> {
    (s.len() <= 2048 && (s.starts_with("https://") || s.starts_with("http://"))).then_some(s)
}

/// The template context of one item.
/// Absent values are left out (undefined renders empty; `null` would render `none`).
pub fn context(entry: &Entry, feed_title: Option<&str>, feed_link: Option<&str>) -> Value {
    fn prune(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => m.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, prune(v))).collect(),
            v => v,
        }
    }
    Value::from_serialize(prune(json!({
        "item": {
            "id": entry.id, "title": entry.title, "summary": entry.summary, "content": entry.content, "link": entry.link,
            "image": entry.image, "author": entry.author, "published": entry.published, "categories": entry.categories,
        },
        "feed": {"title": feed_title, "link": feed_link},
    })))
}

/// The notification content for `entry`; an empty title falls back to the item's title, then the feed's.
pub fn content(template: &FeedTemplate, entry: &Entry, feed_title: Option<&str>, feed_link: Option<&str>) -> Result<Content, String> {
    let env = env();
    let ctx = context(entry, feed_title, feed_link);
    let field = |name: &str, source: &str| render(&env, source, &ctx).map_err(|e| format!("template.{name}: {e}"));
    let mut title = field("title", &template.title)?;
    if title.is_empty() {
        title = entry.title.clone().or_else(|| feed_title.map(str::to_owned)).unwrap_or_else(|| "New post".into());
    }
    let body = field("body", &template.body)?;
    Ok(Content {
        title: truncate(&title, MAX_TITLE),
        body: Some(truncate(&body, MAX_BODY)).filter(|b| !b.is_empty()),
        url: link(field("url", &template.url)?),
        icon: link(field("icon", &template.icon)?),
        image: link(field("image", &template.image)?),
        badge: None,
        actions: vec![],
        require_interaction: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            id: "urn:1".into(),
            title: Some("Hello <world>".into()),
            summary: Some("A summary".into()),
            content: None,
            link: Some("https://blog.example.com/hello".into()),
            image: Some("https://cdn.example.com/a.jpg".into()),
            author: None,
            published: None,
            categories: vec![],
        }
    }

    #[test]
    fn defaults_map_item_fields_and_missing_fields_render_empty() {
        let c = content(&FeedTemplate::default(), &entry(), Some("Blog"), None).unwrap();
        assert_eq!((c.title.as_str(), c.body.as_deref(), c.url.as_deref(), c.image.as_deref()), ("Hello <world>", Some("A summary"), Some("https://blog.example.com/hello"), Some("https://cdn.example.com/a.jpg")));
        let t = FeedTemplate { title: "{{ feed.title }}: {{ item.title }}".into(), body: "{{ item.author }}".into(), url: "javascript:alert(1)".into(), ..Default::default() };
        let c = content(&t, &entry(), Some("Blog"), None).unwrap();
        assert_eq!((c.title.as_str(), c.body, c.url), ("Blog: Hello <world>", None, None), "HTML is not escaped (notifications are text); non-http links are dropped");
    }

    #[test]
    fn long_text_is_cut_and_an_empty_title_falls_back() {
        let mut e = entry();
        e.summary = Some("word ".repeat(400));
        let t = FeedTemplate { title: "{{ item.missing }}".into(), ..Default::default() };
        let c = content(&t, &e, Some("Blog"), None).unwrap();
        assert_eq!(c.title, "Hello <world>");
        assert!(c.body.unwrap().chars().count() <= MAX_BODY);
        e.title = None;
        assert_eq!(content(&t, &e, Some("Blog"), None).unwrap().title, "Blog");
    }

    #[test]
    fn a_loop_bomb_runs_out_of_fuel() {
        let t = FeedTemplate { body: "{% for a in range(9999) %}{% for b in range(9999) %}x{% endfor %}{% endfor %}".into(), ..Default::default() };
        assert!(content(&t, &entry(), None, None).unwrap_err().starts_with("template.body"));
    }
}
