//! `dunwell check`: validates a playbooks folder; each broken variant must be reported with
//! its file, line and column and a non-zero exit.

use std::path::Path;

use crate::{copy_dir, replace, repo, s, Env};

/// A copy of the shipped playbooks with `edit` applied; returns the check's stderr.
fn check_broken(edit: impl FnOnce(&Path)) -> String {
    let env = Env::new();
    let dir = env.path().join("playbooks");
    copy_dir(&repo().join("playbooks"), &dir);
    edit(&dir);
    env.fails(&["check", s(&dir)])
}

/// The 1-based line of the first occurrence of `needle` in the file.
fn line_of(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path).unwrap().lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn shipped_playbooks_pass() {
    let env = Env::new();
    let out = env.ok(&["check", s(&repo().join("playbooks"))]);
    assert!(out.contains("ok: 3 playbooks (bad-payer, standard, vip)"), "{out}");
    assert!(out.contains("templates in nl, fr, en, de"), "{out}");
    // Without a folder the configured one is checked.
    assert!(env.ok(&["check"]).contains("ok: 3 playbooks"));
}

#[test]
fn unknown_key_in_a_step() {
    let err =
        check_broken(|d| replace(&d.join("vip.toml"), "requires_approval = true", "requires_aproval = true"));
    assert!(err.contains("vip.toml:"), "{err}");
    assert!(err.contains("unknown field `requires_aproval`"), "{err}");
}

#[test]
fn offsets_out_of_order() {
    let mut line = 0;
    let err = check_broken(|d| {
        replace(&d.join("standard.toml"), "offset_days = 30", "offset_days = 12");
        line = line_of(&d.join("standard.toml"), "offset_days = 12");
    });
    assert!(
        err.contains(&format!(
            "standard.toml:{line}:15: offset_days = 12 is not after the previous step's 25"
        )),
        "{err}"
    );
}

#[test]
fn unknown_channel() {
    let mut line = 0;
    let err = check_broken(|d| {
        replace(&d.join("bad-payer.toml"), "channel = \"registered-letter\"", "channel = \"fax\"");
        line = line_of(&d.join("bad-payer.toml"), "\"fax\"");
    });
    assert!(err.contains(&format!("bad-payer.toml:{line}:11: unknown variant `fax`")), "{err}");
}

#[test]
fn missing_template_names_the_language_and_file() {
    let err = check_broken(|d| std::fs::remove_file(d.join("templates/fr/vip-call-2.txt")).unwrap());
    assert!(err.contains("template `vip-call-2` (step 4) is missing for language `fr`"), "{err}");
    assert!(err.contains("templates/fr/vip-call-2.txt"), "{err}");
}

#[test]
fn segment_without_a_playbook() {
    let err = check_broken(|d| std::fs::remove_file(d.join("vip.toml")).unwrap());
    assert!(err.contains("segments.toml: segment `vip` has no playbook"), "{err}");
}

#[test]
fn step_numbers_must_run_1_to_n() {
    let mut line = 0;
    let err = check_broken(|d| {
        replace(&d.join("standard.toml"), "step = 2\n", "step = 3\n");
        line = line_of(&d.join("standard.toml"), "step = 3");
    });
    assert!(
        err.contains(&format!("standard.toml:{line}:8: step = 3 is out of order: this is step 2")),
        "{err}"
    );
}

#[test]
fn template_syntax_error_has_a_line() {
    let path = |d: &Path| d.join("templates/en/standard-call.txt");
    // A broken `{{ }}` in the middle of the template: the error names that very line (the
    // template error gives no column).
    let mut line = 0;
    let err = check_broken(|d| {
        let broken = "Ask for payment of {{ total_open | money } ";
        replace(&path(d), "Ask for payment of {{ total_open | money }} ", broken);
        line = line_of(&path(d), broken);
    });
    assert!(
        err.contains(&format!(
            "templates/en/standard-call.txt:{line}: template standard-call, line {line}: syntax error: unexpected `}}`"
        )),
        "{err}"
    );
    // An `{% if %}` left open at the end: the line of that `{% if %}`.
    let mut line = 0;
    let err = check_broken(|d| {
        let mut text = std::fs::read_to_string(path(d)).unwrap();
        text.push_str("\n{% if customer.name %}unclosed\n");
        std::fs::write(path(d), text).unwrap();
        line = line_of(&path(d), "{% if customer.name %}unclosed");
    });
    assert!(
        err.contains(&format!(
            "templates/en/standard-call.txt:{line}: template standard-call, line {line}: syntax error"
        )),
        "{err}"
    );
}

#[test]
fn bad_segments_toml_and_all_problems_at_once() {
    let err = check_broken(|d| {
        replace(&d.join("segments.toml"), "window_months = 24", "window_month = 24");
        replace(&d.join("standard.toml"), "channel = \"phone\"", "channel = \"telefax\"");
    });
    assert!(err.contains("segments.toml:"), "{err}");
    assert!(err.contains("window_month"), "{err}");
    assert!(err.contains("unknown variant `telefax`"), "{err}");
    assert!(err.contains("problems found"), "{err}");
}

#[test]
fn broken_config_names_file_line_and_key() {
    let env = Env::with_config("time_zone = 3\n");
    let err = env.fails(&["check"]);
    assert!(err.contains("dunwell.toml:3:13:"), "{err}");
    assert!(err.contains("time_zone"), "{err}");
}

#[test]
fn consumer_costs_before_the_14_day_letter_term_are_rejected() {
    // Without its consumer variant, the standard playbook names the costs first at J+25;
    // charging them at the J+30 call is too early for Dutch consumers (the 14-day term runs
    // from the day after receipt).
    let mut line = 0;
    let err = check_broken(|d| {
        let p = d.join("standard.toml");
        replace(&p, "consumer = { interest = \"announce\", costs = \"announce\", term_days = 14 }\n", "");
        replace(
            &p,
            "channel = \"phone\"\ntemplate = \"standard-call\"",
            "channel = \"phone\"\ntemplate = \"standard-call\"\ncosts = \"apply\"",
        );
        line = line_of(&p, "step = 4") - 1;
    });
    assert!(
        err.contains(&format!(
            "standard.toml:{line}:1: step 4 (standard-call) breaks a consumer rule: NL consumers"
        )),
        "{err}"
    );
    assert!(err.contains("art. 6:96 lid 6 BW"), "{err}");
}

#[test]
fn belgian_rules_accept_the_shipped_playbooks_and_reject_an_early_charge() {
    let env = Env::with_config("jurisdiction = \"be\"\n");
    assert!(env.ok(&["check"]).contains("ok: 3 playbooks"));
    let dir = env.path().join("playbooks");
    copy_dir(&repo().join("playbooks"), &dir);
    // Interest charged on the first reminder after the due date (J+3): the first reminder to a
    // Belgian consumer must be free.
    replace(
        &dir.join("bad-payer.toml"),
        "interest = \"announce\"\ncosts = \"announce\"\nterm_days = 14",
        "interest = \"apply\"\ncosts = \"announce\"\nterm_days = 14",
    );
    let err = env.fails(&["check", s(&dir)]);
    assert!(err.contains("step 2 (bad-payer-reminder-1) breaks a consumer rule: BE consumers: the first reminder after the due date must be free"), "{err}");
    assert!(err.contains("Boek XIX WER"), "{err}");
}

#[test]
fn unknown_variable_in_an_html_body_names_the_file_and_line() {
    let path = |d: &Path| d.join("templates/de/standard-reminder-2.html");
    let mut line = 0;
    let err = check_broken(|d| {
        let typo = "von {{ total_opn | money }} innerhalb";
        replace(&path(d), "von {{ total_open | money }} innerhalb", typo);
        line = line_of(&path(d), typo);
    });
    assert!(
        err.contains(&format!(
            "templates/de/standard-reminder-2.html:{line}: template standard-reminder-2.html, line {line}: `total_opn | money` is not defined"
        )),
        "{err}"
    );
    // The same in the table of invoices, which the HTML bodies include: the partial's line.
    let path = |d: &Path| d.join("templates/de/_invoices.html");
    let err = check_broken(|d| {
        let typo = "<td>{{ i.numbr }}</td>";
        replace(&path(d), "<td>{{ i.number }}</td>", typo);
        line = line_of(&path(d), typo);
    });
    assert!(err.contains(&format!("templates/de/_invoices.html:{line}: template ")), "{err}");
    assert!(
        err.contains(&format!("in the included _invoices.html, line {line}: `i.numbr` is not defined")),
        "{err}"
    );
}

#[test]
fn html_body_prints_no_absent_value() {
    // An optional value printed without a guard would read `none` in the mail: refused, with
    // the file and line.
    let path = |d: &Path| d.join("templates/fr/vip-reminder-1.html");
    let mut line = 0;
    let err = check_broken(|d| {
        let mut text = std::fs::read_to_string(path(d)).unwrap();
        text.push_str("<p>{{ contact.phone }}</p>\n");
        std::fs::write(path(d), text).unwrap();
        line = line_of(&path(d), "<p>{{ contact.phone }}</p>");
    });
    assert!(
        err.contains(&format!(
            "templates/fr/vip-reminder-1.html:{line}: template vip-reminder-1.html, line {line}:"
        )),
        "{err}"
    );
    assert!(err.contains("would print as `none`"), "{err}");
}

#[test]
fn missing_german_template_is_reported() {
    let mut line = 0;
    let err = check_broken(|d| {
        std::fs::remove_file(d.join("templates/de/bad-payer-final.txt")).unwrap();
        line = line_of(&d.join("bad-payer.toml"), "\"bad-payer-final\"");
    });
    assert!(
        err.contains(&format!(
            "bad-payer.toml:{line}:12: template `bad-payer-final` (step 4) is missing for language `de`: create"
        )),
        "{err}"
    );
    assert!(err.contains("templates/de/bad-payer-final.txt"), "{err}");
}

#[test]
fn missing_html_body_and_missing_language_folder_are_reported() {
    let err = check_broken(|d| std::fs::remove_file(d.join("templates/nl/vip-last-notice.html")).unwrap());
    assert!(
        err.contains("template `vip-last-notice` (step 5) has no HTML body (an e-mail needs one beside the text) for language `nl`"),
        "{err}"
    );
    assert!(err.contains("templates/nl/vip-last-notice.html"), "{err}");

    let err = check_broken(|d| std::fs::remove_dir_all(d.join("templates/de")).unwrap());
    assert!(err.contains("templates/de: missing: templates in `de` are needed"), "{err}");
    // One problem for the folder, not one per template.
    assert_eq!(err.matches("for language `de`").count(), 0, "{err}");
}

#[test]
fn a_letter_needs_a_subject_line() {
    let path = |d: &Path| d.join("templates/en/standard-formal-notice.txt");
    let err = check_broken(|d| {
        let text = std::fs::read_to_string(path(d)).unwrap();
        let (_, rest) = text.split_once('\n').unwrap();
        std::fs::write(path(d), rest).unwrap();
    });
    assert!(err.contains("templates/en/standard-formal-notice.txt"), "{err}");
    assert!(err.contains("a letter template must start with a `Subject: ...` line"), "{err}");
}

#[test]
fn the_business_that_every_message_names_must_be_there() {
    // No name: the key's line; no IBAN: the [business] line (the key is not there at all).
    let env = Env::new();
    env.set_config_without_business("[business]\nname = ''\n");
    let err = env.fails(&["check"]);
    assert!(err.contains("dunwell.toml:4:1: `name` in [business] is empty"), "{err}");
    assert!(err.contains("dunwell.toml:3:1: `iban` in [business] is empty"), "{err}");
    // No [business] at all: the file.
    env.set_config_without_business("");
    let err = env.fails(&["check"]);
    assert!(err.contains("dunwell.toml: `name` in [business] is empty"), "{err}");
    // A Belgian business must give its enterprise number (Boek XIX WER).
    env.set_config_without_business(
        "jurisdiction = \"be\"\n[business]\nname = 'Atelier Janssens BV'\niban = 'BE68539007547034'\n",
    );
    let err = env.fails(&["check"]);
    assert!(err.contains("`company_number` in [business] is empty"), "{err}");
    assert!(err.contains("Boek XIX WER"), "{err}");
    env.set_config_without_business(
        "jurisdiction = \"be\"\n[business]\nname = 'Atelier Janssens BV'\niban = 'BE68539007547034'\ncompany_number = '0123.456.749'\nrpr = 'RPR Antwerpen'\n",
    );
    assert!(env.ok(&["check"]).contains("ok: 3 playbooks"));
    // A Dutch business without its KvK number passes, with a warning.
    env.set_config_without_business(
        "[business]\nname = 'Bakkerij Van Dam B.V.'\niban = 'NL91ABNA0417164300'\n",
    );
    let out = env.ok(&["check"]);
    assert!(out.contains("warning: ") && out.contains("`kvk` in [business] is empty"), "{out}");
}

#[test]
fn a_wrong_business_identifier_names_the_file_line_and_key() {
    let env = Env::new();
    env.set_config_without_business(
        "[business]\nname = 'Atelier Janssens BV'\niban = 'BE68539007547034'\ncompany_number = '0123.456.748'\n",
    );
    let err = env.fails(&["check"]);
    assert!(err.contains("dunwell.toml:6:"), "{err}");
    assert!(err.contains("company_number"), "{err}");
    assert!(err.contains("check digits"), "{err}");
    env.set_config_without_business("[business]\nkvk = '1234'\n");
    let err = env.fails(&["check"]);
    assert!(err.contains("dunwell.toml:4:") && err.contains("kvk"), "{err}");
}

#[test]
fn a_broken_partial_is_reported_once_with_its_own_file_and_line() {
    let path = |d: &Path| d.join("templates/nl/_signature.txt");
    let mut line = 0;
    let err = check_broken(|d| {
        replace(&path(d), "{{ business.address }}", "{{ business.adres }}");
        line = line_of(&path(d), "business.adres");
    });
    assert!(err.contains(&format!("templates/nl/_signature.txt:{line}: ")), "{err}");
    assert!(err.contains(&format!("in the included _signature.txt, line {line}")), "{err}");
    assert!(err.contains("`business.adres` is not defined"), "{err}");
    assert_eq!(err.matches("_signature.txt:").count(), 1, "reported once:\n{err}");
}

#[test]
fn a_missing_partial_names_the_file_to_create() {
    let err = check_broken(|d| std::fs::remove_file(d.join("templates/fr/_amounts.txt")).unwrap());
    assert!(err.contains("templates/fr/standard-formal-notice.txt:"), "{err}");
    assert!(err.contains("`{% include \"_amounts.txt\" %}`: there is no"), "{err}");
    assert!(err.contains("templates/fr/_amounts.txt"), "{err}");
}

#[test]
fn a_partial_is_not_a_steps_template() {
    let err = check_broken(|d| replace(&d.join("vip.toml"), "\"vip-call-1\"", "\"_signature\""));
    assert!(err.contains("template `_signature` starts with `_`"), "{err}");
}

#[test]
fn a_14_day_letter_must_keep_its_amount() {
    let err = check_broken(|d| {
        replace(
            &d.join("templates/de/standard-reminder-2.txt"),
            "- stellen wir Ihnen {% include \"_costs.txt\" %} in Rechnung;",
            "- stellen wir Ihnen Beitreibungskosten in Rechnung;",
        )
    });
    assert!(err.contains("templates/de/standard-reminder-2.txt"), "{err}");
    assert!(err.contains("14-day letter"), "{err}");
    assert!(err.contains("exact amount"), "{err}");
}

#[test]
fn a_step_that_escalates_inside_a_term_given_before_it_is_refused_with_the_offset_it_needs() {
    // The formal notice (J+65, a letter) gives 14 days from receipt: two days of post, 14 days
    // and a weekend or holidays at the end can take it to J+88. A handoff at J+70 would come
    // while that term runs.
    let mut line = 0;
    let err = check_broken(|d| {
        replace(&d.join("standard.toml"), "offset_days = 89", "offset_days = 70");
        line = line_of(&d.join("standard.toml"), "offset_days = 70") - 2;
    });
    assert!(
        err.contains(&format!(
            "standard.toml:{line}:1: step 7 (standard-legal-action) at J+70 escalates before a term given earlier has ended: the 14-day term that step 6 (standard-formal-notice) gives at J+65 can run through J+88"
        )),
        "{err}"
    );
    assert!(err.contains("give this step offset_days = 89 or later"), "{err}");
    // The last warning's 14 days (J+45, by e-mail) keep the formal notice from J+52.
    let err = check_broken(|d| replace(&d.join("standard.toml"), "offset_days = 65", "offset_days = 52"));
    assert!(
        err.contains("step 6 (standard-formal-notice) at J+52 escalates before a term given earlier has ended: the 14-day term that step 5 (standard-last-warning) gives at J+45"),
        "{err}"
    );
    assert!(err.contains("give this step offset_days = 65 or later"), "{err}");
}

#[test]
fn a_belgian_first_reminder_whose_text_lost_what_boek_xix_asks_is_refused() {
    // The step still says 14 days and announces damages and interest; the edited partial gives
    // a Belgian consumer 7 days.
    let err = check_broken(|d| {
        replace(
            &d.join("templates/nl/_be_first_reminder.txt"),
            "binnen 14 kalenderdagen",
            "binnen 7 kalenderdagen",
        )
    });
    assert!(err.contains("templates/nl/standard-reminder-1.txt: template standard-reminder-1: step 2 (standard-reminder-1) is the first reminder after the due date"), "{err}");
    assert!(
        err.contains("templates/nl/vip-reminder-1.txt: template vip-reminder-1: step 1 (vip-reminder-1)"),
        "{err}"
    );
    assert!(
        err.contains("a term of at least 14 calendar days (`14 kalenderdagen`) (it gives 7 kalenderdagen)"),
        "{err}"
    );
    assert!(err.contains("_be_first_reminder.txt"), "{err}");
    assert!(err.contains("Boek XIX WER (art. XIX.2)"), "{err}");
    // Damages announced without their amount.
    let err = check_broken(|d| {
        replace(
            &d.join("templates/de/_be_first_reminder.txt"),
            "- {% include \"_costs.txt\" %};",
            "- eine Entschädigung;",
        )
    });
    assert!(err.contains("templates/de/standard-reminder-1.txt: template standard-reminder-1"), "{err}");
    assert!(err.contains("it does not print the damages that will be claimed (here 185,18 €)"), "{err}");
}

#[test]
fn a_dutch_business_without_a_registration_number_may_not_write_to_belgian_consumers() {
    // Neither kvk nor company_number: a Belgian consumer's first reminder would name no
    // registration number (Boek XIX WER).
    let env = Env::new();
    let business = "[business]\nname = 'Bakkerij Van Dam B.V.'\niban = 'NL91ABNA0417164300'\n";
    env.set_config_without_business(business);
    let data = env.path().join("gent");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("customers.csv"),
        "customer_id,name,kind,language,email,country\nG1,Els Van Damme,b2c,nl,els@example.be,BE\nN1,Sanne Visser,b2c,nl,sanne@example.nl,NL\n",
    )
    .unwrap();
    // One overdue invoice each: the first reminder is due on 2026-06-06 (J+5).
    std::fs::write(
        data.join("invoices.csv"),
        "invoice_number,customer_id,issue_date,due_date,total\nG-1,G1,2026-05-01,2026-06-01,100.00\nN-1,N1,2026-05-01,2026-06-01,100.00\n",
    )
    .unwrap();
    env.ok(&["import", "csv", s(&data)]);
    let err = env.fails(&["check"]);
    assert!(
        err.contains("`kvk` and `company_number` in [business] are empty, but the store holds 1 consumer in Belgium (G1)"),
        "{err}"
    );
    assert!(err.contains("dunwell.toml:3:1:"), "the [business] line: {err}");
    assert!(err.contains("Boek XIX WER"), "{err}");
    // A send that runs anyway writes nothing to the Belgian consumer: held, with the reason, and
    // planned again on the next run; the Dutch consumer's reminder goes.
    let plan = crate::json(&env.ok(&["plan", "--at", "2026-06-01", "--days", "10", "--format", "json"]));
    let first = |invoice: &str| {
        plan.as_array().unwrap().iter().find(|a| a["invoice_number"] == invoice).map(|a| a["date"].clone())
    };
    let day = first("G-1").expect("a first reminder to G1");
    assert_eq!(Some(day.clone()), first("N-1"), "{plan:#}");
    let day = day.as_str().unwrap();
    let report = crate::json(&env.ok(&["send", "--at", day, "--format", "json"]));
    let held = report["held"].as_array().unwrap();
    assert_eq!(held.len(), 1, "{report:#}");
    assert_eq!((&held[0]["customer_id"], &held[0]["kind"]), (&"G1".into(), &"no-registration-number".into()));
    assert!(held[0]["reason"].as_str().unwrap().contains("neither kvk nor company_number"), "{report:#}");
    let written: Vec<&str> =
        report["written"].as_array().unwrap().iter().map(|m| m["customer_id"].as_str().unwrap()).collect();
    assert_eq!(written, ["N1"], "{report:#}");
    // The KvK number is its registration number: enough (and the warning about it goes).
    env.set_config_without_business(&format!("{business}kvk = '12345678'\n"));
    let out = env.ok(&["check"]);
    assert!(!out.contains("`kvk` in [business] is empty"), "{out}");
    // So is a Belgian enterprise number (the KvK warning stays: Dutch law asks for it).
    env.set_config_without_business(&format!("{business}company_number = '0123.456.749'\n"));
    let out = env.ok(&["check"]);
    assert!(out.contains("`kvk` in [business] is empty"), "{out}");
}
