//! The newcomer's path with `dunwell plugin new`: the crate it writes passes its own test,
//! builds to a component that `plugin check` accepts, runs against a fake API on 127.0.0.1
//! (the SDK README's fake Acme: the template is the README's example), syncs into a data
//! directory, and its invoices are listed and planned. The crate shares the workspace's target
//! dir and crate versions, so only the new crate itself is compiled.

use std::path::Path;
use std::process::{Command, Output};

use crate::repo;
use crate::sdk_readme::{fake_acme, TOKEN};

fn run(cwd: &Path, program: &str, args: &[&str]) -> Output {
    let program = if program == "dunwell" { env!("CARGO_BIN_EXE_dunwell") } else { program };
    Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env("DUNWELL_LOG", "warn")
        .env_remove("DUNWELL_CONFIG")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .output()
        .expect("run")
}

fn ok(cwd: &Path, program: &str, args: &[&str]) -> (String, String) {
    let out = run(cwd, program, args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{program} {args:?} failed in {}:\n{stdout}\n{stderr}", cwd.display());
    (stdout, stderr)
}

#[test]
fn a_new_connector_builds_checks_runs_syncs_and_is_planned() {
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path();
    let sdk = repo().join("plugins-sdk");
    let (out, _) = ok(top, "dunwell", &["plugin", "new", "acme", "--sdk", sdk.to_str().unwrap()]);
    assert!(out.contains("wrote acme-connector"), "{out}");
    let krate = top.join("acme-connector");
    // A second time into the same folder is refused, and nothing is overwritten.
    let again = run(top, "dunwell", &["plugin", "new", "acme"]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("not empty"));
    std::os::unix::fs::symlink(repo().join("target"), krate.join("target")).unwrap();
    std::fs::copy(repo().join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();

    let (out, _) = ok(&krate, "cargo", &["test", "--offline"]);
    assert!(out.contains("test result: ok. 1 passed"), "{out}");
    let (_, err) = ok(&krate, "cargo", &["build", "--offline", "--release", "--target", "wasm32-wasip2"]);
    assert!(!err.contains("warning"), "the new crate warns:\n{err}");
    let wasm = krate.join("target/wasm32-wasip2/release/acme_connector.wasm");
    let wasm = wasm.to_str().unwrap();
    let (out, _) = ok(top, "dunwell", &["plugin", "check", wasm]);
    for want in ["acme 0.1.0", "dunwell:connector@0.2.0", "secret token (required)"] {
        assert!(out.contains(want), "no `{want}` in\n{out}");
    }

    let (addr, seen) = fake_acme();
    let base = format!("http://{addr}/v1");
    // `plugin run` as the README shows it, plus `extra`.
    let plugin_run = |extra: &[&str]| {
        let (limit, base_url, token) = ("2", format!("base_url={base}"), format!("token={TOKEN}"));
        let mut args =
            vec!["plugin", "run", wasm, "--allow-host", &addr, "--set", &base_url, "--secret", &token];
        args.extend(["--what", "invoices", "--limit", limit, "--all-pages"]);
        args.extend(extra);
        ok(top, "dunwell", &args).0
    };
    let out = plugin_run(&[]);
    assert!(out.contains("AC-17") && out.contains("AC-20"), "{out}");
    let paged = seen.lock().unwrap().iter().any(|l| l.contains("offset=2&limit=2"));
    assert!(paged, "{:?}", seen.lock().unwrap());

    // Recorded once, the run is answered from the recording: the same output, no request out,
    // and the token in no file.
    let tape = top.join("tape");
    let recorded = plugin_run(&["--record", tape.to_str().unwrap()]);
    let files: Vec<_> = std::fs::read_dir(&tape).unwrap().map(|e| e.unwrap().path()).collect();
    // Four invoices two at a time: two full pages and the empty one that ends the list.
    assert_eq!(files.len(), 3, "{files:?}");
    let texts: Vec<String> = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    assert!(texts.iter().all(|t| !t.contains(TOKEN)), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("AC-17")), "{texts:?}");
    let before = seen.lock().unwrap().len();
    let replayed = plugin_run(&["--replay", tape.to_str().unwrap()]);
    assert_eq!(replayed, recorded);
    assert_eq!(seen.lock().unwrap().len(), before, "a replay sends nothing");

    let trial = top.join("trial");
    std::fs::create_dir_all(&trial).unwrap();
    std::fs::write(
        trial.join("dunwell.toml"),
        format!(
            "data_dir = \"data\"\n[plugins.acme]\npath = \"{wasm}\"\nallowed_hosts = [\"{addr}\"]\n[plugins.acme.config]\nbase_url = \"{base}\"\n[plugins.acme.secrets]\ntoken = \"{TOKEN}\"\n"
        ),
    )
    .unwrap();
    ok(&trial, "dunwell", &["sync", "acme"]);
    let (out, _) = ok(&trial, "dunwell", &["invoices", "--source", "acme", "--format", "json"]);
    let invoices: serde_json::Value = serde_json::from_str(&out).unwrap();
    let numbers: Vec<&str> =
        invoices.as_array().unwrap().iter().filter_map(|i| i["number"].as_str()).collect();
    assert!(numbers.contains(&"AC-17") && numbers.contains(&"AC-18"), "{out}");
    let (out, _) = ok(&trial, "dunwell", &["plan", "--at", "2026-10-20", "--days", "30", "--brief"]);
    assert!(out.contains("AC-17"), "{out}");
}
