//! The shipped systemd unit, `daemon/systemd/dunwell.service`: systemd accepts every line of
//! it, its sandbox scores an exposure of at most 1.2 in `systemd-analyze security`, it loads
//! the credentials dunwell reads, and the command lines it runs are ones dunwell understands.
//!
//! `systemd-analyze` works offline, without systemd as PID 1; `scripts/test` installs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::repo;

/// The unit's file name: also the name systemd-analyze reports it under.
const UNIT: &str = "dunwell.service";

/// What the unit's ExecStart= and ExecReload= name; replaced by the built binary for
/// `verify`, which insists that the commands exist.
const INSTALLED_BINARY: &str = "/usr/bin/dunwell";

/// The secrets the unit hands to dunwell (`$CREDENTIALS_DIRECTORY/<name>`), each from
/// `dunwell.<name>` in systemd's credential store (`/etc/credstore/` and the like: a relative
/// source is looked up there, and skipped when missing instead of failing the start).
const CREDENTIALS: &[&str] = &["admin-token", "smtp-password", "sms-token", "pingen-secret"];

/// The highest exposure accepted (systemd 252 rates the unit 1.1).
const MAX_EXPOSURE: f64 = 1.2;

fn shipped_unit() -> String {
    let path = repo().join("daemon/systemd").join(UNIT);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The unit's settings: `(key, value)` for every line that is not a comment, a section header
/// or blank.
fn settings(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';') && !l.starts_with('['))
        .map(|l| {
            let (key, value) = l.split_once('=').unwrap_or_else(|| panic!("not a setting: {l}"));
            (key.trim().to_string(), value.trim().to_string())
        })
        .collect()
}

fn values(unit: &str, key: &str) -> Vec<String> {
    settings(unit).into_iter().filter(|(k, _)| k == key).map(|(_, v)| v).collect()
}

/// systemd-analyze, which the tests need rather than skip without.
fn systemd_analyze() -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
        .map(|dir| dir.join("systemd-analyze"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "systemd-analyze is not installed: run scripts/test, which installs it (Debian package \
             `systemd`), or `apt-get install systemd`"
        )
    })
}

/// A copy of the shipped unit in a temporary folder, with the built binary in place of
/// /usr/bin/dunwell.
fn unit_copy() -> (tempfile::TempDir, PathBuf) {
    let unit = shipped_unit();
    assert!(unit.contains(INSTALLED_BINARY), "the unit does not run {INSTALLED_BINARY}");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(UNIT);
    std::fs::write(&path, unit.replace(INSTALLED_BINARY, env!("CARGO_BIN_EXE_dunwell"))).expect("write unit");
    (dir, path)
}

fn analyze(args: &[&str], unit: &Path) -> (Output, String) {
    let out = Command::new(systemd_analyze())
        .args(args)
        .arg(unit)
        .current_dir(unit.parent().unwrap())
        .output()
        .expect("run systemd-analyze");
    let text = format!(
        "systemd-analyze {} {} (exit {:?}):\n{}{}",
        args.join(" "),
        unit.display(),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    let (_dir, unit) = unit_copy();
    let (out, text) = analyze(&["verify"], &unit);
    println!("{text}");
    assert!(out.status.success(), "{text}");
    // Settings systemd cannot use are only warnings (exit 0), naming the file and line. Lines
    // about other units (on a machine without systemd as PID 1) are not ours to judge.
    let complaints: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(UNIT))
        .filter(|l| {
            ["Failed to parse", "Unknown key", "Unknown section", "Invalid", "ignoring"]
                .iter()
                .any(|bad| l.to_ascii_lowercase().contains(&bad.to_ascii_lowercase()))
        })
        .collect();
    assert!(complaints.is_empty(), "systemd ignores parts of {UNIT}:\n{}\n\n{text}", complaints.join("\n"));
}

#[test]
fn systemd_unit_exposure_is_at_most_1_2() {
    let (_dir, unit) = unit_copy();
    let (out, text) = analyze(&["security", "--offline=true"], &unit);
    assert!(out.status.success(), "{text}");
    let marker = format!("Overall exposure level for {UNIT}: ");
    let figure = text
        .lines()
        .find_map(|l| l.split_once(&marker).map(|(_, rest)| rest))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no `{marker}` line:\n{text}"));
    let exposure: f64 = figure.parse().unwrap_or_else(|_| panic!("exposure `{figure}`:\n{text}"));
    println!("systemd-analyze security: exposure of {UNIT} {exposure}");
    assert!(exposure <= MAX_EXPOSURE, "exposure {exposure} > {MAX_EXPOSURE}:\n{text}");

    // The same gate as systemd-analyze's own exit code (its scale is 0-100: 12 = 1.2).
    let (out, text) = analyze(&["security", "--offline=true", "--threshold=12"], &unit);
    assert!(out.status.success(), "{text}");
}

#[test]
fn systemd_unit_loads_the_credentials_dunwell_reads() {
    let unit = shipped_unit();
    let mut loaded: Vec<(String, String)> = values(&unit, "LoadCredential")
        .iter()
        .map(|v| {
            let (name, path) = v.split_once(':').unwrap_or_else(|| panic!("LoadCredential={v}"));
            (name.to_string(), path.to_string())
        })
        .collect();
    loaded.sort();
    let mut expected: Vec<(String, String)> =
        CREDENTIALS.iter().map(|n| (n.to_string(), format!("dunwell.{n}"))).collect();
    expected.sort();
    assert_eq!(loaded, expected);
}

#[test]
fn systemd_unit_runs_commands_dunwell_understands() {
    let unit = shipped_unit();
    let config = "--config %E/dunwell/dunwell.toml";
    assert_eq!(values(&unit, "Type"), ["notify"]);
    assert_eq!(values(&unit, "ExecStart"), [format!("{INSTALLED_BINARY} {config} run")]);
    assert_eq!(values(&unit, "ExecReload"), [format!("{INSTALLED_BINARY} {config} reload --wait")]);
    assert_eq!(values(&unit, "SocketBindAllow"), ["tcp:8720"]);
    assert_eq!(values(&unit, "StateDirectory"), ["dunwell"]);
    assert_eq!(values(&unit, "MemoryDenyWriteExecute"), ["no"], "Cranelift cannot run under MDWE");
    for key in ["ExecStart", "ExecReload"] {
        let line = &values(&unit, key)[0];
        let args: Vec<&str> = line.split_whitespace().skip(1).collect();
        let out = Command::new(env!("CARGO_BIN_EXE_dunwell"))
            .args(&args)
            .arg("--help")
            .env_remove("DUNWELL_CONFIG")
            .output()
            .expect("run dunwell");
        assert!(
            out.status.success(),
            "{key}: `dunwell {} --help` is refused:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
