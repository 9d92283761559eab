//! `[plugins.<name>]` in dunwell.toml: where a connector's component is, what it may reach, and
//! its limits. Read by `config`; used by the host for every run. [`check_required`]: the
//! required config keys and secrets of a connector's `describe()` are set before it is run.
//!
//! ```toml
//! [plugins.moneybird]
//! path = "connectors/moneybird.wasm"
//! allowed_hosts = ["moneybird.com"]       # "host" (any port) or "host:port"; "*.example.com"
//! memory_mb = 64                          # per linear memory
//! cpu_ms = 5000                           # guest CPU time per run
//! timeout_s = 60                          # wall-clock time per run, HTTP waits included
//! max_requests = 200                      # HTTP requests per run
//! max_response_mb = 10                    # per response body
//! max_pull_mb = 64                        # text of all records of one run, held until written
//! full_sync_hours = 24                    # pull everything and reconcile this often (0: never
//!                                         # by itself; `dunwell sync --full` does it now)
//! adopt = ["csv"]                         # may take over records another source brought
//!                                         # (a migration); default: none
//! [plugins.moneybird.config]
//! administration_id = "123456789"
//! [plugins.moneybird.secrets]
//! token = "..."                           # never logged
//!
//! [plugins.ubl]
//! path = "connectors/ubl.wasm"
//! directory = "inbox/ubl"                 # mounted read-only at /input
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::bindings::exports::dunwell::connector::source::ConfigKey;

/// One plugin's section, as written.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PluginSection {
    pub path: PathBuf,
    pub directory: Option<PathBuf>,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    pub memory_mb: Option<u32>,
    pub cpu_ms: Option<u64>,
    pub timeout_s: Option<u64>,
    pub max_requests: Option<u32>,
    pub max_response_mb: Option<u32>,
    pub max_pull_mb: Option<u32>,
    pub page_size: Option<u32>,
    pub full_sync_hours: Option<u32>,
    /// Sources whose records this plugin may take over: `csv` or other plugins' names.
    #[serde(default)]
    pub adopt: Vec<String>,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

/// Limits of one run of a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: usize,
    pub cpu: Duration,
    pub timeout: Duration,
    pub max_requests: u32,
    pub max_response_bytes: u64,
    /// The text of every record of one run together: pulled pages wait in the daemon's memory
    /// until the run is written, and a plugin must not grow the daemon without bound.
    pub max_pull_bytes: u64,
    pub page_size: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            cpu: Duration::from_secs(5),
            timeout: Duration::from_secs(60),
            max_requests: 200,
            max_response_bytes: 10 << 20,
            max_pull_bytes: 64 << 20,
            page_size: 100,
        }
    }
}

/// Hours between automatic full syncs, unless configured.
pub const DEFAULT_FULL_SYNC_HOURS: u32 = 24;

/// A plugin's resolved settings (paths absolute, defaults applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSettings {
    pub name: String,
    pub path: PathBuf,
    pub directory: Option<PathBuf>,
    pub allowed_hosts: Vec<String>,
    pub limits: Limits,
    /// A sync is a full one (everything pulled, what the source no longer has removed) when
    /// this many hours have passed since the last full one; 0: only when asked (`--full`).
    pub full_sync_hours: u32,
    /// The sources (`csv`, `plugin:<name>`) whose customers and invoices this plugin may take
    /// over. A record whose key another source owns is otherwise quarantined: a plugin must not
    /// redirect another source's customer's e-mail or mark its invoice paid.
    pub adopt: Vec<String>,
    pub config: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
}

impl PluginSettings {
    /// Settings for running a file directly (`dunwell plugin run`): nothing granted beyond
    /// what is passed.
    pub fn for_file(path: PathBuf) -> PluginSettings {
        let name =
            path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "plugin".into());
        PluginSettings {
            name,
            path,
            directory: None,
            allowed_hosts: Vec::new(),
            limits: Limits::default(),
            full_sync_hours: DEFAULT_FULL_SYNC_HOURS,
            adopt: Vec::new(),
            config: BTreeMap::new(),
            secrets: BTreeMap::new(),
        }
    }

    /// Resolves a section; `resolve` makes paths relative to the config file absolute.
    pub fn from_section(
        name: &str,
        s: PluginSection,
        resolve: impl Fn(PathBuf) -> PathBuf,
    ) -> PluginSettings {
        let d = Limits::default();
        PluginSettings {
            name: name.to_string(),
            path: resolve(s.path),
            directory: s.directory.map(&resolve),
            allowed_hosts: s.allowed_hosts,
            limits: Limits {
                memory_bytes: s.memory_mb.map_or(d.memory_bytes, |m| (m as usize) << 20),
                cpu: s.cpu_ms.map_or(d.cpu, Duration::from_millis),
                timeout: s.timeout_s.map_or(d.timeout, Duration::from_secs),
                max_requests: s.max_requests.unwrap_or(d.max_requests),
                max_response_bytes: s.max_response_mb.map_or(d.max_response_bytes, |m| u64::from(m) << 20),
                max_pull_bytes: s.max_pull_mb.map_or(d.max_pull_bytes, |m| u64::from(m) << 20),
                page_size: s.page_size.unwrap_or(d.page_size).clamp(1, 10_000),
            },
            full_sync_hours: s.full_sync_hours.unwrap_or(DEFAULT_FULL_SYNC_HOURS),
            adopt: s.adopt.iter().map(|a| source_of(a)).collect(),
            config: s.config,
            secrets: s.secrets,
        }
    }
}

/// The store's source of an `adopt` entry: `csv` as it is, a plugin's name as `plugin:<name>`.
pub fn source_of(adopt: &str) -> String {
    match adopt.strip_prefix("plugin:").unwrap_or(adopt) {
        "csv" => "csv".to_string(),
        name => format!("plugin:{name}"),
    }
}

/// Where the operator gives a plugin its settings: what the error about a missing one says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetIn {
    /// `[plugins.NAME.config]` and `[plugins.NAME.secrets]` of dunwell.toml (`dunwell sync`,
    /// the daemon).
    Config,
    /// `dunwell plugin run`'s `--set KEY=VALUE` and `--secret KEY=VALUE`.
    CommandLine,
}

/// A required setting that is not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub key: String,
    pub secret: bool,
    /// What the connector says the key is (from `describe()`, checked there; capped here).
    pub description: String,
    /// The key is set, but as the other kind (a secret under `config`, or the reverse): the
    /// connector reads it with `secret` or `config` and will not find it there.
    pub misplaced: bool,
}

/// Required settings the plugin's `describe()` lists that are not set: the host refuses to
/// call the guest further, so a connector never has to say it itself (and cannot forget to).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Unset {
    pub plugin: String,
    pub missing: Vec<Missing>,
    pub set_in: SetIn,
}

impl std::fmt::Display for Unset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plugin = &self.plugin;
        write!(f, "plugin {plugin} cannot run: ")?;
        for (i, m) in self.missing.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            let (kind, table, flag, other_table, other_flag) = if m.secret {
                ("secret", "secrets", "--secret", "config", "--set")
            } else {
                ("config value", "config", "--set", "secrets", "--secret")
            };
            let key = &m.key;
            write!(f, "the required {kind} `{key}` is not set")?;
            if !m.description.is_empty() {
                write!(f, " ({})", m.description)?;
            }
            match (self.set_in, m.misplaced) {
                (SetIn::Config, false) => write!(f, "; set it in [plugins.{plugin}.{table}]: {key} = \"...\"")?,
                (SetIn::Config, true) => write!(
                    f,
                    "; it is in [plugins.{plugin}.{other_table}], but the connector reads it as a {kind}: move it to [plugins.{plugin}.{table}]"
                )?,
                (SetIn::CommandLine, false) => write!(f, "; pass {flag} {key}=VALUE")?,
                (SetIn::CommandLine, true) => write!(
                    f,
                    "; it was given with {other_flag}, but the connector reads it as a {kind}: pass {flag} {key}=VALUE"
                )?,
            }
        }
        Ok(())
    }
}

/// Checks that every key `describe()` marks as required has a value (not blank) where the
/// connector will read it: config values in `settings.config`, secrets in `settings.secrets`.
/// Called after `describe()` and before anything is pulled, by `dunwell sync` (and the daemon)
/// and by `dunwell plugin run`; every missing key is named at once.
pub fn check_required(settings: &PluginSettings, keys: &[ConfigKey], set_in: SetIn) -> Result<(), Unset> {
    let set = |map: &BTreeMap<String, String>, key: &str| map.get(key).is_some_and(|v| !v.trim().is_empty());
    let missing: Vec<Missing> = keys
        .iter()
        .filter(|k| k.required)
        .filter(|k| !set(if k.secret { &settings.secrets } else { &settings.config }, &k.name))
        .map(|k| Missing {
            key: crate::text::escape(&k.name).into_owned(),
            secret: k.secret,
            description: crate::text::escape(&crate::text::cap(k.description.trim(), 120)).into_owned(),
            misplaced: set(if k.secret { &settings.config } else { &settings.secrets }, &k.name),
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Unset { plugin: settings.name.clone(), missing, set_in })
}

/// Whether `name` is a usable plugin name: lower-case letters, digits, `-` and `_`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Config, ConfigError};

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/dunwell/dunwell.toml"), text)
    }

    #[test]
    fn plugin_sections_resolve_paths_and_defaults() {
        let c = parse(
            "[plugins.ubl]\npath = \"connectors/ubl.wasm\"\ndirectory = \"inbox\"\n\n[plugins.moneybird]\npath = \"/opt/mb.wasm\"\nallowed_hosts = [\"moneybird.com\"]\ncpu_ms = 800\nfull_sync_hours = 0\n[plugins.moneybird.config]\nadministration_id = \"123\"\n[plugins.moneybird.secrets]\ntoken = \"t0k3n-0123\"\n",
        )
        .unwrap();
        let ubl = &c.plugins["ubl"];
        assert_eq!(ubl.path, Path::new("/etc/dunwell/connectors/ubl.wasm"));
        assert_eq!(ubl.directory.as_deref(), Some(Path::new("/etc/dunwell/inbox")));
        assert_eq!(ubl.limits, super::Limits::default());
        assert_eq!(ubl.full_sync_hours, 24);
        let mb = &c.plugins["moneybird"];
        assert_eq!(mb.limits.cpu, std::time::Duration::from_millis(800));
        assert_eq!(mb.full_sync_hours, 0);
        assert_eq!(mb.config["administration_id"], "123");
        assert_eq!(mb.secrets["token"], "t0k3n-0123");
    }

    fn key(name: &str, secret: bool, required: bool, description: &str) -> super::ConfigKey {
        super::ConfigKey { name: name.into(), secret, required, description: description.into() }
    }

    /// What the moneybird connector's `describe()` lists.
    fn moneybird_keys() -> Vec<super::ConfigKey> {
        vec![
            key("administration_id", false, true, "the administration"),
            key("base_url", false, false, "API root"),
            key("token", true, true, "personal API token"),
        ]
    }

    #[test]
    fn required_keys_are_checked_where_the_connector_reads_them() {
        use super::{check_required, PluginSettings, SetIn};
        let mut s = PluginSettings::for_file("/x/moneybird.wasm".into());
        s.config.insert("administration_id".into(), "123".into());
        s.secrets.insert("token".into(), "mb-token-123".into());
        let keys = moneybird_keys();
        assert_eq!(check_required(&s, &keys, SetIn::Config), Ok(()), "base_url is optional");

        let mut no_token = s.clone();
        no_token.secrets.clear();
        let err = check_required(&no_token, &keys, SetIn::Config).unwrap_err();
        assert_eq!(
            err.to_string(),
            "plugin moneybird cannot run: the required secret `token` is not set (personal API token); set it in [plugins.moneybird.secrets]: token = \"...\""
        );
        assert_eq!(
            check_required(&no_token, &keys, SetIn::CommandLine).unwrap_err().to_string(),
            "plugin moneybird cannot run: the required secret `token` is not set (personal API token); pass --secret token=VALUE"
        );

        // Given as the other kind: the connector would not find it.
        let mut misplaced = no_token.clone();
        misplaced.config.insert("token".into(), "mb-token-123".into());
        assert_eq!(
            check_required(&misplaced, &keys, SetIn::Config).unwrap_err().to_string(),
            "plugin moneybird cannot run: the required secret `token` is not set (personal API token); it is in [plugins.moneybird.config], but the connector reads it as a secret: move it to [plugins.moneybird.secrets]"
        );
        assert!(check_required(&misplaced, &keys, SetIn::CommandLine).unwrap_err().to_string().ends_with(
            "it was given with --set, but the connector reads it as a secret: pass --secret token=VALUE"
        ));

        // Every missing key at once; a blank value is not a value.
        let mut none = PluginSettings::for_file("/x/moneybird.wasm".into());
        none.config.insert("administration_id".into(), "  ".into());
        let err = check_required(&none, &keys, SetIn::Config).unwrap_err();
        assert_eq!(
            err.missing.iter().map(|m| (m.key.as_str(), m.secret)).collect::<Vec<_>>(),
            [("administration_id", false), ("token", true)]
        );
        assert_eq!(
            err.to_string(),
            "plugin moneybird cannot run: the required config value `administration_id` is not set (the administration); set it in [plugins.moneybird.config]: administration_id = \"...\"; the required secret `token` is not set (personal API token); set it in [plugins.moneybird.secrets]: token = \"...\""
        );
        assert_eq!(
            check_required(&none, &keys, SetIn::CommandLine).unwrap_err().to_string(),
            "plugin moneybird cannot run: the required config value `administration_id` is not set (the administration); pass --set administration_id=VALUE; the required secret `token` is not set (personal API token); pass --secret token=VALUE"
        );
        // Nothing required: nothing to check.
        assert_eq!(check_required(&none, &[key("base_url", false, false, "")], SetIn::Config), Ok(()));
    }

    #[test]
    fn plugin_errors_name_file_line_and_key() {
        let problem = |text: &str| match parse(text) {
            Err(ConfigError::Invalid(p)) => p.to_string(),
            other => panic!("expected a problem, got {other:?}"),
        };
        let p = problem("[plugins.ubl]\npath = \"x.wasm\"\nmemory = 5\n");
        assert!(p.starts_with("/etc/dunwell/dunwell.toml:3:1: "), "{p}");
        assert!(p.contains("unknown field `memory`"), "{p}");
        let p = problem("[plugins.ubl]\npath = \"x.wasm\"\n[plugins.ubl.config]\nterm = 30\n");
        assert!(p.starts_with("/etc/dunwell/dunwell.toml:4:8: "), "{p}");
        let p = problem("[plugins.Bad_Name]\npath = \"x.wasm\"\n");
        assert!(p.contains("is not a plugin name"), "{p}");
        let p = problem("[plugins.mb]\npath = \"x.wasm\"\n[plugins.mb.secrets]\ntoken = \"abc\"\n");
        assert!(p.contains("the secret `token` in [plugins.mb.secrets] is shorter than 8 characters"), "{p}");
        let p = problem("[plugins.ubl]\ndirectory = \"inbox\"\n");
        assert!(p.contains("missing field `path`"), "{p}");
        let p = problem("[plugins.mb]\npath = \"x.wasm\"\nadopt = [\"csv\", \"../x\"]\n");
        assert!(p.contains("`../x` in `adopt` of [plugins.mb] is not a source"), "{p}");
        let c = parse("[plugins.mb]\npath = \"x.wasm\"\nadopt = [\"csv\", \"ubl\"]\n").unwrap();
        assert_eq!(c.plugins["mb"].adopt, ["csv", "plugin:ubl"]);
        assert!(parse("[plugins.mb]\npath = \"x.wasm\"\n").unwrap().plugins["mb"].adopt.is_empty());
    }
}
