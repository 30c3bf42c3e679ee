//! The naming rule for connectors, programs, pipelines, API keys and attached connectors.
//!
//! A name is 1 to [`MAX_NAME_LEN`] characters from `[A-Za-z0-9_-]`, starting with a letter or a digit. The rule
//! keeps names safe in URL paths without escaping, in log lines and in file names, and it accepts every name in
//! Feldera's documentation (`total-sales`, `sc-program`, `Output-To-View`).

/// The longest name accepted, in characters.
pub const MAX_NAME_LEN: usize = 100;

/// A name that breaks the rule, and which part of it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Invalid name '{name}': {reason}")]
pub struct NameError {
    /// The rejected name.
    pub name: String,
    /// The rule it breaks.
    pub reason: String,
}

/// Checks `name` against the rule, with a reason that says which part is broken.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    let reject = |reason: String| {
        Err(NameError {
            name: name.to_string(),
            reason,
        })
    };
    let Some(first) = name.chars().next() else {
        return reject("a name must not be empty".into());
    };
    if name.chars().count() > MAX_NAME_LEN {
        return reject(format!(
            "a name may be at most {MAX_NAME_LEN} characters long, this one has {}",
            name.chars().count()
        ));
    }
    if !first.is_ascii_alphanumeric() {
        return reject("a name must start with a letter or a digit".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return reject(format!(
            "{c:?} is not allowed; names may use only letters, digits, '_' and '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_documented_names() {
        for name in ["total-sales", "sc-program", "Output-To-View", "a", "0_x"] {
            validate_name(name).unwrap();
        }
        validate_name(&"a".repeat(MAX_NAME_LEN)).unwrap();
    }

    #[test]
    fn rejects_with_a_reason() {
        for (name, part) in [
            ("", "empty"),
            ("-x", "start"),
            ("a b", "' '"),
            ("a/b", "'/'"),
            ("é", "start"),
        ] {
            let err = validate_name(name).unwrap_err().to_string();
            assert!(err.contains(part), "{name:?}: {err}");
        }
        assert!(validate_name(&"a".repeat(MAX_NAME_LEN + 1))
            .unwrap_err()
            .to_string()
            .contains("at most"));
    }
}
