//! The HTTP client a plugin gets: one place owns the policy. https only (plain http only to
//! 127.0.0.1), only the hosts the operator allowed for that plugin, redirects followed only to
//! the same host, response bodies capped, requests per run capped, time bounded by the run's
//! budget, and host names that resolve to private or local addresses refused (except an
//! explicitly allowed 127.0.0.1).

use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

use ureq::http::Uri;

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
    Transport(String),
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

const MAX_REDIRECTS: usize = 5;
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

impl Policy {
    /// Checks a URL; returns the parsed URI when the plugin may request it.
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
        if !loopback {
            // A granted name must not lead into the local network (DNS rebinding, metadata services).
            if let Ok(ip) = host.parse::<IpAddr>() {
                if private(ip) {
                    return Err(HttpFailure::Denied(format!("`{host}` is a private or local address")));
                }
            } else if let Ok(addrs) = (host.as_str(), port).to_socket_addrs() {
                if let Some(a) = addrs.into_iter().find(|a| private(a.ip())) {
                    return Err(HttpFailure::Denied(format!(
                        "`{host}` resolves to a private or local address ({})",
                        a.ip()
                    )));
                }
            }
        }
        Ok(uri)
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
        mut count: impl FnMut() -> Result<(), HttpFailure>,
    ) -> Result<Answer, HttpFailure> {
        let method = method.to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(HttpFailure::Denied(format!("method `{method}` is not allowed")));
        }
        let started = std::time::Instant::now();
        let mut uri = self.check(url)?;
        let first_host = uri.host().unwrap_or_default().to_ascii_lowercase();
        let mut method = method;
        let mut body = body.map(<[u8]>::to_vec);
        for _hop in 0..=MAX_REDIRECTS {
            count()?;
            let left =
                budget.checked_sub(started.elapsed()).filter(|d| !d.is_zero()).ok_or(HttpFailure::Timeout)?;
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .max_redirects(0)
                .http_status_as_error(false)
                .timeout_global(Some(left))
                .user_agent("dunwell-connector")
                .build()
                .into();
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

fn matches(pattern: &str, host: &str, port: u16) -> bool {
    let pattern = pattern.trim().to_ascii_lowercase();
    let (p_host, p_port) = match pattern.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h.to_string(), p.parse::<u16>().ok()),
        _ => (pattern.clone(), None),
    };
    if p_port.is_some_and(|p| p != port) {
        return false;
    }
    match p_host.strip_prefix("*.") {
        Some(domain) => host.len() > domain.len() + 1 && host.ends_with(&format!(".{domain}")),
        None => p_host == host,
    }
}

fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1])
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| private(IpAddr::V4(v4)))
        }
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
        let p = policy(&["10.0.0.1", "169.254.169.254"]);
        assert!(matches!(p.check("https://10.0.0.1/"), Err(HttpFailure::Denied(m)) if m.contains("private")));
        assert!(p.check("https://169.254.169.254/latest/meta-data").is_err());
        let Err(HttpFailure::Denied(m)) = policy(&[]).check("https://evil.example.com/x") else { panic!() };
        assert!(m.contains("allowed_hosts = [\"evil.example.com\"]"), "{m}");
    }

    #[test]
    fn relative_redirects() {
        let base: Uri = "https://a.example/x/y?z=1".parse().unwrap();
        assert_eq!(resolve(&base, "/b").unwrap(), "https://a.example/b");
        assert_eq!(resolve(&base, "c").unwrap(), "https://a.example/x/c");
        assert_eq!(resolve(&base, "https://b.example/").unwrap(), "https://b.example/");
    }
}
