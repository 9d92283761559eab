//! Crash safety of `dunwell send`: a day with a few thousand e-mails to a real SMTP server
//! (`tests/testdata/smtp/server.py plain`), the run killed with SIGKILL at random moments and
//! restarted each time, then run to the end. Every due message must have been delivered at
//! least once; a message delivered twice must have been in `sending` when a kill came (the
//! window channel/mod.rs documents), so there are at most as many duplicates as kills; every
//! outbox row ends `sent`; the database passes `PRAGMA integrity_check`.
//!
//! The kills are placed by a small PRNG whose seed is printed (`DUNWELL_CRASH_SEED=N` repeats
//! a run); `DUNWELL_CRASH_MESSAGES` and `DUNWELL_CRASH_KILLS` change the size.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::email::{export, message_id_of, TestSmtp, BUSINESS, DAY};
use crate::{s, Env};

/// xorshift64*: enough to spread kills, reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What the outbox holds: rows by status, and the ids of rows in `sending`.
fn outbox_state(env: &Env) -> (BTreeMap<String, u64>, Vec<i64>) {
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    let mut counts = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT status, count(*) FROM outbox GROUP BY status").unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?))).unwrap();
    for row in rows {
        let (status, n) = row.unwrap();
        counts.insert(status, n);
    }
    let mut stmt = conn.prepare("SELECT id FROM outbox WHERE status = 'sending'").unwrap();
    let sending = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    (counts, sending)
}

/// The row id in one of dunwell's Message-IDs (`<dunwell.ID.HASH@domain>`).
fn row_of(message_id: &str) -> i64 {
    message_id.trim_start_matches("<dunwell.").split('.').next().unwrap().parse().unwrap()
}

#[test]
fn send_killed_at_random_moments_delivers_every_message_and_duplicates_only_in_the_window() {
    let messages = env_number("DUNWELL_CRASH_MESSAGES", 2000) as usize;
    let kills = env_number("DUNWELL_CRASH_KILLS", 24) as usize;
    let seed = env_number(
        "DUNWELL_CRASH_SEED",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64,
    ) | 1;
    eprintln!("crash test: {messages} messages, {kills} kills, DUNWELL_CRASH_SEED={seed}");
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().unwrap();
    let server = TestSmtp::start("plain", dir.path());
    let env = Env::with_config(&format!(
        "{BUSINESS}[channels.email]\nurl = 'smtp://127.0.0.1:{}'\nfrom = 'debiteuren@bakkerij.example'\ntimeout_s = 20\n",
        server.port
    ));
    let ids: Vec<(String, String)> =
        (1..=messages).map(|i| (format!("C{i:05}"), format!("c{i:05}@klant.example"))).collect();
    let customers: Vec<(&str, &str, &str, &str, &str)> =
        ids.iter().map(|(id, email)| (id.as_str(), "Klant B.V.", "nl", email.as_str(), "121.00")).collect();
    env.ok(&["import", "csv", s(&export(env.path(), &customers))]);

    let run = || {
        Command::new(env!("CARGO_BIN_EXE_dunwell"))
            .arg("--config")
            .arg(env.path().join("dunwell.toml"))
            .args(["send", "--at", DAY])
            .current_dir(env.path())
            .env("DUNWELL_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run dunwell")
    };

    // How long an uninterrupted run takes is not known in advance. Every run first loads and
    // plans (`fixed`, measured as a `dunwell plan` of the day); then it writes and delivers.
    // Progress is counted as rows written plus rows sent (2 per message). A kill comes at a
    // random moment: somewhere in the loading (about a third of the kills), or in the work
    // after it, in a window sized from the progress rate seen so far, so that the remaining
    // kills spread over the remaining work: into the writing of the outbox and into the
    // delivery alike.
    let fixed = (0..3)
        .map(|_| {
            let started = Instant::now();
            env.ok(&["plan", "--at", DAY, "--days", "0", "--format", "json"]);
            started.elapsed()
        })
        .min()
        .unwrap();
    let total = 2.0 * messages as f64;
    let mut share = Duration::from_millis(1500);
    let mut in_flight: BTreeMap<i64, u32> = BTreeMap::new();
    let mut killed = 0;
    let mut finished_early = false;
    let mut working_time = Duration::ZERO;
    let started = Instant::now();
    while killed < kills {
        let delay = if rng.unit() < 0.3 {
            fixed.mul_f64(rng.unit())
        } else {
            fixed + share.mul_f64(2.0 * rng.unit())
        };
        let mut child = run();
        let spawned = Instant::now();
        let mut exited = None;
        while spawned.elapsed() < delay {
            if let Some(status) = child.try_wait().unwrap() {
                exited = Some(status);
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if let Some(status) = exited {
            // The day was done before the kill: nothing left to interrupt.
            assert!(status.success(), "dunwell send failed on its own ({status})");
            finished_early = true;
            break;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        working_time += delay.saturating_sub(fixed);
        killed += 1;
        let (counts, sending) = outbox_state(&env);
        for id in &sending {
            *in_flight.entry(*id).or_default() += 1;
        }
        let written = counts.values().sum::<u64>() as f64;
        let sent = counts.get("sent").copied().unwrap_or(0) as f64;
        eprintln!(
            "kill {killed:2} after {:5} ms (loading ~{} ms): {counts:?}",
            delay.as_millis(),
            fixed.as_millis()
        );
        let done = written + sent;
        if done > 0.0 && killed < kills && !working_time.is_zero() {
            let rate = done / working_time.as_secs_f64();
            // About 0.7 of the remaining kills fall into the work.
            let left = (total - done) / rate / (0.7 * (kills - killed) as f64);
            share = Duration::from_secs_f64((0.8 * left).clamp(0.02, 5.0));
        }
    }
    assert!(killed >= kills.min(20), "only {killed} kills before the day was done; seed {seed}");
    // Then to the end.
    let status = run().wait().unwrap();
    assert!(status.success());
    eprintln!(
        "{killed} kills (a run ended before its kill: {finished_early}), done in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let (counts, _) = outbox_state(&env);
    assert_eq!(counts.get("sent").copied(), Some(messages as u64), "every row sent: {counts:?}");
    assert_eq!(counts.values().sum::<u64>(), messages as u64, "one row per due message: {counts:?}");

    // Message-IDs received against the outbox.
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    let stored: BTreeSet<String> = conn
        .prepare("SELECT message_id FROM outbox")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(stored.len(), messages, "each row has its own Message-ID");
    let mut received: BTreeMap<String, u32> = BTreeMap::new();
    for path in server.messages() {
        let raw = std::fs::read_to_string(&path).unwrap();
        *received
            .entry(message_id_of(&raw).unwrap_or_else(|| panic!("no Message-ID: {raw}")))
            .or_default() += 1;
    }
    let missing: Vec<&String> = stored.iter().filter(|id| !received.contains_key(*id)).collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    let stray: Vec<&String> = received.keys().filter(|id| !stored.contains(*id)).collect();
    assert!(stray.is_empty(), "delivered but not in the outbox: {stray:?}");
    let duplicates: Vec<(&String, u32)> =
        received.iter().filter(|(_, n)| **n > 1).map(|(id, n)| (id, *n)).collect();
    eprintln!(
        "{} messages received for {} rows; {} duplicated; rows in `sending` at a kill: {:?}",
        received.values().sum::<u32>(),
        messages,
        duplicates.len(),
        in_flight
    );
    for (id, n) in &duplicates {
        let row = row_of(id);
        let times = in_flight.get(&row).copied().unwrap_or(0);
        assert!(times > 0, "{id} arrived {n} times but was never in `sending` at a kill");
        assert!(*n <= times + 1, "{id} arrived {n} times, in `sending` at {times} kills");
    }
    let extra: u32 = duplicates.iter().map(|(_, n)| n - 1).sum();
    assert!(extra as usize <= killed, "{extra} duplicates for {killed} kills");

    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    // The day is done: another run writes and sends nothing.
    let out = env.ok(&["send", "--at", DAY, "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["written"].as_array().unwrap().len(), 0, "{out}");
    assert_eq!(report["delivery"]["sent"], 0, "{out}");
}
