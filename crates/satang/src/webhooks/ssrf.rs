//! Where webhooks may not go (server-side request forgery). Anyone with a test key can register a URL, so
//! a webhook is a request satang makes on a stranger's behalf from inside the operator's network.
//!
//! Every address falls in one of four classes ([`Reach`]):
//! - **public**: anywhere on the internet; always allowed;
//! - **loopback** (`127.0.0.0/8`, `::1`): allowed in test mode, so a shop on the developer's machine works;
//! - **private** (RFC 1918, CGNAT, IPv6 unique-local): refused unless the operator passes
//!   `--allow-private-webhooks` (a receiver on the same private network);
//! - **never**: link-local (which holds the cloud metadata service, `169.254.169.254` and `fd00:ec2::254`),
//!   unspecified, broadcast, multicast, documentation and reserved ranges: refused in every mode, opt-in or
//!   not: nothing legitimate listens there and the metadata service hands out cloud credentials.
//!
//! IPv6 can carry an IPv4 address in several ways (`::ffff:a.b.c.d` mapped, `::ffff:0:a.b.c.d` translated,
//! `::a.b.c.d` compatible, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4 `2002::/16`, Teredo `2001::/32`);
//! an IPv6 address is classed as the worst of itself and every IPv4 address it embeds, so `[::127.0.0.1]`
//! or `[2002:7f00:1::]` is loopback, not public.
//!
//! Live mode also requires `https`. The check runs when an endpoint is registered (resolving its host), on
//! a charge's own `webhook_endpoints` when it is created (literals only: a lookup there would put DNS on
//! every charge), and again on every send, through a resolver ([`PolicyResolver`]) that drops forbidden
//! addresses, so a name that later resolves inside (DNS rebinding) gets nowhere.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Where an address lies, from most to least reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reach {
    Public,
    Loopback,
    Private,
    Never,
}

/// The class of an address, IPv4 embedded in IPv6 included.
pub fn reach(ip: IpAddr) -> Reach {
    match ip {
        IpAddr::V4(v4) => reach_v4(v4),
        IpAddr::V6(v6) => reach_v6(v6),
    }
}

fn reach_v4(v4: Ipv4Addr) -> Reach {
    let o = v4.octets();
    if v4.is_loopback() {
        Reach::Loopback
    } else if v4.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
        // RFC 1918, and CGNAT 100.64.0.0/10
        Reach::Private
    } else if v4.is_link_local() // 169.254.0.0/16: the cloud metadata service
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || o[0] == 0
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18.0.0/15
        || o[0] >= 240
    {
        Reach::Never
    } else {
        Reach::Public
    }
}

fn v4_of(hi: u16, lo: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))
}

/// The IPv4 addresses an IPv6 address carries, by every embedding in use.
fn embedded_v4(v6: Ipv6Addr) -> Vec<Ipv4Addr> {
    let s = v6.segments();
    let mut found = Vec::new();
    let zero = |r: std::ops::Range<usize>| s[r].iter().all(|&x| x == 0);
    if zero(0..5) && s[5] == 0xffff {
        found.push(v4_of(s[6], s[7])); // ::ffff:a.b.c.d, IPv4-mapped
    }
    if zero(0..4) && s[4] == 0xffff && s[5] == 0 {
        found.push(v4_of(s[6], s[7])); // ::ffff:0:a.b.c.d, IPv4-translated (RFC 2765)
    }
    if zero(0..6) && !(s[6] == 0 && s[7] <= 1) {
        found.push(v4_of(s[6], s[7])); // ::a.b.c.d, IPv4-compatible (deprecated; not :: or ::1)
    }
    if s[0] == 0x64 && s[1] == 0xff9b && (zero(2..6) || s[2] == 1) {
        found.push(v4_of(s[6], s[7])); // NAT64 64:ff9b::/96 and the local-use 64:ff9b:1::/48
    }
    if s[0] == 0x2002 {
        found.push(v4_of(s[1], s[2])); // 6to4 2002:a.b.c.d::/48
    }
    if s[0] == 0x2001 && s[1] == 0 {
        found.push(v4_of(s[2], s[3])); // Teredo: the server
        found.push(v4_of(!s[6], !s[7])); // Teredo: the client, bits inverted
    }
    found
}

fn reach_v6(v6: Ipv6Addr) -> Reach {
    let s = v6.segments();
    let own = if v6.is_loopback() {
        Reach::Loopback
    } else if v6.is_unspecified()
        || v6.is_multicast()
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
    // AWS metadata over IPv6
    {
        Reach::Never
    } else if (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfec0 {
        // unique local fc00::/7, and the deprecated site-local fec0::/10
        Reach::Private
    } else {
        Reach::Public
    };
    embedded_v4(v6).into_iter().map(reach_v4).fold(own, Ord::max)
}

/// Why a URL may not receive webhooks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("live webhook endpoints must use https")]
    NotHttps,
    #[error("the URL has no host")]
    NoHost,
    /// The host, and the mode with what it allows.
    #[error("{0} is or resolves to a loopback, private, link-local or metadata address, which {1}")]
    Internal(String, &'static str),
    #[error("{0} does not resolve")]
    Unresolvable(String),
}

fn host_of(url: &str) -> Option<(String, u16)> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = parsed.host_str()?.trim_start_matches('[').trim_end_matches(']').to_string();
    Some((host, parsed.port_or_known_default().unwrap_or(443)))
}

/// The operator's webhook policy: which classes of address each mode may reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// `--allow-private-webhooks`: loopback and private networks in both modes (never link-local).
    pub allow_private: bool,
}

fn mode(live: bool) -> &'static str {
    if live {
        "live webhooks may not reach"
    } else {
        "test webhooks may not reach (test mode allows loopback; a private network needs the operator's --allow-private-webhooks)"
    }
}

impl Policy {
    /// Whether a webhook of this mode may reach `ip`.
    pub fn allows(&self, ip: IpAddr, live: bool) -> bool {
        match reach(ip) {
            Reach::Public => true,
            Reach::Loopback => self.allow_private || !live,
            Reach::Private => self.allow_private,
            Reach::Never => false,
        }
    }

    /// What can be checked without DNS: `https` in live mode, and a host that is a name or an allowed IP
    /// literal. Names are checked at registration by [`Policy::check`] and at every send by the resolver.
    pub fn check_literal(&self, url: &str, live: bool) -> Result<(), Refused> {
        if live && !url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) {
            return Err(Refused::NotHttps);
        }
        let (host, _) = host_of(url).ok_or(Refused::NoHost)?;
        match host.parse::<IpAddr>() {
            Ok(ip) if !self.allows(ip, live) => Err(Refused::Internal(host, mode(live))),
            _ => Ok(()),
        }
    }

    /// The whole check: the literal one, and every address the host resolves to.
    pub async fn check(&self, url: &str, live: bool) -> Result<(), Refused> {
        self.check_literal(url, live)?;
        let (host, port) = host_of(url).ok_or(Refused::NoHost)?;
        if host.parse::<IpAddr>().is_ok() {
            return Ok(());
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| Refused::Unresolvable(host.clone()))?
            .collect();
        if addrs.is_empty() {
            return Err(Refused::Unresolvable(host));
        }
        if addrs.iter().any(|a| !self.allows(a.ip(), live)) {
            return Err(Refused::Internal(host, mode(live)));
        }
        Ok(())
    }

    /// A DNS resolver for one mode's HTTP client that only returns addresses this policy allows.
    pub fn resolver(&self, live: bool) -> Arc<PolicyResolver> {
        Arc::new(PolicyResolver { policy: *self, live })
    }
}

/// See [`Policy::resolver`].
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    policy: Policy,
    live: bool,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let (policy, live) = (self.policy, self.live);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.filter(|a| policy.allows(a.ip(), live)).collect();
            if addrs.is_empty() {
                return Err(Box::new(Refused::Internal(host, mode(live))) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(ip: &str) -> Reach {
        reach(ip.parse().unwrap_or_else(|_| panic!("{ip}")))
    }

    #[test]
    fn addresses_are_classed() {
        for ip in ["127.0.0.1", "127.9.9.9", "::1"] {
            assert_eq!(r(ip), Reach::Loopback, "{ip}");
        }
        for ip in ["10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "fd00::1", "fc12::5"] {
            assert_eq!(r(ip), Reach::Private, "{ip}");
        }
        for ip in ["169.254.169.254", "0.0.0.0", "224.0.0.1", "fe80::1", "fd00:ec2::254", "::", "2001:db8::1"] {
            assert_eq!(r(ip), Reach::Never, "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "203.0.114.1", "64:ff9b::808:808", "2002:808:808::"] {
            assert_eq!(r(ip), Reach::Public, "{ip}");
        }
    }

    #[test]
    fn ipv4_inside_ipv6_is_classed_as_the_ipv4() {
        // The forms an attacker tried against live mode, and their relatives.
        for ip in [
            "::127.0.0.1",                          // IPv4-compatible
            "64:ff9b::7f00:1",                      // NAT64
            "64:ff9b:1::7f00:1",                    // local-use NAT64
            "2002:7f00:1::",                        // 6to4
            "::ffff:0:7f00:1",                      // IPv4-translated
            "::ffff:127.0.0.1",                     // IPv4-mapped
            "2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo, client 127.0.0.1 inverted
        ] {
            assert_eq!(r(ip), Reach::Loopback, "{ip}");
        }
        assert_eq!(r("::ffff:a9fe:a9fe"), Reach::Never); // 169.254.169.254, mapped
        assert_eq!(r("64:ff9b::a9fe:a9fe"), Reach::Never);
        assert_eq!(r("2002:a00:1::"), Reach::Private); // 10.0.0.1 by 6to4
        assert_eq!(r("::ffff:0:c0a8:101"), Reach::Private); // 192.168.1.1, translated
    }

    #[test]
    fn each_mode_reaches_what_the_policy_allows() {
        let strict = Policy::default();
        let open = Policy { allow_private: true };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(strict.allows(ip("127.0.0.1"), false), "test mode reaches the developer's machine");
        assert!(!strict.allows(ip("127.0.0.1"), true));
        assert!(!strict.allows(ip("10.0.0.7"), false));
        assert!(!strict.allows(ip("169.254.169.254"), false));
        assert!(open.allows(ip("10.0.0.7"), false) && open.allows(ip("10.0.0.7"), true));
        assert!(!open.allows(ip("169.254.169.254"), false), "metadata is never reachable");
        assert!(!open.allows(ip("fe80::1"), true));
    }

    #[tokio::test]
    async fn urls_are_checked_by_scheme_and_address() {
        let p = Policy::default();
        assert_eq!(p.check("http://example.com/hook", true).await, Err(Refused::NotHttps));
        assert!(matches!(p.check("https://127.0.0.1/hook", true).await, Err(Refused::Internal(..))));
        assert!(matches!(p.check("https://169.254.169.254/latest", true).await, Err(Refused::Internal(..))));
        assert!(matches!(p.check("http://169.254.169.254/latest", false).await, Err(Refused::Internal(..))));
        assert!(matches!(p.check("http://192.168.0.10/hook", false).await, Err(Refused::Internal(..))));
        assert!(matches!(p.check("https://[::1]:8443/hook", true).await, Err(Refused::Internal(..))));
        assert!(matches!(p.check("https://[::127.0.0.1]/hook", true).await, Err(Refused::Internal(..))));
        assert!(matches!(p.check("https://localhost/hook", true).await, Err(Refused::Internal(..))));
        assert!(p.check("http://127.0.0.1:9000/hook", false).await.is_ok());
        assert!(p.check("http://localhost:9000/hook", false).await.is_ok());
        assert!(p.check("https://8.8.8.8/hook", true).await.is_ok());
        // Without DNS: the scheme and IP literals only; names are left to the resolver.
        assert_eq!(p.check_literal("http://shop.example/x", true), Err(Refused::NotHttps));
        assert!(matches!(p.check_literal("https://10.0.0.5/x", true), Err(Refused::Internal(..))));
        assert!(matches!(p.check_literal("http://[64:ff9b::a9fe:a9fe]/x", false), Err(Refused::Internal(..))));
        assert!(p.check_literal("https://shop.example/x", true).is_ok());
        assert!(p.check_literal("http://shop.example/x", false).is_ok());
    }
}
