//! A fake HTTP/1.1 server on 127.0.0.1 for the connector and channel tests: a thread reads
//! each request (head, and the body its `Content-Length` announces) and hands it to the test's
//! handler, which writes the answer (one request per connection).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

/// The head of a request.
pub struct Request {
    /// The request line, e.g. `GET /v1/invoices?page=1 HTTP/1.1`.
    pub line: String,
    /// The path, without the query.
    pub path: String,
    /// The query parameters, percent-decoded.
    pub query: HashMap<String, String>,
    /// The header lines, e.g. `Authorization: Bearer x`.
    pub headers: Vec<String>,
    /// The body (`Content-Length` bytes; empty without one).
    pub body: Vec<u8>,
}

impl Request {
    /// Whether the request has the header line `line` (case-insensitive).
    pub fn has_header(&self, line: &str) -> bool {
        self.headers.iter().any(|h| h.eq_ignore_ascii_case(line))
    }
}

/// Serves a free port of 127.0.0.1 with `handle` until the test process ends; returns its
/// address.
pub fn serve(mut handle: impl FnMut(&Request, &mut TcpStream) + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            if let Some(request) = read_request(&stream) {
                handle(&request, &mut stream);
            }
        }
    });
    addr
}

/// Writes a whole JSON answer: `status` (`200 OK`), the `headers` lines, `body`.
pub fn respond(stream: &mut TcpStream, status: &str, headers: &[&str], body: &str) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    let _ = write!(stream, "{head}\r\n{body}");
}

/// Reads one request: its head and the body its `Content-Length` announces.
pub fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 || header.trim().is_empty() {
            break;
        }
        headers.push(header.trim().to_string());
    }
    let length: usize = headers
        .iter()
        .filter_map(|h| h.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    std::io::Read::read_exact(&mut reader, &mut body).ok()?;
    let line = line.trim().to_string();
    let target = line.split_whitespace().nth(1).unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect();
    Some(Request { path: path.to_string(), query, headers, line, body })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
