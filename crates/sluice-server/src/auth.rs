//! API-key authentication: `Authorization: Bearer apikey:<key>` on every `/v0` request when enabled.
//!
//! A key is `apikey:` followed by 128 alphanumeric characters drawn from a CSPRNG (rand's thread RNG, a
//! ChaCha generator seeded from the OS). Only its SHA-256 hash (hex, of the whole `apikey:...` string) is stored.
//! A request's key is hashed and compared with every stored hash in constant time (`subtle`), without an early
//! exit, so the time taken says nothing about how close a guess was.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::api_keys::{ApiPermission, NewApiKey};
use crate::db::{api_keys, Db};
use crate::error::ApiError;
use crate::names::validate_name;
use crate::AppState;

/// Whether `/v0` requests need a key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthMode {
    /// No authentication; the server binds to loopback unless told otherwise.
    #[default]
    None,
    /// Every `/v0` request needs a valid API key.
    ApiKey,
}

/// The prefix of every key.
pub const KEY_PREFIX: &str = "apikey:";
const KEY_RANDOM_CHARS: usize = 128;

/// A fresh key: `apikey:` + 128 random alphanumeric characters.
pub fn generate_key() -> String {
    let random = Alphanumeric.sample_string(&mut rand::rng(), KEY_RANDOM_CHARS);
    format!("{KEY_PREFIX}{random}")
}

/// The stored form of a key: SHA-256 of the full key text, lower-case hex.
pub fn hash_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates and stores a key called `name`; the returned key text is shown once and never again.
pub async fn create_api_key(db: &Db, name: &str) -> Result<NewApiKey, ApiError> {
    validate_name(name)?;
    let key = generate_key();
    let scopes = [ApiPermission::Read, ApiPermission::Write];
    let id = api_keys::create(db, name, &hash_key(&key), &scopes).await?;
    Ok(NewApiKey {
        api_key_id: id,
        name: name.to_string(),
        api_key: key,
    })
}

/// Whether `key` is one of the stored keys.
pub async fn key_is_valid(db: &Db, key: &str) -> Result<bool, ApiError> {
    let candidate = hash_key(key);
    let mut found = subtle::Choice::from(0);
    for stored in api_keys::hashes(db).await? {
        found |= stored.as_bytes().ct_eq(candidate.as_bytes());
    }
    Ok(bool::from(found))
}

/// The key of an `Authorization: Bearer apikey:...` header.
fn bearer_key(request: &Request) -> Result<&str, ApiError> {
    let missing = |reason: &str| ApiError::MissingCredentials {
        reason: reason.to_string(),
    };
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| missing("send 'Authorization: Bearer apikey:<key>'"))?
        .to_str()
        .map_err(|_| missing("the Authorization header is not ASCII"))?;
    let (scheme, token) = header
        .split_once(' ')
        .ok_or_else(|| missing("the Authorization header must be 'Bearer apikey:<key>'"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(missing("the Authorization scheme must be 'Bearer'"));
    }
    let token = token.trim();
    if !token.starts_with(KEY_PREFIX) {
        return Err(missing(
            "the bearer token must be an API key: 'apikey:<key>'",
        ));
    }
    Ok(token)
}

/// Whether `path` is under `/v0`, the prefix API-key auth protects: every route there, and also unknown paths
/// and wrong methods, so that without a key nothing about the API can be learnt (not even which routes exist).
pub fn is_protected(path: &str) -> bool {
    path == "/v0" || path.starts_with("/v0/")
}

/// Middleware on every request when [`AuthMode::ApiKey`] is on: a request under `/v0` ([`is_protected`]) is 401
/// unless it carries a stored key; other paths pass.
pub async fn require_api_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if !is_protected(request.uri().path()) {
        return Ok(next.run(request).await);
    }
    let key = bearer_key(&request)?;
    if !key_is_valid(state.db(), key).await? {
        return Err(ApiError::InvalidKey);
    }
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_prefixed() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), KEY_PREFIX.len() + KEY_RANDOM_CHARS);
        assert!(a[KEY_PREFIX.len()..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn hash_is_sha256_hex() {
        // The FIPS 180-2 test vector for "abc".
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_whole_v0_prefix_is_protected() {
        for path in ["/v0", "/v0/", "/v0/connectors", "/v0/nothing/at/all"] {
            assert!(is_protected(path), "{path}");
        }
        for path in [
            "/",
            "/healthz",
            "/metrics",
            "/v0x",
            "/v1/connectors",
            "/api-doc/openapi.json",
        ] {
            assert!(!is_protected(path), "{path}");
        }
    }
}
