//! Playbooks: one TOML file per segment in the playbooks folder, with the segmentation rules
//! (`segments.toml`) and message templates beside them: `templates/<language>/<name>.txt` for
//! every step, plus `<name>.html` (the HTML body) for e-mail steps, in each of nl, fr, en, de.
//!
//! Loading validates everything a reminder run depends on and reports every problem at once,
//! each with `file:line:column`, so `dunwell check` can be run in a git hook before a change
//! to the playbooks reaches the daemon. The folder the binary ships with is embedded, so a
//! fresh install works before anyone has copied the playbooks anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use toml::Spanned;

use crate::calendar::Jurisdiction;
use crate::law::consumer::{check_consumer_playbook, Delivery, StepView};
use crate::location::{Location, Problem, Problems};
use crate::model::{parse_amount, CustomerKind, Language};
use crate::segment::SegmentRules;

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../playbooks");

pub const SEGMENTS_FILE: &str = "segments.toml";

/// How a step reaches the customer (or who acts on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    Email,
    Sms,
    Phone,
    Letter,
    RegisteredLetter,
    Agency,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Phone => "phone",
            Channel::Letter => "letter",
            Channel::RegisteredLetter => "registered-letter",
            Channel::Agency => "agency",
        }
    }
}

/// What a step does with statutory interest or collection costs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MoneyAction {
    /// Not mentioned.
    #[default]
    None,
    /// Named as what will be charged if the invoice stays unpaid.
    Announce,
    /// Charged: added to what the customer is asked to pay.
    Apply,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// 1-based position in the playbook.
    pub number: u32,
    /// Calendar days from the due date; negative for steps before it.
    pub offset_days: i64,
    pub channel: Channel,
    pub template: String,
    pub description: Option<String>,
    pub interest: MoneyAction,
    pub costs: MoneyAction,
    /// What the step does with interest and costs for consumers, where the law is stricter
    /// (defaults to `interest` and `costs`).
    pub consumer_interest: MoneyAction,
    pub consumer_costs: MoneyAction,
    pub requires_approval: bool,
    /// The step is skipped while less than this is open.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub min_open_amount: Option<Decimal>,
    /// A reminder fee the step's message charges (`fee = "7.50"`): added to what the customer
    /// is asked to pay, and owed from then on.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub fee: Option<Decimal>,
    /// The fee for consumers, where the law is stricter (`consumer = { fee = "0" }`; defaults
    /// to `fee`). NL consumers may not be charged one; BE consumers not on the first reminder,
    /// and at most €7.50 plus postage.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub consumer_fee: Option<Decimal>,
    /// Where the message goes instead when it cannot be delivered (no address, a refused or
    /// undeliverable e-mail, an invalid number): `fallback_channel = "letter"`.
    pub fallback_channel: Option<Channel>,
    /// The fallback's template (default: the step's own).
    pub fallback_template: Option<String>,
    /// An e-mail step with `attach = ["letter"]` carries its message laid out as the PDF letter
    /// (with the table of invoices and the payment QR code).
    pub attach_letter: bool,
    /// The term the message gives the debtor to pay (`term_days = 14`), counted as the law
    /// counts it (from the day after receipt; see `law::consumer::term_end`). No later step
    /// escalates before it has ended.
    pub term_days: Option<u32>,
    /// The term for consumers (`consumer = { term_days = 14 }`; default `term_days`).
    pub consumer_term_days: Option<u32>,
    /// An e-mail step with `cc_account_manager = true` copies the customer's account manager
    /// (`account_manager` in customers.csv) on its message.
    pub cc_account_manager: bool,
}

impl Step {
    /// The (interest, costs) actions of this step for a customer of `kind`.
    pub fn money_for(&self, kind: CustomerKind) -> (MoneyAction, MoneyAction) {
        match kind {
            CustomerKind::B2b => (self.interest, self.costs),
            CustomerKind::B2c => (self.consumer_interest, self.consumer_costs),
        }
    }

    /// The step as its fallback sends it: the fallback channel with its template.
    pub fn fallback(&self) -> Option<Step> {
        let channel = self.fallback_channel?;
        Some(Step {
            channel,
            template: self.fallback_template.clone().unwrap_or_else(|| self.template.clone()),
            fallback_channel: None,
            fallback_template: None,
            attach_letter: false,
            cc_account_manager: false,
            ..self.clone()
        })
    }

    /// The term this step's message gives a customer of `kind`, in days.
    pub fn term_for(&self, kind: CustomerKind) -> Option<u32> {
        match kind {
            CustomerKind::B2b => self.term_days,
            CustomerKind::B2c => self.consumer_term_days,
        }
    }

    /// Whether the step escalates for a customer of `kind`: it charges interest, costs or a fee,
    /// hands the claim over, or gives a new term while naming what an unpaid claim will cost.
    /// Such a step waits until the last term given has ended, so no letter contradicts the one
    /// before it.
    pub fn escalates_for(&self, kind: CustomerKind) -> bool {
        let (interest, costs) = self.money_for(kind);
        interest == MoneyAction::Apply
            || costs == MoneyAction::Apply
            || self.fee_for(kind).is_some()
            || self.channel == Channel::Agency
            || (self.term_for(kind).is_some()
                && (interest == MoneyAction::Announce || costs == MoneyAction::Announce))
    }

    /// The reminder fee this step charges a customer of `kind`, if any (a zero fee is none).
    pub fn fee_for(&self, kind: CustomerKind) -> Option<Decimal> {
        match kind {
            CustomerKind::B2b => self.fee,
            CustomerKind::B2c => self.consumer_fee,
        }
        .filter(|f| !f.is_zero())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Playbook {
    pub segment: String,
    pub goal: Option<String>,
    pub tone: Option<String>,
    pub steps: Vec<Step>,
    pub file: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaybookFile {
    segment: Spanned<String>,
    goal: Option<String>,
    tone: Option<String>,
    #[serde(default)]
    steps: Vec<Spanned<StepFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    step: Spanned<i64>,
    offset_days: Spanned<i64>,
    channel: Channel,
    template: Spanned<String>,
    description: Option<String>,
    #[serde(default)]
    interest: MoneyAction,
    #[serde(default)]
    costs: MoneyAction,
    /// Overrides for consumers: `consumer = { interest = "announce" }`.
    consumer: Option<ConsumerFile>,
    #[serde(default)]
    requires_approval: bool,
    #[serde(default, deserialize_with = "amount")]
    min_open_amount: Option<Decimal>,
    #[serde(default, deserialize_with = "amount")]
    fee: Option<Decimal>,
    fallback_channel: Option<Spanned<Channel>>,
    fallback_template: Option<Spanned<String>>,
    #[serde(default)]
    attach: Vec<Spanned<String>>,
    term_days: Option<Spanned<i64>>,
    cc_account_manager: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsumerFile {
    interest: Option<MoneyAction>,
    costs: Option<MoneyAction>,
    #[serde(default, deserialize_with = "amount")]
    fee: Option<Decimal>,
    term_days: Option<Spanned<i64>>,
}

/// An amount written as a string (`"50.00"`, exact) or a TOML integer.
fn amount<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(i64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Int(i) => Ok(Some(Decimal::from(i))),
        Raw::Text(s) => parse_amount(&s).map(Some).map_err(serde::de::Error::custom),
    }
}

/// Where playbooks are read from: a folder, or the copy built into the binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaybookSource {
    Dir(PathBuf),
    Builtin,
}

impl PlaybookSource {
    /// The configured folder; else `./playbooks` when it holds a segments.toml; else the
    /// built-in defaults.
    pub fn resolve(configured: Option<&Path>) -> PlaybookSource {
        match configured {
            Some(p) => PlaybookSource::Dir(p.to_path_buf()),
            None if Path::new("playbooks").join(SEGMENTS_FILE).is_file() => {
                PlaybookSource::Dir(PathBuf::from("playbooks"))
            }
            None => PlaybookSource::Builtin,
        }
    }

    /// How a file of this source is named in messages.
    pub fn display(&self, rel: &str) -> PathBuf {
        match self {
            PlaybookSource::Dir(d) => d.join(rel),
            PlaybookSource::Builtin => Path::new("<built-in playbooks>").join(rel),
        }
    }

    fn read(&self, rel: &str) -> Result<Option<String>, String> {
        match self {
            PlaybookSource::Dir(d) => match std::fs::read(d.join(rel)) {
                Ok(bytes) => String::from_utf8(bytes)
                    .map(Some)
                    .map_err(|_| "the file is not valid UTF-8; save it as UTF-8".to_string()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("cannot read: {e}")),
            },
            PlaybookSource::Builtin => {
                Ok(BUILTIN.get_file(rel).and_then(|f| f.contents_utf8()).map(str::to_string))
            }
        }
    }

    /// The playbook files: every `*.toml` at the top level except segments.toml, sorted.
    fn playbook_files(&self) -> Result<Vec<String>, String> {
        let mut names: Vec<String> = match self {
            PlaybookSource::Dir(d) => std::fs::read_dir(d)
                .map_err(|e| format!("cannot list the playbooks folder: {e}"))?
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .collect(),
            PlaybookSource::Builtin => {
                BUILTIN.files().filter_map(|f| f.path().to_str().map(str::to_string)).collect()
            }
        };
        names.retain(|n| n.ends_with(".toml") && n != SEGMENTS_FILE);
        names.sort();
        Ok(names)
    }

    /// A digest of everything the checks of this source depend on: `extra` (the settings),
    /// the running binary (its size and time: another dunwell may check more), and for a folder
    /// every file below it (hidden ones, such as `.git`, aside). `None` when the binary or a
    /// file cannot be read: then nothing is remembered.
    fn fingerprint(&self, extra: &str) -> Option<String> {
        use sha2::{Digest, Sha256};
        fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                let path = entry.path();
                let rel = if rel.is_empty() { name } else { format!("{rel}/{name}") };
                if entry.file_type()?.is_dir() {
                    walk(&path, &rel, out)?;
                } else {
                    out.push((rel, path));
                }
            }
            Ok(())
        }
        let mut h = Sha256::new();
        h.update(extra.as_bytes());
        let exe = std::fs::metadata(std::env::current_exe().ok()?).ok()?;
        h.update(exe.len().to_le_bytes());
        let modified = exe.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
        h.update(modified.as_nanos().to_le_bytes());
        if let PlaybookSource::Dir(d) = self {
            let mut files = Vec::new();
            walk(d, "", &mut files).ok()?;
            files.sort();
            for (rel, path) in files {
                let bytes = std::fs::read(&path).ok()?;
                h.update((rel.len() as u64).to_le_bytes());
                h.update(rel.as_bytes());
                h.update((bytes.len() as u64).to_le_bytes());
                h.update(&bytes);
            }
        }
        Some(crate::text::hex(&h.finalize()))
    }

    /// The languages that have a `templates/<lang>/` folder.
    fn template_languages(&self) -> Vec<Language> {
        Language::ALL
            .into_iter()
            .filter(|l| match self {
                PlaybookSource::Dir(d) => d.join("templates").join(l.as_str()).is_dir(),
                PlaybookSource::Builtin => BUILTIN.get_dir(format!("templates/{}", l.as_str())).is_some(),
            })
            .collect()
    }

    /// The text part of template `name` in `lang`: the subject and body of an e-mail or
    /// letter, the SMS, the call script, the case file.
    pub fn template_path(lang: Language, name: &str) -> String {
        format!("templates/{}/{name}.txt", lang.as_str())
    }

    /// The HTML body of e-mail template `name` in `lang`.
    pub fn html_template_path(lang: Language, name: &str) -> String {
        format!("templates/{}/{name}.html", lang.as_str())
    }

    /// The source text of template `name` in `lang` (its `.txt` file).
    pub fn read_template(&self, lang: Language, name: &str) -> Result<Option<String>, String> {
        self.read(&Self::template_path(lang, name))
    }

    /// The HTML body of e-mail template `name` in `lang` (its `.html` file).
    pub fn read_html_template(&self, lang: Language, name: &str) -> Result<Option<String>, String> {
        self.read(&Self::html_template_path(lang, name))
    }

    /// A file of this source by its path below the playbooks folder (`None`: no such file).
    pub fn read_file(&self, rel: &str) -> Result<Option<String>, String> {
        self.read(rel)
    }
}

/// Everything the planner needs from the playbooks folder, validated.
#[derive(Debug, Clone)]
pub struct PlaybookSet {
    pub source: PlaybookSource,
    pub rules: SegmentRules,
    /// By segment name.
    pub playbooks: BTreeMap<String, Playbook>,
    pub languages: Vec<Language>,
}

impl PlaybookSet {
    /// Step `number` (1-based) of the playbook of `segment`: the step an action was planned from.
    pub fn step(&self, segment: &str, number: u32) -> Option<&Step> {
        self.playbooks.get(segment)?.steps.get((number as usize).checked_sub(1)?)
    }

    /// Loads and checks the playbooks, templates and segment rules of `source`. Returns every
    /// problem found, not just the first.
    pub fn load(
        source: PlaybookSource,
        default_language: Language,
        law: &LawSettings,
    ) -> Result<PlaybookSet, Problems> {
        Self::load_with(source, default_language, law, true)
    }

    /// The playbooks `config` names (its folder, or the built-in set), checked as
    /// [`load_cached`](Self::load_cached) checks them, remembered in its data directory: what
    /// every command that uses them and the daemon's start load.
    pub fn load_for(config: &crate::config::Config) -> Result<PlaybookSet, Problems> {
        let source = PlaybookSource::resolve(config.playbooks_dir.as_deref());
        Self::load_cached(source, config.default_language, &config.law_settings(), &config.data_dir)
    }

    /// [`load`](Self::load), remembering in `cache_dir` (the data directory) that this exact
    /// set passed the deep checks (every template rendered in every language, the terms over
    /// 40 years of due dates, the consumer rules): they depend only on the files, the law
    /// settings and the binary, and take most of a second, which every command would otherwise
    /// spend. A changed file, setting or binary checks everything again; the structure (the
    /// TOML, the steps, the segments) is read and checked every time.
    pub fn load_cached(
        source: PlaybookSource,
        default_language: Language,
        law: &LawSettings,
        cache_dir: &Path,
    ) -> Result<PlaybookSet, Problems> {
        let marker = cache_dir.join("playbooks.checked");
        let key = source.fingerprint(&format!("{default_language:?} {law:?}"));
        let known = key
            .as_deref()
            .is_some_and(|k| std::fs::read_to_string(&marker).is_ok_and(|text| text.trim() == k));
        let set = Self::load_with(source, default_language, law, !known)?;
        if let (false, Some(key), true) = (known, key, cache_dir.is_dir()) {
            // Best effort, written whole (a rename), so a reader never sees half a key.
            let tmp = cache_dir.join(format!(".playbooks.checked.{}", std::process::id()));
            if std::fs::write(&tmp, format!("{key}\n")).is_ok() && std::fs::rename(&tmp, &marker).is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
        }
        Ok(set)
    }

    fn load_with(
        source: PlaybookSource,
        default_language: Language,
        law: &LawSettings,
        deep: bool,
    ) -> Result<PlaybookSet, Problems> {
        let mut problems = Vec::new();
        let rules_path = source.display(SEGMENTS_FILE);
        let rules = match source.read(SEGMENTS_FILE) {
            Ok(Some(text)) => SegmentRules::parse(&rules_path, &text).map_err(|p| problems.push(p)).ok(),
            Ok(None) => {
                problems.push(Problem::new(
                    Location::file(&rules_path),
                    "missing: the playbooks folder needs a segments.toml with the segmentation rules",
                ));
                None
            }
            Err(msg) => {
                problems.push(Problem::new(Location::file(&rules_path), msg));
                None
            }
        };
        // A customer's language picks the template file, and any customer may have any of the
        // four: every template must exist in all of them.
        let languages = source.template_languages();
        for lang in Language::ALL.into_iter().filter(|l| !languages.contains(l)) {
            let default = if lang == default_language { ", the default language" } else { "" };
            problems.push(Problem::new(
                Location::file(source.display(&format!("templates/{}", lang.as_str()))),
                format!(
                    "missing: templates in `{lang}`{default} are needed; every step's template must exist \
                     in nl, fr, en and de, because a customer's language picks the file"
                ),
            ));
        }
        let files = match source.playbook_files() {
            Ok(f) => f,
            Err(msg) => {
                problems.push(Problem::new(Location::file(source.display("")), msg));
                Vec::new()
            }
        };
        let mut playbooks: BTreeMap<String, Playbook> = BTreeMap::new();
        for name in files {
            let path = source.display(&name);
            let text = match source.read(&name) {
                Ok(Some(t)) => t,
                Ok(None) => continue,
                Err(msg) => {
                    problems.push(Problem::new(Location::file(&path), msg));
                    continue;
                }
            };
            let Some((playbook, segment_offset, step_offsets)) = parse_playbook(&path, &text, &mut problems)
            else {
                continue;
            };
            if deep {
                check_templates(&source, &languages, &playbook, &path, &text, &mut problems);
                check_consumer_rules(law, &playbook, &step_offsets, &path, &text, &mut problems);
                check_terms(law, &playbook, &step_offsets, &path, &text, &mut problems);
                check_be_first_reminder(&playbook, &step_offsets, &path, &text, &mut problems);
                check_be_first_reminder_texts(&source, &languages, &playbook, &mut problems);
            }
            if let Some(prev) = playbooks.get(&playbook.segment) {
                problems.push(Problem::new(
                    Location::at_offset(&path, &text, segment_offset),
                    format!(
                        "segment `{}` already has a playbook in {}; a segment has exactly one",
                        playbook.segment,
                        prev.file.display()
                    ),
                ));
                continue;
            }
            playbooks.insert(playbook.segment.clone(), playbook);
        }
        // The messages of working with the customer (the folder's own, else the built-in ones).
        if deep {
            crate::template::check_care_templates(&source, &languages, &mut problems);
        }
        if let Some(rules) = &rules {
            for segment in rules.segment_names() {
                if !playbooks.contains_key(&segment) {
                    problems.push(Problem::new(
                        Location::file(&rules_path),
                        format!("segment `{segment}` has no playbook; add a playbook file with segment = \"{segment}\""),
                    ));
                }
            }
        }
        match (rules, problems.is_empty()) {
            (Some(rules), true) => Ok(PlaybookSet { source, rules, playbooks, languages }),
            _ => Err(Problems(problems)),
        }
    }

    /// The segment names a customer may be put in by hand: those with a playbook.
    pub fn segment_names(&self) -> BTreeSet<String> {
        self.playbooks.keys().cloned().collect()
    }
}

/// Parses one playbook file; also returns the byte offsets of its `segment` value and of each
/// step table, for pointing at them later.
fn parse_playbook(
    path: &Path,
    text: &str,
    problems: &mut Vec<Problem>,
) -> Option<(Playbook, usize, Vec<usize>)> {
    let file: PlaybookFile = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            problems.push(Problem::from_toml(path, text, &e));
            return None;
        }
    };
    let at = |offset: usize| Location::at_offset(path, text, offset);
    let before = problems.len();
    let segment = file.segment.get_ref().trim().to_string();
    if segment.is_empty() {
        problems.push(Problem::new(at(file.segment.span().start), "segment must name a segment"));
    }
    if file.steps.is_empty() {
        problems.push(Problem::new(
            Location::file(path),
            "the playbook has no steps; add at least one [[steps]] table",
        ));
    }
    let mut steps = Vec::with_capacity(file.steps.len());
    let mut prev_offset: Option<i64> = None;
    for (i, spanned) in file.steps.iter().enumerate() {
        let s = spanned.get_ref();
        let expected = i as i64 + 1;
        if *s.step.get_ref() != expected {
            problems.push(Problem::new(
                at(s.step.span().start),
                format!(
                    "step = {} is out of order: this is step {expected}; number the steps 1, 2, 3, ... in the order they appear",
                    s.step.get_ref()
                ),
            ));
        }
        let offset = *s.offset_days.get_ref();
        if let Some(prev) = prev_offset {
            if offset <= prev {
                problems.push(Problem::new(
                    at(s.offset_days.span().start),
                    format!(
                        "offset_days = {offset} is not after the previous step's {prev}; steps must go forward in time"
                    ),
                ));
            }
        }
        prev_offset = Some(offset);
        let template = s.template.get_ref().trim();
        if template.is_empty()
            || !template
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            problems.push(Problem::new(
                at(s.template.span().start),
                format!("template `{template}` must be a file name of lower-case letters, digits, - and _ (without .txt)"),
            ));
        } else if template.starts_with('_') {
            problems.push(Problem::new(
                at(s.template.span().start),
                format!("template `{template}` starts with `_`, which marks a partial (a piece other templates include); a step's template must not start with `_`"),
            ));
        }
        if let Some(fb) = &s.fallback_channel {
            let why = match (s.channel, *fb.get_ref()) {
                (a, b) if a == b => Some("is the step's own channel"),
                (_, Channel::Agency) => Some("cannot be the agency: a handoff is a step of its own"),
                (Channel::Phone | Channel::Agency, _) => {
                    Some("has nothing to replace: a call task or a handoff is always delivered")
                }
                _ => None,
            };
            if let Some(why) = why {
                problems.push(Problem::new(
                    at(fb.span().start),
                    format!(
                        "fallback_channel = \"{}\" {why}; use letter, registered-letter, phone, sms or email",
                        fb.get_ref().as_str()
                    ),
                ));
            }
        }
        if let Some(t) = &s.fallback_template {
            let name = t.get_ref().trim();
            if s.fallback_channel.is_none() {
                problems.push(Problem::new(
                    at(t.span().start),
                    "fallback_template needs a fallback_channel (the channel the fallback goes through)",
                ));
            } else if name.is_empty()
                || name.starts_with('_')
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            {
                problems.push(Problem::new(
                    at(t.span().start),
                    format!("fallback_template `{name}` must be a file name of lower-case letters, digits, - and _ (without .txt)"),
                ));
            }
        }
        let mut attach_letter = false;
        for a in &s.attach {
            match (a.get_ref().as_str(), s.channel) {
                ("letter", Channel::Email) => attach_letter = true,
                ("letter", other) => problems.push(Problem::new(
                    at(a.span().start),
                    format!(
                        "attach = [\"letter\"] is for e-mail steps; a {} step cannot carry an attachment",
                        other.as_str()
                    ),
                )),
                (other, _) => problems.push(Problem::new(
                    at(a.span().start),
                    format!(
                        "`{other}` cannot be attached; the one attachment is \"letter\" (the message as a PDF letter with the invoices and the payment QR code)"
                    ),
                )),
            }
        }
        let cc_account_manager = match &s.cc_account_manager {
            Some(cc) if *cc.get_ref() && s.channel != Channel::Email => {
                problems.push(Problem::new(
                    at(cc.span().start),
                    format!(
                        "cc_account_manager = true is for e-mail steps: a {} step has no copy to send; remove it, or make the step an e-mail",
                        s.channel.as_str()
                    ),
                ));
                false
            }
            Some(cc) => *cc.get_ref(),
            None => false,
        };
        let mut term = |t: Option<&Spanned<i64>>| -> Option<u32> {
            let t = t?;
            match u32::try_from(*t.get_ref()) {
                Ok(days @ 1..=90) => Some(days),
                _ => {
                    problems.push(Problem::new(
                        at(t.span().start),
                        format!(
                            "term_days = {} must be a number of days from 1 to 90 (the term the message gives to pay, e.g. 14)",
                            t.get_ref()
                        ),
                    ));
                    None
                }
            }
        };
        let term_days = term(s.term_days.as_ref());
        let consumer_term_days =
            s.consumer.as_ref().and_then(|c| c.term_days.as_ref()).map_or(term_days, |t| term(Some(t)));
        if (term_days.is_some() || consumer_term_days.is_some()) && s.channel.delivery().is_none() {
            problems.push(Problem::new(
                at(spanned.span().start),
                format!("a {} step sends no message, so it cannot give a term; put term_days on a reminder or letter", s.channel.as_str()),
            ));
        }
        let consumer_fee = s.consumer.as_ref().and_then(|c| c.fee).or(s.fee);
        for fee in [s.fee, consumer_fee].into_iter().flatten() {
            if fee.is_sign_negative() || fee.scale() > 2 {
                problems.push(Problem::new(
                    at(spanned.span().start),
                    format!("fee = \"{fee}\" must be an amount of zero or more with at most two decimals, e.g. fee = \"7.50\""),
                ));
            }
            if fee > Decimal::ZERO && matches!(s.channel, Channel::Phone | Channel::Agency) {
                problems.push(Problem::new(
                    at(spanned.span().start),
                    format!(
                        "a {} step sends no reminder, so it cannot charge a fee; put the fee on a reminder step",
                        s.channel.as_str()
                    ),
                ));
            }
        }
        steps.push(Step {
            number: expected as u32,
            offset_days: offset,
            channel: s.channel,
            template: template.to_string(),
            description: s.description.clone(),
            interest: s.interest,
            costs: s.costs,
            consumer_interest: s.consumer.as_ref().and_then(|c| c.interest).unwrap_or(s.interest),
            consumer_costs: s.consumer.as_ref().and_then(|c| c.costs).unwrap_or(s.costs),
            requires_approval: s.requires_approval,
            min_open_amount: s.min_open_amount,
            fee: s.fee,
            consumer_fee,
            fallback_channel: s.fallback_channel.as_ref().map(|c| *c.get_ref()),
            fallback_template: s.fallback_template.as_ref().map(|t| t.get_ref().trim().to_string()),
            attach_letter,
            term_days,
            consumer_term_days,
            cc_account_manager,
        });
    }
    if problems.len() > before {
        return None;
    }
    let step_offsets = file.steps.iter().map(|s| s.span().start).collect();
    Some((
        Playbook { segment, goal: file.goal, tone: file.tone, steps, file: path.to_path_buf() },
        file.segment.span().start,
        step_offsets,
    ))
}

/// What the consumer-protection check needs to know about the business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LawSettings {
    pub jurisdiction: Jurisdiction,
    /// Calendar days a letter takes by post before it counts as received.
    pub post_delay_days: u32,
    /// BE consumers: the most a reminder after the free first one may charge, postage aside
    /// (Boek XIX WER: €7.50, from the rates file).
    pub be_reminder_fee_max: Decimal,
    /// The postage of one letter (`letter_postage` in dunwell.toml), which a BE consumer's
    /// fee on a letter may add.
    pub letter_postage: Decimal,
}

impl Channel {
    /// How a message on this channel reaches the debtor; `None` for a call or a handoff.
    pub fn delivery(self) -> Option<Delivery> {
        match self {
            Channel::Email | Channel::Sms => Some(Delivery::Electronic),
            Channel::Letter | Channel::RegisteredLetter => Some(Delivery::Post),
            Channel::Phone | Channel::Agency => None,
        }
    }
}

/// Where step `index` of a playbook starts (its `[[steps]]` line), or the file.
fn step_location(path: &Path, text: &str, step_offsets: &[usize], index: Option<usize>) -> Location {
    match index.and_then(|i| step_offsets.get(i)) {
        Some(&offset) => Location::at_offset(path, text, offset),
        None => Location::file(path),
    }
}

/// Any playbook may reach consumers (segments do not split by kind), so every playbook is
/// checked against the consumer rules of the business's jurisdiction, using what each step does
/// for consumers.
fn check_consumer_rules(
    law: &LawSettings,
    playbook: &Playbook,
    step_offsets: &[usize],
    path: &Path,
    text: &str,
    problems: &mut Vec<Problem>,
) {
    let name = |s: &Step| format!("{} ({})", s.number, s.template);
    let views: Vec<StepView> = playbook
        .steps
        .iter()
        .map(|s| {
            let (interest, costs) = s.money_for(CustomerKind::B2c);
            StepView {
                name: name(s),
                offset_days: s.offset_days,
                delivery: s.channel.delivery(),
                names_exact_costs: costs != MoneyAction::None,
                applies_costs: costs == MoneyAction::Apply,
                applies_interest: interest == MoneyAction::Apply,
                charges_fee: s.fee_for(CustomerKind::B2c).is_some(),
            }
        })
        .collect();
    // The fee cap of the business's own country; a consumer elsewhere is protected by the
    // planner, which charges no fee its law forbids.
    if law.jurisdiction == Jurisdiction::Be {
        for (s, &offset) in playbook.steps.iter().zip(step_offsets) {
            let Some(fee) = s.fee_for(CustomerKind::B2c) else { continue };
            let postage = match s.channel.delivery() {
                Some(Delivery::Post) => law.letter_postage,
                _ => Decimal::ZERO,
            };
            let max = law.be_reminder_fee_max + postage;
            if fee > max {
                problems.push(Problem::new(
                    Location::at_offset(path, text, offset),
                    format!(
                        "step {} charges consumers a fee of {fee}; BE consumers may be charged at most {} plus the postage of a letter ({postage} by `letter_postage` in dunwell.toml) per reminder after the free first one (Boek XIX WER); lower the fee or set `consumer = {{ fee = \"{max}\" }}`",
                        name(s),
                        law.be_reminder_fee_max
                    ),
                ));
            }
        }
    }
    // Consumers keep their own country's protection (Rome I art. 6), so the timing of costs and
    // interest is held to the rules of both countries; fees to the business's own (the planner
    // drops a fee another country's consumer may not be charged).
    let foreign: Vec<StepView> =
        views.iter().cloned().map(|v| StepView { charges_fee: false, ..v }).collect();
    let violations = [Jurisdiction::Nl, Jurisdiction::Be].into_iter().flat_map(|j| {
        let views = if j == law.jurisdiction { &views } else { &foreign };
        check_consumer_playbook(j, views, law.post_delay_days)
    });
    for v in violations {
        let at = playbook.steps.iter().position(|s| name(s) == v.step);
        let location = step_location(path, text, step_offsets, at);
        problems.push(Problem::new(
            location,
            format!(
                "step {} breaks a consumer rule: {}; {}",
                v.step,
                v.rule,
                if v.rule.starts_with("NL consumers: no reminder fee") {
                    "set `consumer = { fee = \"0\" }` on this step (businesses may still be charged the fee)"
                } else {
                    "charge later, or set `consumer = { interest = \"announce\", costs = \"announce\" }` on this step (and `fee = \"0\"` in it when the step charges a fee)"
                }
            ),
        ));
    }
}

/// BE consumers (Boek XIX WER): the first reminder after the due date is free and starts the
/// 14-day wait, so it must give at least 14 days and state the damages and interest that will
/// be claimed when the debtor does not pay: for consumers that step announces both and has a
/// term of 14 days or more. Any playbook may reach a Belgian consumer.
fn check_be_first_reminder(
    playbook: &Playbook,
    step_offsets: &[usize],
    path: &Path,
    text: &str,
    problems: &mut Vec<Problem>,
) {
    let Some((i, first)) = first_reminder(playbook) else {
        return;
    };
    let (interest, costs) = first.money_for(CustomerKind::B2c);
    let mut missing = Vec::new();
    if first.term_for(CustomerKind::B2c).is_none_or(|d| d < 14) {
        missing.push("a term of at least 14 days (`term_days = 14`)");
    }
    if interest != MoneyAction::Announce {
        missing.push("the interest that will be claimed (`interest = \"announce\"`)");
    }
    if costs != MoneyAction::Announce {
        missing.push("the damages that will be claimed (`costs = \"announce\"`)");
    }
    if missing.is_empty() {
        return;
    }
    let location = step_location(path, text, step_offsets, Some(i));
    problems.push(Problem::new(
        location,
        format!(
            "step {} ({}) is the first reminder after the due date, which for a Belgian consumer starts the 14-day wait of Boek XIX WER and must be free and complete; for consumers it lacks {}; add `consumer = {{ interest = \"announce\", costs = \"announce\", term_days = 14 }}` to the step",
            first.number,
            first.template,
            missing.join(", ")
        ),
    ));
}

/// The first reminder after the due date, if the playbook has one: the first step after the
/// due date that sends a message. For a Belgian consumer it is the free reminder that starts the
/// 14-day wait of Boek XIX WER.
fn first_reminder(playbook: &Playbook) -> Option<(usize, &Step)> {
    playbook.steps.iter().enumerate().find(|(_, s)| s.offset_days >= 1 && s.channel.delivery().is_some())
}

/// The parts of a step's message in `lang`: the text, and the HTML body for the channels that
/// have one; each with its file (relative to the playbooks folder) and the name errors give it
/// (the template's for the text part, as before, its file name for HTML).
fn template_files(step: &Step, lang: Language) -> Vec<(crate::template::TemplatePart, String, String)> {
    use crate::template::TemplatePart;
    let mut parts = vec![(
        TemplatePart::Text,
        PlaybookSource::template_path(lang, &step.template),
        step.template.clone(),
    )];
    if crate::template::has_html(step.channel) {
        parts.push((
            TemplatePart::Html,
            PlaybookSource::html_template_path(lang, &step.template),
            format!("{}.html", step.template),
        ));
    }
    parts
}

/// The text of the Belgian consumer's first reminder (Boek XIX WER art. XIX.2): the step's own
/// template and that of its fallback, in every language and each part (an e-mail's HTML body
/// too), rendered for a sample Belgian consumer must print a term of at least 14 calendar days
/// with its last day, the balance, the damages and interest that will be claimed, and the
/// creditor's name and company number (`template::check_be_first_reminder_text`).
/// [`check_be_first_reminder`] checks the step's settings; this one what a user may edit in
/// the templates and their partials. A file that is missing or does not render is reported by
/// [`check_templates`].
fn check_be_first_reminder_texts(
    source: &PlaybookSource,
    languages: &[Language],
    playbook: &Playbook,
    problems: &mut Vec<Problem>,
) {
    use crate::template::check_be_first_reminder_text;
    let Some((_, first)) = first_reminder(playbook) else { return };
    for step in std::iter::once(first.clone()).chain(first.fallback()) {
        for &lang in languages {
            for (part, rel, name) in template_files(&step, lang) {
                let Ok(Some(body)) = source.read(&rel) else { continue };
                // Syntax and rendering errors are check_templates' to report.
                if let Err(e @ crate::template::TemplateError::Layout { .. }) =
                    check_be_first_reminder_text(source, &body, &name, lang, &step, part)
                {
                    problems.push(Problem::new(Location::file(source.display(&rel)), e.to_string()))
                }
            }
        }
    }
}

/// A term once given is honoured: a step that escalates (charges, hands over, or names new
/// costs with a new term) must come after the last term given before it has ended, for every
/// due date (weekends and holidays move both), under the law of either country and for both
/// kinds of customer. The planner waits for a term anyway; this keeps a playbook's own
/// offsets honest, so its letters do not contradict each other.
fn check_terms(
    law: &LawSettings,
    playbook: &Playbook,
    step_offsets: &[usize],
    path: &Path,
    text: &str,
    problems: &mut Vec<Problem>,
) {
    use crate::law::consumer::{term_end, ShiftedWorstCase};
    // Per escalating step: the latest first day it may go (from the due date), and why.
    let mut needed: BTreeMap<usize, (i64, String)> = BTreeMap::new();
    // A scan over every due date of 40 years is the cost here: once per kind of term, for
    // every offset of the playbook's steps.
    let offsets = match (
        playbook.steps.iter().map(|s| s.offset_days).min(),
        playbook.steps.iter().map(|s| s.offset_days).max(),
    ) {
        (Some(min), Some(max)) => min..=max,
        _ => return,
    };
    let mut scans: std::collections::HashMap<(Jurisdiction, u32, Delivery), ShiftedWorstCase> =
        std::collections::HashMap::new();
    for kind in [CustomerKind::B2b, CustomerKind::B2c] {
        for j in [Jurisdiction::Nl, Jurisdiction::Be] {
            let calendar = crate::calendar::Calendar::new(j, []);
            let mut last: Option<&Step> = None;
            for (i, step) in playbook.steps.iter().enumerate() {
                if let Some(giver) = last.filter(|_| step.escalates_for(kind)) {
                    let days = giver.term_for(kind).unwrap_or_default();
                    let delivery = giver.channel.delivery().unwrap_or(Delivery::Electronic);
                    let scan = scans.entry((j, days, delivery)).or_insert_with(|| {
                        ShiftedWorstCase::new(offsets.clone(), |day| {
                            let sent = calendar.working_day_on_or_after(day);
                            term_end(j, sent, delivery, days, law.post_delay_days) + chrono::Days::new(1)
                        })
                    });
                    // Every step's offset lies in the range scanned.
                    let first_day = scan.at(giver.offset_days).unwrap_or(i64::MIN);
                    if step.offset_days < first_day && needed.get(&i).is_none_or(|(n, _)| first_day > *n) {
                        let who = match kind {
                            CustomerKind::B2b => "a business",
                            CustomerKind::B2c => "a consumer",
                        };
                        let why = format!(
                            "the {days}-day term that step {} ({}) gives at J+{} can run through J+{} (under {} law, for {who})",
                            giver.number,
                            giver.template,
                            giver.offset_days,
                            first_day - 1,
                            j.as_str().to_uppercase(),
                        );
                        needed.insert(i, (first_day, why));
                    }
                }
                if step.term_for(kind).is_some() && step.channel.delivery().is_some() {
                    last = Some(step);
                }
            }
        }
    }
    for (i, (first_day, why)) in needed {
        let step = &playbook.steps[i];
        let location = step_location(path, text, step_offsets, Some(i));
        problems.push(Problem::new(
            location,
            format!(
                "step {} ({}) at J+{} escalates before a term given earlier has ended: {why}; give this step offset_days = {first_day} or later (or the earlier step a shorter term)",
                step.number, step.template, step.offset_days
            ),
        ));
    }
}

/// Every step's template must exist in every language folder (an e-mail's with its HTML body),
/// and render: each file is rendered with sample data in its language for the step's channel
/// (`template::check_template`), so an unknown variable or a syntax error is reported with the
/// file and line.
fn check_templates(
    source: &PlaybookSource,
    languages: &[Language],
    playbook: &Playbook,
    path: &Path,
    text: &str,
    problems: &mut Vec<Problem>,
) {
    use crate::template::{check_template, TemplatePart};
    // The template's line in the playbook, for pointing at it.
    let template_location = |name: &str| {
        let needle = format!("\"{name}\"");
        match text.find(&needle) {
            Some(offset) => Location::at_offset(path, text, offset),
            None => Location::file(path),
        }
    };
    // A template used by several steps is checked once per channel and money actions.
    let mut seen = std::collections::HashSet::new();
    let with_fallbacks: Vec<Step> =
        playbook.steps.iter().flat_map(|s| std::iter::once(s.clone()).chain(s.fallback())).collect();
    for step in &with_fallbacks {
        let key = (
            step.template.as_str(),
            step.channel,
            step.money_for(CustomerKind::B2b),
            step.money_for(CustomerKind::B2c),
        );
        if !seen.insert(key) {
            continue;
        }
        for &lang in languages {
            for (part, rel, name) in template_files(step, lang) {
                let file = source.display(&rel);
                match source.read(&rel) {
                    Ok(Some(body)) => {
                        if let Err(e) = check_template(source, &body, &name, lang, step, part) {
                            // A problem in an included partial is at the partial's line, and
                            // is reported once, not once per template that includes it.
                            let file = match e.partial() {
                                Some(p) => source.display(&format!("templates/{}/{p}", lang.as_str())),
                                None => file,
                            };
                            let problem =
                                Problem::new(Location::at(file, e.line().unwrap_or(0), 0), e.to_string());
                            if e.partial().is_none()
                                || !problems.iter().any(|p| p.location == problem.location)
                            {
                                problems.push(problem);
                            }
                        }
                    }
                    Ok(None) => {
                        let what = match part {
                            TemplatePart::Text => "is missing",
                            TemplatePart::Html => "has no HTML body (an e-mail needs one beside the text)",
                        };
                        problems.push(Problem::new(
                            template_location(&step.template),
                            format!(
                                "template `{}` (step {}) {what} for language `{lang}`: create {}",
                                step.template,
                                step.number,
                                file.display()
                            ),
                        ))
                    }
                    Err(msg) => problems.push(Problem::new(Location::file(file), msg)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn law() -> LawSettings {
        LawSettings {
            jurisdiction: Jurisdiction::Nl,
            post_delay_days: 2,
            be_reminder_fee_max: Decimal::new(750, 2),
            letter_postage: Decimal::ZERO,
        }
    }

    /// The shipped standard playbook's text, with `from` replaced by `to` (which must be there).
    fn standard_with(from: &str, to: &str) -> String {
        let text = BUILTIN.get_file("standard.toml").and_then(|f| f.contents_utf8()).expect("shipped");
        assert!(text.contains(from), "standard.toml has no `{from}`");
        text.replacen(from, to, 1)
    }

    /// What `check_terms` says of a playbook text.
    fn term_problems(text: &str) -> Vec<String> {
        let path = Path::new("standard.toml");
        let mut problems = Vec::new();
        let (playbook, _, offsets) = parse_playbook(path, text, &mut problems).expect("parses");
        assert!(problems.is_empty(), "{problems:?}");
        check_terms(&law(), &playbook, &offsets, path, text, &mut problems);
        problems.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn the_shipped_playbooks_keep_their_own_terms() {
        for name in ["standard.toml", "vip.toml", "bad-payer.toml"] {
            let text = BUILTIN.get_file(name).and_then(|f| f.contents_utf8()).expect("shipped");
            let path = Path::new(name);
            let mut problems = Vec::new();
            let (playbook, _, offsets) = parse_playbook(path, text, &mut problems).expect("parses");
            check_terms(&law(), &playbook, &offsets, path, text, &mut problems);
            assert!(problems.is_empty(), "{name}: {problems:?}");
        }
    }

    #[test]
    fn check_terms_refuses_a_handoff_inside_the_formal_notices_term() {
        // The formal notice (step 6, J+65, by letter) gives 14 days from receipt: two days of
        // post, 14 days, and a weekend or holiday at the end can take it to J+88 (the BE count
        // from the 3rd working day after posting is the longest). A handoff at J+70 would come
        // while it runs; the check names the offset that keeps the term.
        let problems = term_problems(&standard_with("offset_days = 89", "offset_days = 70"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        let p = &problems[0];
        assert!(
            p.contains(
                "step 7 (standard-legal-action) at J+70 escalates before a term given earlier has ended"
            ),
            "{p}"
        );
        assert!(
            p.contains(
                "the 14-day term that step 6 (standard-formal-notice) gives at J+65 can run through J+88"
            ),
            "{p}"
        );
        assert!(p.contains("give this step offset_days = 89 or later"), "{p}");
        // The location is the step's [[steps]] line.
        let line = standard_with("offset_days = 89", "offset_days = 70")
            .lines()
            .position(|l| l.contains("offset_days = 70"))
            .expect("edited")
            - 1;
        assert!(p.starts_with(&format!("standard.toml:{line}:1: ")), "{p}");
    }

    #[test]
    fn check_terms_refuses_a_formal_notice_inside_the_last_warnings_term() {
        // The last warning (step 5, J+45, e-mail) gives 14 days: the formal notice at J+52
        // would charge the costs while it runs.
        let problems = term_problems(&standard_with("offset_days = 65", "offset_days = 52"));
        let notice = problems
            .iter()
            .find(|p| p.contains("step 6 (standard-formal-notice) at J+52"))
            .unwrap_or_else(|| panic!("{problems:?}"));
        assert!(notice.contains("step 5 (standard-last-warning) gives at J+45"), "{notice}");
        assert!(notice.contains("give this step offset_days = 65 or later"), "{notice}");
        // Without the last warning's term the same offsets pass: the term is what moves it.
        let text = standard_with("offset_days = 65", "offset_days = 52")
            .replacen("offset_days = 89", "offset_days = 76", 1)
            .replacen(
                "# Its text gives 14 days to pay: the formal notice waits until that term has ended.\nterm_days = 14\n",
                "",
                1,
            );
        assert_eq!(term_problems(&text), Vec::<String>::new());
    }
}
