//! The plugin SDK's README, followed as a newcomer would follow it. In a scratch folder, every
//! `sh` block of `plugins-sdk/README.md` is run, command by command, in order, and every file is
//! written as the line above its block says (`Replace `Cargo.toml` with:`, `Add at the end of
//! `src/lib.rs`:`, `Write `dunwell.toml` …:`): creating the crate, its native test, the API
//! reference, the wasm32-wasip2 build, `dunwell plugin check`, `dunwell plugin run` against a
//! fake Acme API on 127.0.0.1, the first sync into the data directory the README names, and
//! the plan. The commands and files are read from the README's text, so editing the README
//! changes what is tested, and a wrong instruction fails here.
//!
//! What the test adds to the README, and why:
//! - the fake API's address for `https://api.acme.example` / `api.acme.example`, and a token
//!   for `YOUR-API-TOKEN`, in the commands and dunwell.toml (never in the connector's code);
//! - the `dunwell` binary under test first on `PATH`, `../dunwell` linked to this repository
//!   (the README's layout), `BROWSER=true` for `cargo doc --open`;
//! - the new crate's `target` linked to the workspace's target dir and the workspace's
//!   Cargo.lock copied into it, so nothing is downloaded and the SDK's dependencies are
//!   compiled once for every run (the scratch folder has a fixed name, so the crate's own
//!   artefacts are replaced, not piled up; a lock keeps two runs apart).
//!
//! Claims of the README's prose are checked too: its `--flags` exist, a required secret left
//! out is refused with the key and where to set it, amounts keep their scale and are stored at
//! the currency's, the data lands where the README says and nowhere else, a bad record is
//! quarantined.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use dunwell::store::Store;

use crate::fake_http::{respond, serve};
use crate::repo;

/// What the README says the API is, and what the test puts in its place.
const API_URL: &str = "https://api.acme.example";
const API_HOST: &str = "api.acme.example";
const TOKEN_PLACEHOLDER: &str = "YOUR-API-TOKEN";
pub(crate) const TOKEN: &str = "s3cret-acme-token";

/// The fake Acme's records, as Acme sends them: amounts as JSON numbers (`121`, `1000.1`), a
/// paid invoice with a timestamp, and one whose total is not an amount.
const CUSTOMERS: &[&str] = &[
    r#"{"id": 7, "number": "C1", "name": "Bakkerij Jansen", "email": "debiteuren@jansen.example", "city": "Utrecht", "country": "NL"}"#,
    r#"{"id": 8, "number": "C2", "name": "Installatiebedrijf De Vries", "email": null, "city": null, "country": "NL"}"#,
];
const INVOICES: &[&str] = &[
    r#"{"id": 17, "number": "AC-17", "customer": "C1", "date": "2026-09-01", "due_date": "2026-10-01", "total": 121, "unpaid": 121}"#,
    r#"{"id": 18, "number": "AC-18", "customer": "C1", "date": "2026-09-15", "due_date": "2026-10-15", "total": 1000.1, "unpaid": 400.05, "paid_at": null}"#,
    r#"{"id": 19, "number": "AC-19", "customer": "C2", "date": "2026-08-01", "due_date": "2026-08-31", "total": 50.0, "unpaid": 0, "paid_at": "2026-08-20T14:03:00+02:00"}"#,
    r#"{"id": 20, "number": "AC-20", "customer": "C2", "date": "2026-09-20", "due_date": "2026-10-20", "total": "12,5", "unpaid": "12,5"}"#,
];

/// One thing the README tells the reader to do.
#[derive(Debug)]
enum Step {
    /// A command of an `sh` block (continuation lines joined).
    Run { line: usize, command: String },
    /// A block the line above tells to put into a file.
    Write { line: usize, path: String, lang: String, text: String, append: bool },
    /// A block shown for reading (a server's dunwell.toml).
    Show { line: usize, lang: String, text: String },
}

/// The README's steps in order.
fn steps(readme: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut lines = readme.lines().enumerate();
    let mut lead = String::new();
    while let Some((i, line)) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            if !line.trim().is_empty() {
                lead = line.to_string();
            }
            continue;
        };
        let lang = info.split_whitespace().next().unwrap_or("").to_string();
        let mut text = String::new();
        for (_, l) in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            text.push_str(l);
            text.push('\n');
        }
        let line = i + 1;
        if lang == "sh" {
            for command in text.replace("\\\n", " ").lines() {
                let command = command.split(" #").next().unwrap_or("").trim();
                if !command.is_empty() && !command.starts_with('#') {
                    steps.push(Step::Run { line, command: command.to_string() });
                }
            }
        } else if let Some((path, append)) = file_of(&lead) {
            steps.push(Step::Write { line, path, lang, text, append });
        } else {
            steps.push(Step::Show { line, lang, text });
        }
        lead.clear();
    }
    steps
}

/// The file a block's lead-in line names, and whether the block is appended to it:
/// "Replace `Cargo.toml` with:", "Write `dunwell.toml` in it:", "Add at the end of `src/lib.rs`:".
fn file_of(lead: &str) -> Option<(String, bool)> {
    let lead = lead.trim();
    if !lead.ends_with(':') {
        return None;
    }
    let (append, rest) = if let Some(r) = lead.strip_prefix("Add at the end of ") {
        (true, r)
    } else if let Some(r) = lead.strip_prefix("Replace ").or_else(|| lead.strip_prefix("Write ")) {
        (false, r)
    } else {
        return None;
    };
    let path = rest.strip_prefix('`')?.split('`').next()?;
    Some((path.to_string(), append))
}

/// The fake Acme API: `GET /v1/customers` and `/v1/invoices` with `offset` and `limit` (at most
/// 100, as the README says), bearer token. Returns its address and the requests it saw.
pub(crate) fn fake_acme() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let addr = serve(move |req, stream| {
        log.lock().unwrap().push(req.line.clone());
        if !req.has_header(&format!("authorization: bearer {TOKEN}")) {
            return respond(stream, "401 Unauthorized", &[], r#"{"error": "bad token"}"#);
        }
        let records = match req.path.as_str() {
            "/v1/customers" => CUSTOMERS,
            "/v1/invoices" => INVOICES,
            _ => return respond(stream, "404 Not Found", &[], "{}"),
        };
        let number = |k: &str| req.query.get(k).and_then(|v| v.parse::<usize>().ok());
        let (Some(offset), Some(limit)) = (number("offset"), number("limit")) else {
            return respond(stream, "400 Bad Request", &[], r#"{"error": "offset and limit"}"#);
        };
        if limit == 0 || limit > 100 {
            return respond(stream, "400 Bad Request", &[], r#"{"error": "limit is 1 to 100"}"#);
        }
        let page: Vec<&str> = records.iter().skip(offset).take(limit).copied().collect();
        respond(stream, "200 OK", &[], &format!("[{}]", page.join(",")));
    });
    (addr.to_string(), seen)
}

/// The reader at their terminal: a current folder, a `PATH`, the replacements for the API.
struct Newcomer {
    scratch: PathBuf,
    cwd: PathBuf,
    path: OsString,
    target: PathBuf,
    replace: Vec<(String, String)>,
}

impl Newcomer {
    fn substitute(&self, text: &str) -> String {
        self.replace.iter().fold(text.to_string(), |t, (from, to)| t.replace(from, to))
    }

    /// Runs one command in bash, in the current folder; follows its `cd`.
    fn run(&mut self, command: &str) -> Output {
        let state = self.scratch.join(".cwd");
        let script = format!("set -euo pipefail\n{command}\npwd > '{}'\n", state.display());
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(&self.cwd)
            .env("PATH", &self.path)
            .env("BROWSER", "true")
            .env("DUNWELL_LOG", "warn")
            .env_remove("DUNWELL_CONFIG")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .output()
            .expect("run bash");
        if out.status.success() {
            self.cwd = PathBuf::from(std::fs::read_to_string(&state).unwrap().trim());
        }
        out
    }

    /// Runs a command and insists on success; returns stdout.
    fn ok(&mut self, line: usize, command: &str) -> (String, String) {
        let out = self.run(command);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(
            out.status.success(),
            "README line {line}: `{command}` failed in {}:\n{stdout}\n{stderr}",
            self.cwd.display()
        );
        (stdout, stderr)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch folder outside the repository (a crate made inside the workspace would join it),
/// with a fixed name per checkout and a lock, so that concurrent runs wait for each other.
fn scratch() -> (PathBuf, std::fs::File) {
    use std::hash::{Hash, Hasher};
    let mut hash = std::hash::DefaultHasher::new();
    repo().hash(&mut hash);
    let dir = std::env::temp_dir().join(format!("dunwell-sdk-readme-{:016x}", hash.finish()));
    let lock = std::fs::File::create(dir.with_extension("lock")).expect("lock file");
    lock.lock().expect("lock the scratch folder");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("clear the scratch folder");
    }
    std::fs::create_dir_all(&dir).unwrap();
    (dir, lock)
}

/// Whether `command` is `program` with arguments (`dunwell plugin run …`).
fn is(command: &str, program: &str) -> bool {
    command == program || command.starts_with(&format!("{program} "))
}

#[test]
fn the_readme_followed_step_by_step() {
    let readme_path = repo().join("plugins-sdk/README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let steps = steps(&readme);
    let (scratch, _lock) = scratch();
    let (addr, seen) = fake_acme();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_dunwell"));
    let mut path = OsString::from(bin.parent().unwrap());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    // The workspace's target dir: `CARGO_TARGET_TMPDIR` is `<target dir>/tmp`.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().to_path_buf();
    std::os::unix::fs::symlink(repo(), scratch.join("dunwell")).unwrap();
    let mut me = Newcomer {
        cwd: scratch.clone(),
        scratch: scratch.clone(),
        path,
        target: target.clone(),
        replace: vec![
            (API_URL.to_string(), format!("http://{addr}")),
            (API_HOST.to_string(), addr.clone()),
            (TOKEN_PLACEHOLDER.to_string(), TOKEN.to_string()),
        ],
    };

    let mut done = BTreeSet::new();
    let mut crate_dir: Option<PathBuf> = None;
    let mut config: Option<PathBuf> = None;
    let mut plugin_run: Option<String> = None;
    for step in &steps {
        match step {
            Step::Write { line, path, lang, text, append } => {
                let file = me.cwd.join(path);
                let text = if lang == "toml" { me.substitute(text) } else { text.clone() };
                if *append {
                    let before = std::fs::read_to_string(&file)
                        .unwrap_or_else(|e| panic!("README line {line}: {} to add to: {e}", file.display()));
                    std::fs::write(&file, format!("{before}\n{text}")).unwrap();
                } else {
                    assert!(
                        file.parent().is_some_and(Path::is_dir),
                        "README line {line}: no folder for {}",
                        file.display()
                    );
                    std::fs::write(&file, &text).unwrap();
                }
                if path.ends_with("dunwell.toml") {
                    config = Some(file);
                }
                done.insert(format!("write {path}"));
            }
            Step::Show { line, lang, text } => {
                // A block to read, not to run: a dunwell.toml must be one dunwell accepts.
                assert_eq!(lang, "toml", "README line {line}: a ```{lang} block the test does not know");
                dunwell::config::Config::parse(Path::new("/etc/dunwell/dunwell.toml"), text)
                    .unwrap_or_else(|e| panic!("README line {line}: dunwell refuses this dunwell.toml: {e}"));
                done.insert("server config".into());
            }
            Step::Run { line, command } => {
                let command = me.substitute(command);
                let started = std::time::Instant::now();
                let (stdout, stderr) = me.ok(*line, &command);
                eprintln!("README line {line}: {command} ({:.1}s)", started.elapsed().as_secs_f64());
                if command.starts_with("dunwell") {
                    eprintln!("{}", stdout.chars().take(2000).collect::<String>());
                }
                if is(&command, "cargo new") {
                    // The crate exists: share the workspace's target dir and crate versions.
                    let dir = me.cwd.clone();
                    assert!(
                        dir.join("Cargo.toml").is_file(),
                        "README line {line}: no crate in {}",
                        dir.display()
                    );
                    std::os::unix::fs::symlink(&me.target, dir.join("target")).unwrap();
                    std::fs::copy(repo().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
                    crate_dir = Some(dir);
                    done.insert("cargo new".into());
                } else if is(&command, "cargo doc") {
                    let index = target.join("doc/dunwell_plugin_sdk/index.html");
                    assert!(index.is_file(), "README line {line}: no API reference at {}", index.display());
                    done.insert("cargo doc".into());
                } else if is(&command, "cargo test") {
                    assert!(stdout.contains("test result: ok. 1 passed"), "README line {line}:\n{stdout}");
                    done.insert("cargo test".into());
                } else if is(&command, "cargo build") {
                    assert!(!stderr.contains("warning"), "README line {line}: the example warns:\n{stderr}");
                    done.insert("cargo build".into());
                } else if is(&command, "dunwell plugin check") {
                    for want in ["acme 0.1.0", "dunwell:connector@0.2.0", "provides: customers, invoices"] {
                        assert!(stdout.contains(want), "README line {line}: no `{want}` in\n{stdout}");
                    }
                    assert!(stdout.contains("secret token (required)"), "{stdout}");
                    assert!(stdout.contains("snapshot"), "{stdout}");
                    done.insert("plugin check".into());
                } else if is(&command, "dunwell plugin run") {
                    check_plugin_run(*line, &stdout);
                    plugin_run = Some(command.clone());
                    done.insert("plugin run".into());
                } else if is(&command, "dunwell sync") {
                    assert!(stdout.contains("customers: 2 added"), "README line {line}:\n{stdout}");
                    assert!(stdout.contains("invoices:  3 added"), "README line {line}:\n{stdout}");
                    done.insert("sync".into());
                } else if is(&command, "dunwell invoices") {
                    for want in ["AC-17", "AC-18", "AC-19", "1000.10", "400.05"] {
                        assert!(stdout.contains(want), "README line {line}: no `{want}` in\n{stdout}");
                    }
                    assert!(
                        !stdout.contains("AC-20"),
                        "README line {line}: the bad invoice is listed:\n{stdout}"
                    );
                    done.insert("invoices".into());
                } else if is(&command, "dunwell plan") {
                    done.insert("plan".into());
                }
            }
        }
    }
    for want in [
        "cargo new",
        "write Cargo.toml",
        "write src/lib.rs",
        "cargo doc",
        "cargo test",
        "cargo build",
        "plugin check",
        "plugin run",
        "write dunwell.toml",
        "sync",
        "invoices",
        "plan",
        "server config",
    ] {
        assert!(done.contains(want), "the README has no step `{want}` any more: {done:?}");
    }

    // The requests the connector made: bearer token, offset paging, Acme's page size.
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|l| l.starts_with("GET /v1/invoices?offset=2&limit=2 ")),
        "plugin run --limit 2 --all-pages pages by offset: {seen:#?}"
    );
    assert!(seen.iter().any(|l| l.starts_with("GET /v1/customers?offset=0&limit=100 ")), "{seen:#?}");

    // The data landed in the data directory the README's dunwell.toml names, and nowhere else.
    let config = config.expect("a dunwell.toml");
    let crate_dir = crate_dir.expect("a crate");
    let table: toml::Table = toml::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let data_dir =
        config.parent().unwrap().join(table["data_dir"].as_str().expect("data_dir in dunwell.toml"));
    let db = data_dir.join("dunwell.db");
    assert!(db.is_file(), "no database at {}", db.display());
    assert!(!crate_dir.join("dunwell-data").exists(), "dunwell stored something in the crate's folder");
    let store = Store::open(&db).unwrap();
    let invoices = store.load_invoices().unwrap();
    let numbers: Vec<&str> = invoices.iter().map(|i| i.number.as_str()).collect();
    assert_eq!(numbers, ["AC-17", "AC-18", "AC-19"]);
    // Amounts keep their scale from the connector and are stored at the currency's.
    assert_eq!(invoices[0].total.to_string(), "121.00");
    assert_eq!(invoices[1].total.to_string(), "1000.10");
    assert_eq!(invoices[1].open_amount.to_string(), "400.05");
    assert_eq!(invoices[2].paid_date.map(|d| d.to_string()).as_deref(), Some("2026-08-20"));
    assert_eq!(store.load_customers().unwrap().len(), 2);
    drop(store);

    // Run from the trial folder as the README says: the bad invoice is in the quarantine, and
    // the plan of a fixed day has the synced invoice with its open amount.
    let trial = config.parent().unwrap().to_path_buf();
    me.cwd = trial.clone();
    let (quarantine, _) = me.ok(0, "dunwell quarantine");
    assert!(quarantine.contains("AC-20") && quarantine.contains("12,5"), "{quarantine}");
    let (plan, _) = me.ok(0, "dunwell plan --at 2026-11-02 --days 30 --format json");
    let actions: Vec<serde_json::Value> = serde_json::from_str(&plan).unwrap();
    let ac18: Vec<_> = actions.iter().filter(|a| a["invoice_number"] == "AC-18").collect();
    assert!(!ac18.is_empty(), "no action for the synced invoice: {plan}");
    assert_eq!(ac18[0]["open_amount"], "400.05");

    // "required": the README's `plugin run` without the secret is refused, naming the key and
    // the flag; its dunwell.toml without the secrets table too, naming the table.
    me.cwd = crate_dir.clone();
    let run = plugin_run.expect("a plugin run command");
    let secret = format!("--secret token={TOKEN}");
    assert!(run.contains(&secret), "{run}");
    let out = me.run(&run.replace(&secret, ""));
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "plugin run without the required secret ran");
    assert!(stderr.contains("`token`") && stderr.contains("--secret token="), "{stderr}");
    let unset = scratch.join("unset");
    std::fs::create_dir(&unset).unwrap();
    let toml_text = std::fs::read_to_string(&config).unwrap();
    let without = toml_text.split("[plugins.acme.secrets]").next().unwrap();
    std::fs::write(unset.join("dunwell.toml"), without).unwrap();
    std::fs::copy(trial.join("acme_connector.wasm"), unset.join("acme_connector.wasm")).unwrap();
    me.cwd = unset;
    let out = me.run("dunwell sync acme");
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "sync without the required secret ran");
    assert!(stderr.contains("`token`") && stderr.contains("[plugins.acme.secrets]"), "{stderr}");

    check_flags(&readme, &mut me);
    drop(me);
    let _ = std::fs::remove_dir_all(&scratch);
}

/// What `dunwell plugin run … --what invoices --limit 2 --all-pages` printed: every invoice,
/// amounts as Acme sent them, the paid one with its day, the bad one passed on as unusable.
fn check_plugin_run(line: usize, stdout: &str) {
    let v: serde_json::Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("README line {line}: not JSON ({e}):\n{stdout}"));
    let pages =
        v["invoices"].as_array().unwrap_or_else(|| panic!("README line {line}: no invoices:\n{stdout}"));
    assert!(pages.len() > 1, "README line {line}: one page only:\n{stdout}");
    assert_eq!(pages[0]["more"], true, "{stdout}");
    assert_eq!(pages[0]["next_cursor"], "offset:2", "{stdout}");
    let items: Vec<&serde_json::Value> =
        pages.iter().flat_map(|p| p["items"].as_array().unwrap().iter()).collect();
    let by = |n: &str| *items.iter().find(|i| i["number"] == n).unwrap_or_else(|| panic!("no {n}: {stdout}"));
    assert_eq!(items.len(), 4, "{stdout}");
    assert_eq!(by("AC-17")["total"], "121");
    assert_eq!(by("AC-18")["total"], "1000.1", "the scale as Acme sent it");
    assert_eq!(by("AC-18")["open"], "400.05");
    assert_eq!(by("AC-19")["paid_date"], "2026-08-20", "{stdout}");
    let bad = by("AC-20")["total"].as_str().unwrap();
    assert_eq!(bad, r#"unusable: invoice 20: total: "12,5" is not a decimal amount"#);
}

/// Every `--flag` the README's prose names is one of dunwell's (or cargo's).
fn check_flags(readme: &str, me: &mut Newcomer) {
    let mut help = String::new();
    for command in [
        "dunwell --help",
        "dunwell sync --help",
        "dunwell plugin run --help",
        "dunwell plugin check --help",
        "dunwell plugin new --help",
        "dunwell plan --help",
        "dunwell invoices --help",
    ] {
        help.push_str(&me.ok(0, command).0);
    }
    const CARGO: &[&str] = &["--path", "--open", "--release", "--target", "--lib"];
    let mut prose = String::new();
    let mut inside = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            inside = !inside;
        } else if !inside {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    let flags: BTreeSet<&str> = prose
        .split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|code| code.split([' ', '=', ',']))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .collect();
    assert!(flags.contains("--secret") && flags.contains("--set"), "{flags:?}");
    for flag in flags {
        assert!(
            CARGO.contains(&flag)
                || help.contains(&format!("{flag} "))
                || help.contains(&format!("{flag}\n")),
            "the README names `{flag}`, which no dunwell command has"
        );
    }
}
