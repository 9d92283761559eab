//! The one HTTP client setup of the binary (issue 10, item 11): the plugin host
//! ([`crate::plugin::http`]) and the SMS channel ([`crate::channel::sms`]) both start from
//! [`client_builder`], so there is one HTTP stack (reqwest on tokio, rustls) with one set of
//! defaults.
//!
//! # TLS and the crypto provider
//!
//! rustls runs on ring, the one provider compiled in (aws-lc-rs took a minute of a clean build
//! for its C library). reqwest's `rustls-no-provider` feature builds every client's TLS
//! configuration with the process-wide rustls `CryptoProvider` and panics when none is
//! installed, so [`client_builder`] installs ring as that default before anything else can
//! build a client ([`tls_provider`]). lettre's SMTP (its `ring` feature) takes the process
//! default too, else ring, and the implicit-TLS connection of the e-mail channel names ring
//! itself: every HTTP and SMTP client runs on ring.

use std::time::Duration;

/// `User-Agent` of every request dunwell sends (a request's own header wins).
pub const USER_AGENT: &str = concat!("dunwell/", env!("CARGO_PKG_VERSION"));

/// A reqwest client builder with dunwell's defaults: rustls (the only TLS backend compiled
/// in), no proxies from the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` are
/// ignored: a proxy would resolve names out of reach of the plugin host's address check, and a
/// provider's token has no business passing through one the operator did not configure),
/// `connect_timeout` for establishing a connection, no automatic redirects (callers that follow
/// them do it themselves, checking every hop), no automatic retries (the callers decide what
/// may be sent twice), and [`USER_AGENT`]. Callers add their own overall timeout and whatever
/// else they need, then `build()`.
pub fn client_builder(connect_timeout: Duration) -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder()
        .tls_backend_rustls()
        .no_proxy()
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .referer(false)
        .user_agent(USER_AGENT)
}

/// The crypto provider of every TLS connection dunwell makes.
pub fn tls_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Installs [`tls_provider`] as the process default once. A default installed before (by
/// another call, or another crate) is kept: it can only be ring, the one provider compiled in.
fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tls_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_builder_builds() {
        // No crypto provider is installed by the tests: building must not panic.
        client_builder(Duration::from_secs(5)).build().expect("a client");
        assert!(USER_AGENT.starts_with("dunwell/"));
    }
}

/// A service's base URL from the configuration: `https://…`, or `http://` to the loopback
/// interface (a local gateway, the tests); no user or password in it (secrets come from their
/// files). Returned trimmed, without a trailing `/`. The message reads after the key's name
/// ("`url` must start with https://…").
pub fn check_service_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let url = reqwest::Url::parse(raw)
        .map_err(|e| format!("`{}` is not a URL: {e}", crate::text::escape(&crate::text::cap(raw, 200))))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        other => {
            return Err(format!("must start with https:// (http:// only to 127.0.0.1), not `{other}://`"))
        }
    }
    if host.is_empty() {
        return Err("has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold a user or password: the secret comes from its file".into());
    }
    Ok(raw.trim_end_matches('/').to_string())
}

/// At most `max` bytes of an answer (the rest is never read: a provider's error text is all we
/// keep); the error, as text, when reading failed.
pub async fn read_capped(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = max - out.len();
                out.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if out.len() >= max {
                    return Ok(out);
                }
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(error_chain(&e.without_url())),
        }
    }
}

/// An error with its sources (`error sending request: client error (Connect): Connection
/// refused (os error 111)`), repeated messages left out.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        source = e.source();
    }
    out
}

/// `HTTP 422 Unprocessable Entity: <the provider's own words>` for a non-2xx answer: `pick`
/// finds the words in a JSON answer (else the whole JSON, or the body as text), `clean` masks,
/// caps and escapes them as the caller may keep them.
pub fn status_reason(
    status: reqwest::StatusCode,
    body: &[u8],
    pick: fn(&serde_json::Value) -> Option<String>,
    clean: impl Fn(&str) -> String,
) -> String {
    let detail = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => pick(&v).unwrap_or_else(|| v.to_string()),
        Err(_) => String::from_utf8_lossy(body).trim().to_string(),
    };
    let detail = clean(&detail);
    if detail.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {detail}")
    }
}

/// The prefix of a secret's file that names a systemd credential: `LoadCredential=name:/path`
/// in the unit, `"$CREDENTIALS_DIRECTORY/name"` in dunwell.toml.
pub const CREDENTIALS: &str = "$CREDENTIALS_DIRECTORY";

/// The file a secret setting names, with `$CREDENTIALS_DIRECTORY` taken from the environment
/// systemd gives the service.
pub fn secret_path(path: &std::path::Path) -> Result<std::path::PathBuf, String> {
    match path.strip_prefix(CREDENTIALS) {
        Ok(name) => match std::env::var_os("CREDENTIALS_DIRECTORY") {
            Some(dir) => Ok(std::path::Path::new(&dir).join(name)),
            None => Err(format!(
                "`{}` names a systemd credential, but CREDENTIALS_DIRECTORY is not set: it is set for the service by LoadCredential= in its unit; outside systemd, name the file itself",
                path.display()
            )),
        },
        Err(_) => Ok(path.to_path_buf()),
    }
}

/// A secret from its file (a token, a password): the content trimmed, one line, at least
/// `min_len` characters. Errors name the file, never the content; `what` says what belongs in
/// it ("the API token").
pub fn read_secret_file(path: &std::path::Path, what: &str, min_len: usize) -> Result<String, String> {
    let path = &secret_path(path)?;
    let shown = path.display();
    let raw = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    let secret = raw.trim();
    if secret.is_empty() {
        return Err(format!("`{shown}` is empty; put {what} in it"));
    }
    if secret.chars().any(|c| c.is_control()) {
        return Err(format!("`{shown}` must hold {what} alone, on one line"));
    }
    if secret.chars().count() < min_len {
        return Err(format!("{what} in `{shown}` is shorter than {min_len} characters: not a real one"));
    }
    Ok(secret.to_string())
}

/// For the channel tests: the requests a fake provider on 127.0.0.1 receives.
#[cfg(test)]
pub(crate) mod testing {
    use std::io::{BufRead, BufReader, Read};
    use std::net::{TcpListener, TcpStream};

    /// A request as the fake server saw it.
    #[derive(Debug, Clone)]
    pub struct Seen {
        pub method: String,
        /// The path with its query.
        pub target: String,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Seen {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        }

        /// The path without its query.
        pub fn path(&self) -> &str {
            self.target.split('?').next().unwrap_or_default()
        }

        pub fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).expect("the body is JSON")
        }

        pub fn is(&self, method: &str, path: &str) -> bool {
            self.method == method && self.path() == path
        }

        /// The body as an `application/x-www-form-urlencoded` form, in order.
        pub fn form(&self) -> Vec<(String, String)> {
            let body = std::str::from_utf8(&self.body).expect("a form is text");
            reqwest::Url::parse(&format!("http://x/?{body}"))
                .expect("a form parses as a query")
                .query_pairs()
                .into_owned()
                .collect()
        }
    }

    /// Reads one request: its head and the body its `Content-Length` announces.
    pub fn read_request(stream: &TcpStream) -> Option<Seen> {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let mut parts = line.split_whitespace();
        let method = parts.next()?.to_string();
        let target = parts.next()?.to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).ok()? == 0 || h.trim().is_empty() {
                break;
            }
            let (n, v) = h.trim().split_once(':')?;
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        Some(Seen { method, target, headers, body })
    }

    /// `http://127.0.0.1:PORT` of a port nothing listens on.
    pub fn closed_port() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let addr = listener.local_addr().expect("its address");
        drop(listener);
        format!("http://{addr}")
    }
}
