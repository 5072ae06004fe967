//! Requests to URLs our customers choose (event webhooks): the SSRF guard. A URL is checked when saved
//! (https, no credentials, no private literal address, no `localhost`), and every connection resolves
//! through a DNS resolver that drops private, loopback, link-local and other internal addresses, so a
//! name that later re-points at an internal address (DNS rebinding) still cannot be reached.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

use super::ApiError;

/// Which hosts are exempt from the guard (`host:port`, e.g. a receiver fake on loopback in tests and
/// local development). Empty in production.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboundPolicy {
    pub allow_hosts: Vec<String>,
}

impl OutboundPolicy {
    fn exempt(&self, url: &Url) -> bool {
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else { return false };
        self.allow_hosts.iter().any(|h| h.eq_ignore_ascii_case(&format!("{host}:{port}")))
    }
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    // `::/96` holds `::1`, `::` and the deprecated IPv4-compatible form `::a.b.c.d`; none is a public host.
    !(ip.segments()[..6].iter().all(|s| *s == 0)
        || ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link local
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64 can reach IPv4 internals
}

/// Names that only ever mean this machine or a private network, compared without trailing dots
/// (`localhost.` is the same name as `localhost` to a resolver).
fn is_internal_name(domain: &str) -> bool {
    let d = domain.trim_end_matches('.');
    d.is_empty() || d == "localhost" || [".localhost", ".internal", ".local"].iter().any(|s| d.ends_with(s))
}

/// Save-time check of a customer URL, parsed once with WHATWG rules (the parser reqwest connects with).
/// Returns the parsed URL; store its normalised form.
pub fn check_url(raw: &str, policy: &OutboundPolicy) -> Result<Url, ApiError> {
    check_url_schemes(raw, policy, &["https"])
}

/// `check_url` with other schemes allowed too (feeds are still often plain `http`); `schemes` lists them.
pub fn check_url_schemes(raw: &str, policy: &OutboundPolicy, schemes: &[&str]) -> Result<Url, ApiError> {
    let raw = raw.trim();
    let not_url = || ApiError::Validation(format!("`{}` is not a URL", raw.chars().take(80).collect::<String>()));
    // WHATWG reads `\` as `/` in http(s) URLs; refusing it keeps what people read and what we connect to the same.
    if raw.contains('\\') {
        return Err(ApiError::Validation("the URL must not contain backslashes".into()));
    }
    let url = Url::parse(raw).map_err(|_| not_url())?;
    if policy.exempt(&url) {
        return Ok(url);
    }
    if !schemes.contains(&url.scheme()) {
        return Err(ApiError::Validation(format!("the URL must use {}", schemes.join(" or "))));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::Validation("the URL must not contain credentials; use the signing secret".into()));
    }
    let refused = || ApiError::Validation("the URL points at a private or internal address".into());
    match url.host() {
        Some(url::Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => Err(refused()),
        Some(url::Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => Err(refused()),
        Some(url::Host::Domain(d)) if is_internal_name(d) => Err(refused()),
        None => Err(ApiError::Validation("the URL has no host".into())),
        _ => Ok(url),
    }
}

/// Resolves names and keeps only public addresses; a name with none fails to connect.
#[derive(Debug)]
struct PublicOnlyResolver {
    allow_hosts: Vec<String>,
}

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let exempt = self.allow_hosts.iter().any(|h| h.rsplit_once(':').is_some_and(|(n, _)| n.eq_ignore_ascii_case(&host)));
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.filter(|a| exempt || is_public(a.ip())).collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves only to private or internal addresses").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The client for customer URLs: guarded resolver, no redirects (a redirect could point inward), short
/// timeouts, and IP-literal URLs refused at connect time too (they bypass DNS).
pub fn guarded_client(policy: &OutboundPolicy) -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(PublicOnlyResolver { allow_hosts: policy.allow_hosts.clone() }))
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("WebTrigger-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("HTTP client")
}

/// The send-time check for IP-literal hosts, which never reach the resolver.
pub fn literal_allowed(url: &Url, policy: &OutboundPolicy) -> bool {
    if policy.exempt(url) {
        return true;
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_public(IpAddr::V6(ip)),
        _ => true,
    }
}

/// Why a capped body read stopped.
#[derive(Debug)]
pub enum BodyError {
    /// The body (declared or as received) passed the cap; nothing past it was read.
    TooLarge,
    /// The connection failed mid-body.
    Failed(reqwest::Error),
}

/// Reads a response body of at most `cap` bytes, refusing a larger declared length before reading and
/// stopping at the chunk that would pass the cap (a customer's server may send without end).
pub async fn read_capped(mut response: reqwest::Response, cap: u64) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > cap) {
        return Err(BodyError::TooLarge);
    }
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Failed)? {
        if (out.len() + chunk.len()) as u64 > cap {
            return Err(BodyError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_internal_addresses_are_refused() {
        let p = OutboundPolicy::default();
        for bad in [
            "http://example.com/hook",
            "https://127.0.0.1/x",
            "https://10.0.0.8/x",
            "https://172.16.3.4/x",
            "https://192.168.1.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/x",
            "https://0.0.0.0/x",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[fe80::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://localhost/x",
            "https://db.internal/x",
            "https://user:pass@example.com/x",
            "not a url",
        ] {
            assert!(check_url(bad, &p).is_err(), "{bad} accepted");
        }
        assert!(check_url("https://hooks.example.com/webtrigger", &p).is_ok());
        assert!(check_url("https://93.184.215.14:8443/x", &p).is_ok());
    }

    #[test]
    fn disguised_internal_addresses_are_refused() {
        let p = OutboundPolicy::default();
        // (url, why it must be refused)
        let cases = [
            ("https://localhost./hook", "trailing dot: the same name to a resolver"),
            ("https://LocalHost../hook", "mixed case and two trailing dots"),
            ("https://api.localhost./hook", "subdomain of localhost with a trailing dot"),
            ("https://db.INTERNAL./hook", "internal suffix, mixed case, trailing dot"),
            ("https://2130706433/hook", "decimal IPv4 (127.0.0.1)"),
            ("https://0x7f.1/hook", "hex IPv4 shorthand (127.0.0.1)"),
            ("https://0x7F000001/hook", "hex IPv4, upper case"),
            ("https://0177.0.0.1/hook", "octal IPv4 (127.0.0.1)"),
            ("https://127.1/hook", "two-part IPv4 shorthand"),
            ("https://0251.0376.0251.0376/latest", "octal 169.254.169.254 (instance metadata)"),
            ("https://[::ffff:127.0.0.1]/hook", "IPv4-mapped IPv6 loopback"),
            ("https://[::ffff:7f00:1]/hook", "IPv4-mapped IPv6 in hex groups"),
            ("https://[::127.0.0.1]/hook", "IPv4-compatible IPv6"),
            ("https://[0:0:0:0:0:0:0:1]/hook", "IPv6 loopback written out"),
            ("https://127.0.0.1./hook", "IPv4 literal with a trailing dot"),
            ("https://hooks.example.com@127.0.0.1/hook", "userinfo: the real host is after the @"),
            ("https://127.0.0.1\\.hooks.example.com/hook", "backslash: WHATWG reads it as `/`"),
            ("https://hooks.example.com\\@127.0.0.1/hook", "backslash before userinfo"),
            ("https://127.0.0.1%2f.example.com/hook", "percent-encoded slash in the host"),
        ];
        for (url, why) in cases {
            assert!(check_url(url, &p).is_err(), "{url} accepted ({why})");
        }
        let normalised = check_url("https://Hooks.Example.COM:443/a/../hook", &p).unwrap();
        assert_eq!(normalised.as_str(), "https://hooks.example.com/hook", "case, default port and dot segments normalise");
    }

    #[test]
    fn exempt_hosts_are_only_the_listed_host_and_port() {
        let p = OutboundPolicy { allow_hosts: vec!["127.0.0.1:4000".into()] };
        assert!(check_url("http://127.0.0.1:4000/hook", &p).is_ok());
        assert!(check_url("http://127.0.0.1:4001/hook", &p).is_err());
        assert!(literal_allowed(&Url::parse("http://127.0.0.1:4000/").unwrap(), &p));
        assert!(!literal_allowed(&Url::parse("http://127.0.0.1:4001/").unwrap(), &p));
    }

    #[tokio::test]
    async fn the_resolver_drops_internal_addresses() {
        let r = PublicOnlyResolver { allow_hosts: vec![] };
        let err = r.resolve("localhost".parse().unwrap()).await.err().expect("localhost refused");
        assert!(err.to_string().contains("private or internal"), "{err}");
    }
}
