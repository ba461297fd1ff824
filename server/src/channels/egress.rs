//! The HTTP client for requests to addresses that users supply (Web Push endpoints, the JWKS),
//! and the extra CA every outbound TLS client trusts. A URL that passed the allow-list can still be
//! steered inside: by a redirect, or by a name that resolves (now, or after a DNS change) to
//! a private address. So this client follows no redirects, and resolves names itself,
//! keeping only public addresses, at connect time: the address checked is the address used.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A client builder with the egress rules set: no redirects, public addresses only.
/// IP-literal URLs skip name resolution; the allow-list admits those only when listed verbatim.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(PublicResolver))
}

/// Resolves with the system resolver and drops every non-public address; a name left with
/// none is an error, so the request is never sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct PublicResolver;

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// An error with its causes (`reqwest`'s own text omits them, and the cause is what says
/// "resolved to a non-public address"), joined by `: `.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared,
/// multicast, documentation, benchmarking, reserved or unspecified, also when an IPv6 address
/// embeds an IPv4 one (mapped, NAT64).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                  // "this network"
        || a == 10                            // private
        || a == 127                           // loopback
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254)             // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))  // private
        || (a == 192 && b == 0 && c == 0)     // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)     // documentation
        || (a == 192 && b == 168)             // private
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100)  // documentation
        || (a == 203 && b == 0 && c == 113)   // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0) {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || s[0..6].iter().all(|&x| x == 0)) // IPv4-compatible (deprecated) and the like
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "0.0.0.0",
            "10.1.2.3",
            "127.0.0.1",
            "100.64.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} counted as public");
        }
    }

    #[test]
    fn internet_addresses_are_public() {
        for ip in [
            "8.8.8.8",
            "142.250.74.110",
            "172.32.0.1",
            "100.128.0.1",
            "2a00:1450:4001:80b::200a",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} counted as private");
        }
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused() {
        let r = PublicResolver.resolve("localhost".parse().unwrap()).await;
        assert!(r.is_err(), "localhost resolved to a public address");
    }

    /// A local HTTP server answering every request with `status` and `Location: location`,
    /// counting the requests it gets.
    async fn server(
        status: u16,
        location: Option<String>,
    ) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let app = axum::Router::new().fallback(move || {
            let counted = counted.clone();
            let location = location.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                let mut r = axum::http::Response::builder().status(status);
                if let Some(l) = location {
                    r = r.header("location", l);
                }
                r.body(axum::body::Body::empty()).unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr, hits)
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        use std::sync::atomic::Ordering;
        let (inner, inner_hits) = server(201, None).await;
        let (outer, outer_hits) = server(307, Some(format!("http://{inner}/internal"))).await;
        let client = client_builder().build().unwrap();
        let r = client
            .post(format!("http://{outer}/push"))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 307);
        assert_eq!(outer_hits.load(Ordering::SeqCst), 1);
        assert_eq!(
            inner_hits.load(Ordering::SeqCst),
            0,
            "the redirect was followed"
        );
        // The same request with reqwest's default policy does reach the inner server, so the
        // test would notice a client that follows redirects.
        let followed = reqwest::Client::new()
            .post(format!("http://{outer}/push"))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(followed.status().as_u16(), 201);
        assert_eq!(inner_hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_private_address_is_never_connected_to() {
        use std::sync::atomic::Ordering;
        let (addr, hits) = server(201, None).await;
        let url = format!("http://localhost:{}/push", addr.port());
        let refused = client_builder().build().unwrap().post(&url).send().await;
        let error = refused.expect_err("the guarded client reached localhost");
        // The outbox records why, so an operator can tell it from an outage.
        assert!(
            chain(&error).contains("no public address"),
            "{}",
            chain(&error)
        );
        assert_eq!(hits.load(Ordering::SeqCst), 0);
        // Control: a client without the resolver does reach it.
        let reached = reqwest::Client::new().post(&url).send().await.unwrap();
        assert_eq!(reached.status().as_u16(), 201);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }
}
