//! Where live-mode webhooks may not go (server-side request forgery): only `https`, and never to loopback,
//! private, link-local, CGNAT, multicast, unspecified or cloud-metadata addresses. The check runs when an
//! endpoint is added (resolving its host) and again on every send, through a DNS resolver that drops
//! forbidden addresses, so a name that later resolves to an internal address (DNS rebinding) gets nowhere.
//! Test mode allows `http` and loopback so a shop on the developer's machine works.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Whether live webhooks may reach this address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)) // AWS metadata over IPv6
        }
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local() // includes 169.254.169.254, the cloud metadata service
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64.0.0/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18.0.0/15
        || o[0] >= 240)
}

/// Why a URL may not receive live webhooks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("live webhook endpoints must use https")]
    NotHttps,
    #[error("the URL has no host")]
    NoHost,
    #[error("{0} resolves to a loopback, private, link-local or metadata address, which live webhooks may not reach")]
    Internal(String),
    #[error("{0} does not resolve")]
    Unresolvable(String),
}

fn host_of(url: &str) -> Option<(String, u16)> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = parsed.host_str()?.trim_start_matches('[').trim_end_matches(']').to_string();
    Some((host, parsed.port_or_known_default().unwrap_or(443)))
}

/// What can be checked of a live endpoint URL without DNS: https, and a host that is either a name or a
/// public IP literal. A charge's own `webhook_endpoints` are checked this far when the charge is created
/// (a lookup there would put DNS latency on every live charge), and every live send checks it again (an
/// IP literal never goes through the resolver); names are checked at every send by [`PublicOnlyResolver`],
/// which also covers a name that later resolves inside.
pub fn check_live_url_literal(url: &str) -> Result<(), Refused> {
    if !url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) {
        return Err(Refused::NotHttps);
    }
    let (host, _) = host_of(url).ok_or(Refused::NoHost)?;
    match host.parse::<IpAddr>() {
        Ok(ip) if !is_public(ip) => Err(Refused::Internal(host)),
        _ => Ok(()),
    }
}

/// Checks a live endpoint URL: https, and every address its host resolves to is public.
pub async fn check_live_url(url: &str) -> Result<(), Refused> {
    check_live_url_literal(url)?;
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
    if addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(Refused::Internal(host));
    }
    Ok(())
}

/// A DNS resolver for the live-mode HTTP client that only ever returns public addresses.
#[derive(Debug, Default, Clone)]
pub struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.filter(|a| is_public(a.ip())).collect();
            if addrs.is_empty() {
                return Err(Box::new(Refused::Internal(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

pub fn resolver() -> Arc<PublicOnlyResolver> {
    Arc::new(PublicOnlyResolver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "fd00:ec2::254",
            "224.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "203.0.114.1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn live_urls_must_be_https_and_public() {
        assert_eq!(check_live_url("http://example.com/hook").await, Err(Refused::NotHttps));
        assert!(matches!(check_live_url("https://127.0.0.1/hook").await, Err(Refused::Internal(_))));
        assert!(matches!(check_live_url("https://169.254.169.254/latest").await, Err(Refused::Internal(_))));
        assert!(matches!(check_live_url("https://[::1]:8443/hook").await, Err(Refused::Internal(_))));
        assert!(matches!(check_live_url("https://localhost/hook").await, Err(Refused::Internal(_))));
        assert!(check_live_url("https://8.8.8.8/hook").await.is_ok());
        // Without DNS: the scheme and IP literals only; names are left to the resolver.
        assert_eq!(check_live_url_literal("http://shop.example/x"), Err(Refused::NotHttps));
        assert!(matches!(check_live_url_literal("https://10.0.0.5/x"), Err(Refused::Internal(_))));
        assert!(check_live_url_literal("https://shop.example/x").is_ok());
        assert!(check_live_url_literal("https://localhost/x").is_ok());
    }
}
