//! The schema of the database: its numbered migrations, the one place that says which tables
//! and indexes exist and how an older file is brought up to date.

/// Numbered schema migrations; index + 1 is the `user_version` after applying it.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE customers (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('b2b', 'b2c')),
    language       TEXT,
    email          TEXT,
    phone          TEXT,
    street         TEXT,
    postal_code    TEXT,
    city           TEXT,
    country        TEXT,
    customer_since TEXT,
    payment_method TEXT,
    segment        TEXT,
    source         TEXT NOT NULL,
    source_id      TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE invoices (
    number        TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL,
    issue_date    TEXT NOT NULL,
    due_date      TEXT NOT NULL,
    currency      TEXT NOT NULL,
    total         TEXT NOT NULL,
    -- the open amount the source stated, if it stated one; it wins over total - payments
    declared_open TEXT,
    -- what is open now, derived at write time from declared_open or the payments
    open_amount   TEXT NOT NULL,
    paid_date     TEXT,
    source        TEXT NOT NULL,
    source_id     TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE payments (
    id             INTEGER PRIMARY KEY,
    invoice_number TEXT NOT NULL,
    date           TEXT NOT NULL,
    amount         TEXT NOT NULL,
    method         TEXT,
    source         TEXT NOT NULL,
    source_id      TEXT NOT NULL,
    -- one index serves both the look-up by invoice and the uniqueness of a source's key
    UNIQUE (invoice_number, source, source_id)
);

-- promises to pay, recorded by an operator; broken ones weigh in segmentation
CREATE TABLE promises (
    id             INTEGER PRIMARY KEY,
    customer_id    TEXT NOT NULL,
    invoice_number TEXT,
    promised_date  TEXT NOT NULL,
    amount         TEXT,
    status         TEXT NOT NULL CHECK (status IN ('open', 'kept', 'broken')),
    recorded_at    TEXT NOT NULL
);
CREATE INDEX promises_by_customer ON promises (customer_id);

-- one row per completed import or sync, for the audit trail
CREATE TABLE imports (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    source   TEXT NOT NULL,
    location TEXT NOT NULL,
    summary  TEXT NOT NULL
);
"#,
    // 2: connector sync (issue 3): cursors, per-plugin status with back-off, payment references
    // for bank matching, and bank payments that matched no invoice yet.
    r#"
ALTER TABLE invoices ADD COLUMN payment_reference TEXT;
CREATE INDEX invoices_by_source ON invoices (source, source_id);

CREATE TABLE sync_cursors (
    plugin TEXT NOT NULL,
    entity TEXT NOT NULL CHECK (entity IN ('customers', 'invoices', 'payments')),
    cursor TEXT NOT NULL,
    PRIMARY KEY (plugin, entity)
) WITHOUT ROWID;

CREATE TABLE sync_status (
    plugin        TEXT PRIMARY KEY,
    last_success  TEXT,
    last_failure  TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,
    next_attempt  TEXT,
    last_error    TEXT
) WITHOUT ROWID;

CREATE TABLE unmatched_payments (
    source      TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    date        TEXT NOT NULL,
    amount      TEXT NOT NULL,
    currency    TEXT NOT NULL,
    reference   TEXT,
    free_text   TEXT,
    payer_name  TEXT,
    payer_iban  TEXT,
    PRIMARY KEY (source, source_id)
) WITHOUT ROWID;
"#,
    // 3: full re-syncs with reconciliation: when a plugin's last complete snapshot was taken.
    r#"
ALTER TABLE sync_status ADD COLUMN last_full_sync TEXT;
"#,
    // 4: the look-up by source id serves connector syncs only: a spreadsheet row's source id is
    // its key, so csv rows stay out of the index and a million-row import maintains one
    // b-tree instead of two. Queries must say `source <> 'csv'` for SQLite to use it.
    r#"
DROP INDEX invoices_by_source;
CREATE INDEX invoices_by_source ON invoices (source, source_id) WHERE source <> 'csv';
"#,
    // 5: the account a bank payment came from, so that a customer's account, once seen on a
    // payment that matched by reference or number, places later payments without one.
    r#"
ALTER TABLE payments ADD COLUMN payer_iban TEXT;
"#,
    // 6: records a plugin sent that the host cannot use, set aside instead of failing the run;
    // each stays until a later pull brings it usable, reports it removed, or lacks it.
    r#"
CREATE TABLE quarantine (
    plugin      TEXT NOT NULL,
    entity      TEXT NOT NULL CHECK (entity IN ('customers', 'invoices', 'payments')),
    source_id   TEXT NOT NULL,
    record      TEXT,
    field       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (plugin, entity, source_id)
) WITHOUT ROWID;
"#,
    // 7: the channels. Where each invoice stands in its playbook (what `dunwell send` did), and
    // the outbox: one row per message, written in the same transaction as the progress it
    // records, unique by its idempotency key, then delivered and its outcome recorded.
    r#"
CREATE TABLE progress (
    invoice_number  TEXT PRIMARY KEY,
    playbook        TEXT NOT NULL,
    steps_done      INTEGER NOT NULL,
    anchor          TEXT NOT NULL,
    last_day        TEXT,
    first_reminder  TEXT,
    first_delivery  TEXT CHECK (first_delivery IN ('post', 'electronic')),
    handed_over     TEXT
) WITHOUT ROWID;

CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY,
    key           TEXT NOT NULL UNIQUE,
    day           TEXT NOT NULL,
    created       TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    channel       TEXT NOT NULL,
    template      TEXT NOT NULL,
    language      TEXT NOT NULL,
    recipient     TEXT,
    subject       TEXT,
    body          TEXT NOT NULL,
    html          TEXT,
    invoices      TEXT NOT NULL,
    total         TEXT,
    currency      TEXT,
    status        TEXT NOT NULL CHECK (status IN
                    ('awaiting-approval', 'queued', 'sending', 'sent', 'failed', 'unknown', 'dead')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  TEXT,
    last_error    TEXT,
    provider_id   TEXT,
    message_id    TEXT,
    file          TEXT,
    sent_at       TEXT,
    outcome       TEXT,
    outcome_note  TEXT,
    outcome_at    TEXT
);
CREATE INDEX outbox_to_deliver ON outbox (status, next_attempt);
CREATE INDEX outbox_by_customer ON outbox (customer_id, day);
"#,
    // 8: a letter's PDF, rendered when the message is written (with the amounts and the
    // reference at hand) and kept with it, so a delivery after a crash writes the same file.
    r#"
ALTER TABLE outbox ADD COLUMN pdf BLOB;
"#,
    // 9: reminder fees charged on each invoice (owed from then on); a message's fallback (the
    // letter or call that replaces an e-mail or SMS that cannot be delivered, rendered with
    // it) and, on the replacement, the message it replaces; the data of an agency case file.
    r#"
ALTER TABLE progress ADD COLUMN fees TEXT NOT NULL DEFAULT '0';
ALTER TABLE outbox ADD COLUMN fallback TEXT;
ALTER TABLE outbox ADD COLUMN fallback_pdf BLOB;
ALTER TABLE outbox ADD COLUMN replaces INTEGER;
ALTER TABLE outbox ADD COLUMN data TEXT;
"#,
    // 10: whose law governs a business customer (set by hand), and the last term a message
    // gave each invoice (the day it was sent and its last day): later escalation waits for it.
    r#"
ALTER TABLE customers ADD COLUMN jurisdiction TEXT CHECK (jurisdiction IN ('nl', 'be'));
ALTER TABLE progress ADD COLUMN term_sent TEXT;
ALTER TABLE progress ADD COLUMN term_end TEXT;
"#,
    // 11: the daemon (issue 12). A message can be cancelled at delivery (its invoice was paid
    // or disputed since it was written), so the status check gains `cancelled` (SQLite cannot
    // alter a CHECK: the table is rebuilt); `undo` keeps the progress its invoices had before
    // it, restored when it is cancelled so the still-open invoices are planned again. Each
    // job's last run, and the daemon's own state (the configuration in force, its heartbeat).
    r#"
CREATE TABLE outbox_new (
    id            INTEGER PRIMARY KEY,
    key           TEXT NOT NULL UNIQUE,
    day           TEXT NOT NULL,
    created       TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    channel       TEXT NOT NULL,
    template      TEXT NOT NULL,
    language      TEXT NOT NULL,
    recipient     TEXT,
    subject       TEXT,
    body          TEXT NOT NULL,
    html          TEXT,
    invoices      TEXT NOT NULL,
    total         TEXT,
    currency      TEXT,
    status        TEXT NOT NULL CHECK (status IN
                    ('awaiting-approval', 'queued', 'sending', 'sent', 'failed', 'unknown', 'dead', 'cancelled')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  TEXT,
    last_error    TEXT,
    provider_id   TEXT,
    message_id    TEXT,
    file          TEXT,
    sent_at       TEXT,
    outcome       TEXT,
    outcome_note  TEXT,
    outcome_at    TEXT,
    pdf           BLOB,
    fallback      TEXT,
    fallback_pdf  BLOB,
    replaces      INTEGER,
    data          TEXT,
    undo          TEXT
);
INSERT INTO outbox_new (id, key, day, created, customer_id, channel, template, language, recipient,
    subject, body, html, invoices, total, currency, status, attempts, next_attempt, last_error,
    provider_id, message_id, file, sent_at, outcome, outcome_note, outcome_at, pdf, fallback,
    fallback_pdf, replaces, data)
SELECT id, key, day, created, customer_id, channel, template, language, recipient,
    subject, body, html, invoices, total, currency, status, attempts, next_attempt, last_error,
    provider_id, message_id, file, sent_at, outcome, outcome_note, outcome_at, pdf, fallback,
    fallback_pdf, replaces, data FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_to_deliver ON outbox (status, next_attempt);
CREATE INDEX outbox_by_customer ON outbox (customer_id, day);

CREATE TABLE job_runs (
    job       TEXT PRIMARY KEY,
    slot      TEXT,
    started   TEXT NOT NULL,
    finished  TEXT,
    ok        INTEGER,
    summary   TEXT,
    error     TEXT
) WITHOUT ROWID;

CREATE TABLE daemon_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;

-- components compiled ahead of time by `dunwell plugin compile`: only these are ever loaded
CREATE TABLE plugin_artifacts (
    file     TEXT PRIMARY KEY,
    sha256   TEXT NOT NULL,
    plugin   TEXT NOT NULL,
    created  TEXT NOT NULL
) WITHOUT ROWID;
"#,
    // 12: working with the customer (issue 13). Promises cover one or more invoices
    // (`promise_invoices`; the old single `invoice_number` is copied over) and record who made
    // them, when they were kept or broken, and the day the broken-promise message was written.
    // Disputes, payment plans with their instalments, pauses, and `care_events`: every
    // interaction as a line of history with who recorded it. Notes: a reply or remark pasted
    // by the operator, matched to the message it answers. Approvals are decided on the outbox
    // row itself. A customer's account manager and credit limit; alerts already given.
    r#"
ALTER TABLE promises ADD COLUMN note TEXT;
ALTER TABLE promises ADD COLUMN recorded_by TEXT NOT NULL DEFAULT 'operator';
ALTER TABLE promises ADD COLUMN recorded_on TEXT;
ALTER TABLE promises ADD COLUMN settled_on TEXT;
ALTER TABLE promises ADD COLUMN notified_on TEXT;
ALTER TABLE promises ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 0;
UPDATE promises SET recorded_on = substr(recorded_at, 1, 10) WHERE recorded_on IS NULL;
CREATE TABLE promise_invoices (
    promise_id     INTEGER NOT NULL,
    invoice_number TEXT NOT NULL,
    PRIMARY KEY (promise_id, invoice_number)
) WITHOUT ROWID;
INSERT INTO promise_invoices (promise_id, invoice_number)
    SELECT id, invoice_number FROM promises WHERE invoice_number IS NOT NULL;
CREATE INDEX promise_invoices_by_invoice ON promise_invoices (invoice_number);

CREATE TABLE disputes (
    id              INTEGER PRIMARY KEY,
    customer_id     TEXT NOT NULL,
    invoice_number  TEXT NOT NULL,
    reason          TEXT NOT NULL,
    -- NULL: the whole open amount is disputed
    amount          TEXT,
    deadline        TEXT NOT NULL,
    note            TEXT,
    status          TEXT NOT NULL CHECK (status IN ('open', 'credit', 'write-off', 'rejected')),
    recorded_on     TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,
    resolved_on     TEXT,
    resolved_at     TEXT,
    resolved_by     TEXT,
    resolution_note TEXT,
    -- for the customer: what left the claim, the invoice's open amount then, and the last
    -- payment row known then (later payments are not part of the deduction)
    deducted        TEXT,
    open_before     TEXT,
    payment_mark    INTEGER,
    -- the day the task for a person was written once the deadline passed unresolved
    task_on         TEXT
);
CREATE INDEX disputes_by_invoice ON disputes (invoice_number);

CREATE TABLE payment_plans (
    id           INTEGER PRIMARY KEY,
    customer_id  TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'kept', 'broken', 'cancelled')),
    recorded_on  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    note         TEXT,
    settled_on   TEXT,
    -- the instalment (1-based) whose miss broke the plan
    missed       INTEGER,
    notified_on  TEXT,
    confirmed    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE payment_plan_invoices (
    plan_id        INTEGER NOT NULL,
    invoice_number TEXT NOT NULL,
    PRIMARY KEY (plan_id, invoice_number)
) WITHOUT ROWID;
CREATE INDEX payment_plan_invoices_by_invoice ON payment_plan_invoices (invoice_number);
CREATE TABLE instalments (
    plan_id   INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    due_date  TEXT NOT NULL,
    amount    TEXT NOT NULL,
    -- the day its reminder was written
    reminded_on TEXT,
    PRIMARY KEY (plan_id, seq)
) WITHOUT ROWID;

CREATE TABLE pauses (
    id          INTEGER PRIMARY KEY,
    scope       TEXT NOT NULL CHECK (scope IN ('customer', 'invoice', 'all')),
    target      TEXT,
    from_day    TEXT NOT NULL,
    until       TEXT,
    reason      TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    lifted_on   TEXT,
    lifted_at   TEXT,
    lifted_by   TEXT
);

CREATE TABLE care_events (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    day         TEXT NOT NULL,
    customer_id TEXT,
    invoices    TEXT NOT NULL DEFAULT '[]',
    kind        TEXT NOT NULL,
    ref_id      INTEGER,
    text        TEXT NOT NULL,
    recorded_by TEXT NOT NULL
);
CREATE INDEX care_events_by_customer ON care_events (customer_id, day);

CREATE TABLE notes (
    id          INTEGER PRIMARY KEY,
    customer_id TEXT NOT NULL,
    day         TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    sender      TEXT,
    subject     TEXT,
    message_id  TEXT,
    in_reply_to TEXT,
    outbox_id   INTEGER,
    body        TEXT NOT NULL
);
CREATE INDEX notes_by_customer ON notes (customer_id, day);

CREATE TABLE alerts (
    customer_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    since       TEXT NOT NULL,
    outbox_id   INTEGER,
    PRIMARY KEY (customer_id, kind, since)
) WITHOUT ROWID;

ALTER TABLE outbox ADD COLUMN decision TEXT;
ALTER TABLE outbox ADD COLUMN decided_by TEXT;
ALTER TABLE outbox ADD COLUMN decided_at TEXT;
ALTER TABLE outbox ADD COLUMN cc TEXT;
ALTER TABLE customers ADD COLUMN account_manager TEXT;
ALTER TABLE customers ADD COLUMN credit_limit TEXT;
"#,
    // 13: a full pull that runs over several syncs (issue 14). While one is under way, each
    // entity of the plugin has a row: `done` once its complete list is in (and reconciled),
    // else the cursor its next run resumes from. `sync_full_seen` keeps the keys the earlier
    // runs of the pull saw (`held`: a quarantined record's source id), so that the run that
    // gets the last page reconciles against all of them.
    r#"
CREATE TABLE sync_full_pulls (
    plugin  TEXT NOT NULL,
    entity  TEXT NOT NULL,
    cursor  TEXT,
    done    INTEGER NOT NULL DEFAULT 0,
    started TEXT NOT NULL,
    PRIMARY KEY (plugin, entity)
) WITHOUT ROWID;

CREATE TABLE sync_full_seen (
    plugin TEXT NOT NULL,
    entity TEXT NOT NULL,
    held   INTEGER NOT NULL,
    key    TEXT NOT NULL,
    PRIMARY KEY (plugin, entity, held, key)
) WITHOUT ROWID;
"#,
    // 14: the customer's contact person (issue 11), set by hand in customers.csv: the letters
    // address them by name. Connectors leave it empty.
    r#"
ALTER TABLE customers ADD COLUMN contact TEXT;
"#,
];
