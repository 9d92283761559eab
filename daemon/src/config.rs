//! `dunwell.toml`: where the data and playbooks live, who the business is, and which law and
//! calendar apply. Every key is optional: without a file the built-in defaults give a working
//! setup in the current directory. Unknown keys and wrong types are errors with file, line and
//! key, because a misspelt key silently ignored is a reminder sent under the wrong rules.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::calendar::{Calendar, Jurisdiction};
use crate::location::{Location, Problem};
use crate::model::{parse_date, Language};
use crate::plugin::settings::PluginSection;

/// The name looked for in the current directory when `--config` is not given.
pub const DEFAULT_FILE: &str = "dunwell.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Invalid(Problem),
}

/// `[business]`: the creditor every message names. Identifiers are checked as they are read
/// (a KvK number of 8 digits, a Belgian enterprise number with its check digits, a BIC), so a
/// typo is an error with dunwell.toml's line and the key, not a wrong number on a letter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Business {
    #[serde(default)]
    pub name: String,
    /// `B.V.`, `BV`, `SRL`, … (printed after the name unless the name already ends with it).
    #[serde(default, deserialize_with = "one_line")]
    pub legal_form: Option<String>,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub iban: String,
    /// The bank's BIC (8 or 11 characters), for the payment block of letters.
    #[serde(default, deserialize_with = "bic")]
    pub bic: Option<String>,
    #[serde(default)]
    pub vat_number: String,
    /// NL: the Kamer van Koophandel number, 8 digits (on every letter and e-mail,
    /// Handelsregisterwet art. 27).
    #[serde(default, deserialize_with = "kvk")]
    pub kvk: Option<String>,
    /// BE: the enterprise number (ondernemingsnummer), kept as `0123.456.749`.
    #[serde(default, deserialize_with = "company_number")]
    pub company_number: Option<String>,
    /// BE: the register of legal persons and the seat of its court: `RPR Gent`, `RPM Liège`.
    #[serde(default, deserialize_with = "rpr")]
    pub rpr: Option<String>,
    #[serde(default, deserialize_with = "website")]
    pub website: Option<String>,
    /// Who signs the letters (default: the contact person), and as what.
    #[serde(default, deserialize_with = "one_line")]
    pub signatory_name: Option<String>,
    #[serde(default, deserialize_with = "one_line")]
    pub signatory_role: Option<String>,
    /// The person a customer can ask about a reminder (`contact` in the templates).
    #[serde(default, deserialize_with = "one_line")]
    pub contact_name: Option<String>,
    #[serde(default, deserialize_with = "one_line")]
    pub contact_phone: Option<String>,
    #[serde(default, deserialize_with = "contact_email")]
    pub contact_email: Option<String>,
    /// Where the business hears of a customer who became a bad payer, broke a second promise or
    /// went over its credit limit (`alerts_to = "debiteuren@bakkerij.example"`); without it no
    /// alert is raised.
    #[serde(default, deserialize_with = "alerts_to")]
    pub alerts_to: Option<String>,
}

impl Business {
    /// What names the business in a register: its Belgian enterprise number, else its KvK
    /// number. A Belgian consumer's first reminder must print one (Boek XIX WER art. XIX.2).
    pub fn registration_number(&self) -> Option<&str> {
        self.company_number.as_deref().or(self.kvk.as_deref())
    }
}

/// A Belgian enterprise number as it is written: `0123.456.749`. `digits` are its 10 digits
/// (as [`Business::company_number`] keeps them, or with the dots); anything else is returned as
/// given.
pub fn format_company_number(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == 10 {
        format!("{}.{}.{}", &digits[..4], &digits[4..7], &digits[7..])
    } else {
        number.to_string()
    }
}

/// Checks a Belgian enterprise number (`0123.456.749`, `0123456749`, `BE0123456749`): 10
/// digits, starting with 0 or 1, whose last two are 97 minus the first eight modulo 97.
pub fn check_company_number(text: &str) -> Result<String, String> {
    let compact: String = text.chars().filter(|c| !matches!(c, ' ' | '.')).collect();
    let compact = compact.strip_prefix("BE").or_else(|| compact.strip_prefix("be")).unwrap_or(&compact);
    if compact.len() != 10 || !compact.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "company_number = \"{text}\" is not a Belgian enterprise number; write its 10 digits as 0123.456.749 or 0123456749"
        ));
    }
    if !compact.starts_with(['0', '1']) {
        return Err(format!(
            "company_number = \"{text}\" is not a Belgian enterprise number: those start with 0 or 1"
        ));
    }
    let head: u64 = compact[..8].parse().unwrap_or(0);
    let check: u64 = compact[8..].parse().unwrap_or(0);
    if 97 - head % 97 != check {
        return Err(format!(
            "company_number = \"{text}\" has wrong check digits (the last two must be {:02}); check the number on the KBO/BCE extract",
            97 - head % 97
        ));
    }
    Ok(format_company_number(compact))
}

/// An optional text value: trimmed, one line, empty meaning absent.
fn optional_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    let text = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    match text {
        Some(t) if t.chars().any(char::is_control) => {
            Err(serde::de::Error::custom(format!("`{}` must be one line of text", t.escape_debug())))
        }
        t => Ok(t),
    }
}

fn one_line<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    optional_text(d)
}

fn kvk<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let Some(text) = optional_text(d)? else { return Ok(None) };
    let digits: String = text.chars().filter(|c| *c != ' ' && *c != '.').collect();
    if digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(Some(digits))
    } else {
        Err(serde::de::Error::custom(format!(
            "kvk = \"{text}\" is not a KvK number; write the 8 digits of the Kamer van Koophandel number, e.g. kvk = \"12345678\""
        )))
    }
}

fn company_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let Some(text) = optional_text(d)? else { return Ok(None) };
    check_company_number(&text).map(Some).map_err(serde::de::Error::custom)
}

fn rpr<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let Some(text) = optional_text(d)? else { return Ok(None) };
    let seat = ["RPR ", "RPM ", "RPR/RPM ", "RJP "].iter().find_map(|p| text.strip_prefix(p));
    match seat.map(str::trim) {
        Some(seat) if !seat.is_empty() && seat.chars().all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'')) => {
            Ok(Some(text))
        }
        _ => Err(serde::de::Error::custom(format!(
            "rpr = \"{text}\" is not a register and seat; write RPR (or RPM) and the seat of the company court, e.g. rpr = \"RPR Gent\" or rpr = \"RPM Liège\""
        ))),
    }
}

fn bic<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let Some(text) = optional_text(d)? else { return Ok(None) };
    let b = text.replace(' ', "").to_ascii_uppercase();
    let ok = matches!(b.len(), 8 | 11)
        && b.bytes().all(|c| c.is_ascii_alphanumeric())
        && b.bytes().take(6).all(|c| c.is_ascii_alphabetic());
    if ok {
        Ok(Some(b))
    } else {
        Err(serde::de::Error::custom(format!(
            "bic = \"{text}\" is not a BIC; write the 8 or 11 letters and digits of the bank's code, e.g. bic = \"ABNANL2A\" or bic = \"GKCCBEBB\""
        )))
    }
}

/// An optional e-mail address under `key`, checked with the grammar of customers' addresses.
fn email_key<'de, D: serde::Deserializer<'de>>(
    d: D,
    key: &str,
    what: &str,
) -> Result<Option<String>, D::Error> {
    let Some(text) = optional_text(d)? else { return Ok(None) };
    crate::text::email(&text).map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "{key} = \"{}\" is not an e-mail address; write {what} as a plain address, e.g. {key} = \"debiteuren@bakkerij.example\"",
            text.escape_debug()
        ))
    })
}

fn contact_email<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    email_key(d, "contact_email", "the address customers may write to (replies to reminders go there)")
}

fn alerts_to<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    email_key(d, "alerts_to", "the address that hears of bad payers, broken promises and credit limits")
}

fn website<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let Some(text) = optional_text(d)? else { return Ok(None) };
    if text.contains(char::is_whitespace) || !text.contains('.') {
        return Err(serde::de::Error::custom(format!(
            "website = \"{text}\" is not a web address; write it as www.example.nl or https://www.example.nl"
        )));
    }
    Ok(Some(text))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    data_dir: Option<PathBuf>,
    playbooks_dir: Option<PathBuf>,
    default_language: Option<Language>,
    time_zone: Option<toml::Spanned<String>>,
    jurisdiction: Option<Jurisdiction>,
    closing_days: Option<Vec<toml::Spanned<String>>>,
    rates_file: Option<PathBuf>,
    post_delay_days: Option<u32>,
    vat_deductible: Option<bool>,
    letter_postage: Option<toml::Spanned<String>>,
    business: Option<Business>,
    channels: Option<ChannelsSection>,
    plugins: Option<std::collections::BTreeMap<toml::Spanned<String>, PluginSection>>,
    schedule: Option<crate::run::schedule::ScheduleSection>,
    admin: Option<AdminSection>,
    log_format: Option<LogFormat>,
    escalation: Option<EscalationSection>,
    care: Option<crate::care::Settings>,
    import: Option<crate::import::Settings>,
}

/// `[escalation]`: when the business is told about a customer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalationSection {
    credit_limit: Option<toml::Spanned<String>>,
}

/// When the business is told about a customer (alerts to `[business] alerts_to`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Escalation {
    /// The most a customer may owe at once unless its own `credit_limit` (customers.csv) says
    /// otherwise; `None`: only customers with their own limit are checked.
    pub credit_limit: Option<rust_decimal::Decimal>,
}

/// `[admin]`: the daemon's HTTP API (health, metrics, status, reload).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminSection {
    listen: Option<toml::Spanned<String>>,
    token_file: Option<PathBuf>,
}

/// The admin API's address and its bearer token's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSettings {
    /// Default 127.0.0.1:8720: only this machine.
    pub listen: std::net::SocketAddr,
    /// Default: `$CREDENTIALS_DIRECTORY/admin-token` under systemd (LoadCredential=), else
    /// `admin-token` in the data directory (written with a random token at the first start).
    pub token_file: Option<PathBuf>,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings { listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8720)), token_file: None }
    }
}

/// How `dunwell run` writes its log: lines for people (and journald), or one JSON object per
/// line for log shippers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `[channels]`: how `dunwell send` paces messages, and the services behind each channel. A
/// channel without a service writes into the file outbox.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsSection {
    /// One message per customer and channel per day, listing every invoice (default true).
    pub group_by_customer: Option<bool>,
    /// Messages a customer gets in any seven days, all invoices together (default 2).
    pub max_messages_per_week: Option<u32>,
    /// Delivery attempts before a message is dead (default 8).
    pub max_attempts: Option<u32>,
    /// The file outbox (default `outbox` in the data directory).
    pub outbox_dir: Option<PathBuf>,
    pub email: Option<crate::channel::email::EmailSettings>,
    pub sms: Option<crate::channel::sms::SmsSettings>,
    /// `[channels.letter]`: a print-and-mail service (Pingen) for letters and registered letters.
    pub letter: Option<crate::channel::letter::LetterSettings>,
    /// `[channels.agency]`: the collection agency's endpoint for case files.
    pub agency: Option<crate::channel::agency::AgencySettings>,
}

/// The resolved configuration. Relative paths in a file are taken relative to that file's
/// folder, so a config works the same whatever directory systemd or a user starts from.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from, if any.
    pub source: Option<PathBuf>,
    pub data_dir: PathBuf,
    /// `None`: use `./playbooks` when it exists, else the defaults built into the binary.
    pub playbooks_dir: Option<PathBuf>,
    pub business: Business,
    pub default_language: Language,
    pub time_zone: chrono_tz::Tz,
    pub jurisdiction: Jurisdiction,
    pub closing_days: Vec<NaiveDate>,
    pub rates_file: Option<PathBuf>,
    /// Calendar days a letter takes by post before it counts as received (the consumer terms
    /// run from receipt).
    pub post_delay_days: u32,
    /// Whether the business can deduct VAT; when it cannot, VAT is added to NL collection costs.
    pub vat_deductible: bool,
    /// The postage of one letter, which a BE consumer's reminder fee on a letter may add to
    /// its €7.50 (`letter_postage = "2.43"`; default 0).
    pub letter_postage: rust_decimal::Decimal,
    /// Connector plugins by name (`[plugins.<name>]`).
    pub plugins: std::collections::BTreeMap<String, crate::plugin::PluginSettings>,
    /// `[channels]`, paths resolved.
    pub channels: ChannelsSection,
    /// `[schedule]`: when the daemon's jobs run, the freshness limit, the send windows.
    pub schedule: crate::run::schedule::Schedule,
    /// `[admin]`: the daemon's HTTP API.
    pub admin: AdminSettings,
    pub log_format: LogFormat,
    /// `[escalation]`: the default credit limit of the alerts to the business.
    pub escalation: Escalation,
    /// `[care]`: graces for promises and plans, dispute deadlines and reasons.
    pub care: crate::care::Settings,
    /// `[import]`: the separator, decimal mark, date form, encoding and default customer kind
    /// of spreadsheet files instead of detecting them, and `[import.columns]` for other headers.
    pub import: crate::import::Settings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            source: None,
            data_dir: PathBuf::from("dunwell-data"),
            playbooks_dir: None,
            business: Business::default(),
            default_language: Language::Nl,
            time_zone: chrono_tz::Europe::Amsterdam,
            jurisdiction: Jurisdiction::Nl,
            closing_days: Vec::new(),
            rates_file: None,
            post_delay_days: 2,
            vat_deductible: true,
            letter_postage: rust_decimal::Decimal::ZERO,
            plugins: std::collections::BTreeMap::new(),
            channels: ChannelsSection::default(),
            schedule: crate::run::schedule::Schedule::default_for(chrono_tz::Europe::Amsterdam),
            admin: AdminSettings::default(),
            log_format: LogFormat::Text,
            escalation: Escalation::default(),
            care: crate::care::Settings::default(),
            import: crate::import::Settings::default(),
        }
    }
}

impl Config {
    /// Loads `path`, or `./dunwell.toml` when it exists, or the defaults.
    pub fn discover(path: Option<&Path>) -> Result<Config, ConfigError> {
        match path {
            Some(p) => Config::load(p),
            None if Path::new(DEFAULT_FILE).is_file() => Config::load(Path::new(DEFAULT_FILE)),
            None => Ok(Config::default()),
        }
    }

    /// Just enough of a configuration that does not load to reach the running daemon: its
    /// data directory and `[admin]`. `dunwell reload` uses it so that the daemon itself hears
    /// of a broken file (and says why it keeps the old one) instead of the client alone.
    pub fn admin_only(path: Option<&Path>) -> Option<Config> {
        let path = path.map(Path::to_path_buf).or_else(|| {
            let p = PathBuf::from(DEFAULT_FILE);
            p.is_file().then_some(p)
        })?;
        let text = std::fs::read_to_string(&path).ok()?;
        let table: toml::Table = toml::from_str(&text).ok()?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut config = Config { source: Some(path.clone()), ..Config::default() };
        config.data_dir = base.join(table.get("data_dir").and_then(|v| v.as_str()).unwrap_or("dunwell-data"));
        if let Some(admin) = table.get("admin").and_then(|a| a.as_table()) {
            if let Some(listen) = admin.get("listen").and_then(|l| l.as_str()).and_then(|l| l.parse().ok()) {
                config.admin.listen = listen;
            }
            config.admin.token_file = admin.get("token_file").and_then(|t| t.as_str()).map(|t| {
                let p = PathBuf::from(t);
                if p.is_absolute() || p.starts_with(crate::http::CREDENTIALS) {
                    p
                } else {
                    base.join(p)
                }
            });
        }
        Some(config)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let file: ConfigFile =
            toml::from_str(text).map_err(|e| ConfigError::Invalid(Problem::from_toml(path, text, &e)))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        // A secret named by its systemd credential (`$CREDENTIALS_DIRECTORY/smtp-password`)
        // is looked up when it is read, not taken relative to this file.
        let resolve = |p: PathBuf| {
            if p.is_absolute() || p.starts_with(crate::http::CREDENTIALS) {
                p
            } else {
                base.join(p)
            }
        };
        let defaults = Config::default();
        let time_zone = match file.time_zone {
            None => defaults.time_zone,
            Some(tz) => tz.get_ref().parse::<chrono_tz::Tz>().map_err(|_| {
                ConfigError::Invalid(Problem::new(
                    Location::at_offset(path, text, tz.span().start),
                    format!(
                        "`{}` is not a time zone (key `time_zone`); use an IANA name like Europe/Amsterdam or Europe/Brussels",
                        tz.get_ref()
                    ),
                ))
            })?,
        };
        let mut closing_days = Vec::new();
        for day in file.closing_days.unwrap_or_default() {
            let date = parse_date(day.get_ref()).map_err(|msg| {
                ConfigError::Invalid(Problem::new(
                    Location::at_offset(path, text, day.span().start),
                    format!("{msg} (key `closing_days`)"),
                ))
            })?;
            closing_days.push(date);
        }
        let letter_postage = match &file.letter_postage {
            None => defaults.letter_postage,
            Some(v) => crate::model::parse_amount(v.get_ref())
                .ok()
                .filter(|d| !d.is_sign_negative())
                .ok_or_else(|| {
                    ConfigError::Invalid(Problem::new(
                        Location::at_offset(path, text, v.span().start),
                        format!(
                            "letter_postage = \"{}\" is not an amount; write the postage of one letter in euro, e.g. letter_postage = \"2.43\"",
                            v.get_ref()
                        ),
                    ))
                })?,
        };
        let mut escalation = Escalation::default();
        if let Some(limit) = file.escalation.as_ref().and_then(|e| e.credit_limit.as_ref()) {
            escalation.credit_limit = Some(
                crate::model::parse_amount(limit.get_ref()).ok().filter(|d| !d.is_sign_negative()).ok_or_else(
                    || {
                        ConfigError::Invalid(Problem::new(
                            Location::at_offset(path, text, limit.span().start),
                            format!(
                                "credit_limit = \"{}\" in [escalation] is not an amount; write the most a customer may owe before the business is told, e.g. credit_limit = \"5000.00\"",
                                limit.get_ref()
                            ),
                        ))
                    },
                )?,
            );
        }
        let schedule = crate::run::schedule::Schedule::resolve(file.schedule.as_ref(), time_zone, path, text)
            .map_err(ConfigError::Invalid)?;
        let mut admin = AdminSettings::default();
        if let Some(a) = file.admin {
            if let Some(listen) = a.listen {
                admin.listen = listen.get_ref().parse().map_err(|_| {
                    ConfigError::Invalid(Problem::new(
                        Location::at_offset(path, text, listen.span().start),
                        format!(
                            "listen = \"{}\" in [admin] is not an address and port; write e.g. listen = \"127.0.0.1:8720\" (keep it on 127.0.0.1 unless a proxy with TLS stands in front)",
                            listen.get_ref()
                        ),
                    ))
                })?;
            }
            admin.token_file = a.token_file.map(&resolve);
        }
        let mut plugins = std::collections::BTreeMap::new();
        for (name, section) in file.plugins.unwrap_or_default() {
            if !crate::plugin::settings::valid_name(name.get_ref()) {
                return Err(ConfigError::Invalid(Problem::new(
                    Location::at_offset(path, text, name.span().start),
                    format!(
                        "`{}` is not a plugin name (key `plugins`); use lower-case letters, digits, - and _",
                        name.get_ref()
                    ),
                )));
            }
            if let Some(bad) = section.adopt.iter().find(|a| {
                let n = a.strip_prefix("plugin:").unwrap_or(a);
                n != "csv" && !crate::plugin::settings::valid_name(n)
            }) {
                return Err(ConfigError::Invalid(Problem::new(
                    Location::at_offset(path, text, name.span().start),
                    format!(
                        "`{bad}` in `adopt` of [plugins.{}] is not a source; use \"csv\" or another plugin's name",
                        name.get_ref()
                    ),
                )));
            }
            if let Some(key) = crate::plugin::redact::short_secret(&section.secrets) {
                return Err(ConfigError::Invalid(Problem::new(
                    Location::at_offset(path, text, name.span().start),
                    format!(
                        "the secret `{key}` in [plugins.{}.secrets] is shorter than {} characters: too short to keep out of logs (every occurrence would have to be masked) and too short for a real token; give the whole token",
                        name.get_ref(),
                        crate::plugin::redact::MIN_SECRET_LEN
                    ),
                )));
            }
            let settings = crate::plugin::PluginSettings::from_section(name.get_ref(), section, resolve);
            plugins.insert(name.into_inner(), settings);
        }
        Ok(Config {
            source: Some(path.to_path_buf()),
            data_dir: file.data_dir.map(resolve).unwrap_or_else(|| base.join(&defaults.data_dir)),
            playbooks_dir: file.playbooks_dir.map(resolve),
            business: file.business.unwrap_or_default(),
            default_language: file.default_language.unwrap_or(defaults.default_language),
            time_zone,
            jurisdiction: file.jurisdiction.unwrap_or(defaults.jurisdiction),
            closing_days,
            rates_file: file.rates_file.map(resolve),
            post_delay_days: file.post_delay_days.unwrap_or(defaults.post_delay_days),
            vat_deductible: file.vat_deductible.unwrap_or(defaults.vat_deductible),
            letter_postage,
            plugins,
            channels: file
                .channels
                .map(|mut c| {
                    c.outbox_dir = c.outbox_dir.map(resolve);
                    if let Some(e) = c.email.as_mut() {
                        e.password_file = e.password_file.take().map(resolve);
                        e.ca_file = e.ca_file.take().map(resolve);
                    }
                    if let Some(l) = c.letter.as_mut() {
                        l.client_secret_file = resolve(std::mem::take(&mut l.client_secret_file));
                    }
                    if let Some(a) = c.agency.as_mut() {
                        a.token_file = a.token_file.take().map(resolve);
                    }
                    if let Some(s) = c.sms.as_mut() {
                        s.token_file = resolve(std::mem::take(&mut s.token_file));
                        s.report_token_file = s.report_token_file.take().map(&resolve);
                    }
                    c
                })
                .unwrap_or_default(),
            schedule,
            admin,
            log_format: file.log_format.unwrap_or_default(),
            escalation,
            care: file.care.unwrap_or_default(),
            import: file.import.unwrap_or_default(),
        })
    }

    /// Where `dunwell plugin compile` puts compiled connectors: systemd's CacheDirectory=
    /// ($CACHE_DIRECTORY), else `cache/plugins` in the data directory.
    pub fn plugin_cache_dir(&self) -> PathBuf {
        match std::env::var_os("CACHE_DIRECTORY") {
            Some(dir) => PathBuf::from(dir).join("plugins"),
            None => self.data_dir.join("cache").join("plugins"),
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("dunwell.db")
    }

    /// Where the file outbox writes what each channel would send.
    pub fn outbox_dir(&self) -> PathBuf {
        self.channels.outbox_dir.clone().unwrap_or_else(|| self.data_dir.join("outbox"))
    }

    pub fn pacing(&self) -> crate::send::Pacing {
        let d = crate::send::Pacing::default();
        crate::send::Pacing {
            group_by_customer: self.channels.group_by_customer.unwrap_or(d.group_by_customer),
            max_messages_per_week: self.channels.max_messages_per_week.unwrap_or(d.max_messages_per_week),
        }
    }

    /// The channels as configured: SMTP when `[channels.email]` is there, files otherwise.
    pub fn open_channels(&self) -> Result<crate::channel::Channels, crate::channel::ChannelError> {
        let mut channels = crate::channel::Channels::files_only(self.outbox_dir());
        channels.max_attempts = self.channels.max_attempts.unwrap_or(channels.max_attempts).max(1);
        // Answers go to the business: reply_to of [channels.email], else contact_email.
        let reply_to = crate::channel::email::reply_to(
            self.channels.email.as_ref(),
            self.business.contact_email.as_deref(),
        )?;
        channels.files.set_reply_to(reply_to.clone());
        if let Some(e) = &self.channels.email {
            let mut smtp = crate::channel::email::Smtp::new(e)?;
            smtp.default_reply_to(reply_to);
            channels.email = Some(smtp);
        }
        if let Some(l) = &self.channels.letter {
            channels.letter =
                Some(crate::channel::letter::Pingen::new(l).map_err(crate::channel::ChannelError::Setup)?);
        }
        if let Some(a) = &self.channels.agency {
            channels.agency =
                crate::channel::agency::Agency::new(a).map_err(crate::channel::ChannelError::Setup)?;
        }
        if let Some(s) = &self.channels.sms {
            channels.sms = Some(crate::channel::SmsChannel::new(s.clone(), self.jurisdiction.country())?);
        }
        Ok(channels)
    }

    pub fn law_settings(&self) -> crate::playbook::LawSettings {
        // The fee cap is statutory; a rates file that does not load is reported where the
        // rates are used, so the shipped figure stands in here.
        let be_reminder_fee_max = crate::law::Rates::load(self.rates_file.as_deref())
            .or_else(|_| crate::law::Rates::shipped())
            .map(|r| r.be_consumer.extra_reminder_fee_max)
            .unwrap_or(rust_decimal::Decimal::new(750, 2));
        crate::playbook::LawSettings {
            jurisdiction: self.jurisdiction,
            post_delay_days: self.post_delay_days,
            be_reminder_fee_max,
            letter_postage: self.letter_postage,
        }
    }

    pub fn calendar(&self) -> Calendar {
        Calendar::new(self.jurisdiction, self.closing_days.iter().copied())
    }

    /// Today in the business's time zone: a reminder run just after midnight UTC must not
    /// count a day that has not started in Amsterdam.
    pub fn today(&self) -> NaiveDate {
        chrono::Utc::now().with_timezone(&self.time_zone).date_naive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/dunwell/dunwell.toml"), text)
    }

    fn problem(text: &str) -> String {
        match parse(text) {
            Err(ConfigError::Invalid(p)) => p.to_string(),
            other => panic!("expected a problem, got {other:?}"),
        }
    }

    #[test]
    fn empty_file_gives_defaults_relative_to_the_file() {
        let c = parse("").unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/etc/dunwell/dunwell-data"));
        assert_eq!(c.jurisdiction, Jurisdiction::Nl);
        assert_eq!(c.time_zone, chrono_tz::Europe::Amsterdam);
        assert_eq!(c.default_language, Language::Nl);
    }

    #[test]
    fn full_file() {
        let c = parse(
            r#"
data_dir = "/var/lib/dunwell"
playbooks_dir = "playbooks"
default_language = "fr"
time_zone = "Europe/Brussels"
jurisdiction = "be"
closing_days = ["2026-12-24", "2026-12-31"]

[business]
name = "Atelier Janssens BV"
address = "Meir 1, 2000 Antwerpen"
iban = "BE68539007547034"
vat_number = "BE0123456749"
"#,
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/dunwell"));
        assert_eq!(c.playbooks_dir, Some(PathBuf::from("/etc/dunwell/playbooks")));
        assert_eq!(c.default_language, Language::Fr);
        assert_eq!(c.jurisdiction, Jurisdiction::Be);
        assert_eq!(c.time_zone, chrono_tz::Europe::Brussels);
        assert_eq!(c.closing_days.len(), 2);
        assert_eq!(c.business.name, "Atelier Janssens BV");
        assert!(!c.calendar().is_working_day("2026-12-24".parse().unwrap()));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let p = problem("jurisdiction = \"nl\"\ntimezone = \"Europe/Amsterdam\"\n");
        assert!(p.starts_with("/etc/dunwell/dunwell.toml:2:1: "), "{p}");
        assert!(p.contains("unknown field `timezone`"), "{p}");
        let p = problem("[business]\nname = \"x\"\nswift = \"y\"\n");
        assert!(p.starts_with("/etc/dunwell/dunwell.toml:3:1: "), "{p}");
        assert!(p.contains("`swift`"), "{p}");
    }

    #[test]
    fn wrong_type_names_file_line_and_key() {
        let p = problem("\n\ndata_dir = 5\n");
        assert!(p.starts_with("/etc/dunwell/dunwell.toml:3:12: "), "{p}");
        assert!(p.contains("data_dir"), "{p}");
        let p = problem("jurisdiction = \"de\"\n");
        assert!(p.starts_with("/etc/dunwell/dunwell.toml:1:16: "), "{p}");
        assert!(p.contains("jurisdiction"), "{p}");
    }

    #[test]
    fn bad_time_zone_and_closing_day() {
        let p = problem("time_zone = \"Europe/Amsterdamm\"\n");
        assert!(p.starts_with("/etc/dunwell/dunwell.toml:1:13: "), "{p}");
        assert!(p.contains("time_zone"), "{p}");
        let p = problem("closing_days = [\"2026-12-24\", \"2026-13-01\"]\n");
        assert!(p.starts_with("/etc/dunwell/dunwell.toml:1:31: "), "{p}");
        assert!(p.contains("closing_days"), "{p}");
    }

    #[test]
    fn business_identity_is_read_and_checked() {
        let c = parse(
            r#"
[business]
name = "Atelier Janssens"
legal_form = "BV"
iban = "BE68539007547034"
bic = "gkcc bebb"
company_number = "BE 0123.456.749"
rpr = "RPR Gent"
kvk = "1234 5678"
website = "www.janssens.be"
signatory_name = "Els Janssens"
signatory_role = "zaakvoerder"
"#,
        )
        .unwrap();
        let b = &c.business;
        assert_eq!(b.company_number.as_deref(), Some("0123.456.749"));
        assert_eq!(b.kvk.as_deref(), Some("12345678"));
        assert_eq!(b.bic.as_deref(), Some("GKCCBEBB"));
        assert_eq!(b.rpr.as_deref(), Some("RPR Gent"));
        assert_eq!(b.legal_form.as_deref(), Some("BV"));
        assert_eq!(
            (b.signatory_name.as_deref(), b.signatory_role.as_deref()),
            (Some("Els Janssens"), Some("zaakvoerder"))
        );
        // Empty means absent, as in examples/dunwell.toml.
        let c = parse("[business]\nkvk = \"\"\ncompany_number = \"\"\nbic = \"\"\n").unwrap();
        assert_eq!((c.business.kvk, c.business.company_number, c.business.bic), (None, None, None));
        assert_eq!(check_company_number("0123456749").unwrap(), "0123.456.749");
        assert_eq!(format_company_number("0123456749"), "0123.456.749");
    }

    #[test]
    fn alerts_and_escalation_are_read_and_checked() {
        let c = parse(
            "[business]\nname = \"x\"\ncontact_email = \"deb@bakkerij.example\"\nalerts_to = \" eigenaar@bakkerij.example \"\n\n[escalation]\ncredit_limit = \"5000.00\"\n",
        )
        .unwrap();
        assert_eq!(c.business.alerts_to.as_deref(), Some("eigenaar@bakkerij.example"));
        assert_eq!(c.business.contact_email.as_deref(), Some("deb@bakkerij.example"));
        assert_eq!(c.escalation.credit_limit, Some(rust_decimal::Decimal::new(500000, 2)));
        assert_eq!(parse("").unwrap().escalation, Escalation::default());
        let p = problem("[business]\nname = \"x\"\nalerts_to = \"eigenaar at bakkerij\"\n");
        assert!(p.starts_with("/etc/dunwell/dunwell.toml:3:"), "{p}");
        assert!(p.contains("alerts_to = \"eigenaar at bakkerij\" is not an e-mail address"), "{p}");
        let p = problem("[business]\ncontact_email = \"Anja <anja@x.nl>\"\n");
        assert!(p.starts_with("/etc/dunwell/dunwell.toml:2:") && p.contains("contact_email = "), "{p}");
        for bad in ["5.000,00", "-1", "vijf"] {
            let p = problem(&format!("[escalation]\ncredit_limit = \"{bad}\"\n"));
            assert!(p.starts_with("/etc/dunwell/dunwell.toml:2:16: "), "{p}");
            assert!(p.contains("credit_limit") && p.contains("[escalation]"), "{p}");
        }
        let p = problem("[escalation]\nlimit = \"5\"\n");
        assert!(p.contains("unknown field `limit`"), "{p}");
    }

    #[test]
    fn bad_business_identifiers_name_file_line_and_key() {
        let cases = [
            ("kvk = \"1234567\"", "kvk", "not a KvK number"),
            (
                "company_number = \"0123.456.748\"",
                "company_number",
                "wrong check digits (the last two must be 49)",
            ),
            ("company_number = \"123456749\"", "company_number", "10 digits"),
            ("company_number = \"2123.456.7xx\"", "company_number", "not a Belgian enterprise number"),
            ("bic = \"ABNA\"", "bic", "not a BIC"),
            ("bic = \"1BNANL2A\"", "bic", "not a BIC"),
            ("rpr = \"Gent\"", "rpr", "RPR Gent"),
            ("website = \"www bakkerij nl\"", "website", "not a web address"),
            ("signatory_name = \"Anja\\nvan Dam\"", "signatory_name", "one line"),
        ];
        for (line, key, what) in cases {
            let p = problem(&format!("jurisdiction = \"be\"\n\n[business]\nname = \"x\"\n{line}\n"));
            assert!(p.starts_with("/etc/dunwell/dunwell.toml:5:"), "{line}: {p}");
            assert!(p.contains(&format!("`{key}`")) || p.contains(&format!("{key} =")), "{line}: {p}");
            assert!(p.contains(what), "{line}: {p}");
        }
    }
}
