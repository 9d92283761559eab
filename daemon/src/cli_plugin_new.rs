//! `dunwell plugin new NAME`: a connector crate to start from. It is the SDK README's example
//! (`plugins-sdk/template/`, built into the binary), named for the new package: a connector for
//! an API with offset paging, a bearer token and amounts as JSON numbers, with a native test
//! against a canned API. It builds, its test passes, and `dunwell plugin check` accepts it as
//! written; the author then changes it to the real API.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  dunwell plugin new acme\n  cd acme-connector && cargo test && cargo build --release --target wasm32-wasip2\n  dunwell plugin check target/wasm32-wasip2/release/acme_connector.wasm"
)]
pub struct NewArgs {
    /// The connector's name: lower case letters, digits and `-` (`acme`, `exact-online`); the
    /// crate is NAME-connector and dunwell.toml names it `[plugins.NAME]`.
    pub name: String,
    /// Where to write the crate (default: ./NAME-connector); it must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The dunwell-plugin-sdk folder the crate depends on (default: $DUNWELL_SDK, else the
    /// `plugins-sdk` of the dunwell checkout this binary was built from).
    #[arg(long, value_name = "PATH")]
    pub sdk: Option<PathBuf>,
}

/// The template's files: where each goes in the new crate, and its text.
const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../plugins-sdk/template/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("../../plugins-sdk/template/src/lib.rs.tmpl")),
    ("README.md", include_str!("../../plugins-sdk/template/README.md.tmpl")),
    (".gitignore", include_str!("../../plugins-sdk/template/gitignore.tmpl")),
];

/// The SDK of the checkout this binary was built from, when it is still there.
const BUILT_FROM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins-sdk");

fn check_name(name: &str) -> Result<()> {
    let ok = name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !ok {
        bail!(
            "`{}` is not a connector name: use lower case letters, digits and single `-`, starting with a letter (e.g. `acme` or `exact-online`), at most 40 characters",
            crate::text::escape(name)
        );
    }
    Ok(())
}

/// `exact-online` → `ExactOnline` (the connector's type), `Exact Online` (its title).
fn cased(name: &str, sep: &str) -> String {
    name.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(sep)
}

fn find_sdk(given: Option<&Path>) -> Result<PathBuf> {
    let candidate = match given {
        Some(p) => p.to_path_buf(),
        None => match std::env::var_os("DUNWELL_SDK") {
            Some(p) => PathBuf::from(p),
            None => PathBuf::from(BUILT_FROM),
        },
    };
    let manifest = candidate.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| {
        format!(
            "no dunwell-plugin-sdk at {}: pass --sdk PATH to the `plugins-sdk` folder of a dunwell checkout (or set DUNWELL_SDK)",
            candidate.display()
        )
    })?;
    if !text.contains("name = \"dunwell-plugin-sdk\"") {
        bail!("{} is not the dunwell-plugin-sdk's manifest; pass --sdk PATH to the `plugins-sdk` folder of a dunwell checkout", manifest.display());
    }
    Ok(std::fs::canonicalize(&candidate).unwrap_or(candidate))
}

pub fn run_new(args: &NewArgs, out: &mut dyn Write) -> Result<()> {
    let name = args.name.trim();
    check_name(name)?;
    let krate = format!("{name}-connector");
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(&krate));
    if dir.exists() && std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{} exists and is not empty; choose another --dir or remove it", dir.display());
    }
    let sdk = find_sdk(args.sdk.as_deref())?;
    let sdk_text = sdk.to_str().context("the SDK's path is not UTF-8; pass --sdk with a plain path")?;
    // The path goes into a TOML string: its own escapes, so a `\` or `"` in it stays itself.
    let sdk_toml = sdk_text.replace('\\', "\\\\").replace('"', "\\\"");
    let file = krate.replace('-', "_");
    let (strukt, title) = (cased(name, ""), cased(name, " "));
    let fill = |text: &str, in_toml: bool| {
        text.replace("{{name}}", name)
            .replace("{{crate}}", &krate)
            .replace("{{file}}", &file)
            .replace("{{Struct}}", &strukt)
            .replace("{{Title}}", &title)
            .replace("{{sdk}}", if in_toml { &sdk_toml } else { sdk_text })
    };
    let written = (|| -> Result<()> {
        for (rel, text) in FILES {
            let path = dir.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::write(&path, fill(text, rel.ends_with(".toml")))
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        // Nothing half-written is left behind.
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    writeln!(out, "wrote {} (connector `{name}`, SDK {})", dir.display(), sdk.display())?;
    writeln!(out, "next:")?;
    writeln!(out, "  cd {}", dir.display())?;
    writeln!(out, "  cargo test                                     # its test against a canned API")?;
    writeln!(
        out,
        "  cargo build --release --target wasm32-wasip2   # (rustup target add wasm32-wasip2 once)"
    )?;
    writeln!(out, "  dunwell plugin check target/wasm32-wasip2/release/{file}.wasm")?;
    writeln!(
        out,
        "then change src/lib.rs to your package's API; {}/README.md explains every part",
        sdk.display()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_cased() {
        assert!(check_name("acme").is_ok() && check_name("exact-online2").is_ok());
        for bad in ["Acme", "2acme", "acme_books", "acme-", "a--b", "", "acme books"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            (cased("exact-online", ""), cased("exact-online", " ")),
            ("ExactOnline".into(), "Exact Online".into())
        );
    }

    #[test]
    fn writes_every_file_with_the_names_filled_in_and_refuses_a_folder_in_use() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("x");
        let args = NewArgs {
            name: "exact-online".into(),
            dir: Some(dir.clone()),
            sdk: Some(PathBuf::from(BUILT_FROM)),
        };
        let mut out = Vec::new();
        run_new(&args, &mut out).unwrap();
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("pub struct ExactOnline;") && lib.contains("export_connector!(ExactOnline);"));
        assert!(
            !lib.contains("{{") && !std::fs::read_to_string(dir.join("Cargo.toml")).unwrap().contains("{{")
        );
        let manifest: toml::Value =
            toml::from_str(&std::fs::read_to_string(dir.join("Cargo.toml")).unwrap()).unwrap();
        assert_eq!(manifest["package"]["name"].as_str(), Some("exact-online-connector"));
        let err = run_new(&args, &mut Vec::new()).unwrap_err().to_string();
        assert!(err.contains("is not empty"), "{err}");
        let missing = NewArgs { sdk: Some(tmp.path().join("nope")), dir: Some(tmp.path().join("y")), ..args };
        assert!(run_new(&missing, &mut Vec::new()).unwrap_err().to_string().contains("pass --sdk PATH"));
    }
}
