//! A small RFC 4180 reader (quoted cells, doubled quotes, CRLF or LF, a UTF-8 BOM) — enough for contact
//! spreadsheets without a CSV dependency — and the mapping of an import row onto a contact change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::phone::{self, Country};
use super::types::{check_name, parse_field_name, parse_tags, parse_time_zone, FieldValue, MAX_FIELDS};
use crate::whatsapp::types::PhoneNumber;

/// Splits CSV text into rows of cells. An unterminated quote is an error naming its line.
pub fn parse(text: &str) -> Result<Vec<Vec<String>>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let (mut row, mut cell) = (Vec::new(), String::new());
    let (mut quoted, mut line, mut quote_line) = (false, 1usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                cell.push(c);
            }
            (false, '"') if cell.is_empty() => (quoted, quote_line) = (true, line),
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n' | '\r') => {
                line += 1;
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    if quoted {
        return Err(format!("line {quote_line}: a quoted cell is never closed"));
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows.retain(|r| !(r.len() == 1 && r[0].trim().is_empty()));
    Ok(rows)
}

/// What each column of an import means, from its header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Columns {
    pub phone: usize,
    pub name: Option<usize>,
    pub tags: Option<usize>,
    pub time_zone: Option<usize>,
    pub consent_source: Option<usize>,
    pub consent_at: Option<usize>,
    /// (column, field name) for every other column.
    pub fields: Vec<(usize, String)>,
}

impl Columns {
    pub fn from_header(header: &[String]) -> Result<Self, String> {
        let norm: Vec<String> = header.iter().map(|h| h.trim().to_lowercase().replace([' ', '-'], "_")).collect();
        let find = |names: &[&str]| norm.iter().position(|h| names.contains(&h.as_str()));
        let phone = find(&["phone", "phone_number", "number", "mobile", "whatsapp", "msisdn"]).ok_or("the header needs a `phone` column")?;
        let known = [Some(phone), find(&["name", "full_name"]), find(&["tags", "labels"]), find(&["time_zone", "timezone", "tz"]), find(&["consent_source"]), find(&["consent_at", "consent_time"])];
        let mut fields = Vec::new();
        for (i, h) in header.iter().enumerate().filter(|(i, _)| !known.contains(&Some(*i))) {
            let name = parse_field_name(h).map_err(|e| format!("column {}: {e}", i + 1))?;
            fields.push((i, name));
        }
        if fields.len() > MAX_FIELDS {
            return Err(format!("at most {MAX_FIELDS} custom field columns"));
        }
        Ok(Self { phone, name: known[1], tags: known[2], time_zone: known[3], consent_source: known[4], consent_at: known[5], fields })
    }
}

/// One valid import row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowChange {
    pub phone: PhoneNumber,
    pub name: Option<String>,
    pub tags: Vec<String>,
    pub time_zone: Option<String>,
    pub consent: Option<(String, String)>,
    pub fields: BTreeMap<String, FieldValue>,
}

/// Reads one row; the error says what is wrong with it (the per-row report shows it).
pub fn row(cols: &Columns, cells: &[String], country: Option<Country>, default_source: Option<&str>, now: &str) -> Result<RowChange, String> {
    let cell = |i: Option<usize>| i.and_then(|i| cells.get(i)).map(|s| s.trim()).filter(|s| !s.is_empty());
    let phone = phone::normalize(cell(Some(cols.phone)).ok_or("no phone number")?, country)?;
    let name = cell(cols.name).map(check_name).transpose().map_err(|e| e.to_string())?;
    let tags = parse_tags(cell(cols.tags).unwrap_or_default().split([';', '|']).filter(|t| !t.trim().is_empty())).map_err(|e| e.to_string())?;
    let time_zone = cell(cols.time_zone).map(parse_time_zone).transpose().map_err(|e| e.to_string())?;
    let at = match cell(cols.consent_at) {
        Some(t) => Some(chrono::DateTime::parse_from_rfc3339(t).map(|t| t.with_timezone(&chrono::Utc).to_rfc3339()).map_err(|_| format!("consent_at `{}` is not an RFC 3339 time", t.chars().take(40).collect::<String>()))?),
        None => None,
    };
    let consent = cell(cols.consent_source).or(default_source).map(|s| (s.chars().take(200).collect(), at.clone().unwrap_or_else(|| now.to_owned())));
    let mut fields = BTreeMap::new();
    for (i, name) in &cols.fields {
        if let Some(v) = cell(Some(*i)) {
            fields.insert(name.clone(), FieldValue::infer(v).map_err(|e| format!("{name}: {e}"))?);
        }
    }
    Ok(RowChange { phone, name, tags, time_zone, consent, fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quotes_newlines_and_bom() {
        let rows = parse("\u{feff}phone,name\r\n\"+1 415 555 2671\",\"Doe, \"\"JD\"\" Jane\"\n+447911123456,\"two\nlines\"\n\n").unwrap();
        assert_eq!(rows, vec![vec!["phone", "name"], vec!["+1 415 555 2671", "Doe, \"JD\" Jane"], vec!["+447911123456", "two\nlines"]]);
        assert_eq!(parse("a,\"b\nc").unwrap_err(), "line 1: a quoted cell is never closed");
    }

    #[test]
    fn maps_columns_and_rows() {
        let header: Vec<String> = ["Phone Number", "Name", "Tags", "City", "Orders", "consent_source"].map(String::from).to_vec();
        let cols = Columns::from_header(&header).unwrap();
        assert_eq!((cols.phone, cols.fields.clone()), (0, vec![(3, "city".to_owned()), (4, "orders".to_owned())]));
        let us = Some(Country::parse("US").unwrap());
        let cells: Vec<String> = ["(415) 555-2671", "Ada", "vip;Beta", "Berlin", "3", "web form"].map(String::from).to_vec();
        let r = row(&cols, &cells, us, None, "2026-01-01T00:00:00+00:00").unwrap();
        assert_eq!((r.phone.as_str(), r.tags.clone(), r.fields["orders"].clone()), ("+14155552671", vec!["vip".to_owned(), "beta".to_owned()], FieldValue::Number(3.0)));
        assert_eq!(r.consent, Some(("web form".to_owned(), "2026-01-01T00:00:00+00:00".to_owned())));
        let bad: Vec<String> = ["555", "x", "", "", "", ""].map(String::from).to_vec();
        assert!(row(&cols, &bad, us, None, "now").unwrap_err().contains("10 digits"));
        assert!(Columns::from_header(&["name".to_owned()]).is_err());
    }
}
