//! An HTTP client for connectors: build a request, send it through the host (which only
//! reaches the hosts the operator allowed), read JSON back.
//!
//! ```
//! use dunwell_plugin_sdk::prelude::*;
//! # use dunwell_plugin_sdk::testing::{set_http, HttpResponse};
//! # #[derive(serde::Deserialize)]
//! # struct MbInvoice { id: String }
//! # fn main() -> Result<(), ConnectorError> {
//! # set_http(|_| Ok(HttpResponse { status: 200, headers: vec![], body: br#"[{"id": "1"}]"#.to_vec() }));
//! # let (base, token, page) = ("https://moneybird.com/api/v2/1", "token", 1);
//! let invoices: Vec<MbInvoice> = http::get(&format!("{base}/sales_invoices.json"))
//!     .bearer(&token)
//!     .query("page", &page.to_string())
//!     .send()?
//!     .error_for_status()?
//!     .json()?;
//! # assert_eq!(invoices[0].id, "1");
//! # Ok(()) }
//! ```
//!
//! Paging helpers: [`Response::next_link`] (a `Link: <…>; rel="next"` header) and
//! [`Request::page`] with [`crate::paging::OffsetPaging`] (`?offset=N&limit=M`).
//!
//! A 429 answer with a short `Retry-After` is retried by [`Request::send`] (up to three times,
//! waiting at most 5 seconds); a longer one becomes [`ConnectorError::RateLimited`].

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bindings::dunwell::connector::host::{HttpError, HttpRequest, HttpResponse};
use crate::ConnectorError;

/// A request being built.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

/// Starts a GET request.
pub fn get(url: &str) -> Request {
    Request::new("GET", url)
}

/// Starts a POST request.
pub fn post(url: &str) -> Request {
    Request::new("POST", url)
}

impl Request {
    /// Starts a request with any method.
    pub fn new(method: &str, url: &str) -> Request {
        Request { method: method.into(), url: url.into(), query: Vec::new(), headers: Vec::new(), body: None }
    }

    /// Adds a query parameter (percent-encoded for you).
    pub fn query(mut self, key: &str, value: &str) -> Request {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Request {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    /// A JSON body (and its content type).
    pub fn json<T: Serialize>(mut self, body: &T) -> Result<Request, ConnectorError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| ConnectorError::Internal(format!("cannot encode JSON: {e}")))?;
        self.body = Some(bytes);
        Ok(self.header("Content-Type", "application/json"))
    }

    /// The full URL with the query string.
    pub fn url(&self) -> String {
        if self.query.is_empty() {
            return self.url.clone();
        }
        let mut url = self.url.clone();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        for (k, v) in &self.query {
            url.push(sep);
            url.push_str(&encode(k));
            url.push('=');
            url.push_str(&encode(v));
            sep = '&';
        }
        url
    }

    /// Sends the request once, without retries.
    pub fn send_once(&self) -> Result<Response, ConnectorError> {
        let mut headers = self.headers.clone();
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("accept")) {
            headers.push(("Accept".into(), "application/json".into()));
        }
        let request =
            HttpRequest { method: self.method.clone(), url: self.url(), headers, body: self.body.clone() };
        transport(&request).map(Response).map_err(|e| http_error(&request.url, e))
    }

    /// Sends the request; retries a 429 with a short `Retry-After`.
    pub fn send(&self) -> Result<Response, ConnectorError> {
        let mut attempt = 0;
        loop {
            let response = self.send_once()?;
            if response.status() != 429 {
                return Ok(response);
            }
            let wait = response.retry_after();
            attempt += 1;
            match wait {
                Some(secs) if secs <= 5 && attempt <= 3 => {
                    std::thread::sleep(std::time::Duration::from_secs(u64::from(secs)));
                }
                _ => return Err(ConnectorError::RateLimited(wait)),
            }
        }
    }
}

/// A whole response.
#[derive(Debug, Clone)]
pub struct Response(pub HttpResponse);

impl Response {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.0.status
    }

    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.0.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// How many seconds the server asks to wait (`Retry-After`, as seconds or as an HTTP date).
    pub fn retry_after(&self) -> Option<u32> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
        retry_after_secs(self.header("retry-after")?, now)
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.0.body
    }

    /// Turns 401/403 into [`ConnectorError::Auth`], 429 into `RateLimited` and other
    /// non-2xx statuses into [`ConnectorError::Remote`].
    pub fn error_for_status(self) -> Result<Response, ConnectorError> {
        let status = self.status();
        match status {
            200..=299 => Ok(self),
            401 | 403 => Err(ConnectorError::Auth(format!("the server answered {status}; check the token"))),
            429 => Err(ConnectorError::RateLimited(self.retry_after())),
            _ => {
                let text = String::from_utf8_lossy(&self.0.body);
                let snippet: String = text.chars().take(200).collect();
                Err(ConnectorError::Remote(format!("the server answered {status}: {snippet}")))
            }
        }
    }

    /// Decodes the body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ConnectorError> {
        serde_json::from_slice(&self.0.body).map_err(|e| {
            ConnectorError::InvalidData(format!("the server sent JSON this connector cannot read: {e}"))
        })
    }

    /// The `rel="next"` URL of a `Link` header, for APIs that page that way.
    pub fn next_link(&self) -> Option<String> {
        let link = self.header("link")?;
        link.split(',').find_map(|part| {
            let (url, params) = part.split_once(';')?;
            params
                .split(';')
                .any(|p| p.trim().trim_start_matches("rel=").trim_matches('"') == "next")
                .then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
        })
    }
}

fn http_error(url: &str, e: HttpError) -> ConnectorError {
    match e {
        HttpError::Denied(why) => {
            ConnectorError::InvalidConfig(format!("request to {url} denied by the host: {why}"))
        }
        HttpError::Timeout => ConnectorError::Remote(format!("request to {url} timed out")),
        HttpError::TooLarge(n) => {
            ConnectorError::Remote(format!("response from {url} is larger than {n} bytes"))
        }
        HttpError::RequestLimit(n) => ConnectorError::Remote(format!("more than {n} requests in one run")),
        HttpError::Transport(why) => ConnectorError::Remote(format!("request to {url} failed: {why}")),
    }
}

fn transport(request: &HttpRequest) -> Result<HttpResponse, HttpError> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::dunwell::connector::host::send(request);
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testing::send(request);
}

/// Percent-encodes a query component.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A `Retry-After` value (RFC 9110 §10.2.3) as seconds from `now` (Unix time): delay-seconds,
/// or an IMF-fixdate such as `Wed, 21 Oct 2026 07:28:00 GMT` (a date in the past is 0).
pub fn retry_after_secs(value: &str, now: u64) -> Option<u32> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u32>() {
        return Some(secs);
    }
    // "Wed, 21 Oct 2026 07:28:00 GMT"
    let rest = v.split_once(", ")?.1;
    let mut parts = rest.split(' ');
    let (day, month, year, time, zone) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if zone != "GMT" || parts.next().is_some() {
        return None;
    }
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let (day, year): (u32, i64) = (day.parse().ok()?, year.parse().ok()?);
    let mut hms = time.split(':').map(|t| t.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = crate::date::days_from_civil(year, month, day);
    let at = days * 86_400 + h * 3600 + m * 60 + s;
    Some(u32::try_from((at - now as i64).max(0)).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_as_seconds_or_http_date() {
        // 2026-10-21T07:28:00Z is 1792567680 (date -d @1792567680 -u).
        let now = 1_792_567_680 - 90;
        assert_eq!(retry_after_secs("120", now), Some(120));
        assert_eq!(retry_after_secs(" 7 ", now), Some(7));
        assert_eq!(retry_after_secs("Wed, 21 Oct 2026 07:28:00 GMT", now), Some(90));
        assert_eq!(retry_after_secs("Wed, 21 Oct 2026 07:28:00 GMT", now + 1000), Some(0), "in the past");
        assert_eq!(retry_after_secs("Thu, 01 Jan 1970 00:00:00 GMT", 0), Some(0));
        assert_eq!(retry_after_secs("Tue, 29 Feb 2028 00:00:01 GMT", 1_835_395_200), Some(1));
        for bad in [
            "",
            "soon",
            "-5",
            "Wed, 21 Oct 2026 07:28:00 CET",
            "Wed, 21 Foo 2026 07:28:00 GMT",
            "Wed, 21 Oct 2026 25:00:00 GMT",
        ] {
            assert_eq!(retry_after_secs(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn query_and_link() {
        let r = get("https://x.example/a.json").query("filter", "state:open,period:all").query("page", "2");
        assert_eq!(r.url(), "https://x.example/a.json?filter=state%3Aopen%2Cperiod%3Aall&page=2");
        let resp = Response(HttpResponse {
            status: 200,
            headers: vec![(
                "Link".into(),
                "<https://x/a?page=1>; rel=\"prev\", <https://x/a?page=3>; rel=\"next\"".into(),
            )],
            body: vec![],
        });
        assert_eq!(resp.next_link().as_deref(), Some("https://x/a?page=3"));
    }
}
