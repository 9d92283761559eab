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
}

impl Step {
    /// The (interest, costs) actions of this step for a customer of `kind`.
    pub fn money_for(&self, kind: CustomerKind) -> (MoneyAction, MoneyAction) {
        match kind {
            CustomerKind::B2b => (self.interest, self.costs),
            CustomerKind::B2c => (self.consumer_interest, self.consumer_costs),
        }
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsumerFile {
    interest: Option<MoneyAction>,
    costs: Option<MoneyAction>,
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
    /// Loads and checks the playbooks, templates and segment rules of `source`. Returns every
    /// problem found, not just the first.
    pub fn load(
        source: PlaybookSource,
        default_language: Language,
        law: &LawSettings,
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
            check_templates(&source, &languages, &playbook, &path, &text, &mut problems);
            check_consumer_rules(law, &playbook, &step_offsets, &path, &text, &mut problems);
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
                charges_fee: false,
            }
        })
        .collect();
    for v in check_consumer_playbook(law.jurisdiction, &views, law.post_delay_days) {
        let at = playbook.steps.iter().position(|s| name(s) == v.step).and_then(|i| step_offsets.get(i));
        let location = match at {
            Some(&offset) => Location::at_offset(path, text, offset),
            None => Location::file(path),
        };
        problems.push(Problem::new(
            location,
            format!(
                "step {} breaks a consumer rule: {}; charge later, or set `consumer = {{ interest = \"announce\", costs = \"announce\" }}` on this step",
                v.step, v.rule
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
    use crate::template::{check_template, has_html, TemplatePart};
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
    for step in &playbook.steps {
        let key = (
            step.template.as_str(),
            step.channel,
            step.money_for(CustomerKind::B2b),
            step.money_for(CustomerKind::B2c),
        );
        if !seen.insert(key) {
            continue;
        }
        let mut parts =
            vec![(TemplatePart::Text, PlaybookSource::template_path as fn(Language, &str) -> String)];
        if has_html(step.channel) {
            parts.push((TemplatePart::Html, PlaybookSource::html_template_path));
        }
        for &lang in languages {
            for &(part, file_of) in &parts {
                let rel = file_of(lang, &step.template);
                let file = source.display(&rel);
                // Errors name the template as before for the text part, by its file for HTML.
                let name = match part {
                    TemplatePart::Text => step.template.clone(),
                    TemplatePart::Html => format!("{}.html", step.template),
                };
                match source.read(&rel) {
                    Ok(Some(body)) => {
                        if let Err(e) = check_template(&body, &name, lang, step, part) {
                            problems.push(Problem::new(
                                Location::at(file, e.line().unwrap_or(0), 0),
                                e.to_string(),
                            ));
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
