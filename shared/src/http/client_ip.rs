//! Which address a request came from, for per-IP limits and the audit log. Forwarded headers are
//! written by whoever sends them, so only hops added by a proxy we trust count: walk
//! `X-Forwarded-For` plus the peer from the right, skip trusted proxies, and the first other hop is the
//! client. With no trusted proxies (the default) the peer is the client, whatever the headers say.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The proxies (addresses or CIDRs) whose `X-Forwarded-For` entries are believed (`WEBTRIGGER_TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of IPs and CIDRs; empty means none.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let nets = raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<IpNet>().or_else(|_| s.parse::<IpAddr>().map(IpNet::from)).map_err(|_| format!("`{s}` is not an IP address or CIDR")))
            .collect::<Result<_, _>>()?;
        Ok(Self(nets))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client: the right-most hop of `X-Forwarded-For` + `peer` that is not a trusted proxy. A hop
    /// that does not parse ends the walk at the last trusted hop (what lies left of it is not evidence).
    pub fn client(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<IpAddr> {
        let peer = peer.map(canonical)?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        // Several X-Forwarded-For headers are one list in order (RFC 9110 §5.3).
        let forwarded: Vec<&str> = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim).collect();
        let mut client = peer;
        for hop in forwarded.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>().map(canonical) else { break };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        Some(client)
    }
}

/// `::ffff:a.b.c.d` is the IPv4 client seen through a dual-stack socket; one bucket per client either way.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", value.parse().unwrap());
        h
    }

    #[test]
    fn right_most_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.0.2.7").unwrap();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // (trusted proxies, X-Forwarded-For, peer, expected client, why)
        let cases = [
            (&TrustedProxies::default(), "203.0.113.9", "198.51.100.1", "198.51.100.1", "no trusted proxies: headers are ignored"),
            (&proxies, "6.6.6.6, 198.51.100.1", "10.1.2.3", "198.51.100.1", "a spoofed left hop is not the client"),
            (&proxies, "6.6.6.6, 198.51.100.1, 192.0.2.7", "10.1.2.3", "198.51.100.1", "two trusted proxies are skipped"),
            (&proxies, "198.51.100.1", "198.51.100.2", "198.51.100.2", "an untrusted peer's header is not believed"),
            (&proxies, "garbage, 198.51.100.1", "10.1.2.3", "198.51.100.1", "left of the client does not matter"),
            (&proxies, "198.51.100.1, garbage", "10.1.2.3", "10.1.2.3", "an unparsable hop stops at the last trusted one"),
            (&proxies, "", "10.1.2.3", "10.1.2.3", "a trusted peer without the header is the client"),
            (&proxies, "10.9.9.9", "::ffff:10.1.2.3", "10.9.9.9", "IPv4-mapped peer matches an IPv4 range"),
        ];
        for (trusted, forwarded, peer, expected, why) in cases {
            assert_eq!(trusted.client(&xff(forwarded), ip(peer)), ip(expected), "{why}");
        }
        let mut two = xff("6.6.6.6");
        two.append("x-forwarded-for", "198.51.100.1".parse().unwrap());
        assert_eq!(proxies.client(&two, ip("10.1.2.3")), ip("198.51.100.1"), "repeated headers are one list");
        assert_eq!(proxies.client(&HeaderMap::new(), None), None);
    }

    #[test]
    fn bad_lists_are_refused() {
        assert!(TrustedProxies::parse("").unwrap() == TrustedProxies::default());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
        assert_eq!(TrustedProxies::parse("::1, 10.0.0.0/8").unwrap().0.len(), 2);
    }
}
