//! The HTTP client a plugin gets: one place owns the policy. https only (plain http only to
//! 127.0.0.1), only the hosts the operator allowed for that plugin, redirects followed one hop
//! at a time (at most 5, each checked like the first request and only to the same host),
//! response bodies capped while they are read, requests per run capped, time bounded by the
//! run's budget, and no way into the local network through an allowed name.
//!
//! The requests go through reqwest on the run's tokio runtime (the host is wasmtime async),
//! built from the binary's one client setup ([`crate::http::client_builder`]: rustls, no
//! environment proxies, no automatic redirects or retries).
//!
//! **DNS rebinding.** An allowed host name must not lead to a loopback, private, link-local,
//! shared (CGNAT), unspecified, multicast or reserved address, unless the operator allowed
//! that very address literally (`allowed_hosts = ["127.0.0.1:8080"]`, as the tests do). The
//! check runs inside reqwest's name resolution ([`PinnedResolver`], a custom
//! `reqwest::dns::Resolve` given to the client with `dns_resolver`): reqwest connects to exactly
//! the addresses the resolver returns, so the addresses checked are the addresses connected
//! to; there is no second look-up an attacker's DNS server could answer differently. reqwest
//! does not call the resolver for a URL whose host is an address, so [`Client::send`] checks
//! those itself before each request. Connections are not pooled: every request, each redirect
//! hop included, opens its own connection and resolves (and is checked) again. Environment
//! proxies are not used for plugin requests: through a proxy the proxy would resolve the name,
//! out of reach of the check.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, LOCATION};
use reqwest::{Method, Url};

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

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

const MAX_REDIRECTS: usize = 5;
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];
/// How long opening one connection may take (the run's remaining time bounds it too).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Equal addresses, an IPv4 address and its IPv6-mapped form included.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// Addresses the operator allowed literally, with the port when one was given.
type Literals = Arc<[(IpAddr, Option<u16>)]>;

/// May a connection go to `ip`:`port`? Public addresses may; others only when allowed literally.
fn permitted(literals: &[(IpAddr, Option<u16>)], ip: IpAddr, port: u16) -> bool {
    non_public(ip).is_none() || literals.iter().any(|(a, p)| same_ip(*a, ip) && p.is_none_or(|p| p == port))
}

/// A name look-up: the system's resolver, or a fake DNS in the tests. Blocking; the resolver
/// runs it on tokio's blocking pool.
trait Lookup: Send + Sync + std::fmt::Debug {
    fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>>;
}

/// The system's resolver (`getaddrinfo`), as reqwest's own default uses it.
#[derive(Debug)]
struct SystemDns;

impl Lookup for SystemDns {
    fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        Ok((host, port).to_socket_addrs()?.collect())
    }
}

/// reqwest's resolver with the policy's address check: every address a name resolves to must
/// be public or allowed literally, else the request is refused before any connection is made.
/// reqwest connects to what this returns, so what was checked is what is connected to. One
/// resolver serves one port (a literal allowance may name a port, and reqwest hands a resolver
/// only the name): [`Client`] keeps a reqwest client per port.
#[derive(Debug)]
pub struct PinnedResolver {
    lookup: Arc<dyn Lookup>,
    port: u16,
    literals: Literals,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request refused by [`PinnedResolver`] (carried through reqwest as the look-up's error).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(String);

impl Resolve for PinnedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let (lookup, port, literals) = (self.lookup.clone(), self.port, self.literals.clone());
        Box::pin(async move {
            let asked = host.clone();
            let found = tokio::task::spawn_blocking(move || lookup.lookup(&asked, port))
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))??;
            if let Some(bad) = found.iter().find(|a| !permitted(&literals, a.ip(), port)) {
                let kind = non_public(bad.ip()).unwrap_or("local");
                return Err(Box::new(Refused(format!(
                    "`{host}` resolves to a {kind} address ({}); a host name may only lead to public addresses (allow the address itself if it is meant)",
                    bad.ip()
                ))) as BoxError);
            }
            // The port is set here and again by reqwest: the URL's, which the check used.
            let addrs: Vec<SocketAddr> = found.into_iter().map(|a| SocketAddr::new(a.ip(), port)).collect();
            Ok::<Addrs, BoxError>(Box::new(addrs.into_iter()))
        })
    }
}

impl Policy {
    /// Checks a URL's scheme and host against the policy; returns the parsed URL when the
    /// plugin may request it. The URL is parsed the way reqwest parses it (WHATWG), so the host
    /// checked is the host connected to. The addresses the host leads to are checked when the
    /// request resolves it ([`PinnedResolver`]), or, for an address, by [`Client::send`].
    pub fn check(&self, url: &str) -> Result<Url, HttpFailure> {
        let parsed =
            Url::parse(url).map_err(|_| HttpFailure::Denied(format!("`{url}` is not an absolute URL")))?;
        let host = parsed.host_str().ok_or_else(|| HttpFailure::Denied(format!("`{url}` has no host")))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let loopback = host == "127.0.0.1";
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(HttpFailure::Denied(format!(
                    "`{url}`: only https is allowed (plain http only to 127.0.0.1)"
                )))
            }
        }
        if !parsed.username().is_empty() || parsed.password().is_some() || authority(url).contains('@') {
            return Err(HttpFailure::Denied(format!("`{url}`: credentials in URLs are not allowed")));
        }
        let port = parsed.port_or_known_default().unwrap_or(443);
        if !self.allowed.iter().any(|pattern| matches(pattern, &host, port)) {
            return Err(HttpFailure::Denied(format!(
                "host `{host}:{port}` is not allowed for this plugin; the operator can add `allowed_hosts = [\"{host}\"]` to its [plugins.<name>] section"
            )));
        }
        Ok(parsed)
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

    /// Sends one request with a client of its own (see [`Client::send`]); a run keeps one
    /// [`Client`] for all its requests instead.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
        budget: Duration,
        count: impl FnMut() -> Result<(), HttpFailure>,
    ) -> Result<Answer, HttpFailure> {
        Client::new(self.clone()).send(method, url, headers, body, budget, count).await
    }
}

/// The authority of a URL as written (between `scheme://` and the path), for the credentials
/// check: `https://@host/` parses without a user name but is refused all the same.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or("", |(_, rest)| rest);
    rest.split(['/', '?', '#']).next().unwrap_or_default()
}

/// The HTTP client of one plugin run: its [`Policy`], and a reqwest client per port (each with
/// a [`PinnedResolver`] for that port), built on first use and kept for the run.
#[derive(Debug)]
pub struct Client {
    policy: Policy,
    lookup: Arc<dyn Lookup>,
    literals: Literals,
    clients: HashMap<u16, reqwest::Client>,
}

impl Client {
    /// A client that resolves names with the system's resolver.
    pub fn new(policy: Policy) -> Client {
        Client::with_lookup(policy, Arc::new(SystemDns))
    }

    /// [`Client::new`] with the name look-up `lookup` (tests give a fake DNS).
    fn with_lookup(policy: Policy, lookup: Arc<dyn Lookup>) -> Client {
        let literals = policy.literals().into();
        Client { policy, lookup, literals, clients: HashMap::new() }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The reqwest client for connections to `port`.
    fn for_port(&mut self, port: u16) -> Result<reqwest::Client, HttpFailure> {
        if let Some(client) = self.clients.get(&port) {
            return Ok(client.clone());
        }
        let resolver = PinnedResolver { lookup: self.lookup.clone(), port, literals: self.literals.clone() };
        let client = crate::http::client_builder(CONNECT_TIMEOUT)
            .dns_resolver(resolver)
            // A connection per request: each one (each redirect hop) resolves and is checked.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| HttpFailure::Transport(format!("cannot set up the HTTP client: {}", chain(&e))))?;
        self.clients.insert(port, client.clone());
        Ok(client)
    }

    /// Sends a request within `budget`, following same-host redirects. `count` is called once
    /// per request actually sent (redirect hops included) and may refuse it.
    pub async fn send(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
        budget: Duration,
        count: impl FnMut() -> Result<(), HttpFailure>,
    ) -> Result<Answer, HttpFailure> {
        let started = Instant::now();
        let exchange = self.exchange(started, method, url, headers, body, budget, count);
        // The whole exchange (look-ups, connections, every hop, every byte of the body) ends
        // with the run's remaining time.
        tokio::time::timeout(budget, exchange).await.unwrap_or(Err(HttpFailure::Timeout))
    }

    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &mut self,
        started: Instant,
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
        let mut method = Method::from_bytes(method.as_bytes())
            .map_err(|_| HttpFailure::Denied(format!("method `{method}` is not allowed")))?;
        let mut url = self.policy.check(url)?;
        let first_host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let headers = header_map(headers)?;
        let mut body = body.map(<[u8]>::to_vec);
        for _hop in 0..=MAX_REDIRECTS {
            count()?;
            if started.elapsed() >= budget {
                return Err(HttpFailure::Timeout);
            }
            let port = url.port_or_known_default().unwrap_or(443);
            self.check_address(&url, port)?;
            let client = self.for_port(port)?;
            let mut request = client.request(method.clone(), url.clone()).headers(headers.clone());
            match &body {
                Some(b) => request = request.body(b.clone()),
                None if [Method::POST, Method::PUT, Method::PATCH].contains(&method) => {
                    request = request.body(Vec::new())
                }
                None => {}
            }
            let resp = request.send().await.map_err(classify)?;
            let status = resp.status().as_u16();
            let resp_headers: Vec<(String, String)> = resp
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            if (300..400).contains(&status) && status != 304 {
                if let Some(loc) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) {
                    let next = resolve(&url, loc)?;
                    let next = self.policy.check(&next)?;
                    let next_host = next.host_str().unwrap_or_default().to_ascii_lowercase();
                    if next_host != first_host {
                        return Err(HttpFailure::Denied(format!(
                            "redirect from `{first_host}` to another host `{next_host}`"
                        )));
                    }
                    if status == 303 || ((status == 301 || status == 302) && method == Method::POST) {
                        method = Method::GET;
                        body = None;
                    }
                    url = next;
                    continue;
                }
            }
            let body = read_capped(resp, self.policy.max_response_bytes).await?;
            return Ok(Answer { status, headers: resp_headers, body });
        }
        Err(HttpFailure::Denied(format!("more than {MAX_REDIRECTS} redirects")))
    }

    /// reqwest connects to an address in a URL without asking the resolver: the same check here.
    fn check_address(&self, url: &Url, port: u16) -> Result<(), HttpFailure> {
        let host = url.host_str().unwrap_or_default();
        let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() else {
            return Ok(());
        };
        if permitted(&self.literals, ip, port) {
            return Ok(());
        }
        let kind = non_public(ip).unwrap_or("local");
        Err(HttpFailure::Denied(format!(
            "`{host}` is a {kind} address; the operator can allow it literally with `allowed_hosts = [\"{host}:{port}\"]`"
        )))
    }
}

/// The plugin's headers as a request's, without `Host` and `Content-Length` (the client's).
fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, HttpFailure> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("host") || k.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| HttpFailure::Denied(format!("malformed request: invalid header name `{k}`")))?;
        let value = HeaderValue::from_str(v)
            .map_err(|_| HttpFailure::Denied(format!("malformed request: invalid value of header `{k}`")))?;
        map.append(name, value);
    }
    Ok(map)
}

/// The body, chunk by chunk, refused as soon as it passes `limit` (whatever `Content-Length`
/// said).
async fn read_capped(mut resp: reqwest::Response, limit: u64) -> Result<Vec<u8>, HttpFailure> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(classify)? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(HttpFailure::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn classify(e: reqwest::Error) -> HttpFailure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<Refused>() {
            return HttpFailure::Denied(refused.0.clone());
        }
        source = s.source();
    }
    if e.is_timeout() {
        return HttpFailure::Timeout;
    }
    // Without the URL: the caller names it, redacted.
    HttpFailure::Transport(chain(&e.without_url()))
}

/// An error with its causes: `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// A `Location` header against the URL it came from.
fn resolve(base: &Url, location: &str) -> Result<String, HttpFailure> {
    base.join(location)
        .map(String::from)
        .map_err(|_| HttpFailure::Denied(format!("redirect to `{location}`, which is not a URL")))
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
        // An address matches however it is spelled (`fd00:0::7` is `fd00::7`).
        None => match (p_host.parse::<IpAddr>(), host.parse::<IpAddr>()) {
            (Ok(a), Ok(b)) => a == b,
            _ => p_host == host,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

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
        assert!(p.check("https://api.example.org/a").is_ok());
        assert!(p.check("https://user:pw@127.0.0.1:8080/").is_err());
        assert!(p.check("http://@127.0.0.1:8080/").is_err(), "an empty user is still credentials");
        assert!(p.check("ftp://127.0.0.1:8080/").is_err());
        assert!(p.check("/relative").is_err());
        let Err(HttpFailure::Denied(m)) = policy(&[]).check("https://evil.example.com/x") else { panic!() };
        assert!(m.contains("allowed_hosts = [\"evil.example.com\"]"), "{m}");
        let p = policy(&["[::1]:8443", "fd00::7", "h.example:99999"]);
        assert!(p.check("https://[::1]:8443/").is_ok());
        assert!(p.check("https://[::1]:8444/").is_err());
        assert!(p.check("https://[fd00::7]:1234/").is_ok(), "a bare IPv6 address: any port");
        assert!(p.check("https://[fd00:0::7]/").is_ok(), "an address however it is spelled");
        assert!(p.check("https://h.example/").is_err(), "a port out of range matches nothing");
        // The host checked is the host reqwest connects to: URLs are read the WHATWG way.
        let p = policy(&["127.0.0.1:8080"]);
        assert!(p.check("http://0x7f.1:8080/").is_ok(), "0x7f.1 is 127.0.0.1");
        assert_eq!(p.check("HTTP://127.0.0.1:8080/a").unwrap().as_str(), "http://127.0.0.1:8080/a");
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
        lookups: AtomicUsize,
    }

    impl Lookup for FakeDns {
        fn lookup(&self, _host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
            self.lookups.fetch_add(1, SeqCst);
            Ok(self.addrs.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
        }
    }

    fn fake(addrs: &[&str]) -> Arc<FakeDns> {
        Arc::new(FakeDns {
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            lookups: Default::default(),
        })
    }

    /// A TCP listener that counts the connections it receives.
    fn listener() -> (u16, Arc<AtomicUsize>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in l.incoming().flatten() {
                counter.fetch_add(1, SeqCst);
                drop(stream); // no TLS here: the client's handshake fails
            }
        });
        (port, hits)
    }

    /// A plain-HTTP server on 127.0.0.1 that answers the n-th connection with `answer(n, request
    /// head)`; counts connections.
    fn server(answer: impl Fn(usize, &str) -> Vec<u8> + Send + 'static) -> (u16, Arc<AtomicUsize>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for mut stream in l.incoming().flatten() {
                let n = counter.fetch_add(1, SeqCst);
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|k| k == 1) {
                    head.push(byte[0]);
                }
                let _ = stream.write_all(&answer(n, &String::from_utf8_lossy(&head)));
            }
        });
        (port, hits)
    }

    fn redirect_to(location: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .into_bytes()
    }

    fn ok(body: &str) -> Vec<u8> {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            .into_bytes()
    }

    async fn get(p: &Policy, dns: &Arc<FakeDns>, url: &str) -> Result<Answer, HttpFailure> {
        let mut client = Client::with_lookup(p.clone(), dns.clone());
        client.send("GET", url, &[], None, Duration::from_secs(5), || Ok(())).await
    }

    /// A GET with the system's resolver; returns the answer and how many requests were counted.
    async fn get_counted(p: &Policy, url: &str) -> (Result<Answer, HttpFailure>, usize) {
        let mut sent = 0;
        let result = p
            .send("GET", url, &[], None, Duration::from_secs(5), || {
                sent += 1;
                Ok(())
            })
            .await;
        (result, sent)
    }

    #[tokio::test]
    async fn an_allowed_name_that_resolves_into_the_local_network_is_refused_before_connecting() {
        let (port, hits) = listener();
        let url = format!("https://api.example.com:{port}/x");
        let p = policy(&["api.example.com"]);
        for answer in
            [&["127.0.0.1"][..], &["10.0.0.5"], &["93.184.216.34", "127.0.0.1"], &["::ffff:127.0.0.1"]]
        {
            let dns = fake(answer);
            let Err(HttpFailure::Denied(m)) = get(&p, &dns, &url).await else {
                panic!("{answer:?} must be refused")
            };
            assert!(m.starts_with("`api.example.com` resolves to a "), "{m}");
            assert!(m.contains("may only lead to public addresses"), "{m}");
            assert_eq!(dns.lookups.load(SeqCst), 1, "one look-up, checked");
        }
        let Err(HttpFailure::Denied(m)) = get(&p, &fake(&["169.254.169.254"]), &url).await else { panic!() };
        assert!(m.contains("link-local address (169.254.169.254)"), "{m}");
        let Err(HttpFailure::Denied(m)) = get(&p, &fake(&["10.1.2.3"]), &url).await else { panic!() };
        assert!(m.contains("private address (10.1.2.3)"), "{m}");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(hits.load(SeqCst), 0, "no connection was made");
    }

    #[tokio::test]
    async fn the_system_resolver_refuses_localhost() {
        // The real look-up: `localhost` leads to 127.0.0.1 (and ::1), which nobody allowed.
        let resolver = PinnedResolver { lookup: Arc::new(SystemDns), port: 443, literals: Arc::new([]) };
        let Err(e) = resolver.resolve("localhost".parse().unwrap()).await else {
            panic!("localhost must be refused")
        };
        let m = e.to_string();
        assert!(m.starts_with("`localhost` resolves to a loopback address"), "{m}");
        // Allowed literally (both families), it resolves.
        let literals: Literals =
            Arc::new([("127.0.0.1".parse().unwrap(), None), ("::1".parse().unwrap(), None)]);
        let resolver = PinnedResolver { lookup: Arc::new(SystemDns), port: 443, literals };
        let addrs: Vec<SocketAddr> = resolver.resolve("localhost".parse().unwrap()).await.unwrap().collect();
        assert!(
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 443),
            "{addrs:?}"
        );

        // The same through a request: refused before any connection reaches the port.
        let (port, hits) = listener();
        let p = policy(&[&format!("localhost:{port}")]);
        let (result, sent) = get_counted(&p, &format!("https://localhost:{port}/")).await;
        let Err(HttpFailure::Denied(m)) = result else { panic!("{:?}", result.err()) };
        assert!(m.starts_with("`localhost` resolves to a loopback address"), "{m}");
        assert_eq!(sent, 1);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(hits.load(SeqCst), 0, "no connection was made");
    }

    #[tokio::test]
    async fn the_connection_goes_to_the_checked_address() {
        // The operator allowed the name and, literally, the address it leads to: reqwest connects
        // to what the resolver returned (the name exists in no real DNS).
        let (port, hits) = listener();
        let p = policy(&["api.example.com", &format!("127.0.0.1:{port}")]);
        let dns = fake(&["127.0.0.1"]);
        let result = get(&p, &dns, &format!("https://api.example.com:{port}/x")).await;
        assert!(
            matches!(result, Err(HttpFailure::Transport(_))),
            "the TLS handshake fails after connecting: {:?}",
            result.err()
        );
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(hits.load(SeqCst), 1, "connected to the pinned address");
        assert_eq!(dns.lookups.load(SeqCst), 1);
        // The literal allowance is for that port only.
        let p = policy(&["api.example.com", "127.0.0.1:1"]);
        assert!(matches!(
            get(&p, &fake(&["127.0.0.1"]), &format!("https://api.example.com:{port}/")).await,
            Err(HttpFailure::Denied(_))
        ));
    }

    #[tokio::test]
    async fn an_allowed_literal_address_is_reached_even_when_local() {
        let (port, hits) = listener();
        // Plain http to 127.0.0.1 with the real resolver, as the tests and a local proxy use it.
        let p = policy(&[&format!("127.0.0.1:{port}")]);
        let (result, _) = get_counted(&p, &format!("http://127.0.0.1:{port}/")).await;
        assert!(
            matches!(result, Err(HttpFailure::Transport(_))),
            "the listener hangs up: {:?}",
            result.err()
        );
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(hits.load(SeqCst), 1);
    }

    #[tokio::test]
    async fn an_address_in_the_url_is_checked_without_the_resolver() {
        // `*.0.0.1` lets the URL through the allow-list; the address itself was not allowed.
        let (port, hits) = listener();
        let dns = fake(&["93.184.216.34"]);
        let result = get(&policy(&["*.0.0.1"]), &dns, &format!("https://127.0.0.1:{port}/")).await;
        let Err(HttpFailure::Denied(m)) = result else { panic!("{:?}", result.err()) };
        assert!(m.starts_with("`127.0.0.1` is a loopback address"), "{m}");
        assert!(m.contains(&format!("allowed_hosts = [\"127.0.0.1:{port}\"]")), "{m}");
        assert_eq!(dns.lookups.load(SeqCst), 0, "addresses are not looked up");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(hits.load(SeqCst), 0, "no connection was made");
    }

    #[tokio::test]
    async fn a_redirect_to_a_host_that_is_not_allowed_is_refused() {
        let (port, hits) = server(|_, _| redirect_to("https://evil.example.com/steal?t=1"));
        let p = policy(&[&format!("127.0.0.1:{port}")]);
        let (result, sent) = get_counted(&p, &format!("http://127.0.0.1:{port}/start")).await;
        let Err(HttpFailure::Denied(m)) = result else { panic!("{:?}", result.err()) };
        assert!(m.contains("host `evil.example.com:443` is not allowed"), "{m}");
        assert_eq!((sent, hits.load(SeqCst)), (1, 1), "the first request only");
        // Another port of the same address is another host:port, not allowed either.
        let (port, _) = server(|_, _| redirect_to("http://127.0.0.1:1/"));
        let p = policy(&[&format!("127.0.0.1:{port}")]);
        let (result, _) = get_counted(&p, &format!("http://127.0.0.1:{port}/")).await;
        let Err(HttpFailure::Denied(m)) = result else { panic!("{:?}", result.err()) };
        assert!(m.contains("host `127.0.0.1:1` is not allowed"), "{m}");
        // An allowed host, but another one than the request's: refused too.
        let (port, _) = server(|_, _| redirect_to("https://api.example.com/"));
        let p = policy(&[&format!("127.0.0.1:{port}"), "api.example.com"]);
        let (result, _) = get_counted(&p, &format!("http://127.0.0.1:{port}/")).await;
        let Err(HttpFailure::Denied(m)) = result else { panic!("{:?}", result.err()) };
        assert!(m.contains("redirect from `127.0.0.1` to another host `api.example.com`"), "{m}");
        // Scheme rules hold per hop: plain http to a name is refused.
        let (port, _) = server(|_, _| redirect_to("http://api.example.com/"));
        let p = policy(&[&format!("127.0.0.1:{port}"), "api.example.com"]);
        let (result, _) = get_counted(&p, &format!("http://127.0.0.1:{port}/")).await;
        let Err(HttpFailure::Denied(m)) = result else { panic!("{:?}", result.err()) };
        assert!(m.contains("only https is allowed"), "{m}");
    }

    #[tokio::test]
    async fn same_host_redirects_are_followed_hop_by_hop_and_counted() {
        let (port, hits) = server(|n, head| match n {
            0 => redirect_to("/next"),
            _ if head.starts_with("GET /next ") => ok("arrived"),
            _ => ok("wrong path"),
        });
        let p = policy(&[&format!("127.0.0.1:{port}")]);
        let (result, sent) = get_counted(&p, &format!("http://127.0.0.1:{port}/start")).await;
        let answer = result.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((answer.status, answer.body.as_slice()), (200, &b"arrived"[..]));
        assert_eq!((sent, hits.load(SeqCst)), (2, 2), "each hop is a request of its own");
        // More than five hops.
        let (port, hits) = server(|_, _| redirect_to("/again"));
        let p = policy(&[&format!("127.0.0.1:{port}")]);
        let (result, sent) = get_counted(&p, &format!("http://127.0.0.1:{port}/")).await;
        assert_eq!(result.err(), Some(HttpFailure::Denied("more than 5 redirects".into())));
        assert_eq!((sent, hits.load(SeqCst)), (6, 6));
        // The run's request limit stops the hops too.
        let (port, _) = server(|_, _| redirect_to("/again"));
        let p = policy(&[&format!("127.0.0.1:{port}")]);
        let mut left = 2;
        let result = p
            .send("GET", &format!("http://127.0.0.1:{port}/"), &[], None, Duration::from_secs(5), || {
                if left == 0 {
                    return Err(HttpFailure::RequestLimit(2));
                }
                left -= 1;
                Ok(())
            })
            .await;
        assert_eq!(result.err(), Some(HttpFailure::RequestLimit(2)));
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_cut_off_whatever_its_length_says() {
        // No Content-Length: the body runs until the connection closes.
        let (port, _) = server(|_, _| {
            let mut r = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
            r.extend(std::iter::repeat_n(b'x', 3 << 20));
            r
        });
        let p = policy(&[&format!("127.0.0.1:{port}")]);
        let (result, _) = get_counted(&p, &format!("http://127.0.0.1:{port}/")).await;
        assert_eq!(result.err(), Some(HttpFailure::TooLarge(1 << 20)));
        // A small Content-Length in front of a big body: only the declared bytes are read.
        let (port, _) = server(|_, _| {
            let mut r = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n".to_vec();
            r.extend(std::iter::repeat_n(b'x', 3 << 20));
            r
        });
        let p = policy(&[&format!("127.0.0.1:{port}")]);
        let (result, _) = get_counted(&p, &format!("http://127.0.0.1:{port}/")).await;
        assert_eq!(result.map(|a| a.body.len()).ok(), Some(5));
    }

    #[tokio::test]
    async fn the_budget_bounds_the_whole_exchange() {
        // The server answers the head and then never sends the promised body.
        let (port, _) = server(|_, _| {
            std::thread::sleep(Duration::from_secs(3));
            ok("late")
        });
        let p = policy(&[&format!("127.0.0.1:{port}")]);
        let started = Instant::now();
        let result = p
            .send("GET", &format!("http://127.0.0.1:{port}/"), &[], None, Duration::from_millis(300), || {
                Ok(())
            })
            .await;
        assert_eq!(result.err(), Some(HttpFailure::Timeout));
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn headers_and_methods_are_checked() {
        let p = policy(&["127.0.0.1:1"]);
        let send = |method: &'static str, headers: Vec<(String, String)>| {
            let p = p.clone();
            async move {
                p.send(method, "http://127.0.0.1:1/", &headers, None, Duration::from_secs(5), || Ok(())).await
            }
        };
        assert!(
            matches!(send("CONNECT", vec![]).await, Err(HttpFailure::Denied(m)) if m.contains("CONNECT"))
        );
        let bad = vec![("x-a".to_string(), "line\r\nbreak".to_string())];
        assert!(
            matches!(send("GET", bad).await, Err(HttpFailure::Denied(m)) if m.contains("malformed request"))
        );
    }

    #[test]
    fn relative_redirects() {
        let base: Url = "https://a.example/x/y?z=1".parse().unwrap();
        assert_eq!(resolve(&base, "/b").unwrap(), "https://a.example/b");
        assert_eq!(resolve(&base, "c").unwrap(), "https://a.example/x/c");
        assert_eq!(resolve(&base, "https://b.example/").unwrap(), "https://b.example/");
        assert_eq!(resolve(&base, "//c.example/d").unwrap(), "https://c.example/d");
    }
}
