//! E-mail: the outbox message as a MIME message (lettre), sent over SMTP or written as an
//! `.eml` file.
//!
//! The `Message-ID` is dunwell's own, derived from the outbox row, so a message delivered again
//! after a crash carries the same id (receivers that collapse duplicates by id then show one).
//! Headers are built by lettre, which encodes non-ASCII (RFC 2047) and never lets a value add a
//! header: the recipient is an address checked by `text::email` at import or sync, the
//! subject is a rendered template and may hold anything a customer's name holds (control
//! characters in it become spaces before lettre sees it).
//!
//! A message with a PDF (a letter's, kept in the outbox row) is `multipart/mixed`: the text
//! and HTML (`multipart/alternative`) first, then the PDF as an `application/pdf` attachment
//! named by [`attachment_name`] (`brief-2026-001.pdf`).
//!
//! SMTP: `smtps://host[:465]` (implicit TLS), `smtp://host[:587]?tls=required` (STARTTLS), or
//! plain `smtp://` to this machine only. The server's certificate is checked against the
//! system's roots plus `ca_file` (a company CA). Replies are sorted as
//! [`Outcome`]s: a 5xx refusal of the message is `Refused` (dead, never retried); a refused
//! login, a certificate that is not trusted or a server that wants TLS or AUTH first is a
//! problem of the configuration: `Retry`, and the rest of the run is not tried against the
//! server (every message would fail the same way, and a server counts failed logins). A
//! connection lost in the middle, or no answer within `timeout_s`, is `Retry`: the server may
//! have the message (RFC 1047's synchronisation gap, see `channel/mod.rs`), and the next
//! attempt carries the same Message-ID.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use serde::Deserialize;
use sha2::Digest;

use super::{ChannelError, Outcome};
use crate::store::Message;

/// `[channels.email]` in dunwell.toml.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// `smtps://host:465` (implicit TLS), `smtp://host:587?tls=required` (STARTTLS), or
    /// `smtp://127.0.0.1:PORT` (plain, only to this machine).
    pub url: String,
    /// The sender, e.g. `"Bakkerij Van Dam <debiteuren@bakkerij.example>"`.
    pub from: String,
    pub reply_to: Option<String>,
    /// The SMTP user name; the password is read from `password_file`, never from dunwell.toml.
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    /// Seconds one message may take, connection included (default 60).
    pub timeout_s: Option<u64>,
    /// A PEM file with one or more extra trusted root certificates (a company CA that signed
    /// the mail server's certificate), trusted next to the system's roots.
    pub ca_file: Option<PathBuf>,
}

/// The sender address used in `.eml` files when no SMTP sender is configured.
pub const FILE_SENDER: &str = "dunwell <dunwell@localhost.invalid>";

fn mailbox(what: &str, s: &str) -> Result<Mailbox, String> {
    s.parse::<Mailbox>()
        .map_err(|e| format!("{what} `{}` is not an e-mail address: {e}", crate::text::escape(s)))
}

/// The message's own `Message-ID`: the same for every attempt at the same outbox row.
pub fn message_id(m: &Message, from: &Mailbox) -> String {
    format!("<{}@{}>", message_id_local(m), from.email.domain())
}

/// The part of [`message_id`] before the `@`: `dunwell.<row id>.<hash of the row's key>`.
fn message_id_local(m: &Message) -> String {
    let digest = sha2::Sha256::digest(m.key.as_bytes());
    let hash = crate::text::hex(&digest[..8]);
    format!("dunwell.{}.{hash}", m.id)
}

/// The outbox row a `Message-ID` of ours names (`<dunwell.7.…@domain>`, with or without its
/// brackets), whatever the sender's domain was then: to be checked with [`is_message_id_of`].
pub fn row_of_message_id(id: &str) -> Option<i64> {
    let bare = id.trim().trim_start_matches('<').trim_end_matches('>');
    bare.strip_prefix("dunwell.")?.split('.').next()?.parse().ok()
}

/// Whether `id` is the `Message-ID` dunwell gave outbox row `m` (the hash of its key matches).
pub fn is_message_id_of(m: &Message, id: &str) -> bool {
    let bare = id.trim().trim_start_matches('<').trim_end_matches('>');
    bare.split_once('@').is_some_and(|(local, _)| local == message_id_local(m))
}

/// The file name of a message's PDF attachment: `<letter>-<first invoice>.pdf`, `<letter>`
/// being the word for a letter in the message's language (`brief` in nl and de, `lettre` in
/// fr, `letter` otherwise). The invoice number keeps its ASCII letters, digits, `.`, `_` and
/// `-`; anything else (a `/`, a space, an accent) becomes `-`, so the name is safe on every
/// mail client and file system. Without an invoice: the message id.
pub fn attachment_name(m: &Message) -> String {
    let word = match m.language.as_str() {
        "nl" | "de" => "brief",
        "fr" => "lettre",
        _ => "letter",
    };
    let mut number = String::new();
    for c in m.invoices.first().map(|c| c.invoice_number.as_str()).unwrap_or_default().chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' };
        if !(c == '-' && number.ends_with('-')) {
            number.push(c);
        }
    }
    let number: String = number.trim_matches(['-', '.']).chars().take(64).collect();
    if number.is_empty() {
        format!("{word}-{}.pdf", m.id)
    } else {
        format!("{word}-{number}.pdf")
    }
}

/// A header text without control characters (a line break in a subject would otherwise be
/// encoded as `=?utf-8?b?DQo=?=` and show as garbage).
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The MIME message for an outbox row, with `pdf` attached when given. `reply_to` is the
/// business's address for answers (`reply_to` of [channels.email], else `[business]
/// contact_email`); the row's `cc` (the customer's account manager) is copied.
pub fn compose(
    m: &Message,
    from: &Mailbox,
    reply_to: Option<&Mailbox>,
    pdf: Option<&[u8]>,
) -> Result<lettre::Message, String> {
    let to = m.recipient.as_deref().ok_or("no recipient")?;
    let mut b = lettre::Message::builder()
        .from(from.clone())
        .to(mailbox("the recipient", to)?)
        .subject(one_line(m.subject.as_deref().unwrap_or_default()))
        .message_id(Some(message_id(m, from)))
        .date_now();
    if let Some(r) = reply_to {
        b = b.reply_to(r.clone());
    }
    if let Some(cc) = m.cc.as_deref() {
        b = b.cc(mailbox("the copy (cc, the account manager)", cc)?);
    }
    let text = || SinglePart::builder().header(ContentType::TEXT_PLAIN).body(m.body.clone());
    let built = match (&m.html, pdf) {
        (Some(html), None) => b.multipart(MultiPart::alternative_plain_html(m.body.clone(), html.clone())),
        (None, None) => b.singlepart(text()),
        (html, Some(pdf)) => {
            let content_type = ContentType::parse("application/pdf").map_err(|e| e.to_string())?;
            let attachment = Attachment::new(attachment_name(m)).body(pdf.to_vec(), content_type);
            let mixed = match html {
                Some(html) => MultiPart::mixed()
                    .multipart(MultiPart::alternative_plain_html(m.body.clone(), html.clone())),
                None => MultiPart::mixed().singlepart(text()),
            };
            b.multipart(mixed.singlepart(attachment))
        }
    };
    built.map_err(|e| format!("cannot build the message: {e}"))
}

/// The `.eml` of an outbox row (file mode), with `pdf` attached when given and `reply_to`
/// (the business's address for answers) when known.
pub fn eml(m: &Message, reply_to: Option<&Mailbox>, pdf: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let from = mailbox("the sender", FILE_SENDER)?;
    Ok(compose(m, &from, reply_to, pdf)?.formatted())
}

/// The address answers go to: `reply_to` of [channels.email] when set, else the business's
/// `contact_email`, so a customer's reply reaches the business even when the sender is a
/// no-reply address. One that is not an address is a problem of the configuration, named by
/// its key.
pub fn reply_to(
    settings: Option<&EmailSettings>,
    contact_email: Option<&str>,
) -> Result<Option<Mailbox>, ChannelError> {
    let (key, address) = match settings.and_then(|s| s.reply_to.as_deref()) {
        Some(r) => ("reply_to of [channels.email]", r),
        None => match contact_email.filter(|c| !c.trim().is_empty()) {
            Some(c) => ("contact_email of [business]", c),
            None => return Ok(None),
        },
    };
    mailbox(key, address.trim()).map(Some).map_err(ChannelError::Setup)
}

/// How a message reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// `smtp://` without `tls=`: plain text, only to this machine.
    Plain,
    /// `smtp://…?tls=required`: STARTTLS, required.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

/// A parsed `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    security: Security,
    /// The host as written (an IPv6 address without its brackets).
    host: String,
    port: u16,
}

/// Reads `smtps://host[:port]`, `smtp://host[:port]?tls=required` and `smtp://host[:port]`
/// (the scheme in any case; a trailing `/` allowed). lettre's own URL reading would take a
/// password from the URL, a path as the HELO name, and `tls=opportunistic`; none of that is
/// wanted, so the URL is read here and the transport built from its parts.
fn endpoint(url: &str) -> Result<Endpoint, String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        format!("url `{url}` is not an SMTP URL; write smtps://HOST:465 or smtp://HOST:587?tls=required")
    })?;
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('@') {
        return Err(format!(
            "url `{}`: put the user name in `user` and the password in a file named by `password_file`, not in the URL",
            crate::text::escape(url.split_once('@').map(|(_, host)| host).unwrap_or(url))
        ));
    }
    if authority.contains(['/', '#']) {
        return Err(format!("url `{url}`: nothing may follow the host and port"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) =
            v6.split_once(']').ok_or_else(|| format!("url `{url}`: the IPv6 address lacks its `]`"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("url `{url}` has no host"));
    }
    let port = port
        .map(|p| p.parse::<u16>().map_err(|_| format!("url `{url}`: `{p}` is not a port number")))
        .transpose()?;
    let tls = match query {
        None | Some("") => None,
        Some(q) => match q.strip_prefix("tls=") {
            Some(v) if !v.contains('&') => Some(v.to_ascii_lowercase()),
            _ => return Err(format!("url `{url}`: the only setting a URL takes is `?tls=required`")),
        },
    };
    let scheme = scheme.to_ascii_lowercase();
    let security = match (scheme.as_str(), tls.as_deref()) {
        ("smtps", None) => Security::Implicit,
        ("smtp", None) => Security::Plain,
        ("smtp", Some("required")) => Security::StartTls,
        ("smtp", Some("opportunistic")) => {
            return Err("tls=opportunistic lets a man in the middle strip the encryption; use tls=required".into())
        }
        ("smtps", Some(_)) => return Err(format!("url `{url}`: smtps:// is TLS already; drop the `?tls=`")),
        ("smtp", Some(other)) => return Err(format!("url `{url}`: tls={other} is not known; use tls=required")),
        _ => {
            return Err(format!(
                "url `{url}`: the scheme must be smtps:// (TLS, port 465) or smtp:// (with ?tls=required, port 587)"
            ))
        }
    };
    let port = port.unwrap_or(match security {
        Security::Implicit => 465,
        Security::StartTls => 587,
        Security::Plain => 25,
    });
    Ok(Endpoint { security, host: host.to_string(), port })
}

/// Why an exchange failed.
enum Failure {
    /// The TCP connection could not be made.
    Connect(std::io::Error),
    /// The TLS handshake of implicit TLS failed.
    Tls(std::io::Error),
    Smtp(lettre::transport::smtp::Error),
}

impl From<lettre::transport::smtp::Error> for Failure {
    fn from(e: lettre::transport::smtp::Error) -> Failure {
        Failure::Smtp(e)
    }
}

/// An SMTP connection kept open from one message to the next, and the runtime it runs on.
///
/// The connection is lettre's `AsyncSmtpConnection` over a TCP stream opened here with
/// `TCP_NODELAY`: lettre's own transport leaves Nagle's algorithm on, and it writes the
/// message and the final `.` separately, so the `.` waits for the server's delayed ACK (40 ms
/// on Linux): 20 messages a second at most. With STARTTLS the TLS layer runs over the same
/// stream. Implicit TLS (`smtps://`) is opened by lettre (the TLS handshake must come before
/// the greeting): lettre's own implicit-TLS connect opens the socket without `TCP_NODELAY`
/// (20 messages a second), so dunwell makes the TLS stream itself (tokio-rustls over its own
/// TCP stream, the same rustls configuration and platform verifier lettre would build) and
/// hands lettre the ready stream ([`TlsTcp`]).
///
/// One connection, one message at a time, in outbox order: at most one message is in
/// `sending` when the process dies, which bounds the duplicates of a crash (see
/// `channel/mod.rs`). A connection idle for more than [`IDLE_CHECK`] is checked with `NOOP`
/// before it carries a message; one whose exchange failed or was cut off is never reused.
pub struct Smtp {
    runtime: tokio::runtime::Runtime,
    conn: Option<(AsyncSmtpConnection, Instant)>,
    endpoint: Endpoint,
    /// STARTTLS: lettre's TLS parameters for the upgrade.
    tls: Option<TlsParameters>,
    /// Implicit TLS: the client configuration and the server's name.
    implicit: Option<(tokio_rustls::TlsConnector, rustls::pki_types::ServerName<'static>)>,
    credentials: Option<Credentials>,
    hello: ClientId,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    timeout: Duration,
    /// `host:port`, for messages.
    server: String,
    user: Option<String>,
    password_file: Option<PathBuf>,
    /// Set when the server cannot take anything until the configuration is fixed (a refused
    /// login, an untrusted certificate): the rest of the run is not tried.
    halted: Option<String>,
}

/// A TLS stream over TCP that lettre takes as a ready transport (implicit TLS).
#[derive(Debug)]
struct TlsTcp(tokio_rustls::client::TlsStream<tokio::net::TcpStream>);

impl tokio::io::AsyncRead for TlsTcp {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsTcp {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl lettre::transport::smtp::client::AsyncTokioStream for TlsTcp {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// The rustls client of implicit TLS, as lettre builds it for STARTTLS: TLS 1.2 and 1.3 on
/// ring, the platform's verifier, plus `ca_file`'s certificates as extra roots.
fn implicit_tls(
    host: &str,
    ca_pem: Option<&[u8]>,
) -> Result<(tokio_rustls::TlsConnector, rustls::pki_types::ServerName<'static>), String> {
    use rustls::pki_types::pem::PemObject;
    let mut extra = Vec::new();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.unwrap_or_default()) {
        extra.push(cert.map_err(|e| format!("ca_file: {e}"))?);
    }
    let provider = std::sync::Arc::new(crate::http::tls_provider());
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
        .map_err(|e| format!("TLS for {host}: {e}"))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| format!("TLS for {host}: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| format!("`{host}` is not a host name TLS can check"))?;
    Ok((tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)), name))
}

/// `ca_file`'s PEM, which must hold at least one certificate.
fn read_ca_file(file: &std::path::Path) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(file).map_err(|e| format!("cannot read ca_file {}: {e}", file.display()))?;
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(format!(
            "ca_file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            file.display()
        ));
    }
    Ok(pem)
}

/// A TLS failure's innermost message (rustls's own: "invalid peer certificate: UnknownIssuer").
fn tls_detail(e: &std::io::Error) -> String {
    match e.get_ref() {
        Some(inner) => inner.to_string(),
        None => e.to_string(),
    }
}

/// How long a connection may sit unused before it is checked with `NOOP`.
const IDLE_CHECK: Duration = Duration::from_secs(2);

/// The mechanisms tried, in order (lettre's default).
const MECHANISMS: &[Mechanism] = &[Mechanism::Plain, Mechanism::Login];

impl Smtp {
    pub fn new(s: &EmailSettings) -> Result<Smtp, ChannelError> {
        let setup = |m: String| ChannelError::Setup(format!("[channels.email]: {m}"));
        let from = mailbox("from", &s.from).map_err(setup)?;
        let reply_to = s.reply_to.as_deref().map(|r| mailbox("reply_to", r)).transpose().map_err(setup)?;
        let url = s.url.trim();
        let endpoint = endpoint(url).map_err(setup)?;
        let host = endpoint.host.as_str();
        if endpoint.security == Security::Plain && !matches!(host, "127.0.0.1" | "localhost" | "::1") {
            return Err(setup(format!(
                "`{url}` sends in plain text; use smtps://{host}:465 or smtp://{host}:587?tls=required (plain smtp:// only to this machine)"
            )));
        }
        // The extra trusted roots, read and checked once; each mode builds its TLS from them.
        let ca_pem = match &s.ca_file {
            Some(file) => Some(read_ca_file(file).map_err(setup)?),
            None => None,
        };
        let (tls, implicit) = match endpoint.security {
            Security::Plain => (None, None),
            Security::StartTls => {
                let mut tls = TlsParameters::builder(host.to_string());
                if let (Some(pem), Some(file)) = (&ca_pem, &s.ca_file) {
                    let cert = Certificate::from_pem(pem)
                        .map_err(|e| setup(format!("ca_file {}: {e}", file.display())))?;
                    tls = tls.add_root_certificate(cert);
                }
                (Some(tls.build_rustls().map_err(|e| setup(format!("TLS for {host}: {e}")))?), None)
            }
            Security::Implicit => (None, Some(implicit_tls(host, ca_pem.as_deref()).map_err(setup)?)),
        };
        let credentials = match (&s.user, &s.password_file) {
            (Some(user), Some(file)) => {
                let file =
                    crate::http::secret_path(file).map_err(|e| setup(format!("password_file: {e}")))?;
                let password = std::fs::read_to_string(&file)
                    .map_err(|e| setup(format!("cannot read password_file {}: {e}", file.display())))?;
                Some(Credentials::new(user.clone(), password.trim_end().to_string()))
            }
            (Some(_), None) => return Err(setup("`user` needs `password_file`".into())),
            (None, Some(_)) => return Err(setup("`password_file` needs `user` (the SMTP user name)".into())),
            (None, None) => None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| setup(format!("cannot start the runtime: {e}")))?;
        let server = if host.contains(':') {
            format!("[{host}]:{}", endpoint.port)
        } else {
            format!("{host}:{}", endpoint.port)
        };
        Ok(Smtp {
            runtime,
            conn: None,
            endpoint,
            tls,
            implicit,
            credentials,
            hello: ClientId::default(),
            from,
            reply_to,
            timeout: Duration::from_secs(s.timeout_s.unwrap_or(60)),
            server,
            user: s.user.clone(),
            password_file: s.password_file.clone(),
            halted: None,
        })
    }

    /// The Reply-To of messages without one configured in [channels.email] (the business's
    /// `contact_email`).
    pub fn default_reply_to(&mut self, reply_to: Option<Mailbox>) {
        if self.reply_to.is_none() {
            self.reply_to = reply_to;
        }
    }

    /// Sends one message, with `pdf` attached when given; `Sent` carries the server's reply
    /// (Postfix: `queued as ID`) and the Message-ID.
    pub fn send(&mut self, m: &Message, pdf: Option<&[u8]>) -> Outcome {
        if let Some(why) = &self.halted {
            return Outcome::Retry(format!("{why} (not tried again in this run)"));
        }
        let message = match compose(m, &self.from, self.reply_to.as_ref(), pdf) {
            Ok(message) => message,
            Err(e) => return Outcome::Refused(e),
        };
        let id = message_id(m, &self.from);
        let envelope = message.envelope().clone();
        let raw = message.formatted();
        // The whole exchange is bounded (lettre bounds the connection only). When the time
        // runs out the future is dropped, and the connection with it: cut off mid-way, its
        // replies would answer the next message's commands.
        let previous = self.conn.take();
        let exchange = async {
            let mut conn = match previous {
                Some((conn, used)) if used.elapsed() < IDLE_CHECK => conn,
                Some((mut conn, _)) => {
                    if conn.test_connected().await {
                        conn
                    } else {
                        conn.abort().await;
                        self.connect().await?
                    }
                }
                None => self.connect().await?,
            };
            let reply = conn.send(&envelope, &raw).await;
            let kept = (!conn.has_broken()).then_some(conn);
            Ok::<_, Failure>((reply?, kept))
        };
        let result = self.runtime.block_on(async { tokio::time::timeout(self.timeout, exchange).await });
        match result {
            Ok(Ok((reply, conn))) => {
                self.conn = conn.map(|c| (c, Instant::now()));
                Outcome::Sent {
                    provider_id: Some(reply.message().collect::<Vec<_>>().join(" ")).filter(|s| !s.is_empty()),
                    message_id: Some(id),
                    file: None,
                }
            }
            Ok(Err(Failure::Connect(e))) => Outcome::Retry(format!("SMTP: cannot reach {}: {e}", self.server)),
            Ok(Err(Failure::Tls(e))) => {
                let detail = tls_detail(&e);
                if detail.contains("invalid peer certificate") {
                    let why = format!(
                        "SMTP: the TLS certificate of {} is not trusted ({detail}); if your mail server's certificate is signed by your own (company) CA, name that CA's PEM file in `ca_file` of [channels.email]; check that `url` names the host the certificate is for",
                        self.server
                    );
                    self.halted = Some(why.clone());
                    Outcome::Retry(why)
                } else {
                    Outcome::Retry(format!("SMTP: the TLS handshake with {} failed: {detail}", self.server))
                }
            }
            Ok(Err(Failure::Smtp(e))) => {
                let (outcome, halt) = self.judge(&e);
                if halt {
                    if let Outcome::Retry(why) | Outcome::Refused(why) = &outcome {
                        self.halted = Some(why.clone());
                    }
                }
                outcome
            }
            Err(_) => Outcome::Retry(format!(
                "SMTP: {} gave no answer within {}s (timeout_s); if the message was handed over, the server may have it, and the next attempt carries the same Message-ID",
                self.server,
                self.timeout.as_secs()
            )),
        }
    }

    /// A new connection: TCP (`TCP_NODELAY`), greeting and EHLO, STARTTLS or implicit TLS,
    /// then AUTH when a user is configured.
    async fn connect(&self) -> Result<AsyncSmtpConnection, Failure> {
        let host = self.endpoint.host.as_str();
        let port = self.endpoint.port;
        let tcp = tokio::net::TcpStream::connect((host, port)).await.map_err(Failure::Connect)?;
        tcp.set_nodelay(true).map_err(Failure::Connect)?;
        let mut conn = match &self.implicit {
            Some((connector, name)) => {
                let tls = connector.connect(name.clone(), tcp).await.map_err(Failure::Tls)?;
                AsyncSmtpConnection::connect_with_transport(Box::new(TlsTcp(tls)), &self.hello).await?
            }
            None => {
                let mut conn =
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?;
                if let Some(tls) = &self.tls {
                    conn.starttls(tls.clone(), &self.hello).await?;
                }
                conn
            }
        };
        if let Some(credentials) = &self.credentials {
            if let Err(e) = conn.auth(MECHANISMS, credentials).await {
                conn.abort().await;
                return Err(e.into());
            }
        }
        Ok(conn)
    }

    /// The outcome of a failed exchange, and whether the rest of the run should not try.
    fn judge(&self, e: &lettre::transport::smtp::Error) -> (Outcome, bool) {
        let detail = root_cause(e);
        let server = &self.server;
        let code = e.status().map(|c| c.to_string());
        let reply = match &code {
            Some(code) => format!("{code} {}", source_text(e)),
            None => detail.clone(),
        };
        let user = self.user.as_deref().unwrap_or_default();
        let password_file = self
            .password_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "password_file".into());
        match code.as_deref() {
            // 535: credentials invalid; 534: mechanism too weak; 454 4.7.0: temporary auth
            // failure (tried again later, like any 4xx).
            Some("535" | "534") => {
                return (
                    Outcome::Retry(format!(
                        "SMTP: {server} refused the login of user `{user}` ({reply}); check `user` in [channels.email] and the password in {password_file}"
                    )),
                    true,
                )
            }
            // 530: authentication (or STARTTLS) required; 538: encryption required for AUTH.
            Some("530" | "538") => {
                let fix = if self.user.is_none() {
                    "set `user` and `password_file` in [channels.email]"
                } else {
                    "use smtps:// or ?tls=required in `url`, and check `user` and `password_file`"
                };
                return (Outcome::Retry(format!("SMTP: {server} wants more before it takes mail ({reply}); {fix}")), true);
            }
            _ => {}
        }
        if e.is_permanent() {
            return (
                Outcome::Refused(format!("the SMTP server {server} refused the message: {reply}")),
                false,
            );
        }
        if e.is_transient() {
            return (
                Outcome::Retry(format!("the SMTP server {server} deferred the message: {reply}")),
                false,
            );
        }
        if detail.contains("invalid peer certificate") || (detail.contains("certificate") && e.is_tls()) {
            return (
                Outcome::Retry(format!(
                    "SMTP: the TLS certificate of {server} is not trusted ({detail}); if your mail server's certificate is signed by your own (company) CA, name that CA's PEM file in `ca_file` of [channels.email]; check that `url` names the host the certificate is for"
                )),
                true,
            );
        }
        if detail.contains("STARTTLS is not supported") {
            return (
                Outcome::Retry(format!(
                    "SMTP: {server} does not offer STARTTLS; if it speaks TLS from the first byte (usually port 465), use smtps:// in `url`"
                )),
                true,
            );
        }
        if detail.contains("No compatible authentication mechanism") {
            return (
                Outcome::Retry(format!(
                    "SMTP: {server} offers no login this client can use ({detail}); use smtps:// or ?tls=required in `url` (servers offer AUTH only over TLS)"
                )),
                true,
            );
        }
        if e.is_client() {
            return (Outcome::Refused(format!("SMTP: {detail}")), false);
        }
        if e.to_string().starts_with("Connection error") {
            return (Outcome::Retry(format!("SMTP: cannot reach {server}: {detail}")), false);
        }
        (
            Outcome::Retry(format!(
                "SMTP: the connection to {server} broke ({detail}); if it broke after the message was handed over, the server may have it, and the next attempt carries the same Message-ID"
            )),
            false,
        )
    }
}

/// The error's own text (the server's reply for an SMTP code).
fn source_text(e: &lettre::transport::smtp::Error) -> String {
    std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_default()
}

/// The innermost cause of an error (lettre nests its own errors: `Connection error:
/// Connection error: invalid peer certificate: UnknownIssuer`).
fn root_cause(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}

impl Drop for Smtp {
    /// Says `QUIT` on an open connection (briefly: a server that does not answer is left).
    fn drop(&mut self) {
        if let Some((mut conn, _)) = self.conn.take() {
            self.runtime.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(2), conn.quit()).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Covered;

    fn message(subject: &str, invoice: &str, language: &str) -> Message {
        Message {
            key: "C1|email|2026-11-26|2026-001:2".into(),
            day: chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
            template: "standard-reminder-1".into(),
            language: language.into(),
            recipient: Some("admin@bakkerijdevries.nl".into()),
            subject: Some(subject.into()),
            body: "Factuur 2026-001: € 1.210,00".into(),
            html: Some("<p>Factuur 2026-001: € 1.210,00</p>".into()),
            invoices: vec![Covered { invoice_number: invoice.into(), step: 2 }],
            ..Message::example(7, "email")
        }
    }

    fn headers(eml: &[u8]) -> Vec<String> {
        let text = String::from_utf8_lossy(eml);
        let head = text.split("\r\n\r\n").next().unwrap().to_string();
        head.split("\r\n").map(str::to_string).collect()
    }

    #[test]
    fn a_line_break_in_the_subject_adds_no_header() {
        for evil in ["Factuur\r\nBcc: victim@example.com", "Factuur\rBcc: x@y.z", "Factuur\nBcc: x@y.z"] {
            let eml = eml(&message(evil, "2026-001", "nl"), None, None).unwrap();
            let headers = headers(&eml);
            assert!(!headers.iter().any(|h| h.to_ascii_lowercase().starts_with("bcc")), "{headers:?}");
            let subject: Vec<&String> = headers.iter().filter(|h| h.starts_with("Subject:")).collect();
            assert_eq!(subject.len(), 1, "{headers:?}");
            assert!(
                subject[0].contains("Factuur  Bcc: ") || subject[0].contains("Factuur Bcc: "),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn a_pdf_is_attached_around_the_alternative() {
        let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\nfake\n%%EOF\n";
        let eml = String::from_utf8(eml(&message("Factuur", "2026/001 A", "nl"), None, Some(pdf)).unwrap())
            .unwrap();
        assert!(eml.contains("Content-Type: multipart/mixed"), "{eml}");
        assert!(eml.contains("Content-Type: multipart/alternative"), "{eml}");
        assert!(eml.contains("Content-Type: application/pdf"), "{eml}");
        assert!(eml.contains("filename=\"brief-2026-001-A.pdf\""), "{eml}");
        let without = String::from_utf8(eml_without_pdf()).unwrap();
        assert!(!without.contains("multipart/mixed"), "{without}");
    }

    fn eml_without_pdf() -> Vec<u8> {
        eml(&message("Factuur", "2026-001", "nl"), None, None).unwrap()
    }

    #[test]
    fn the_account_manager_is_copied_and_answers_go_to_the_business() {
        let reply_to = reply_to(None, Some("debiteuren@bakkerij.example")).unwrap();
        let m = Message { cc: Some("anja@bakkerij.example".into()), ..message("Factuur", "2026-001", "nl") };
        let eml = eml(&m, reply_to.as_ref(), None).unwrap();
        let head = headers(&eml);
        assert!(head.contains(&"Cc: anja@bakkerij.example".to_string()), "{head:?}");
        assert!(head.contains(&"Reply-To: debiteuren@bakkerij.example".to_string()), "{head:?}");
        let from = mailbox("from", FILE_SENDER).unwrap();
        let built = compose(&m, &from, None, None).unwrap();
        let to: Vec<String> = built.envelope().to().iter().map(|a| a.to_string()).collect();
        assert_eq!(to, ["admin@bakkerijdevries.nl", "anja@bakkerij.example"], "the copy is a recipient");
        let plain = eml_without_pdf();
        assert!(!headers(&plain).iter().any(|h| h.starts_with("Cc:") || h.starts_with("Reply-To:")));
    }

    #[test]
    fn reply_to_is_the_setting_else_the_contact_address() {
        let mut s = settings("smtp://127.0.0.1:2525");
        let email = |r: Option<Mailbox>| r.map(|m| m.email.to_string());
        let contact = Some("info@bakkerij.example");
        assert_eq!(email(reply_to(Some(&s), contact).unwrap()).as_deref(), Some("info@bakkerij.example"));
        s.reply_to = Some("Debiteuren <deb@bakkerij.example>".into());
        assert_eq!(email(reply_to(Some(&s), contact).unwrap()).as_deref(), Some("deb@bakkerij.example"));
        assert_eq!(reply_to(None, None).unwrap(), None);
        assert_eq!(reply_to(None, Some(" ")).unwrap(), None);
        s.reply_to = Some("not an address".into());
        let err = reply_to(Some(&s), None).unwrap_err().to_string();
        assert!(err.contains("reply_to of [channels.email]"), "{err}");
        // The SMTP channel takes the default only when [channels.email] has none.
        let mut smtp = Smtp::new(&settings("smtp://127.0.0.1:2525")).unwrap();
        smtp.default_reply_to(reply_to(None, Some("info@bakkerij.example")).unwrap());
        assert_eq!(email(smtp.reply_to.clone()).as_deref(), Some("info@bakkerij.example"));
    }

    #[test]
    fn our_message_ids_are_recognised_by_row_and_key() {
        let m = message("Factuur", "2026-001", "nl");
        let id = message_id(&m, &mailbox("from", FILE_SENDER).unwrap());
        assert_eq!(row_of_message_id(&id), Some(7));
        assert!(is_message_id_of(&m, &id));
        assert!(is_message_id_of(&m, id.trim_matches(['<', '>'])));
        let local = id.trim_matches(['<', '>']).split('@').next().unwrap().to_string();
        assert!(is_message_id_of(&m, &format!("<{local}@bakkerij.example>")), "another sender's domain");
        let other = Message { key: "C2|email|2026-11-26|2026-009:1".into(), ..m.clone() };
        assert!(!is_message_id_of(&other, &id), "the hash is the key's");
        assert_eq!(row_of_message_id("<abc@example.nl>"), None);
    }

    #[test]
    fn attachment_names_are_safe() {
        assert_eq!(attachment_name(&message("s", "2026-001", "nl")), "brief-2026-001.pdf");
        assert_eq!(attachment_name(&message("s", "2026-001", "fr")), "lettre-2026-001.pdf");
        assert_eq!(attachment_name(&message("s", "F/2026/0001", "en")), "letter-F-2026-0001.pdf");
        assert_eq!(attachment_name(&message("s", "../../etc", "de")), "brief-etc.pdf");
        assert_eq!(attachment_name(&message("s", "Café 1", "nl")), "brief-Caf-1.pdf");
        assert_eq!(attachment_name(&message("s", "///", "nl")), "brief-7.pdf");
    }

    #[test]
    fn urls_are_read_strictly() {
        let e = |u: &str| endpoint(u).map(|e| (e.security, e.host, e.port));
        assert_eq!(e("smtps://mail.example.nl"), Ok((Security::Implicit, "mail.example.nl".into(), 465)));
        assert_eq!(
            e("SMTPS://mail.example.nl:2465/"),
            Ok((Security::Implicit, "mail.example.nl".into(), 2465))
        );
        assert_eq!(
            e("smtp://mail.example.nl?tls=required"),
            Ok((Security::StartTls, "mail.example.nl".into(), 587))
        );
        assert_eq!(e("smtp://127.0.0.1:2525"), Ok((Security::Plain, "127.0.0.1".into(), 2525)));
        assert_eq!(e("smtp://[::1]:2525"), Ok((Security::Plain, "::1".into(), 2525)));
        assert!(e("smtp://h?tls=opportunistic").unwrap_err().contains("man in the middle"));
        assert!(e("smtp://user:pw@mail.example.nl:587?tls=required").unwrap_err().contains("password_file"));
        assert!(e("smtp://mail.example.nl:587?tls=wrapper").is_err());
        assert!(e("http://mail.example.nl").is_err());
        assert!(e("smtp://mail.example.nl:port").is_err());
        assert!(e("smtp://mail.example.nl/helo.name").is_err());
    }

    fn settings(url: &str) -> EmailSettings {
        EmailSettings {
            url: url.into(),
            from: "x@bakkerij.example".into(),
            reply_to: None,
            user: None,
            password_file: None,
            timeout_s: None,
            ca_file: None,
        }
    }

    #[test]
    fn plain_text_goes_to_this_machine_only() {
        let refused = |url: &str| match Smtp::new(&settings(url)) {
            Err(e) => e.to_string(),
            Ok(_) => String::new(),
        };
        assert!(refused("smtp://mail.example.com").contains("sends in plain text"));
        assert!(refused("SMTP://mail.example.com:25").contains("sends in plain text"));
        // A user part cannot smuggle another host past the check.
        assert!(refused("smtp://127.0.0.1@mail.example.com:25").contains("password_file"));
        assert_eq!(refused("smtp://127.0.0.1:2525"), "");
        assert_eq!(refused("smtp://localhost:2525"), "");
    }

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "not a certificate").unwrap();
        let mut s = settings("smtps://127.0.0.1:465");
        s.ca_file = Some(file);
        let err = Smtp::new(&s).err().unwrap().to_string();
        assert!(err.contains("holds no PEM certificate"), "{err}");
        s.ca_file = Some(dir.path().join("missing.pem"));
        let err = Smtp::new(&s).err().unwrap().to_string();
        assert!(err.contains("cannot read ca_file"), "{err}");
    }
}
