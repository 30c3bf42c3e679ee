//! The server's secret key, and sealing (authenticated encryption) of the secret option values stored in the
//! database.
//!
//! A secret typed into a connector config must be stored somewhere the server can read it back when a pipeline
//! starts; it must not be readable from the database (a backup, a `pg_dump`, a copied SQLite file). So each such
//! value is sealed with ChaCha20-Poly1305 under a 256-bit key that lives in a file of its own (mode 0600, created
//! on first start), with a fresh random nonce per value and the option's name as associated data (a sealed value
//! moved to another option does not open). The sealed form is text: [`SEALED_PREFIX`] + base64(nonce ‖ ciphertext
//! ‖ tag).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

/// How a sealed value starts.
pub const SEALED_PREFIX: &str = "sluice-sealed:v1:";

const KEY_LEN: usize = 32;

/// Why the key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading, creating or writing the file failed.
    #[error("secret key file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The file does not hold a key.
    #[error("secret key file {}: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The key that seals stored secrets. Cheap to clone; never printed.
#[derive(Clone)]
pub struct SecretKey {
    key: Arc<LessSafeKey>,
    /// Where it came from, for error messages (`None`: made for this process only).
    origin: Option<PathBuf>,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl SecretKey {
    fn from_bytes(bytes: &[u8], origin: Option<PathBuf>) -> SecretKey {
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, bytes).expect("a 32-byte key");
        SecretKey {
            key: Arc::new(LessSafeKey::new(unbound)),
            origin,
        }
    }

    /// A random key that lives as long as this process: values it sealed cannot be opened after a restart. For
    /// tests and embedded servers without a data directory; `sluice serve` always uses a key file.
    pub fn ephemeral() -> SecretKey {
        SecretKey::from_bytes(&random_bytes::<KEY_LEN>(), None)
    }

    /// The key in `path` (64 hex digits); when the file does not exist, a new random key is written there, readable
    /// by the owner only.
    pub fn load_or_create(path: &Path) -> Result<SecretKey, KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = decode_hex(text.trim()).ok_or_else(|| KeyFileError::Malformed {
                    path: path.to_path_buf(),
                    reason: format!("expected {} hex digits", KEY_LEN * 2),
                })?;
                Ok(SecretKey::from_bytes(&bytes, Some(path.to_path_buf())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let bytes = random_bytes::<KEY_LEN>();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(io)?;
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                file.write_all(format!("{hex}\n").as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(io)?;
                tracing::info!(path = %path.display(), "Created the key that seals stored secrets.");
                Ok(SecretKey::from_bytes(&bytes, Some(path.to_path_buf())))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// `plain` sealed for option `option`.
    pub fn seal(&self, option: &str, plain: &str) -> String {
        let nonce = random_bytes::<NONCE_LEN>();
        let mut buffer = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(option.as_bytes()),
                &mut buffer,
            )
            .expect("sealing cannot fail for a value this size");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buffer);
        format!("{SEALED_PREFIX}{}", BASE64.encode(out))
    }

    /// The value sealed in `sealed` for option `option`.
    pub fn open(&self, option: &str, sealed: &str) -> Result<String, String> {
        let failed = || {
            format!(
                "the stored value of '{option}' cannot be decrypted with {}; the key was changed or lost: set \
                 the value again",
                match &self.origin {
                    Some(path) => format!("the key in {}", path.display()),
                    None => "this process's key".to_string(),
                }
            )
        };
        let body = sealed.strip_prefix(SEALED_PREFIX).ok_or_else(failed)?;
        let bytes = BASE64.decode(body).map_err(|_| failed())?;
        if bytes.len() < NONCE_LEN {
            return Err(failed());
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| failed())?;
        let mut buffer = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(option.as_bytes()), &mut buffer)
            .map_err(|_| failed())?;
        String::from_utf8(plain.to_vec()).map_err(|_| failed())
    }
}

/// Whether `value` is a sealed value.
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(SEALED_PREFIX)
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .expect("the operating system's random number generator");
    out
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != KEY_LEN * 2 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_the_same_key_and_option_only() {
        let key = SecretKey::ephemeral();
        let sealed = key.seal("sasl.password", "hunter2-hunter2");
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("hunter2"));
        assert_eq!(
            key.open("sasl.password", &sealed).unwrap(),
            "hunter2-hunter2"
        );
        assert_ne!(
            sealed,
            key.seal("sasl.password", "hunter2-hunter2"),
            "nonces differ"
        );
        assert!(key.open("ssl.key.password", &sealed).is_err());
        assert!(SecretKey::ephemeral()
            .open("sasl.password", &sealed)
            .is_err());
        assert!(key.open("sasl.password", "sluice-sealed:v1:AAAA").is_err());
    }

    #[test]
    fn the_key_file_is_created_once_owner_only_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/secret.key");
        let first = SecretKey::load_or_create(&path).unwrap();
        let sealed = first.seal("sasl.password", "pw-1234");
        let again = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(again.open("sasl.password", &sealed).unwrap(), "pw-1234");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key").unwrap();
        let err = SecretKey::load_or_create(&path).unwrap_err();
        assert!(err.to_string().contains("hex digits"), "{err}");
    }
}
