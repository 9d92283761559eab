//! End-to-end tests: they run the real `dunwell` binary in a temporary folder, with its own
//! configuration and database, and look at its output, exit code and store.

mod approvals;
mod bank;
mod care;
mod check;
mod crash;
mod daemon;
mod daemon_logs;
mod email;
mod escalation;
mod fake_http;
mod faults;
mod import;
mod invariants;
mod law;
mod pingen;
mod plan;
mod plugin_new;
mod plugins;
mod quarantine;
mod replies;
mod sdk_readme;
mod security;
mod send;
mod spreadsheets;
mod steps;
mod systemd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The business a scratch installation sends for unless its configuration names one: Dutch,
/// with the Belgian enterprise number too, so that `dunwell check` passes under either law.
pub const BUSINESS: &str = "[business]\nname = 'Bakkerij Van Dam B.V.'\naddress = 'Kerkstraat 12, 3811 CV Amersfoort'\niban = 'NL91ABNA0417164300'\nkvk = '12345678'\ncompany_number = '0123.456.749'\n";

/// A scratch installation: a folder with a dunwell.toml pointing at its own data dir and at
/// the repository's playbooks.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
}

impl Env {
    pub fn new() -> Env {
        Env::with_config("")
    }

    pub fn with_config(extra: &str) -> Env {
        let env = Env { dir: tempfile::tempdir().expect("tempdir") };
        env.set_config(extra);
        env
    }

    /// Rewrites this env's dunwell.toml: its data dir, the repository's playbooks, and `extra`;
    /// when `extra` has no `[business]`, [`BUSINESS`] (`dunwell check` refuses playbooks that
    /// write to customers for a business without a name or IBAN).
    pub fn set_config(&self, extra: &str) {
        let business = if extra.contains("[business]") { "" } else { BUSINESS };
        self.set_config_without_business(&format!("{extra}\n{business}"));
    }

    /// [`set_config`](Self::set_config) without the default business: for the tests of what
    /// dunwell refuses to do without one.
    pub fn set_config_without_business(&self, extra: &str) {
        let config = format!(
            "data_dir = \"data\"\nplaybooks_dir = \"{}\"\n{extra}",
            repo().join("playbooks").display()
        );
        std::fs::write(self.path().join("dunwell.toml"), config).expect("write config");
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db(&self) -> PathBuf {
        self.path().join("data/dunwell.db")
    }

    /// Runs dunwell with this env's config; returns the raw output.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_dunwell"))
            .arg("--config")
            .arg(self.path().join("dunwell.toml"))
            .args(args)
            .current_dir(self.path())
            .env("DUNWELL_LOG", "warn")
            .output()
            .expect("run dunwell")
    }

    /// Runs dunwell and insists on success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "dunwell {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs dunwell and insists on failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "dunwell {args:?} should fail but printed:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

pub fn testdata(name: &str) -> PathBuf {
    repo().join("tests/testdata").join(name)
}

/// Copies a folder tree (a test's own copy of the shipped playbooks, to edit).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Replaces the first `from` in a file, insisting it is there (an edit that misses its mark
/// would leave a test checking the unedited file).
pub fn replace(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no `{from}`", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// Runs `dunwell send` on every day from `from` through `to`.
pub fn send_days(env: &Env, from: &str, to: &str) {
    let mut day = chrono::NaiveDate::parse_from_str(from, "%Y-%m-%d").unwrap();
    let end = chrono::NaiveDate::parse_from_str(to, "%Y-%m-%d").unwrap();
    while day <= end {
        env.ok(&["send", "--at", &day.to_string()]);
        day = day.succ_opt().unwrap();
    }
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A command's JSON output, parsed; a panic with the text when it is not JSON.
pub fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Every outbox row (`dunwell outbox --format json`), by id.
pub fn outbox(env: &Env) -> Vec<serde_json::Value> {
    let mut all = json(&env.ok(&["outbox", "--format", "json"])).as_array().expect("a list").clone();
    all.sort_by_key(|m| m["id"].as_i64());
    all
}
