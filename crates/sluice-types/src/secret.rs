//! Which connector options are secrets, which are dangerous, and how a value refers to a secret kept elsewhere.
//!
//! Three decisions live here, all pure (no I/O), so that the server (which stores configs), the transports (which
//! log librdkafka's messages) and the binary (which writes the log) agree on them:
//!
//! - [`is_secret_option`]: options whose value is a credential. The server stores them encrypted and shows them as
//!   [`MASK`]; they are never logged.
//! - [`kafka_option_risk`] and [`KafkaOptionPolicy`]: librdkafka options that run a command, load a shared library,
//!   or read a file of the server. A connector writer is not necessarily the server's operator, so the first two are
//!   refused unless the operator enabled them, and file paths must lie under directories the operator named.
//! - [`SecretRef`]: `${secret:NAME}`, `${secret:kubernetes:NAME/KEY}` and `${env:NAME}` values (Feldera's syntax),
//!   stored and shown as written and resolved only when a pipeline starts.
//!
//! [`redact`] is the process-wide list of secret values this process has seen, scrubbed from any text (log lines,
//! error bodies, stats) before it leaves the process.

pub mod redact;

use std::path::{Component, Path, PathBuf};

/// What a secret option's value is shown as.
pub const MASK: &str = "********";

/// librdkafka options whose value is a credential, from librdkafka's CONFIGURATION.md (2.12): passwords, client
/// secrets, private keys and their passphrases, and `sasl.oauthbearer.config` (which may carry a token's claims and
/// signing secret). Certificates and user names are not secrets and stay visible.
const SECRET_OPTIONS: &[&str] = &[
    "sasl.password",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.client.credentials.client.secret",
    "sasl.oauthbearer.config",
    "sasl.oauthbearer.assertion.private.key.passphrase",
    "sasl.oauthbearer.assertion.private.key.pem",
    "ssl.key.password",
    "ssl.key.pem",
    "ssl.keystore.password",
];

/// Whether the value of option `key` is a credential: one of librdkafka's credential options, or any option whose
/// last name part is `password`, `secret` or `passphrase` (so that options added by later librdkafka releases are
/// covered too).
pub fn is_secret_option(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase();
    SECRET_OPTIONS.contains(&key.as_str())
        || key
            .rsplit(['.', '_'])
            .next()
            .is_some_and(|last| matches!(last, "password" | "secret" | "passphrase"))
}

/// Why a librdkafka option is dangerous in the hands of whoever may write a connector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionRisk {
    /// The option runs a command or loads native code into the server process.
    RunsCode(&'static str),
    /// The option names a file of the server that librdkafka reads.
    ReadsFile,
    /// librdkafka pastes the value into the default Kerberos `kinit` shell command line.
    InShellCommand,
}

/// The risk of librdkafka option `key`, if it has one.
pub fn kafka_option_risk(key: &str) -> Option<OptionRisk> {
    let risk = match key.trim() {
        "sasl.kerberos.kinit.cmd" => {
            OptionRisk::RunsCode("it is a shell command that librdkafka runs as the server's user")
        }
        "plugin.library.paths" => OptionRisk::RunsCode(
            "it makes librdkafka load shared libraries (native code) into the server process",
        ),
        "ssl.engine.location" => OptionRisk::RunsCode(
            "it makes OpenSSL load an engine (a shared library) into the server process",
        ),
        "ssl.providers" => OptionRisk::RunsCode(
            "it makes OpenSSL load provider modules (shared libraries) into the server process",
        ),
        "ssl.key.location"
        | "ssl.certificate.location"
        | "ssl.ca.location"
        | "https.ca.location"
        | "ssl.crl.location"
        | "ssl.keystore.location"
        | "sasl.oauthbearer.assertion.private.key.file"
        | "sasl.oauthbearer.assertion.file"
        | "sasl.oauthbearer.assertion.jwt.template.file"
        | "offset.store.path" => OptionRisk::ReadsFile,
        "sasl.kerberos.keytab" => OptionRisk::ReadsFile,
        "sasl.kerberos.principal" => OptionRisk::InShellCommand,
        _ => return None,
    };
    Some(risk)
}

/// What the server's operator allows connector writers to do with librdkafka options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KafkaOptionPolicy {
    /// Accept options that run commands or load libraries ([`OptionRisk::RunsCode`]). Off by default.
    pub allow_code_execution: bool,
    /// Directories under which file-path options may point. Empty: no file-path option is accepted.
    pub file_dirs: Vec<PathBuf>,
}

impl KafkaOptionPolicy {
    /// Checks one option; the error says why it is refused and what the operator can do.
    ///
    /// File paths are checked as written (absolute, no `..`, under an allowed directory); the server checks them
    /// again with symbolic links resolved when a pipeline starts.
    pub fn check(&self, key: &str, value: &str) -> Result<(), String> {
        match kafka_option_risk(key) {
            None => Ok(()),
            Some(OptionRisk::RunsCode(why)) if !self.allow_code_execution => Err(format!(
                "refused because {why}; the server's operator can allow such options with \
                 `sluice serve --allow-kafka-code-execution`"
            )),
            Some(OptionRisk::RunsCode(_)) => Ok(()),
            Some(OptionRisk::InShellCommand) => check_shell_safe(value),
            Some(OptionRisk::ReadsFile) => {
                if key == "sasl.kerberos.keytab" {
                    check_shell_safe(value)?;
                }
                if key == "ssl.ca.location" && value == "probe" {
                    // librdkafka's own search of the system's well-known CA paths.
                    return Ok(());
                }
                self.check_path(Path::new(value))
            }
        }
    }

    /// Whether `path`, as written, is absolute, free of `..` and under one of [`Self::file_dirs`].
    pub fn check_path(&self, path: &Path) -> Result<(), String> {
        if !path.is_absolute() {
            return Err(format!(
                "'{}' must be an absolute path under an allowed directory ({})",
                path.display(),
                self.dirs_text()
            ));
        }
        // `Path::components` drops inner `.` segments, so the text is checked as written.
        let text = path.to_string_lossy();
        if text
            .split('/')
            .any(|segment| segment == "." || segment == "..")
            || path.components().any(|c| c == Component::ParentDir)
        {
            return Err(format!(
                "'{}' must not contain '.' or '..' components",
                path.display()
            ));
        }
        if self.file_dirs.iter().any(|dir| path.starts_with(dir)) {
            Ok(())
        } else {
            Err(format!(
                "'{}' is not under an allowed directory ({}); the server's operator names them with \
                 `sluice serve --kafka-file-dir DIR`",
                path.display(),
                self.dirs_text()
            ))
        }
    }

    fn dirs_text(&self) -> String {
        if self.file_dirs.is_empty() {
            "none is allowed".to_string()
        } else {
            self.file_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

/// librdkafka's default `kinit` command line pastes `sasl.kerberos.principal` and `sasl.kerberos.keytab` into a
/// shell command: only characters that a shell takes literally are accepted there.
fn check_shell_safe(value: &str) -> Result<(), String> {
    let safe = |c: char| c.is_ascii_alphanumeric() || "._-/@+=:,".contains(c);
    match value.chars().find(|c| !safe(*c)) {
        None if !value.is_empty() => Ok(()),
        None => Err("must not be empty".to_string()),
        Some(c) => Err(format!(
            "contains {c:?}; librdkafka pastes this value into the kinit shell command, so only letters, digits \
             and . _ - / @ + = : , are accepted"
        )),
    }
}

/// A value that refers to a secret kept outside Sluice's database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretRef {
    /// `${secret:NAME}`: the file `NAME` in the server's secrets directory.
    File(String),
    /// `${secret:kubernetes:NAME/KEY}`: the file `kubernetes/NAME/KEY` there (a mounted Kubernetes secret).
    Kubernetes {
        /// The Kubernetes secret.
        name: String,
        /// The key inside it.
        key: String,
    },
    /// `${env:NAME}`: the server's environment variable `NAME`, where the operator allows it.
    Env(String),
}

impl SecretRef {
    /// `None` when `value` is not written as a reference (`${secret:` or `${env:` ... `}`); `Some(Err)` when it is
    /// but is malformed.
    pub fn parse(value: &str) -> Option<Result<SecretRef, String>> {
        let trimmed = value.trim();
        let (kind, body) = if let Some(rest) = trimmed.strip_prefix("${secret:") {
            ("secret", rest)
        } else if let Some(rest) = trimmed.strip_prefix("${env:") {
            ("env", rest)
        } else {
            return None;
        };
        let Some(body) = body.strip_suffix('}') else {
            return Some(Err(format!(
                "'{value}' starts like a secret reference but does not end with '}}'"
            )));
        };
        Some(Self::parse_body(kind, body).map_err(|why| {
            format!(
                "'{value}' is not a valid secret reference: {why} (write ${{secret:NAME}}, \
                 ${{secret:kubernetes:NAME/KEY}} or ${{env:NAME}})"
            )
        }))
    }

    fn parse_body(kind: &str, body: &str) -> Result<SecretRef, String> {
        if kind == "env" {
            return if !body.is_empty()
                && body.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                Ok(SecretRef::Env(body.to_string()))
            } else {
                Err("an environment variable name has only letters, digits and '_'".into())
            };
        }
        if let Some(rest) = body.strip_prefix("kubernetes:") {
            let (name, key) = rest
                .split_once('/')
                .ok_or("a Kubernetes reference is NAME/KEY")?;
            check_secret_name(name)?;
            check_secret_name(key)?;
            return Ok(SecretRef::Kubernetes {
                name: name.to_string(),
                key: key.to_string(),
            });
        }
        check_secret_name(body)?;
        Ok(SecretRef::File(body.to_string()))
    }

    /// The file this reference names, relative to the secrets directory; `None` for an environment variable.
    pub fn relative_path(&self) -> Option<PathBuf> {
        match self {
            SecretRef::File(name) => Some(PathBuf::from(name)),
            SecretRef::Kubernetes { name, key } => {
                Some(Path::new("kubernetes").join(name).join(key))
            }
            SecretRef::Env(_) => None,
        }
    }
}

impl std::fmt::Display for SecretRef {
    /// The reference as written in a config.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::File(name) => write!(f, "${{secret:{name}}}"),
            SecretRef::Kubernetes { name, key } => write!(f, "${{secret:kubernetes:{name}/{key}}}"),
            SecretRef::Env(name) => write!(f, "${{env:{name}}}"),
        }
    }
}

/// A secret or key name: 1 to 253 characters from letters, digits, `.`, `_` and `-`, not starting with `.` (so
/// it is one file name and never `..`).
fn check_secret_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a secret name (letters, digits, '.', '_' and '-', not starting with '.')"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_options_are_secret_and_others_are_not() {
        for key in [
            "sasl.password",
            "ssl.key.password",
            "ssl.key.pem",
            "ssl.keystore.password",
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.config",
            "some.future.password",
            "SASL.PASSWORD",
        ] {
            assert!(is_secret_option(key), "{key}");
        }
        for key in [
            "sasl.username",
            "bootstrap.servers",
            "ssl.certificate.pem",
            "ssl.ca.pem",
            "topic",
            "secretary",
        ] {
            assert!(!is_secret_option(key), "{key}");
        }
    }

    fn policy() -> KafkaOptionPolicy {
        KafkaOptionPolicy {
            allow_code_execution: false,
            file_dirs: vec![PathBuf::from("/etc/ssl/certs"), PathBuf::from("/srv/tls")],
        }
    }

    #[test]
    fn code_running_options_are_refused_unless_allowed() {
        for key in [
            "sasl.kerberos.kinit.cmd",
            "plugin.library.paths",
            "ssl.engine.location",
            "ssl.providers",
        ] {
            let err = policy().check(key, "anything").unwrap_err();
            assert!(err.contains("--allow-kafka-code-execution"), "{err}");
            let allowed = KafkaOptionPolicy {
                allow_code_execution: true,
                ..policy()
            };
            allowed.check(key, "anything").unwrap();
        }
    }

    #[test]
    fn file_paths_must_lie_under_an_allowed_directory() {
        let p = policy();
        p.check("ssl.ca.location", "/etc/ssl/certs/ca.pem").unwrap();
        p.check("ssl.key.location", "/srv/tls/client.key").unwrap();
        p.check("ssl.ca.location", "probe").unwrap();
        for bad in [
            "/etc/shadow",
            "relative/key.pem",
            "/srv/tls/../../etc/shadow",
            "/srv/tlsx/key",
            "/srv/tls/./key",
        ] {
            assert!(p.check("ssl.key.location", bad).is_err(), "{bad}");
        }
        let none = KafkaOptionPolicy::default();
        let err = none
            .check("ssl.ca.location", "/etc/ssl/certs/ca.pem")
            .unwrap_err();
        assert!(err.contains("none is allowed"), "{err}");
    }

    #[test]
    fn kinit_arguments_must_be_shell_literals() {
        let p = policy();
        p.check(
            "sasl.kerberos.principal",
            "kafka/host.example.com@EXAMPLE.COM",
        )
        .unwrap();
        for bad in [
            "a; touch /tmp/x",
            "$(id)",
            "`id`",
            "a b",
            "x\"y",
            "a|b",
            "a&b",
            "",
        ] {
            assert!(p.check("sasl.kerberos.principal", bad).is_err(), "{bad:?}");
        }
        assert!(p
            .check("sasl.kerberos.keytab", "/srv/tls/\"; id; \"")
            .is_err());
        p.check("sasl.kerberos.keytab", "/srv/tls/client.keytab")
            .unwrap();
    }

    #[test]
    fn references_parse_and_print_back() {
        for (text, want) in [
            ("${secret:kafka-pass}", SecretRef::File("kafka-pass".into())),
            (
                "${secret:kubernetes:kafka/password}",
                SecretRef::Kubernetes {
                    name: "kafka".into(),
                    key: "password".into(),
                },
            ),
            ("${env:KAFKA_PASS}", SecretRef::Env("KAFKA_PASS".into())),
        ] {
            let parsed = SecretRef::parse(text).unwrap().unwrap();
            assert_eq!(parsed, want);
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!(SecretRef::parse("hunter2"), None);
        assert_eq!(SecretRef::parse("$secret:x"), None);
        for bad in [
            "${secret:}",
            "${secret:../etc/passwd}",
            "${secret:a/b}",
            "${secret:.hidden}",
            "${secret:x",
            "${env:A-B}",
            "${secret:kubernetes:a}",
            "${secret:kubernetes:../x/y}",
        ] {
            assert!(SecretRef::parse(bad).unwrap().is_err(), "{bad}");
        }
        assert_eq!(
            SecretRef::parse("${secret:kubernetes:kafka/password}")
                .unwrap()
                .unwrap()
                .relative_path(),
            Some(PathBuf::from("kubernetes/kafka/password"))
        );
    }
}
