//! The secret values this process knows, and [`scrub`], which replaces each of them in a text by
//! [`MASK`](super::MASK).
//!
//! Why a process-wide list: a secret reaches text through many doors (a librdkafka log line, a broker's error
//! message, an error answer that quotes a value, a panic message), and most of them cannot know which of the
//! strings they hold is a secret. Whoever handles a secret value ([`register`]s it: the server when it reads a
//! request, decrypts a stored value or resolves a reference) makes every later [`scrub`] remove it; the log
//! writer, the API's error answers and the stats and metrics bodies scrub what they emit.
//!
//! Values shorter than [`MIN_SCRUBBED_LEN`] are not registered: scrubbing every `a` or `12` from the log would
//! garble it, and a credential that short is no protection anyway.

use std::borrow::Cow;
use std::sync::RwLock;

use super::MASK;

/// The shortest value [`register`] keeps.
pub const MIN_SCRUBBED_LEN: usize = 4;

/// Every registered value, with its JSON-escaped form when that differs (so that JSON bodies are scrubbed too).
static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remembers `value` as a secret for the rest of the process's life.
pub fn register(value: &str) {
    if value.chars().count() < MIN_SCRUBBED_LEN {
        return;
    }
    let escaped = serde_json::to_string(value)
        .map(|quoted| quoted[1..quoted.len() - 1].to_string())
        .unwrap_or_default();
    let mut known = KNOWN.write().unwrap_or_else(|p| p.into_inner());
    for form in [value.to_string(), escaped] {
        if form.chars().count() >= MIN_SCRUBBED_LEN && !known.contains(&form) {
            known.push(form);
        }
    }
    // Longest first, so that a secret containing another is replaced whole.
    known.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every registered secret value replaced by the mask; borrowed when there was none.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let known = KNOWN.read().unwrap_or_else(|p| p.into_inner());
    let mut out = Cow::Borrowed(text);
    for secret in known.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), MASK));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_scrubbed_in_plain_and_json_text() {
        register("s3cr\"et-value-1");
        let plain = "auth failed for password s3cr\"et-value-1 on broker";
        assert_eq!(scrub(plain), "auth failed for password ******** on broker");
        let json = serde_json::json!({"message": plain}).to_string();
        assert!(!scrub(&json).contains("et-value-1"), "{}", scrub(&json));
        assert!(matches!(scrub("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn short_values_are_not_registered() {
        register("xy");
        assert_eq!(scrub("xyz xy"), "xyz xy");
    }
}
