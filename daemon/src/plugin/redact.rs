//! Keeping a plugin's secrets out of everything that leaves a run: log lines, errors,
//! `sync_status.last_error`, the quarantine. A secret travels in more than one spelling: as
//! configured, percent-encoded in a query (what the SDK's `.query()` writes, with upper- or
//! lower-case hex) and form-encoded (`+` for a space), so each spelling is masked.
//!
//! This protects honest and buggy connectors (a token in a URL that is refused, a token echoed
//! in an API error); a hostile one can always encode its own secret some other way, which is why
//! secrets are also kept short-lived in the host and never written to the store.

/// The masks for one plugin's secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    /// Every spelling of every secret, longest first (so that a longer spelling containing a
    /// shorter one is masked whole).
    forms: Vec<String>,
}

/// Shortest secret accepted in the configuration: a shorter one is too short to mask reliably
/// (every occurrence of three letters in a log would go) and too short to be a real token.
pub const MIN_SECRET_LEN: usize = 8;

const MASK: &str = "***";

/// The shortest start of a secret masked at the end of a text: four characters of a token
/// say little, and masking them costs the end of a message at worst.
const MIN_PARTIAL: usize = 4;

/// The key of a secret shorter than [`MIN_SECRET_LEN`], if any: such a configuration is refused
/// (in dunwell.toml and with `plugin run --secret`).
pub fn short_secret(secrets: &std::collections::BTreeMap<String, String>) -> Option<&str> {
    secrets.iter().find(|(_, v)| v.chars().count() < MIN_SECRET_LEN).map(|(k, _)| k.as_str())
}

fn percent(s: &str, lower: bool, plus_for_space: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' if plus_for_space => out.push('+'),
            _ if lower => out.push_str(&format!("%{b:02x}")),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Redactor {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a String>) -> Redactor {
        let mut forms: Vec<String> = Vec::new();
        for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
            forms.push(secret.clone());
            for (lower, plus) in [(false, false), (true, false), (false, true), (true, true)] {
                forms.push(percent(secret, lower, plus));
            }
        }
        forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        forms.dedup();
        Redactor { forms }
    }

    /// `text` with every spelling of every secret masked, and a secret cut short at the end
    /// of the text (a connector that shortened an error body it quotes, an SDK snippet of 200
    /// characters) masked too: the part that is left is most of the secret.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for form in &self.forms {
            if out.contains(form.as_str()) {
                out = out.replace(form.as_str(), MASK);
            }
        }
        for form in &self.forms {
            let cut = form
                .char_indices()
                .map(|(i, _)| i)
                .filter(|i| *i >= MIN_PARTIAL)
                .rev()
                .find(|i| out.ends_with(&form[..*i]));
            if let Some(i) = cut {
                out.truncate(out.len() - i);
                out.push_str(MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_secret_is_masked() {
        let r = Redactor::new(&["Zm9v+YmFy/c2VjcmV0==".to_string(), "sk_live_Super Secret".to_string()]);
        for leak in [
            "t=Zm9v+YmFy/c2VjcmV0==",
            "t=Zm9v%2BYmFy%2Fc2VjcmV0%3D%3D",
            "t=Zm9v%2bYmFy%2fc2VjcmV0%3d%3d",
            "q=sk_live_Super+Secret&x=1",
            "q=sk_live_Super%20Secret",
        ] {
            let shown = r.apply(leak);
            assert!(shown.contains(MASK), "{leak} -> {shown}");
            for bit in ["Zm9v", "c2Vj", "Super"] {
                assert!(!shown.contains(bit), "{leak} -> {shown}");
            }
        }
        assert_eq!(r.apply("nothing secret here"), "nothing secret here");
        // Cut short at the end of a quoted body.
        assert_eq!(
            r.apply("answered 500: {\"auth\":\"Bearer sk_live_Sup"),
            "answered 500: {\"auth\":\"Bearer ***"
        );
        assert_eq!(r.apply("token Zm9v%2BYmFy%2Fc2"), "token ***");
        assert_eq!(r.apply("ends in sk_"), "ends in sk_", "too short to say anything");
        assert_eq!(Redactor::default().apply("x"), "x");
    }
}
