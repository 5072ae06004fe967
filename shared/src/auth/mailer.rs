//! Outgoing email for invites and password resets: the `Mailer` port and its SMTP adapter (lettre over
//! rustls). On AWS the same adapter talks to the Amazon SES SMTP endpoint, so no SES SDK is linked.
//! Email is optional: without `WEBTRIGGER_SMTP_URL` the dashboard shows links to share by hand.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::types::Email;

/// One plain-text message to one recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    pub to: Email,
    pub subject: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
#[error("mail not sent: {0}")]
pub struct MailError(pub String);

/// Sends email (SMTP in production, a recording fake in tests).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Hands one message to the relay; `Err` when the relay did not accept it.
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}

/// `WEBTRIGGER_SMTP_URL` (lettre's URL form: `smtps://user:pass@host:465`, `smtp://host:587?tls=required`;
/// plain `smtp://` only for a loopback relay). Its `Debug` hides the credentials.
#[derive(Clone, PartialEq)]
pub struct SmtpUrl(String);

impl SmtpUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
        if !matches!(url.scheme(), "smtp" | "smtps") {
            return Err("the scheme must be smtp:// or smtps://".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("no host".into());
        }
        AsyncSmtpTransport::<Tokio1Executor>::from_url(raw).map_err(|e| e.to_string())?;
        Ok(Self(raw.to_owned()))
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = url::Url::parse(&self.0).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
        write!(f, "SmtpUrl({host}, credentials hidden)")
    }
}

/// Mail settings read once in `config.rs`.
#[derive(Debug, Clone, PartialEq)]
pub struct MailConfig {
    pub smtp_url: SmtpUrl,
    /// `WEBTRIGGER_MAIL_FROM`, e.g. `WebTrigger <no-reply@example.com>`.
    pub from: String,
    /// Where links in emails point (`WEBTRIGGER_PUBLIC_URL`, the dashboard's origin).
    pub link_base: String,
}

/// What the domain needs to send an email with a link: the port and the dashboard's origin.
#[derive(Clone)]
pub struct MailRuntime {
    pub mailer: Arc<dyn Mailer>,
    pub link_base: String,
}

impl MailRuntime {
    pub fn smtp(config: &MailConfig) -> Result<Self, MailError> {
        Ok(Self { mailer: Arc::new(SmtpMailer::new(config)?), link_base: config.link_base.trim_end_matches('/').to_owned() })
    }

    /// An absolute dashboard link for a path such as `/reset-password#token=…`.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.link_base)
    }
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(config: &MailConfig) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.smtp_url.0).map_err(|e| MailError(e.to_string()))?.timeout(Some(std::time::Duration::from_secs(15))).build();
        let from = config.from.parse().map_err(|e| MailError(format!("WEBTRIGGER_MAIL_FROM: {e}")))?;
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let to: Mailbox = mail.to.as_str().parse().map_err(|e| MailError(format!("recipient: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(mail.text.clone())
            .map_err(|e| MailError(e.to_string()))?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| MailError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_are_checked_and_never_print_their_password() {
        let url = SmtpUrl::parse("smtps://user:hunter2@smtp.example.com:465").unwrap();
        assert_eq!(format!("{url:?}"), "SmtpUrl(smtp.example.com, credentials hidden)");
        assert!(SmtpUrl::parse("http://smtp.example.com").is_err());
        assert!(SmtpUrl::parse("smtp://").is_err());
        assert!(SmtpUrl::parse("not a url").is_err());
    }
}
