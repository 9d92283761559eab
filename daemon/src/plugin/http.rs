//! The HTTP client a plugin gets: one place owns the policy. https only (plain http only to
//! 127.0.0.1), only the hosts the operator allowed for that plugin, redirects followed only to
//! the same host, response bodies capped, requests per run capped, time bounded by the run's
//! budget, and no way into the local network through an allowed name.
//!
//! **DNS rebinding.** An allowed host name must not lead to a loopback, private, link-local,
//! shared (CGNAT), unspecified, multicast or reserved address, unless the operator allowed
//! that very address literally (`allowed_hosts = ["127.0.0.1:8080"]`, as the tests do). The
//! check runs inside ureq's name resolution ([`PinnedResolver`], a custom `Resolver` given to
//! the agent): ureq connects to exactly the addresses the resolver returns, so the addresses
//! checked are the addresses connected to; there is no second look-up an attacker's DNS
//! server could answer differently. Each redirect hop resolves (and is checked) again.
//! Environment proxies are not used for plugin requests: through a proxy the proxy would
//! resolve the name, out of reach of the check.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// What the plugin may reach.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `host`, `host:port`, `*.domain` or `*.domain:port`.
    pub allowed: Vec<String>,
    pub max_response_bytes: u64,
}

/// Why a request did not get an answer (mirrors the WIT `http-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpFailure {
    Denied(String),
    Timeout,
    TooLarge(u64),
    /// The run's request limit (this many requests) was reached.
    RequestLimit(u32),
    Transport(String),
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

const MAX_REDIRECTS: usize = 5;
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// Why an address is not on the public internet, or `None` when it is.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip.is_unspecified() || a == 0 => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        _ if ip.is_link_local() => "link-local",
        _ if a == 100 && (64..128).contains(&b) => "shared (carrier-grade NAT)",
        _ if ip.is_multicast() => "multicast",
        _ if ip.is_broadcast() || a >= 240 => "reserved",
        _ if a == 192 && b == 0 && c == 0 => "reserved (IETF protocol assignments)",
        _ if a == 198 && (18..20).contains(&b) => "reserved (benchmarking)",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let seg = ip.segments();
    // IPv4 inside IPv6: mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and the deprecated
    // compatible form (::a.b.c.d) reach the IPv4 address.
    let embedded = Ipv4Addr::new((seg[6] >> 8) as u8, seg[6] as u8, (seg[7] >> 8) as u8, seg[7] as u8);
    Some(match () {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if seg[..5] == [0; 5] && (seg[5] == 0xffff || seg[5] == 0) => {
            return non_public_v4(embedded);
        }
        _ if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] => return non_public_v4(embedded),
        _ if seg[0] & 0xfe00 == 0xfc00 => "private (unique local)",
        _ if seg[0] & 0xffc0 == 0xfe80 => "link-local",
        _ if seg[0] & 0xffc0 == 0xfec0 => "site-local",
        _ if ip.is_multicast() => "multicast",
        _ => return None,
    })
}

/// ureq's resolver with the policy's address check: every address a name resolves to must be
/// public or allowed literally, else the request is refused before any connection is made.
/// ureq connects to what this returns, so what was checked is what is connected to.
#[derive(Debug)]
pub struct PinnedResolver {
    inner: Arc<dyn Resolver>,
    /// Addresses the operator allowed literally, with the port when one was given.
    literals: Vec<(IpAddr, Option<u16>)>,
}

/// A request refused by [`PinnedResolver`] (carried through ureq as `Error::Other`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(String);

impl PinnedResolver {
    fn permitted(&self, ip: IpAddr, port: u16) -> bool {
        non_public(ip).is_none()
            || self.literals.iter().any(|(a, p)| same_ip(*a, ip) && p.is_none_or(|p| p == port))
    }
}

/// Equal addresses, an IPv4 address and its IPv6-mapped form included.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

impl Resolver for PinnedResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let addrs = self.inner.resolve(uri, config, timeout)?;
        let host = uri.host().unwrap_or_default();
        if let Some(bad) = addrs.iter().find(|a| !self.permitted(a.ip(), a.port())) {
            let kind = non_public(bad.ip()).unwrap_or("local");
            let message = if host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok() {
                format!(
                    "`{host}` is a {kind} address; the operator can allow it literally with `allowed_hosts = [\"{host}:{}\"]`",
                    bad.port()
                )
            } else {
                format!(
                    "`{host}` resolves to a {kind} address ({}); a host name may only lead to public addresses (allow the address itself if it is meant)",
                    bad.ip()
                )
            };
            return Err(ureq::Error::Other(Box::new(Refused(message))));
        }
        Ok(addrs)
    }
}

impl Policy {
    /// Checks a URL's scheme and host against the policy; returns the parsed URI when the
    /// plugin may request it. The addresses the host leads to are checked when the request
    /// resolves it ([`PinnedResolver`]).
    pub fn check(&self, url: &str) -> Result<Uri, HttpFailure> {
        let uri: Uri =
            url.parse().map_err(|_| HttpFailure::Denied(format!("`{url}` is not an absolute URL")))?;
        let host = uri.host().ok_or_else(|| HttpFailure::Denied(format!("`{url}` has no host")))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let loopback = host == "127.0.0.1";
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if loopback => {}
            _ => {
                return Err(HttpFailure::Denied(format!(
                    "`{url}`: only https is allowed (plain http only to 127.0.0.1)"
                )))
            }
        }
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(HttpFailure::Denied(format!("`{url}`: credentials in URLs are not allowed")));
        }
        let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
        if !self.allowed.iter().any(|pattern| matches(pattern, &host, port)) {
            return Err(HttpFailure::Denied(format!(
                "host `{host}:{port}` is not allowed for this plugin; the operator can add `allowed_hosts = [\"{host}\"]` to its [plugins.<name>] section"
            )));
        }
        Ok(uri)
    }

    /// The literal addresses among the allowed hosts, with their ports when given.
    fn literals(&self) -> Vec<(IpAddr, Option<u16>)> {
        self.allowed
            .iter()
            .filter_map(|pattern| {
                let (host, port) = split_pattern(pattern);
                Some((host.parse::<IpAddr>().ok()?, port))
            })
            .collect()
    }

    /// Sends a request within `budget`, following same-host redirects. `count` is called once
    /// per request actually sent (redirect hops included) and may refuse it.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
        budget: Duration,
        count: impl FnMut() -> Result<(), HttpFailure>,
    ) -> Result<Answer, HttpFailure> {
        self.send_with(Arc::new(DefaultResolver::default()), method, url, headers, body, budget, count)
    }

    /// [`Policy::send`] with the name look-up `lookup` (tests give a fake DNS).
    #[allow(clippy::too_many_arguments)]
    fn send_with(
        &self,
        lookup: Arc<dyn Resolver>,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
        budget: Duration,
        mut count: impl FnMut() -> Result<(), HttpFailure>,
    ) -> Result<Answer, HttpFailure> {
        let method = method.to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(HttpFailure::Denied(format!("method `{method}` is not allowed")));
        }
        let started = std::time::Instant::now();
        let mut uri = self.check(url)?;
        let first_host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let literals = self.literals();
        let mut method = method;
        let mut body = body.map(<[u8]>::to_vec);
        for _hop in 0..=MAX_REDIRECTS {
            count()?;
            let left =
                budget.checked_sub(started.elapsed()).filter(|d| !d.is_zero()).ok_or(HttpFailure::Timeout)?;
            let config = ureq::Agent::config_builder()
                .max_redirects(0)
                .http_status_as_error(false)
                .timeout_global(Some(left))
                .user_agent("dunwell-connector")
                // Direct connections only: a proxy would resolve names past the check.
                .proxy(None)
                .build();
            let resolver = PinnedResolver { inner: lookup.clone(), literals: literals.clone() };
            let agent = ureq::Agent::with_parts(config, DefaultConnector::default(), resolver);
            let mut req = ureq::http::Request::builder().method(method.as_str()).uri(uri.clone());
            for (k, v) in headers {
                if k.eq_ignore_ascii_case("host") || k.eq_ignore_ascii_case("content-length") {
                    continue;
                }
                req = req.header(k.as_str(), v.as_str());
            }
            let req = req
                .body(body.clone().unwrap_or_default())
                .map_err(|e| HttpFailure::Denied(format!("malformed request: {e}")))?;
            let resp = agent.run(req).map_err(|e| classify(e, self.max_response_bytes))?;
            let status = resp.status().as_u16();
            let resp_headers: Vec<(String, String)> = resp
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            if (300..400).contains(&status) && status != 304 {
                if let Some(loc) = resp.headers().get("location").and_then(|v| v.to_str().ok()) {
                    let next = resolve(&uri, loc)?;
                    let next_uri = self.check(&next)?;
                    let next_host = next_uri.host().unwrap_or_default().to_ascii_lowercase();
                    if next_host != first_host {
                        return Err(HttpFailure::Denied(format!(
                            "redirect from `{first_host}` to another host `{next_host}`"
                        )));
                    }
                    if status == 303 || ((status == 301 || status == 302) && method == "POST") {
                        method = "GET".into();
                        body = None;
                    }
                    uri = next_uri;
                    continue;
                }
            }
            let body = resp
                .into_body()
                .with_config()
                .limit(self.max_response_bytes)
                .read_to_vec()
                .map_err(|e| classify(e, self.max_response_bytes))?;
            return Ok(Answer { status, headers: resp_headers, body });
        }
        Err(HttpFailure::Denied(format!("more than {MAX_REDIRECTS} redirects")))
    }
}

fn classify(e: ureq::Error, limit: u64) -> HttpFailure {
    match e {
        ureq::Error::Timeout(_) => HttpFailure::Timeout,
        ureq::Error::BodyExceedsLimit(_) => HttpFailure::TooLarge(limit),
        ureq::Error::Other(inner) => match inner.downcast::<Refused>() {
            Ok(refused) => HttpFailure::Denied(refused.0),
            Err(other) => HttpFailure::Transport(other.to_string()),
        },
        other => HttpFailure::Transport(other.to_string()),
    }
}

/// A `Location` header against the URL it came from.
fn resolve(base: &Uri, location: &str) -> Result<String, HttpFailure> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return Ok(location.to_string());
    }
    let scheme = base.scheme_str().unwrap_or("https");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
    if let Some(rest) = location.strip_prefix("//") {
        return Ok(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Ok(format!("{scheme}://{authority}{location}"));
    }
    let path = base.path();
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    Ok(format!("{scheme}://{authority}{dir}{location}"))
}

/// An allowed-host pattern as (host, port): `host`, `host:port`, `*.domain[:port]`, an IPv4
/// address with or without port, an IPv6 address bare (`::1`) or bracketed (`[::1]:8080`).
fn split_pattern(pattern: &str) -> (String, Option<u16>) {
    let p = pattern.trim().to_ascii_lowercase();
    if let Some((h, tail)) = p.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
        return (h.to_string(), tail.strip_prefix(':').and_then(|t| t.parse().ok()));
    }
    match p.rsplit_once(':') {
        // More than one colon without brackets: a bare IPv6 address, no port.
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            match port.parse() {
                Ok(n) => (h.to_string(), Some(n)),
                Err(_) => (p, None),
            }
        }
        _ => (p, None),
    }
}

fn matches(pattern: &str, host: &str, port: u16) -> bool {
    let (p_host, p_port) = split_pattern(pattern);
    if p_port.is_some_and(|p| p != port) {
        return false;
    }
    match p_host.strip_prefix("*.") {
        Some(domain) => host.len() > domain.len() + 1 && host.ends_with(&format!(".{domain}")),
        None => p_host == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str]) -> Policy {
        Policy { allowed: allowed.iter().map(|s| s.to_string()).collect(), max_response_bytes: 1 << 20 }
    }

    #[test]
    fn allow_list_grammar() {
        let p = policy(&["127.0.0.1:8080", "*.example.org"]);
        assert!(p.check("http://127.0.0.1:8080/a").is_ok());
        assert!(p.check("http://127.0.0.1:8081/a").is_err());
        assert!(p.check("http://api.example.org/a").is_err(), "plain http only to 127.0.0.1");
        assert!(p.check("https://example.org/a").is_err(), "*.x does not match x itself");
        assert!(p.check("https://user:pw@127.0.0.1:8080/").is_err());
        let Err(HttpFailure::Denied(m)) = policy(&[]).check("https://evil.example.com/x") else { panic!() };
        assert!(m.contains("allowed_hosts = [\"evil.example.com\"]"), "{m}");
        let p = policy(&["[::1]:8443", "fd00::7", "h.example:99999"]);
        assert!(p.check("https://[::1]:8443/").is_ok());
        assert!(p.check("https://[::1]:8444/").is_err());
        assert!(p.check("https://[fd00::7]:1234/").is_ok(), "a bare IPv6 address: any port");
        assert!(p.check("https://h.example/").is_err(), "a port out of range matches nothing");
    }

    #[test]
    fn addresses_outside_the_public_internet_are_classified() {
        let kind = |s: &str| non_public(s.parse().unwrap());
        for (ip, expect) in [
            ("127.0.0.1", Some("loopback")),
            ("127.255.0.9", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("192.168.1.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("unspecified")),
            ("100.64.0.1", Some("shared (carrier-grade NAT)")),
            ("224.0.0.251", Some("multicast")),
            ("255.255.255.255", Some("reserved")),
            ("240.0.0.1", Some("reserved")),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("fd12:3456::1", Some("private (unique local)")),
            ("fe80::1", Some("link-local")),
            ("ff02::1", Some("multicast")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.0.0.1", Some("private")),
            ("64:ff9b::a9fe:a9fe", Some("link-local")),
            ("::127.0.0.1", Some("loopback")),
        ] {
            assert_eq!(kind(ip), expect, "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(kind(ip), None, "{ip} is public");
        }
    }

    #[test]
    fn literal_allowances_are_read_with_their_ports() {
        let p =
            policy(&["127.0.0.1:8080", "10.0.0.1", "[::1]:9000", "fd00::2", "*.example.org", "localhost:80"]);
        assert_eq!(
            p.literals(),
            vec![
                ("127.0.0.1".parse().unwrap(), Some(8080)),
                ("10.0.0.1".parse().unwrap(), None),
                ("::1".parse().unwrap(), Some(9000)),
                ("fd00::2".parse().unwrap(), None),
            ]
        );
    }

    /// A fake DNS: every name resolves to `addrs` (with the URL's port); counts look-ups.
    #[derive(Debug)]
    struct FakeDns {
        addrs: Vec<IpAddr>,
        lookups: std::sync::atomic::AtomicUsize,
    }

    impl Resolver for FakeDns {
        fn resolve(
            &self,
            uri: &Uri,
            _config: &ureq::config::Config,
            _timeout: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            self.lookups.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let port = uri.port_u16().unwrap_or(443);
            let mut out = self.empty();
            for ip in &self.addrs {
                out.push(std::net::SocketAddr::new(*ip, port));
            }
            Ok(out)
        }
    }

    fn fake(addrs: &[&str]) -> Arc<FakeDns> {
        Arc::new(FakeDns {
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            lookups: Default::default(),
        })
    }

    /// A TCP listener that counts the connections it receives.
    fn listener() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in l.incoming().flatten() {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(stream); // no TLS here: the client's handshake fails
            }
        });
        (port, hits)
    }

    fn get(p: &Policy, dns: &Arc<FakeDns>, url: &str) -> Result<Answer, HttpFailure> {
        p.send_with(dns.clone(), "GET", url, &[], None, Duration::from_secs(5), || Ok(()))
    }

    #[test]
    fn an_allowed_name_that_resolves_into_the_local_network_is_refused_before_connecting() {
        let (port, hits) = listener();
        let url = format!("https://api.example.com:{port}/x");
        let p = policy(&["api.example.com"]);
        for answer in
            [&["127.0.0.1"][..], &["10.0.0.5"], &["93.184.216.34", "127.0.0.1"], &["::ffff:127.0.0.1"]]
        {
            let dns = fake(answer);
            let Err(HttpFailure::Denied(m)) = get(&p, &dns, &url) else {
                panic!("{answer:?} must be refused")
            };
            assert!(m.starts_with("`api.example.com` resolves to a "), "{m}");
            assert!(m.contains("may only lead to public addresses"), "{m}");
            assert_eq!(dns.lookups.load(std::sync::atomic::Ordering::SeqCst), 1, "one look-up, checked");
        }
        let Err(HttpFailure::Denied(m)) = get(&p, &fake(&["169.254.169.254"]), &url) else { panic!() };
        assert!(m.contains("link-local address (169.254.169.254)"), "{m}");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "no connection was made");
    }

    #[test]
    fn the_connection_goes_to_the_checked_address() {
        // The operator allowed the name and, literally, the address it leads to: ureq connects
        // to what the resolver returned (the name exists in no real DNS).
        let (port, hits) = listener();
        let p = policy(&["api.example.com", &format!("127.0.0.1:{port}")]);
        let dns = fake(&["127.0.0.1"]);
        let result = get(&p, &dns, &format!("https://api.example.com:{port}/x"));
        assert!(matches!(result, Err(HttpFailure::Transport(_))), "the TLS handshake fails after connecting");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1, "connected to the pinned address");
        assert_eq!(dns.lookups.load(std::sync::atomic::Ordering::SeqCst), 1);
        // The literal allowance is for that port only.
        let p = policy(&["api.example.com", "127.0.0.1:1"]);
        assert!(matches!(
            get(&p, &fake(&["127.0.0.1"]), &format!("https://api.example.com:{port}/")),
            Err(HttpFailure::Denied(_))
        ));
    }

    #[test]
    fn an_allowed_literal_address_is_reached_even_when_local() {
        let (port, hits) = listener();
        // Plain http to 127.0.0.1 with the real resolver, as the tests and a local proxy use it.
        let p = policy(&[&format!("127.0.0.1:{port}")]);
        let result =
            p.send("GET", &format!("http://127.0.0.1:{port}/"), &[], None, Duration::from_secs(5), || Ok(()));
        assert!(
            matches!(result, Err(HttpFailure::Transport(_))),
            "the listener hangs up: {:?}",
            result.err()
        );
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn relative_redirects() {
        let base: Uri = "https://a.example/x/y?z=1".parse().unwrap();
        assert_eq!(resolve(&base, "/b").unwrap(), "https://a.example/b");
        assert_eq!(resolve(&base, "c").unwrap(), "https://a.example/x/c");
        assert_eq!(resolve(&base, "https://b.example/").unwrap(), "https://b.example/");
    }
}
