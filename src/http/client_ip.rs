//! Which address a request comes from, for rate limits and throttles.
//!
//! Without `http.trust_proxy` it is the socket peer. Behind a reverse proxy it is read from
//! `X-Forwarded-For`, whose leftmost entries the client writes itself: each proxy appends the
//! address it received the request from, so the client is the rightmost hop that is not one of
//! our own proxies (`http.trusted_proxies`, addresses or CIDR ranges). With no proxies listed,
//! the rightmost hop (the one our proxy appended) is taken.

use crate::validate::IpRange as Range;
use std::net::IpAddr;

/// How the client address is found.
#[derive(Debug, Clone)]
pub struct ProxyPolicy {
    trust_proxy: bool,
    trusted: Vec<Range>,
}

impl ProxyPolicy {
    /// `trusted` holds addresses or CIDR ranges; a malformed entry is an error naming it.
    pub fn new(trust_proxy: bool, trusted: &[String]) -> Result<Self, String> {
        let trusted = trusted
            .iter()
            .map(|s| Range::parse(s))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            trust_proxy,
            trusted,
        })
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|r| r.contains(ip))
    }

    /// The client address of a request from socket peer `peer` with the given
    /// `X-Forwarded-For` header values (in order).
    pub fn client(&self, peer: Option<IpAddr>, forwarded_for: &[&str]) -> Option<IpAddr> {
        if !self.trust_proxy {
            return peer;
        }
        let hops: Vec<IpAddr> = forwarded_for
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(|h| h.trim().parse().ok())
            .collect();
        if hops.is_empty() {
            return peer;
        }
        hops.iter()
            .rev()
            .find(|ip| !self.is_trusted(**ip))
            // Every hop is one of ours: the leftmost is as close to the client as we know.
            .or(hops.first())
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trust_the_peer_is_the_client_whatever_the_header_says() {
        let p = ProxyPolicy::new(false, &[]).unwrap();
        assert_eq!(
            p.client(Some(ip("10.0.0.1")), &["6.6.6.6"]),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client_not_what_the_client_wrote() {
        let p = ProxyPolicy::new(true, &["10.0.0.0/8".into(), "192.0.2.7".into()]).unwrap();
        // The client forged "1.1.1.1"; proxy 10.1.1.1 appended the real peer 203.0.113.9.
        let got = p.client(
            Some(ip("10.0.0.2")),
            &["1.1.1.1, 203.0.113.9", "10.1.1.1, 192.0.2.7"],
        );
        assert_eq!(got, Some(ip("203.0.113.9")));
        let only_ours = p.client(Some(ip("10.0.0.2")), &["10.9.9.9"]);
        assert_eq!(only_ours, Some(ip("10.9.9.9")));
        assert_eq!(p.client(Some(ip("10.0.0.2")), &[]), Some(ip("10.0.0.2")));
        assert_eq!(
            p.client(Some(ip("10.0.0.2")), &["junk"]),
            Some(ip("10.0.0.2"))
        );
    }

    #[test]
    fn with_no_proxies_listed_the_rightmost_hop_is_taken() {
        let p = ProxyPolicy::new(true, &[]).unwrap();
        assert_eq!(
            p.client(None, &["1.1.1.1, 203.0.113.9"]),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn ranges_parse_and_match_v4_v6_and_mapped() {
        assert!(ProxyPolicy::new(true, &["10.0.0.0/33".into()]).is_err());
        assert!(ProxyPolicy::new(true, &["nonsense".into()]).is_err());
        let r = Range::parse("2001:db8::/32").unwrap();
        assert!(r.contains(ip("2001:db8:1::1")));
        assert!(!r.contains(ip("2001:db9::1")));
        let r = Range::parse("0.0.0.0/0").unwrap();
        assert!(r.contains(ip("::ffff:1.2.3.4")));
    }
}
