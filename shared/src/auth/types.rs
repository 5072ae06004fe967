//! Parsed account types: an `Email`, a `NewPassword` or an id exists only if it passed its parser.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::http::ApiError;

/// A normalised (trimmed, lower-cased) email address with a plausible shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let email = raw.trim().to_lowercase();
        let invalid = || match raw.trim() {
            "" => ApiError::Validation("enter an email address".into()),
            shown => ApiError::Validation(format!("“{}” is not an email address (it looks like name@example.com)", shown.chars().take(80).collect::<String>())),
        };
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
        let labels_ok = domain.split('.').all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'));
        let domain_ok = domain.contains('.') && labels_ok && domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = ApiError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl utoipa::PartialSchema for Email {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::String).format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Email))).into()
    }
}

impl utoipa::ToSchema for Email {}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password that meets the policy: 10–128 characters, at least 5 distinct, not a well-known password,
/// and not the email's local part.
pub struct NewPassword(secrecy::SecretString);

const COMMON_PASSWORDS: &[&str] = &[
    "password123", "password1234", "1234567890", "12345678910", "qwertyuiop", "qwerty12345", "iloveyou123", "letmein123",
    "welcome123", "administrator", "passw0rd123", "football123", "1q2w3e4r5t", "abc1234567", "asdfghjkl1", "changeme123",
];

impl NewPassword {
    pub fn parse(raw: &str, email: &Email) -> Result<Self, ApiError> {
        let weak = |why: &str| Err(ApiError::Validation(format!("password is too weak: {why}")));
        let chars = raw.chars().count();
        if chars < 10 {
            return weak("use at least 10 characters");
        }
        if chars > 128 {
            return weak("use at most 128 characters");
        }
        let distinct: std::collections::BTreeSet<char> = raw.chars().collect();
        if distinct.len() < 5 {
            return weak("use at least 5 different characters");
        }
        let lower = raw.to_lowercase();
        if COMMON_PASSWORDS.contains(&lower.as_str()) {
            return weak("it is a commonly used password");
        }
        let local = email.as_str().split('@').next().unwrap_or_default();
        if local.len() >= 4 && lower.contains(local) {
            return weak("it contains your email address");
        }
        Ok(Self(secrecy::SecretString::from(raw.to_owned())))
    }

    pub fn secret(&self) -> &secrecy::SecretString {
        &self.0
    }
}

macro_rules! prefixed_id {
    ($name:ident, $prefix:literal, $what:literal) => {
        #[doc = concat!("A ", $what, " id: `", $prefix, "` followed by a ULID.")]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(ulid: ulid::Ulid) -> Self {
                Self(format!("{}{}", $prefix, ulid.to_string().to_lowercase()))
            }

            pub fn parse(raw: &str) -> Result<Self, $crate::http::ApiError> {
                raw.strip_prefix($prefix)
                    .filter(|rest| rest.len() == 26 && ulid::Ulid::from_string(rest).is_ok())
                    .map(|rest| Self(format!("{}{}", $prefix, rest.to_lowercase())))
                    .ok_or_else(|| $crate::http::ApiError::NotFound(format!("no {} `{}`", $what, raw.chars().take(40).collect::<String>())))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::http::ApiError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(concat!($what, " id")))
                    .examples([concat!($prefix, "01jd5x8q0y8m3n2b7c4v6w9z1a")])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(crate) use prefixed_id;

prefixed_id!(UserId, "usr_", "user");
prefixed_id!(WorkspaceId, "ws_", "workspace");
prefixed_id!(ApiKeyId, "key_", "API key");
prefixed_id!(InviteId, "inv_", "invite");

/// A member's role in a workspace, most powerful first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Editor,
    Agent,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Owner, Role::Admin, Role::Editor, Role::Agent, Role::Viewer];
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord, utoipa::ToSchema)]
pub enum Scope {
    #[serde(rename = "read")]
    Read,
    #[serde(rename = "notifications:send")]
    NotificationsSend,
    #[serde(rename = "messages:send")]
    MessagesSend,
    #[serde(rename = "triggers:manage")]
    TriggersManage,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "ada@-x.com", "ada@exa_mple.com", "a@b@c.com"] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
        // Plain words for the form: no empty backticks for an empty field.
        assert_eq!(Email::parse("  ").unwrap_err().to_string(), ApiError::Validation("enter an email address".into()).to_string());
        assert!(Email::parse("ada").unwrap_err().to_string().contains("“ada” is not an email address"));
    }

    #[test]
    fn password_policy() {
        let email = Email::parse("margaret@example.com").unwrap();
        assert!(NewPassword::parse("correct horse battery", &email).is_ok());
        for weak in ["short", "aaaaaaaaaaaa", "Password123", "xxmargaretxx1", &"x1y2z3".repeat(30)] {
            assert!(NewPassword::parse(weak, &email).is_err(), "{weak} accepted");
        }
    }

    #[test]
    fn ids_parse_only_their_own_prefix() {
        let id = WorkspaceId::new(ulid::Ulid::new());
        assert_eq!(WorkspaceId::parse(id.as_str()).unwrap(), id);
        assert!(UserId::parse(id.as_str()).is_err());
        assert!(WorkspaceId::parse("ws_nope").is_err());
        assert!(WorkspaceId::parse("ws_../../etc").is_err());
    }
}
