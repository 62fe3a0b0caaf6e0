//! Who is asking: the peer address, or, when the peer is a trusted proxy, the address it
//! reports in `X-Forwarded-For`. Headers from anyone else are ignored, so a client cannot
//! choose its own rate-limit bucket.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
use ipnet::IpNet;
use tower_governor::GovernorError;
use tower_governor::key_extractor::KeyExtractor;

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Walk the chain from the nearest hop outwards; the first untrusted hop is the client.
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

/// tower-governor's key: the client address as above.
#[derive(Clone)]
pub struct ClientIpKey {
    pub trusted: Arc<Vec<IpNet>>,
}

impl KeyExtractor for ClientIpKey {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or(GovernorError::UnableToExtractKey)?;
        Ok(client_ip(peer, req.headers(), &self.trusted))
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
            client_ip(proxy, &h, &trusted),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_ip(stranger, &h, &trusted), stranger);
        assert_eq!(client_ip(proxy, &h, &[]), proxy);
        // A spoofed leftmost entry does not help a client behind a trusted proxy.
        let h = headers("1.2.3.4, 203.0.113.7");
        assert_eq!(
            client_ip(proxy, &h, &trusted),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
    }
}
