//! The rows of a subscriber import: the file's format, RFC 4180 CSV cells, and one row (a CSV line or a
//! JSON-lines object) turned into the subscribe request the public endpoint takes.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::subscribers::SubscribeRequest;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    JsonLines,
}

/// The format: from the content type, else sniffed (`{` first means JSON lines).
pub fn detect(content_type: Option<&str>, body: &str) -> Format {
    match content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase()).as_deref() {
        Some("text/csv") => Format::Csv,
        Some("application/x-ndjson" | "application/jsonl" | "application/x-jsonlines") => Format::JsonLines,
        _ if body.trim_start().starts_with('{') => Format::JsonLines,
        _ => Format::Csv,
    }
}

/// RFC 4180 cells of one line (quoted cells may hold commas and doubled quotes, not line breaks).
pub fn csv_cells(line: &str) -> Result<Vec<String>, String> {
    let mut cells = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut cell = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        cell.push('"');
                    }
                    Some('"') => break,
                    Some(c) => cell.push(c),
                    None => return Err("a quoted cell is not closed".into()),
                }
            }
            if !matches!(chars.peek(), None | Some(',')) {
                return Err("text after a closing quote".into());
            }
        } else {
            while let Some(c) = chars.peek().copied().filter(|c| *c != ',') {
                cell.push(c);
                chars.next();
            }
        }
        cells.push(cell);
        if chars.next().is_none() {
            return Ok(cells);
        }
    }
}

/// One row as the subscribe request the public endpoint takes, or why not.
pub fn row_request(format: Format, columns: &[String], line: &str) -> Result<SubscribeRequest, String> {
    let fields: Map<String, Value> = match format {
        Format::JsonLines => match serde_json::from_str(line) {
            Ok(Value::Object(m)) => m,
            _ => return Err("not a JSON object".into()),
        },
        Format::Csv => {
            let cells = csv_cells(line)?;
            if cells.len() != columns.len() {
                return Err(format!("{} cells where the header names {}", cells.len(), columns.len()));
            }
            let mut m = Map::new();
            for (name, cell) in columns.iter().zip(cells) {
                let value = match name.as_str() {
                    "tags" => Value::from(cell.split([' ', '|', ';']).filter(|t| !t.is_empty()).map(str::to_owned).collect::<Vec<_>>()),
                    "attributes" if cell.trim().is_empty() => continue,
                    "attributes" => serde_json::from_str(&cell).map_err(|_| "attributes: not a JSON object".to_owned())?,
                    _ => Value::from(cell),
                };
                m.insert(name.clone(), value);
            }
            m
        }
    };
    let text = |k: &str| fields.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let tags = match fields.get("tags") {
        Some(Value::String(s)) => Value::from(s.split([' ', '|', ';', ',']).filter(|t| !t.is_empty()).collect::<Vec<_>>()),
        Some(v @ Value::Array(_)) => v.clone(),
        _ => json!([]),
    };
    let request = json!({
        "subscription": {"endpoint": text("endpoint"), "keys": {"p256dh": text("p256dh"), "auth": text("auth")}},
        "tags": tags, "external_id": fields.get("external_id").cloned().unwrap_or(Value::Null),
        "timezone": fields.get("time_zone").cloned().unwrap_or(Value::Null), "attributes": fields.get("attributes").cloned().unwrap_or(Value::Null),
    });
    serde_json::from_value(request).map_err(|e| format!("malformed row: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_follow_rfc_4180() {
        // (line, cells or error, why)
        type Case<'a> = (&'a str, Result<Vec<&'a str>, ()>, &'a str);
        let cases: [Case; 5] = [
            ("a,b,,c", Ok(vec!["a", "b", "", "c"]), "an empty cell"),
            (r#""a,b","say ""hi""""#, Ok(vec!["a,b", r#"say "hi""#]), "quoted separators and doubled quotes"),
            (r#"x,"{""plan"":""pro""}""#, Ok(vec!["x", r#"{"plan":"pro"}"#]), "attributes JSON as the export writes it"),
            (r#""open"#, Err(()), "an unclosed quote"),
            (r#""a"b,c"#, Err(()), "text after the closing quote"),
        ];
        for (line, expected, why) in cases {
            let got = csv_cells(line).map_err(|_| ());
            assert_eq!(got, expected.map(|v| v.into_iter().map(str::to_owned).collect()), "{why}");
        }
    }

    #[test]
    fn formats_are_detected() {
        assert_eq!(detect(Some("text/csv; charset=utf-8"), "{"), Format::Csv, "the content type wins");
        assert_eq!(detect(Some("application/x-ndjson"), "endpoint"), Format::JsonLines);
        assert_eq!(detect(None, "\n{\"endpoint\": 1}"), Format::JsonLines, "sniffed");
        assert_eq!(detect(Some("application/octet-stream"), "endpoint,p256dh,auth"), Format::Csv);
    }
}
