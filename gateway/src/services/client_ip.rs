//! Who is asking: the peer address, or, when the peer is a trusted proxy, the address it
//! reports in `X-Forwarded-For`. Headers from anyone else are ignored, so a client cannot
//! choose its own rate-limit bucket. Rate limits count a [`ClientAddress::network`].

use std::net::{IpAddr, Ipv6Addr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Where a request comes from, worked out once per request (`http::extract::client`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress {
    /// The client's address, IPv4-mapped IPv6 addresses written as IPv4.
    pub ip: IpAddr,
    /// The peer is a trusted proxy that sent no `X-Forwarded-For`: every client behind it
    /// shares the proxy's address, which is a misconfigured proxy.
    pub proxy_without_forwarded_for: bool,
}

impl ClientAddress {
    /// The peer address, or, when the peer is a trusted proxy, the nearest untrusted hop of
    /// its `X-Forwarded-For` chain.
    pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> ClientAddress {
        let peer = peer.to_canonical();
        let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
        if !is_trusted(&peer) {
            return ClientAddress {
                ip: peer,
                proxy_without_forwarded_for: false,
            };
        }
        // Walk the chain from the nearest hop outwards; the first untrusted hop is the client.
        let hops: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .map(|ip| ip.to_canonical())
            .collect();
        let ip = hops
            .iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .or(hops.first())
            .copied()
            .unwrap_or(peer);
        ClientAddress {
            ip,
            proxy_without_forwarded_for: hops.is_empty(),
        }
    }

    /// The network a rate limit counts: an IPv4 address, or the /64 of an IPv6 address (one
    /// subscriber's share, which one person can hop around in at will).
    pub fn network(&self) -> IpAddr {
        match self.ip {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        let h = headers("203.0.113.7, 10.0.0.9");
        assert_eq!(
            ClientAddress::resolve(proxy, &h, &trusted).ip,
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(ClientAddress::resolve(stranger, &h, &trusted).ip, stranger);
        assert_eq!(ClientAddress::resolve(proxy, &h, &[]).ip, proxy);
        // A spoofed leftmost entry does not help a client behind a trusted proxy.
        let h = headers("1.2.3.4, 203.0.113.7");
        assert_eq!(
            ClientAddress::resolve(proxy, &h, &trusted).ip,
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn mapped_addresses_are_ipv4_and_match_ipv4_ranges() {
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().unwrap();
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        let h = headers("::ffff:203.0.113.7");
        let found = ClientAddress::resolve(mapped, &h, &trusted);
        assert_eq!(found.ip, "203.0.113.7".parse::<IpAddr>().unwrap());
        assert!(!found.proxy_without_forwarded_for);
        let direct = ClientAddress::resolve(mapped, &HeaderMap::new(), &[]);
        assert_eq!(direct.ip, "10.0.0.5".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_trusted_proxy_without_the_header_is_noticed() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        let found = ClientAddress::resolve(proxy, &HeaderMap::new(), &trusted);
        assert_eq!(found.ip, proxy);
        assert!(found.proxy_without_forwarded_for);
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert!(
            !ClientAddress::resolve(stranger, &HeaderMap::new(), &trusted)
                .proxy_without_forwarded_for
        );
    }

    #[test]
    fn ipv6_counts_by_its_64_and_ipv4_by_address() {
        let a = ClientAddress::resolve(
            "2001:db8:1:2:aaaa::1".parse().unwrap(),
            &HeaderMap::new(),
            &[],
        );
        let b = ClientAddress::resolve(
            "2001:db8:1:2:ffff::9".parse().unwrap(),
            &HeaderMap::new(),
            &[],
        );
        let c = ClientAddress::resolve("2001:db8:1:3::1".parse().unwrap(), &HeaderMap::new(), &[]);
        assert_eq!(a.network(), b.network());
        assert_ne!(a.network(), c.network());
        assert_eq!(a.network(), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let v4 = ClientAddress::resolve("203.0.113.7".parse().unwrap(), &HeaderMap::new(), &[]);
        assert_eq!(v4.network(), "203.0.113.7".parse::<IpAddr>().unwrap());
    }
}
