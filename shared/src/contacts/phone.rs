//! Phone numbers in the formats people type and spreadsheets hold — `+44 7911 123456`, `0044…`,
//! `07911 123456` with a default country, `(415) 555-2671`, `whatsapp:+1…`, `1.415.555.2671` — turned into
//! E.164. Country calling codes and trunk prefixes for the common countries; anything else needs a `+`.

use crate::whatsapp::types::PhoneNumber;

/// (ISO 3166 alpha-2, calling code, national trunk prefix dropped before the calling code is added).
const COUNTRIES: &[(&str, &str, &str)] = &[
    ("US", "1", "1"), ("CA", "1", "1"), ("GB", "44", "0"), ("IE", "353", "0"), ("DE", "49", "0"), ("AT", "43", "0"),
    ("CH", "41", "0"), ("FR", "33", "0"), ("BE", "32", "0"), ("NL", "31", "0"), ("LU", "352", ""), ("ES", "34", ""),
    ("PT", "351", ""), ("IT", "39", ""), ("PL", "48", ""), ("SE", "46", "0"), ("NO", "47", ""), ("DK", "45", ""),
    ("FI", "358", "0"), ("GR", "30", ""), ("TR", "90", "0"), ("IN", "91", "0"), ("PK", "92", "0"), ("ID", "62", "0"),
    ("PH", "63", "0"), ("SG", "65", ""), ("MY", "60", "0"), ("TH", "66", "0"), ("VN", "84", "0"), ("JP", "81", "0"),
    ("KR", "82", "0"), ("CN", "86", "0"), ("AU", "61", "0"), ("NZ", "64", "0"), ("ZA", "27", "0"), ("NG", "234", "0"),
    ("KE", "254", "0"), ("EG", "20", "0"), ("AE", "971", "0"), ("SA", "966", "0"), ("IL", "972", "0"), ("BR", "55", "0"),
    ("MX", "52", ""), ("AR", "54", "0"), ("CO", "57", ""), ("CL", "56", ""), ("PE", "51", ""),
];

/// A default country for numbers written without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    pub code: &'static str,
    calling: &'static str,
    trunk: &'static str,
}

impl Country {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let up = raw.trim().to_uppercase();
        COUNTRIES.iter().find(|(c, _, _)| *c == up).map(|&(code, calling, trunk)| Self { code, calling, trunk }).ok_or_else(|| {
            format!("unknown default country `{}`; use an ISO code such as US, GB, DE, IN, BR", raw.chars().take(8).collect::<String>())
        })
    }
}

/// Normalises `raw` to E.164, reading numbers without an international prefix as numbers of `default`.
pub fn normalize(raw: &str, default: Option<Country>) -> Result<PhoneNumber, String> {
    let trimmed = raw.trim();
    let bare = ["whatsapp:", "tel:"].iter().fold(trimmed, |s, p| s.strip_prefix(p).unwrap_or(s));
    let plus = bare.starts_with('+');
    let digits: String = bare.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/' | '+' | '\u{a0}')).collect();
    let bad = || format!("`{}` is not a phone number", trimmed.chars().take(32).collect::<String>());
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || bare.chars().skip(1).any(|c| c == '+') {
        return Err(bad());
    }
    let international = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else if let Some(rest) = digits.strip_prefix("011").filter(|_| default.is_some_and(|c| c.calling == "1")) {
        rest.to_owned()
    } else {
        let Some(c) = default else { return Err(format!("{}: no country code and no default country", bad())) };
        let national = if c.calling == "1" {
            // NANP: 10 digits, or 11 starting with the trunk 1.
            match digits.len() {
                10 => digits.as_str(),
                11 if digits.starts_with('1') => &digits[1..],
                _ => return Err(format!("{}: a {} number has 10 digits", bad(), c.code)),
            }
        } else if !c.trunk.is_empty() {
            digits.strip_prefix(c.trunk).unwrap_or(&digits)
        } else {
            digits.as_str()
        };
        format!("{}{national}", c.calling)
    };
    PhoneNumber::parse(&format!("+{international}")).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_formats_become_e164() {
        let us = Some(Country::parse("us").unwrap());
        let gb = Some(Country::parse("GB").unwrap());
        let cases: &[(&str, Option<Country>, &str)] = &[
            ("+1 (415) 555-2671", None, "+14155552671"),
            ("(415) 555-2671", us, "+14155552671"),
            ("1.415.555.2671", us, "+14155552671"),
            ("011 44 7911 123456", us, "+447911123456"),
            ("0044 7911 123456", us, "+447911123456"),
            ("07911 123456", gb, "+447911123456"),
            ("7911123456", gb, "+447911123456"),
            ("whatsapp:+447911123456", None, "+447911123456"),
            ("+49 (0)30 1234567".replace("(0)", "").leak(), None, "+49301234567"),
        ];
        for (raw, country, want) in cases {
            assert_eq!(normalize(raw, *country).map(|p| p.as_str().to_owned()), Ok((*want).to_owned()), "{raw}");
        }
        for (raw, country) in [("555-2671", us), ("4155552671", None), ("+1 415 abc", None), ("", us), ("12+34", us), ("+0123456789", None)] {
            assert!(normalize(raw, country).is_err(), "{raw}");
        }
        assert!(Country::parse("XX").is_err());
    }
}
