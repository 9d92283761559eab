//! systemd's notify protocol (`sd_notify(3)`): how `dunwell run` tells the service manager
//! that it is ready, reloading or stopping, what it is doing (`STATUS=`), and that it is still
//! alive (the watchdog).
//!
//! The environment is read once, in [`Notifier::from_env`]: `NOTIFY_SOCKET` (a path, or an
//! abstract socket written `@name`) and `WATCHDOG_USEC`/`WATCHDOG_PID` (through
//! `sd_notify::watchdog_enabled`). Without `NOTIFY_SOCKET` (not started by systemd, or not
//! `Type=notify`) every call is a no-op.
//!
//! The messages are `sd_notify`'s [`NotifyState`]s; the datagrams are sent here rather than by
//! `sd_notify::notify`, which reads `NOTIFY_SOCKET` on every call (so tests could only point
//! it somewhere by changing the process-global environment) and connects to the variable's
//! value as a file path (so an abstract `@name` socket would not be reached).
//!
//! Notifying never fails the daemon: the first failure is logged as a warning, later ones at
//! debug level.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sd_notify::NotifyState;

/// `STATUS=` texts are cut to this many bytes: systemd reads a notification into a buffer of
/// 4 KiB and drops larger datagrams.
const STATUS_MAX: usize = 1024;

/// The daemon's line to systemd. Cheap to share (`&Notifier` or `Arc<Notifier>`: it is
/// `Send + Sync`); each message opens its own unbound datagram socket, as libsystemd does.
#[derive(Debug)]
pub struct Notifier {
    /// `NOTIFY_SOCKET` as given: an absolute path, or `@name` for an abstract socket.
    socket: Option<OsString>,
    /// `WATCHDOG_USEC`, when the watchdog is on for this process.
    watchdog: Option<Duration>,
    /// Whether a failure has been logged as a warning already.
    warned: AtomicBool,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` (a watchdog meant for another
    /// process is off for this one). Call it once at start; the variables are left in place.
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty());
        Notifier::new(socket, sd_notify::watchdog_enabled())
    }

    /// A notifier that sends to `socket`, written like `NOTIFY_SOCKET` (an absolute path, or
    /// `@name` for an abstract socket), with the watchdog timeout `watchdog` (`WATCHDOG_USEC`).
    pub fn to_socket(socket: impl AsRef<OsStr>, watchdog: Option<Duration>) -> Notifier {
        Notifier::new(Some(socket.as_ref().to_os_string()), watchdog)
    }

    /// A notifier that sends nothing (not run by systemd).
    pub fn disabled() -> Notifier {
        Notifier::new(None, None)
    }

    fn new(socket: Option<OsString>, watchdog: Option<Duration>) -> Notifier {
        // WATCHDOG_USEC=0 is invalid (sd_watchdog_enabled refuses it): no watchdog.
        let watchdog = watchdog.filter(|d| !d.is_zero());
        Notifier { socket, watchdog, warned: AtomicBool::new(false) }
    }

    /// Whether there is a service manager to notify.
    pub fn enabled(&self) -> bool {
        self.socket.is_some()
    }

    /// `READY=1` with `STATUS=`: start-up is done, or a reload is over (whether the new
    /// configuration was taken or refused; say which in `status`).
    pub fn ready(&self, status: &str) {
        if self.enabled() {
            self.send(&[NotifyState::Ready, NotifyState::Status(&clean_status(status))]);
        }
    }

    /// `STATUS=`: what the daemon is doing, shown by `systemctl status`.
    pub fn status(&self, status: &str) {
        if self.enabled() {
            self.send(&[NotifyState::Status(&clean_status(status))]);
        }
    }

    /// `RELOADING=1` with `MONOTONIC_USEC=` (the `CLOCK_MONOTONIC` time in µs, without which
    /// systemd >= 253 ignores the message). Follow it with [`ready`](Self::ready) when the
    /// reload is over, also when it was refused.
    pub fn reloading(&self) {
        if !self.enabled() {
            return;
        }
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.send(&[NotifyState::Reloading, now]),
            Err(e) => {
                self.failed(&e);
                self.send(&[NotifyState::Reloading]);
            }
        }
    }

    /// `STOPPING=1` with `STATUS=`: the daemon is shutting down.
    pub fn stopping(&self, status: &str) {
        if self.enabled() {
            self.send(&[NotifyState::Stopping, NotifyState::Status(&clean_status(status))]);
        }
    }

    /// `WATCHDOG=1`: still alive. Send it every [`watchdog_interval`](Self::watchdog_interval).
    pub fn watchdog(&self) {
        if self.enabled() {
            self.send(&[NotifyState::Watchdog]);
        }
    }

    /// How often to call [`watchdog`](Self::watchdog): half of `WATCHDOG_USEC`, as
    /// `sd_watchdog_enabled(3)` advises. `None` when the watchdog is off for this process or
    /// there is no service manager to notify. Never zero.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.socket.as_ref().and(self.watchdog).map(|d| d / 2).filter(|d| !d.is_zero())
    }

    /// Sends one datagram with `states`, one `KEY=value` line each, as `sd_notify::notify` writes
    /// them.
    fn send(&self, states: &[NotifyState]) {
        let Some(socket) = &self.socket else { return };
        let mut message = String::new();
        for state in states {
            message.push_str(&state.to_string());
            message.push('\n');
        }
        if let Err(e) = send_datagram(socket, message.as_bytes()) {
            self.failed(&e);
        }
    }

    fn failed(&self, error: &io::Error) {
        let socket = self.socket.as_deref().unwrap_or_default().to_string_lossy();
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                %socket,
                %error,
                "cannot notify systemd (NOTIFY_SOCKET); the daemon goes on, further failures are logged at debug level"
            );
        } else {
            tracing::debug!(%socket, %error, "cannot notify systemd");
        }
    }
}

/// The socket address `NOTIFY_SOCKET` names: an absolute path, or `@name` for a socket in the
/// abstract namespace (Linux).
fn socket_address(socket: &OsStr) -> io::Result<SocketAddr> {
    let bytes = socket.as_bytes();
    match bytes.first() {
        Some(b'/') => SocketAddr::from_pathname(Path::new(socket)),
        Some(b'@') => abstract_address(&bytes[1..]),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "NOTIFY_SOCKET is neither an absolute path nor an abstract socket (@name)",
        )),
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_address(name: &[u8]) -> io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_address(_name: &[u8]) -> io::Result<SocketAddr> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "abstract sockets exist only on Linux"))
}

fn send_datagram(socket: &OsStr, message: &[u8]) -> io::Result<()> {
    let address = socket_address(socket)?;
    let sent = UnixDatagram::unbound()?.send_to_addr(message, &address)?;
    if sent != message.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "incomplete notification"));
    }
    Ok(())
}

/// A `STATUS=` value: one line (a line break would start another `KEY=value`), no control
/// characters, at most [`STATUS_MAX`] bytes.
fn clean_status(status: &str) -> String {
    let mut out = String::with_capacity(status.len().min(STATUS_MAX));
    for c in status.chars().map(|c| if c.is_control() { ' ' } else { c }) {
        if out.len() + c.len_utf8() > STATUS_MAX {
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake service manager: a datagram socket in a temporary folder.
    struct Manager {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        socket: UnixDatagram,
    }

    impl Manager {
        fn new() -> Manager {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("notify");
            let socket = UnixDatagram::bind(&path).unwrap();
            socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            Manager { _dir: dir, path, socket }
        }

        fn notifier(&self, watchdog: Option<Duration>) -> Notifier {
            Notifier::to_socket(&self.path, watchdog)
        }

        fn recv(&self) -> String {
            recv(&self.socket)
        }
    }

    fn recv(socket: &UnixDatagram) -> String {
        let mut buf = [0u8; 8192];
        let n = socket.recv(&mut buf).expect("a notification");
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    fn nothing_waiting(socket: &UnixDatagram) -> bool {
        socket.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 64];
        let r = socket.recv(&mut buf);
        socket.set_nonblocking(false).unwrap();
        matches!(r, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    fn monotonic_now() -> i128 {
        match NotifyState::monotonic_usec_now().unwrap() {
            NotifyState::MonotonicUsec(usec) => usec,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ready_status_stopping_and_watchdog_are_the_exact_datagrams() {
        let m = Manager::new();
        let n = m.notifier(None);
        assert!(n.enabled());
        n.ready("running; next sync 14:00");
        assert_eq!(m.recv(), "READY=1\nSTATUS=running; next sync 14:00\n");
        n.status("syncing moneybird");
        assert_eq!(m.recv(), "STATUS=syncing moneybird\n");
        n.watchdog();
        assert_eq!(m.recv(), "WATCHDOG=1\n");
        n.stopping("stopping: SIGTERM");
        assert_eq!(m.recv(), "STOPPING=1\nSTATUS=stopping: SIGTERM\n");
        assert!(nothing_waiting(&m.socket));
    }

    #[test]
    fn reloading_carries_the_monotonic_clock() {
        let m = Manager::new();
        let n = m.notifier(None);
        let before = monotonic_now();
        n.reloading();
        let after = monotonic_now();
        let message = m.recv();
        let lines: Vec<&str> = message.strip_suffix('\n').unwrap().split('\n').collect();
        assert_eq!(lines.len(), 2, "{message:?}");
        assert_eq!(lines[0], "RELOADING=1");
        let usec: i128 = lines[1]
            .strip_prefix("MONOTONIC_USEC=")
            .unwrap_or_else(|| panic!("{message:?}"))
            .parse()
            .unwrap();
        // CLOCK_MONOTONIC in µs, read while the message was made.
        assert!(before > 0 && before <= usec && usec <= after, "{before} <= {usec} <= {after}");
        // After a reload, READY=1 again.
        n.ready("reload refused, old configuration kept");
        assert_eq!(m.recv(), "READY=1\nSTATUS=reload refused, old configuration kept\n");
    }

    #[test]
    fn abstract_sockets_are_reached() {
        let name = format!(
            "dunwell-notify-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        );
        let socket = UnixDatagram::bind_addr(&abstract_address(name.as_bytes()).unwrap()).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let n = Notifier::to_socket(format!("@{name}"), None);
        n.ready("running");
        assert_eq!(recv(&socket), "READY=1\nSTATUS=running\n");
    }

    #[test]
    fn a_status_is_one_line_of_bounded_length() {
        let m = Manager::new();
        let n = m.notifier(None);
        n.status("refused:\nline 2\r\n\tREADY=1");
        assert_eq!(m.recv(), "STATUS=refused: line 2   READY=1\n");
        n.status(&"é".repeat(STATUS_MAX));
        let message = m.recv();
        assert_eq!(message, format!("STATUS={}\n", "é".repeat(STATUS_MAX / 2)));
    }

    #[test]
    fn watchdog_interval_is_half_the_timeout_when_on() {
        let m = Manager::new();
        assert_eq!(
            m.notifier(Some(Duration::from_secs(30))).watchdog_interval(),
            Some(Duration::from_secs(15))
        );
        assert_eq!(m.notifier(None).watchdog_interval(), None);
        assert_eq!(m.notifier(Some(Duration::ZERO)).watchdog_interval(), None);
        // A watchdog without a socket to ping is no watchdog.
        assert_eq!(Notifier::new(None, Some(Duration::from_secs(30))).watchdog_interval(), None);
    }

    #[test]
    fn a_disabled_notifier_sends_nothing() {
        let n = Notifier::disabled();
        assert!(!n.enabled());
        assert_eq!(n.watchdog_interval(), None);
        n.ready("running");
        n.status("x");
        n.reloading();
        n.watchdog();
        n.stopping("bye");
        assert!(!n.warned.load(Ordering::Relaxed));
    }

    #[test]
    fn failures_never_panic_and_warn_once() {
        let dir = tempfile::tempdir().unwrap();
        for socket in [dir.path().join("nobody-listens").into_os_string(), OsString::from("relative/path")] {
            let n = Notifier::to_socket(socket, Some(Duration::from_secs(30)));
            assert!(n.enabled());
            n.ready("running");
            assert!(n.warned.load(Ordering::Relaxed));
            n.reloading();
            n.watchdog();
            n.stopping("bye");
        }
    }
}
