//! Feed documents (RSS 2.0, Atom, RSS 1.0, JSON Feed) into plain items with `feed-rs`. An item is
//! identified by its guid / Atom id, else its link, else its title (never a random id, so the same item
//! is the same on every poll); text is reduced from HTML to plain text; the image comes from an image
//! enclosure, `media:content`, or `media:thumbnail`.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub id: String,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub link: Option<String>,
    pub image: Option<String>,
    pub author: Option<String>,
    /// RFC 3339.
    pub published: Option<String>,
    pub categories: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub title: Option<String>,
    pub link: Option<String>,
    /// In document order (usually newest first); items without any identity are left out.
    pub entries: Vec<Entry>,
}

/// Characters of item content kept for templates.
const MAX_CONTENT: usize = 2000;

fn stable_id(links: &[feed_rs::model::Link], title: &Option<feed_rs::model::Text>, _base: Option<&str>) -> String {
    links.first().map(|l| l.href.clone()).or_else(|| title.as_ref().map(|t| format!("title:{}", t.content.trim()))).unwrap_or_default()
}

/// Parses a feed document; the error is short and safe to show on the feed's row.
pub fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    let parser = feed_rs::parser::Builder::new().id_generator(stable_id).build();
    let feed = parser.parse(bytes).map_err(|e| format!("not a valid RSS or Atom feed: {}", first_line(&e.to_string())))?;
    let thumbnails = bare_thumbnails(bytes);
    let entries = feed
        .entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let mut out = entry(e);
            out.image = out.image.or_else(|| thumbnails.get(i).cloned().flatten());
            out
        })
        .filter(|e| !e.id.is_empty())
        .collect();
    Ok(Parsed { title: feed.title.map(|t| plain_text(&t.content)).filter(|t| !t.is_empty()), link: page_link(&feed.links), entries })
}

/// The `media:thumbnail` of each item, in document order. feed-rs keeps a thumbnail only inside a
/// media object with content, but many feeds give an item a bare thumbnail as its picture.
fn bare_thumbnails(bytes: &[u8]) -> Vec<Option<String>> {
    static ITEM: std::sync::OnceLock<(regex_lite::Regex, regex_lite::Regex)> = std::sync::OnceLock::new();
    let (item, thumb) = ITEM.get_or_init(|| {
        (
            regex_lite::Regex::new(r"(?s)<(?:item|entry)[\s>].*?</(?:item|entry)>").expect("item pattern"),
            regex_lite::Regex::new(r#"<media:thumbnail\b[^>]*\burl\s*=\s*["']([^"']+)["']"#).expect("thumbnail pattern"),
        )
    });
    let text = String::from_utf8_lossy(bytes);
    item.find_iter(&text).map(|m| thumb.captures(m.as_str()).map(|c| decode_entities(&c[1]).trim().to_owned())).collect()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().chars().take(200).collect()
}

fn page_link(links: &[feed_rs::model::Link]) -> Option<String> {
    let alternate = links.iter().find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"));
    alternate.or_else(|| links.iter().find(|l| l.rel.as_deref() != Some("self") && l.rel.as_deref() != Some("enclosure"))).map(|l| l.href.trim().to_owned())
}

fn is_image_type(t: &str) -> bool {
    t.to_ascii_lowercase().starts_with("image/")
}

fn image(e: &feed_rs::model::Entry) -> Option<String> {
    let content = e.media.iter().flat_map(|m| &m.content).find(|c| c.url.is_some() && c.content_type.as_ref().is_none_or(|t| is_image_type(t.as_str()))).and_then(|c| c.url.as_ref().map(|u| u.to_string()));
    let thumbnail = || e.media.iter().flat_map(|m| &m.thumbnails).next().map(|t| t.image.uri.clone());
    let atom_enclosure = || e.links.iter().find(|l| l.rel.as_deref() == Some("enclosure") && l.media_type.as_deref().is_some_and(is_image_type)).map(|l| l.href.clone());
    content.or_else(thumbnail).or_else(atom_enclosure)
}

fn entry(e: feed_rs::model::Entry) -> Entry {
    let image = image(&e);
    let content = e.content.as_ref().and_then(|c| c.body.as_deref()).map(plain_text).filter(|t| !t.is_empty()).map(|t| t.chars().take(MAX_CONTENT).collect());
    let summary = e.summary.as_ref().map(|t| plain_text(&t.content)).filter(|t| !t.is_empty());
    Entry {
        id: e.id.trim().to_owned(),
        title: e.title.as_ref().map(|t| plain_text(&t.content)).filter(|t| !t.is_empty()),
        summary: summary.or_else(|| content.clone()),
        content,
        link: page_link(&e.links),
        image,
        author: e.authors.first().and_then(|a| a.name.clone()).map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
        published: e.published.or(e.updated).map(|t| t.to_rfc3339()),
        categories: e.categories.iter().map(|c| c.term.clone()).collect(),
    }
}

/// HTML (or text) to plain text: tags dropped (with `script`/`style` contents), common entities decoded,
/// whitespace collapsed.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            out.push_str(&rest[lt..]);
            rest = "";
            break;
        };
        let tag = after[..gt].trim_start_matches('/').split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or_default().to_ascii_lowercase();
        rest = &after[gt + 1..];
        if (tag == "script" || tag == "style") && !after.starts_with('/') {
            let close = format!("</{tag}");
            rest = rest.to_ascii_lowercase().find(&close).map_or("", |i| &rest[i..]);
            continue;
        }
        if matches!(tag.as_str(), "p" | "br" | "div" | "li" | "h1" | "h2" | "h3" | "h4" | "tr") {
            out.push(' ');
        }
    }
    out.push_str(rest);
    let decoded = decode_entities(&out);
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find(';').filter(|i| *i <= 10);
        let decoded = end.and_then(|i| {
            let name = &after[..i];
            match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                "hellip" => Some('…'),
                "mdash" => Some('—'),
                "ndash" => Some('–'),
                "rsquo" => Some('’'),
                "lsquo" => Some('‘'),
                "rdquo" => Some('”'),
                "ldquo" => Some('“'),
                _ => name.strip_prefix('#').and_then(|n| match n.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => n.parse().ok(),
                }).and_then(char::from_u32),
            }
        });
        match (decoded, end) {
            (Some(c), Some(i)) => {
                out.push(c);
                rest = &after[i + 1..];
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const RSS: &str = r#"<?xml version="1.0"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Shop &amp; Blog</title><link>https://blog.example.com/</link>
<item><title>Second post</title><link>https://blog.example.com/2</link><guid isPermaLink="false">post-2</guid>
  <description>&lt;p&gt;Hello &lt;b&gt;there&lt;/b&gt; &amp;amp; welcome&lt;/p&gt;</description>
  <enclosure url="https://cdn.example.com/2.jpg" type="image/jpeg" length="1"/><pubDate>Tue, 01 Dec 2026 10:00:00 GMT</pubDate></item>
<item><title>First post</title><link>https://blog.example.com/1</link>
  <media:thumbnail url="https://cdn.example.com/1-thumb.jpg"/></item>
<item><description>no title, no link, no guid</description></item>
</channel></rss>"#;

    pub const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/"><title>Changelog</title>
<link href="https://example.com/changes" rel="alternate"/><link href="https://example.com/atom.xml" rel="self"/>
<id>urn:feed</id><updated>2026-12-01T10:00:00Z</updated>
<entry><id>urn:entry:2</id><title type="html">v2 &lt;em&gt;released&lt;/em&gt;</title><updated>2026-12-01T10:00:00Z</updated>
  <link href="https://example.com/v2"/><summary>Faster</summary><author><name>Ada</name></author>
  <media:content url="https://cdn.example.com/v2.png" medium="image"/></entry>
</feed>"#;

    #[test]
    fn rss_items_get_stable_ids_plain_text_and_images() {
        let p = parse(RSS.as_bytes()).unwrap();
        assert_eq!((p.title.as_deref(), p.link.as_deref()), (Some("Shop & Blog"), Some("https://blog.example.com/")));
        assert_eq!(p.entries.len(), 2, "the item without guid, link or title has no identity and is left out");
        let second = &p.entries[0];
        assert_eq!((second.id.as_str(), second.summary.as_deref(), second.image.as_deref()), ("post-2", Some("Hello there & welcome"), Some("https://cdn.example.com/2.jpg")));
        assert!(second.published.as_deref().unwrap().starts_with("2026-12-01T10:00:00"));
        let first = &p.entries[1];
        assert_eq!((first.id.as_str(), first.image.as_deref()), ("https://blog.example.com/1", Some("https://cdn.example.com/1-thumb.jpg")), "no guid: the link is the id");
        assert_eq!(parse(RSS.as_bytes()).unwrap(), p, "the same document always gives the same ids");
    }

    #[test]
    fn atom_entries() {
        let p = parse(ATOM.as_bytes()).unwrap();
        assert_eq!(p.link.as_deref(), Some("https://example.com/changes"));
        let e = &p.entries[0];
        assert_eq!((e.id.as_str(), e.title.as_deref(), e.link.as_deref(), e.author.as_deref()), ("urn:entry:2", Some("v2 released"), Some("https://example.com/v2"), Some("Ada")));
        assert_eq!(e.image.as_deref(), Some("https://cdn.example.com/v2.png"));
    }

    #[test]
    fn malformed_documents_are_errors_not_panics() {
        for bad in ["", "<html><body>not a feed</body></html>", "<rss><channel><item><title>cut off", "\u{0}\u{1}binary"] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn html_becomes_plain_text() {
        assert_eq!(plain_text("<p>a&nbsp;b</p><script>alert(1)</script><br/>c &#233; &#x263A; &bogus; x<y"), "a b c é ☺ &bogus; x<y");
    }
}
