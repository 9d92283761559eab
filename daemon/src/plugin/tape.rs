//! Recorded HTTP for `dunwell plugin run --record DIR` and `--replay DIR`: a connector's
//! exchanges with its API saved as one JSON file each, and answered from them later, so a
//! connector's author can run it (and its tests) without the real API.
//!
//! What is written has passed the run's [`Redactor`]: every spelling of every secret (in the
//! URL, the headers, either body) is masked before anything reaches the disk, so a recording can
//! be committed. A replay matches a request by method and masked URL, each recorded exchange
//! answering once, in the order recorded; the allow-list and the request limit still apply (a
//! replay is not a way around the sandbox), and a request with no recording left is refused as
//! a transport failure naming it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::http::{Answer, HttpFailure};
use super::redact::Redactor;

/// One request and its answer, as written to `DIR/NNNN.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: Option<Body>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// A body as text when it is UTF-8 (readable in a diff), else as base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Body {
    Text(String),
    Base64(String),
}

impl Body {
    fn of(bytes: &[u8], redactor: &Redactor) -> Body {
        match std::str::from_utf8(bytes) {
            Ok(text) => Body::Text(redactor.apply(text)),
            Err(_) => Body::Base64(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        match self {
            Body::Text(t) => Ok(t.as_bytes().to_vec()),
            Body::Base64(b) => base64::engine::general_purpose::STANDARD.decode(b).map_err(|e| e.to_string()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TapeError {
    #[error("cannot use {path} for recordings: {message}")]
    Dir { path: PathBuf, message: String },
    #[error("{path}: not a recorded exchange ({message}); record the run again with --record")]
    Bad { path: PathBuf, message: String },
}

/// Recording or playing back: fixed when the tape is made; only what is inside changes.
#[derive(Debug)]
enum Mode {
    /// The number of the next file.
    Record(Mutex<usize>),
    /// Every recorded exchange, and whether it has answered.
    Replay(Mutex<Vec<(Exchange, bool)>>),
}

/// A recording being made or played back, shared by every run of one `plugin run`.
#[derive(Debug)]
pub struct Tape {
    dir: PathBuf,
    mode: Mode,
}

impl Tape {
    /// Records into `dir` (created; it must hold no recording yet, so two runs never mix).
    pub fn record(dir: &Path) -> Result<Tape, TapeError> {
        let err = |message: String| TapeError::Dir { path: dir.to_path_buf(), message };
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        let used = std::fs::read_dir(dir)
            .map_err(|e| err(e.to_string()))?
            .filter_map(|e| e.ok())
            .any(|e| e.path().extension().is_some_and(|x| x == "json"));
        if used {
            return Err(err("it holds a recording already; record into an empty folder".into()));
        }
        Ok(Tape { dir: dir.to_path_buf(), mode: Mode::Record(Mutex::new(1)) })
    }

    /// Plays back what `dir` holds, in the order recorded.
    pub fn replay(dir: &Path) -> Result<Tape, TapeError> {
        let err = |message: String| TapeError::Dir { path: dir.to_path_buf(), message };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| err(e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(err("it holds no recording; make one with --record".into()));
        }
        let mut exchanges = Vec::with_capacity(files.len());
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
            let x: Exchange = serde_json::from_str(&text)
                .map_err(|e| TapeError::Bad { path: path.clone(), message: e.to_string() })?;
            exchanges.push((x, false));
        }
        Ok(Tape { dir: dir.to_path_buf(), mode: Mode::Replay(Mutex::new(exchanges)) })
    }

    /// The recorded answer to a request when replaying (`None` when recording): first `admit`,
    /// the checks a real request passes (the allow-list, the request limit), then the first
    /// exchange of the same method and masked URL not used yet.
    pub fn answer(
        &self,
        method: &str,
        url: &str,
        redactor: &Redactor,
        admit: impl FnOnce() -> Result<(), HttpFailure>,
    ) -> Option<Result<Answer, HttpFailure>> {
        let Mode::Replay(exchanges) = &self.mode else { return None };
        if let Err(refused) = admit() {
            return Some(Err(refused));
        }
        let mut exchanges = exchanges.lock().unwrap_or_else(|e| e.into_inner());
        let shown = redactor.apply(url);
        let found = exchanges.iter_mut().find(|(x, used)| !used && x.method == method && x.url == shown);
        Some(match found {
            Some((x, used)) => {
                *used = true;
                x.body
                    .bytes()
                    .map(|body| Answer { status: x.status, headers: x.headers.clone(), body })
                    .map_err(|e| {
                        HttpFailure::Transport(format!("the recording of {method} {shown} is damaged: {e}"))
                    })
            }
            None => Err(HttpFailure::Transport(format!(
                "no recorded answer left for {method} {shown} in {}; record the run again with --record",
                self.dir.display()
            ))),
        })
    }

    /// Writes an exchange (recording), every secret masked.
    pub fn keep(
        &self,
        method: &str,
        url: &str,
        request_headers: &[(String, String)],
        request_body: Option<&[u8]>,
        answer: &Answer,
        redactor: &Redactor,
    ) -> Result<(), TapeError> {
        let Mode::Record(next) = &self.mode else { return Ok(()) };
        let mut next = next.lock().unwrap_or_else(|e| e.into_inner());
        let mask = |h: &[(String, String)]| -> Vec<(String, String)> {
            h.iter().map(|(k, v)| (k.clone(), redactor.apply(v))).collect()
        };
        let x = Exchange {
            method: method.to_string(),
            url: redactor.apply(url),
            request_headers: mask(request_headers),
            request_body: request_body.map(|b| Body::of(b, redactor)),
            status: answer.status,
            headers: mask(&answer.headers),
            body: Body::of(&answer.body, redactor),
        };
        let path = self.dir.join(format!("{:04}.json", *next));
        let text = serde_json::to_string_pretty(&x)
            .map_err(|e| TapeError::Dir { path: path.clone(), message: e.to_string() })?;
        std::fs::write(&path, text)
            .map_err(|e| TapeError::Dir { path: path.clone(), message: e.to_string() })?;
        *next += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_masks_every_secret_and_plays_back_in_order_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let redactor = Redactor::new(["s3cret-token-123".to_string()].iter());
        let tape = Tape::record(dir.path()).unwrap();
        let answer = |body: &str| Answer {
            status: 200,
            headers: vec![("x-echo".into(), "s3cret-token-123".into())],
            body: body.as_bytes().to_vec(),
        };
        let headers = vec![("authorization".to_string(), "Bearer s3cret-token-123".to_string())];
        tape.keep(
            "GET",
            "https://api.example/x?key=s3cret-token-123&p=1",
            &headers,
            None,
            &answer("one"),
            &redactor,
        )
        .unwrap();
        tape.keep(
            "GET",
            "https://api.example/x?key=s3cret-token-123&p=1",
            &headers,
            None,
            &answer("two"),
            &redactor,
        )
        .unwrap();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(!text.contains("s3cret-token-123"), "{text}");
        }
        assert!(Tape::record(dir.path()).is_err(), "a folder with a recording is not recorded over");
        let url = "https://api.example/x?key=s3cret-token-123&p=1";
        assert!(tape.answer("GET", url, &redactor, || Ok(())).is_none(), "a recording answers nothing");
        let replay = Tape::replay(dir.path()).unwrap();
        // A request the checks refuse gets the refusal and uses up no recording.
        let refused = replay.answer("GET", url, &redactor, || Err(HttpFailure::RequestLimit(2))).unwrap();
        assert_eq!(refused.unwrap_err(), HttpFailure::RequestLimit(2));
        let first = replay.answer("GET", url, &redactor, || Ok(())).unwrap().unwrap();
        let second = replay.answer("GET", url, &redactor, || Ok(())).unwrap().unwrap();
        assert_eq!((first.body, second.body), (b"one".to_vec(), b"two".to_vec()));
        let third = replay.answer("GET", url, &redactor, || Ok(())).unwrap();
        assert!(
            matches!(third, Err(HttpFailure::Transport(ref m)) if m.contains("no recorded answer left")),
            "{third:?}"
        );
        assert!(replay.answer("POST", url, &redactor, || Ok(())).unwrap().is_err());
    }
}
