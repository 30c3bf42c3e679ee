//! Secrets in connector configs: what is stored, what is shown, what a pipeline gets.
//!
//! A transport option is either written out (`"sasl.password": "hunter2"`) or a reference (`"${secret:kafka}"`,
//! [`SecretRef`]); so is a format's credential setting (a schema registry's `registry_password` or
//! `registry_authorization_token`), which is handled the same way except for the Kafka option policy. Along the way
//! of a config:
//!
//! | step | written-out secret option | reference |
//! |---|---|---|
//! | request ([`Secrets::unmask`]) | registered for scrubbing; [`MASK`] means "keep the stored value" | checked (syntax, env allowed) |
//! | validation ([`Secrets::for_validation`]) | as given | resolved if it can be now, else a warning |
//! | database ([`Secrets::seal`]) | sealed with the server key ([`key`]) | as written |
//! | API answers ([`redact`]) | [`MASK`] | as written |
//! | pipeline start ([`Secrets::resolve`]) | opened | resolved; a missing secret fails the start, naming it |
//!
//! Every option value is also checked against the operator's [`KafkaOptionPolicy`] when it is known: at creation
//! for written-out and resolvable values, and at start for all of them, with file paths resolved through symbolic
//! links.

pub mod key;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sluice_types::secret::{is_secret_option, redact, KafkaOptionPolicy, SecretRef, MASK};

use crate::model::connectors::ConnectorConfigError;
use crate::store::{connectors as db, Db, StoreError};
pub use key::SecretKey;

/// The operator's settings for secrets and dangerous options.
#[derive(Clone, Debug)]
pub struct Secrets {
    /// Seals written-out secret values in the database.
    pub key: SecretKey,
    /// Where `${secret:NAME}` files are read from.
    pub dir: PathBuf,
    /// `${env:NAME}` resolves only names starting with this prefix; `None`: environment references are refused.
    pub env_prefix: Option<String>,
    /// Which dangerous librdkafka options connector writers may use.
    pub policy: KafkaOptionPolicy,
}

impl Default for Secrets {
    /// A per-process key, `./secrets`, no environment references, no file-path options, no code-running options.
    fn default() -> Self {
        Secrets {
            key: SecretKey::ephemeral(),
            dir: PathBuf::from("secrets"),
            env_prefix: None,
            policy: KafkaOptionPolicy::default(),
        }
    }
}

/// The format settings that hold credentials (a schema registry's): secrets like librdkafka's, though not options.
const FORMAT_SECRETS: &[&str] = &["registry_password", "registry_authorization_token"];

/// Where a connector config can hold secret values: the transport's options (any of them may be a reference, each
/// is checked against the operator's policy), and the format's credential settings.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Transport,
    Format,
}

impl Section {
    const ALL: [Section; 2] = [Section::Transport, Section::Format];

    fn name(self) -> &'static str {
        match self {
            Section::Transport => "transport",
            Section::Format => "format",
        }
    }

    /// The path of the section's settings in a request body, for errors.
    fn field(self) -> &'static str {
        match self {
            Section::Transport => "config.transport.config",
            Section::Format => "config.format.config",
        }
    }

    /// Whether this section's setting `key` is handled here: every transport option, the format's credentials.
    fn covers(self, key: &str) -> bool {
        match self {
            Section::Transport => true,
            Section::Format => FORMAT_SECRETS.contains(&key),
        }
    }

    /// Whether a written-out value of `key` is a secret (sealed in the database, masked in answers).
    fn is_secret(self, key: &str) -> bool {
        match self {
            Section::Transport => is_secret_option(key),
            Section::Format => FORMAT_SECRETS.contains(&key),
        }
    }

    fn map(self, config: &Value) -> Option<&Map<String, Value>> {
        config.get(self.name())?.get("config")?.as_object()
    }

    fn map_mut(self, config: &mut Value) -> Option<&mut Map<String, Value>> {
        config
            .get_mut(self.name())?
            .get_mut("config")?
            .as_object_mut()
    }

    fn invalid(self, key: &str, reason: impl Into<String>) -> ConnectorConfigError {
        ConnectorConfigError::Invalid {
            field: format!("{}.{key}", self.field()),
            reason: reason.into(),
        }
    }
}

/// `config` as the API shows it: every written-out or sealed secret option value replaced by [`MASK`].
pub fn redact(config: &mut Value) {
    for section in Section::ALL {
        let Some(options) = section.map_mut(config) else {
            continue;
        };
        for (key, value) in options.iter_mut().filter(|(k, _)| section.covers(k)) {
            let Some(text) = value.as_str() else { continue };
            let sealed = key::is_sealed(text);
            if sealed || (section.is_secret(key) && SecretRef::parse(text).is_none()) {
                *value = Value::String(MASK.to_string());
            }
        }
    }
}

/// The settings of `config` that hold a secret written out rather than referenced, as `transport.config.KEY` or
/// `format.config.KEY`. A program's SQL is shown as written, so connectors declared there must reference their
/// secrets.
pub fn written_out_secrets(config: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for section in Section::ALL {
        let Some(options) = section.map(config) else {
            continue;
        };
        for (key, value) in options {
            let Some(text) = value.as_str() else { continue };
            if section.is_secret(key) && SecretRef::parse(text).is_none() {
                found.push(format!("{}.config.{key}", section.name()));
            }
        }
    }
    found
}

/// The stored config text `raw` as the API shows it.
pub fn redact_text(raw: &str) -> Result<String, ConnectorConfigError> {
    let mut value: Value =
        serde_json::from_str(raw).map_err(|e| ConnectorConfigError::Corrupt(e.to_string()))?;
    redact(&mut value);
    Ok(value.to_string())
}

impl Secrets {
    /// Prepares a request's config: each [`MASK`] becomes the value stored for that option in `stored` (the
    /// connector being replaced or patched), each written-out secret value is registered for scrubbing, and each
    /// reference is checked. Sealed values are refused: they are the server's, not a client's.
    pub fn unmask(
        &self,
        config: &mut Value,
        stored: Option<&Value>,
    ) -> Result<(), ConnectorConfigError> {
        for section in Section::ALL {
            let stored_options = stored.and_then(|s| section.map(s));
            let Some(options) = section.map_mut(config) else {
                continue;
            };
            for (key, value) in options.iter_mut().filter(|(k, _)| section.covers(k)) {
                let invalid = |reason: String| section.invalid(key, reason);
                let Some(text) = value.as_str() else { continue };
                if text == MASK {
                    let kept = stored_options
                        .and_then(|s| s.get(key))
                        .and_then(Value::as_str)
                        .filter(|s| key::is_sealed(s))
                        .ok_or_else(|| {
                            invalid(format!(
                                "'{MASK}' stands for a stored secret value, and this connector has none for \
                                 this option; send the value itself or a ${{secret:NAME}} reference"
                            ))
                        })?;
                    let plain = self.key.open(key, kept).map_err(invalid)?;
                    redact::register(&plain);
                    *value = Value::String(plain);
                } else if key::is_sealed(text) {
                    return Err(invalid(
                        "a sealed value is the server's own storage form; send the value itself"
                            .into(),
                    ));
                } else if let Some(reference) = SecretRef::parse(text) {
                    let reference = reference.map_err(invalid)?;
                    self.check_env_allowed(&reference).map_err(invalid)?;
                } else if section.is_secret(key) {
                    redact::register(text);
                }
            }
        }
        Ok(())
    }

    fn check_env_allowed(&self, reference: &SecretRef) -> Result<(), String> {
        let SecretRef::Env(name) = reference else {
            return Ok(());
        };
        match &self.env_prefix {
            None => Err(format!(
                "{reference}: environment references are disabled on this server; use ${{secret:NAME}}, or ask \
                 the operator to start it with `--env-secret-prefix`"
            )),
            Some(prefix) if !name.starts_with(prefix.as_str()) => Err(format!(
                "{reference}: this server resolves only environment variables whose name starts with '{prefix}'"
            )),
            Some(_) => Ok(()),
        }
    }

    /// Reads the secret `reference` names.
    fn read(&self, reference: &SecretRef) -> Result<String, String> {
        self.check_env_allowed(reference)?;
        let value = match reference.relative_path() {
            None => {
                let SecretRef::Env(name) = reference else {
                    unreachable!("only environment references have no path")
                };
                std::env::var(name).map_err(|_| {
                    format!("secret {reference} not found: the server has no environment variable {name}")
                })?
            }
            Some(relative) => {
                let path = self.dir.join(relative);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    format!(
                        "secret {reference} not found: cannot read {}: {e}",
                        path.display()
                    )
                })?;
                // Files written with `echo` end in a newline that is not part of the secret.
                let text = text.strip_suffix('\n').unwrap_or(&text);
                text.strip_suffix('\r').unwrap_or(text).to_string()
            }
        };
        redact::register(&value);
        Ok(value)
    }

    /// The config to validate: references resolved where they can be now. A reference that cannot be resolved
    /// yet is not an error (the secret may be provisioned before the pipeline starts): the option is left out of
    /// the check, or given a stand-in where librdkafka needs one, and a warning says so. Each known value is
    /// checked against the policy.
    pub fn for_validation(
        &self,
        config: &Value,
    ) -> Result<(Value, Vec<String>), ConnectorConfigError> {
        let mut copy = config.clone();
        let mut warnings = Vec::new();
        for section in Section::ALL {
            let Some(options) = section.map_mut(&mut copy) else {
                continue;
            };
            let keys: Vec<String> = options
                .keys()
                .filter(|k| section.covers(k))
                .cloned()
                .collect();
            for key in keys {
                let Some(text) = options[&key].as_str().map(str::to_string) else {
                    continue;
                };
                let value = match SecretRef::parse(&text) {
                    Some(reference) => {
                        let reference = reference.map_err(|e| section.invalid(&key, e))?;
                        match self.read(&reference) {
                            Ok(value) => value,
                            Err(missing) => {
                                warnings.push(format!(
                                    "{}.{key}: {missing}; a pipeline using this connector will not start until \
                                     it exists",
                                    section.field()
                                ));
                                match (section, stand_in(&key)) {
                                    (Section::Transport, None) => options.remove(&key),
                                    (_, Some(s)) => options.insert(key.clone(), Value::from(s)),
                                    // A format credential stays a string, which is all validation needs.
                                    (Section::Format, None) => None,
                                };
                                continue;
                            }
                        }
                    }
                    None => text,
                };
                if section == Section::Transport {
                    self.policy
                        .check(&key, &value)
                        .map_err(|e| section.invalid(&key, e))?;
                }
                options.insert(key, Value::String(value));
            }
        }
        Ok((copy, warnings))
    }

    /// `config` (normalized, validated) as it is stored: every written-out secret option value sealed.
    pub fn seal(&self, config: &mut Value) {
        for section in Section::ALL {
            let Some(options) = section.map_mut(config) else {
                continue;
            };
            for (key, value) in options.iter_mut() {
                let Some(text) = value.as_str() else { continue };
                if section.is_secret(key)
                    && SecretRef::parse(text).is_none()
                    && !key::is_sealed(text)
                {
                    *value = Value::String(self.key.seal(key, text));
                }
            }
        }
    }

    /// The stored config `raw` as a pipeline needs it: sealed values opened, references resolved, every value
    /// checked against the policy (file paths with links resolved). Errors name the option and the secret, never a
    /// value.
    pub fn resolve(&self, raw: &str) -> Result<Value, String> {
        let mut config: Value =
            serde_json::from_str(raw).map_err(|e| format!("stored config: {e}"))?;
        for section in Section::ALL {
            let Some(options) = section.map_mut(&mut config) else {
                continue;
            };
            for (key, value) in options.iter_mut().filter(|(k, _)| section.covers(k)) {
                let Some(text) = value.as_str() else { continue };
                let resolved = if key::is_sealed(text) {
                    let plain = self.key.open(key, text)?;
                    redact::register(&plain);
                    plain
                } else if let Some(reference) = SecretRef::parse(text) {
                    let reference = reference.map_err(|e| format!("option '{key}': {e}"))?;
                    self.read(&reference)
                        .map_err(|e| format!("option '{key}': {e}"))?
                } else {
                    if section.is_secret(key) {
                        redact::register(text);
                    }
                    text.to_string()
                };
                if section == Section::Transport {
                    self.check_option(key, &resolved)?;
                }
                *value = Value::String(resolved);
            }
        }
        Ok(config)
    }

    /// A transport option's resolved value against the operator's policy, file paths with links resolved.
    fn check_option(&self, key: &str, resolved: &str) -> Result<(), String> {
        self.policy
            .check(key, resolved)
            .map_err(|e| format!("option '{key}': {e}"))?;
        if sluice_types::secret::kafka_option_risk(key)
            == Some(sluice_types::secret::OptionRisk::ReadsFile)
            && resolved != "probe"
        {
            self.check_real_path(Path::new(resolved))
                .map_err(|e| format!("option '{key}': {e}"))?;
        }
        Ok(())
    }

    /// `path` with every symbolic link resolved still lies under an allowed directory (a missing file is left to
    /// librdkafka to report).
    fn check_real_path(&self, path: &Path) -> Result<(), String> {
        match std::fs::canonicalize(path) {
            Ok(real) => {
                let dirs: Vec<PathBuf> = self
                    .policy
                    .file_dirs
                    .iter()
                    .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()))
                    .collect();
                if dirs.iter().any(|d| real.starts_with(d)) {
                    Ok(())
                } else {
                    Err(format!(
                        "'{}' leads to '{}', which is not under an allowed directory",
                        path.display(),
                        real.display()
                    ))
                }
            }
            Err(_) => Ok(()),
        }
    }

    /// Seals the written-out secret values of connectors stored before secrets were sealed (or by hand). Run once
    /// at start; returns how many connectors changed.
    pub async fn seal_stored(&self, database: &Db) -> Result<usize, StoreError> {
        let mut changed = 0;
        for (id, raw) in db::configs(database).await? {
            let Ok(mut config) = serde_json::from_str::<Value>(&raw) else {
                continue;
            };
            let before = config.clone();
            self.seal(&mut config);
            if config != before {
                db::set_config(database, &id, &config.to_string()).await?;
                changed += 1;
            }
        }
        if changed > 0 {
            tracing::info!(
                connectors = changed,
                "Sealed secret option values stored in plain text."
            );
        }
        Ok(changed)
    }
}

/// What stands in for an unresolvable reference during validation, where librdkafka refuses a config without the
/// option; `None`: the option is simply left out of the check.
fn stand_in(key: &str) -> Option<&'static str> {
    match key {
        "bootstrap.servers" => Some("localhost:9092"),
        "sasl.username" | "sasl.password" => Some("unresolved-reference"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(options: Value) -> Value {
        json!({"transport": {"name": "kafka_output", "config": options}, "format": {"name": "json"}})
    }

    fn secrets(dir: &Path) -> Secrets {
        Secrets {
            dir: dir.to_path_buf(),
            ..Secrets::default()
        }
    }

    #[test]
    fn written_out_secrets_are_sealed_masked_and_opened_again() {
        let s = Secrets::default();
        let mut c = config(json!({"sasl.password": "pw-0001", "sasl.username": "alice"}));
        s.seal(&mut c);
        let stored = c["transport"]["config"]["sasl.password"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(stored.starts_with(key::SEALED_PREFIX));
        assert_eq!(c["transport"]["config"]["sasl.username"], "alice");
        let mut shown = c.clone();
        redact(&mut shown);
        assert_eq!(shown["transport"]["config"]["sasl.password"], MASK);
        assert_eq!(shown["transport"]["config"]["sasl.username"], "alice");
        let resolved = s.resolve(&c.to_string()).unwrap();
        assert_eq!(resolved["transport"]["config"]["sasl.password"], "pw-0001");
    }

    #[test]
    fn a_mask_keeps_the_stored_value_and_is_refused_without_one() {
        let s = Secrets::default();
        let mut stored = config(json!({"sasl.password": "pw-0002"}));
        s.seal(&mut stored);
        let mut request = config(json!({"sasl.password": MASK}));
        s.unmask(&mut request, Some(&stored)).unwrap();
        assert_eq!(request["transport"]["config"]["sasl.password"], "pw-0002");

        let mut request = config(json!({"sasl.password": MASK}));
        let err = s.unmask(&mut request, None).unwrap_err();
        assert!(err.to_string().contains("sasl.password"), "{err}");

        let mut request =
            config(json!({"sasl.password": stored["transport"]["config"]["sasl.password"]}));
        assert!(
            s.unmask(&mut request, None).is_err(),
            "a client may not send sealed values"
        );
    }

    #[test]
    fn references_resolve_from_files_and_name_the_missing_secret() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kafka-pass"), "from-file\n").unwrap();
        std::fs::create_dir_all(dir.path().join("kubernetes/kafka")).unwrap();
        std::fs::write(dir.path().join("kubernetes/kafka/password"), "from-k8s").unwrap();
        let s = secrets(dir.path());
        let c = config(json!({
            "sasl.password": "${secret:kafka-pass}",
            "sasl.username": "${secret:kubernetes:kafka/password}",
        }));
        let resolved = s.resolve(&c.to_string()).unwrap();
        assert_eq!(
            resolved["transport"]["config"]["sasl.password"],
            "from-file"
        );
        assert_eq!(resolved["transport"]["config"]["sasl.username"], "from-k8s");
        // References are stored as written.
        let mut stored = c.clone();
        s.seal(&mut stored);
        assert_eq!(stored, c);

        let missing = config(json!({"sasl.password": "${secret:nope}"}));
        let err = s.resolve(&missing.to_string()).unwrap_err();
        assert!(
            err.contains("${secret:nope}") && err.contains("sasl.password"),
            "{err}"
        );
        let (checked, warnings) = s.for_validation(&missing).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(
            checked["transport"]["config"]["sasl.password"],
            "unresolved-reference"
        );
    }

    #[test]
    fn environment_references_need_the_operators_prefix() {
        let s = Secrets::default();
        let mut c = config(json!({"sasl.password": "${env:HOME}"}));
        assert!(s.unmask(&mut c, None).is_err());
        let s = Secrets {
            env_prefix: Some("SLUICE_SECRET_".into()),
            ..Secrets::default()
        };
        let err = s.unmask(&mut c, None).unwrap_err();
        assert!(err.to_string().contains("SLUICE_SECRET_"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_out_of_an_allowed_directory_fails_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = dir.path().join("tls");
        std::fs::create_dir_all(&allowed).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", allowed.join("ca.pem")).unwrap();
        let s = Secrets {
            policy: KafkaOptionPolicy {
                allow_code_execution: false,
                file_dirs: vec![allowed.clone()],
            },
            ..Secrets::default()
        };
        let c = config(json!({"ssl.ca.location": allowed.join("ca.pem")}));
        let (_, warnings) = s.for_validation(&c).unwrap();
        assert!(warnings.is_empty());
        let err = s.resolve(&c.to_string()).unwrap_err();
        assert!(err.contains("not under an allowed directory"), "{err}");
    }
}
