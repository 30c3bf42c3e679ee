//! API-key authentication: `Authorization: Bearer apikey:<key>` on every `/v0` request when enabled.
//!
//! A key is `apikey:` followed by 128 alphanumeric characters drawn from a CSPRNG (rand's thread RNG, a
//! ChaCha generator seeded from the OS). Only its SHA-256 hash (hex, of the whole `apikey:...` string) is stored.
//! A request's key is hashed and compared with every stored hash in constant time (`subtle`), without an early
//! exit, so the time taken says nothing about how close a guess was.
//!
//! A key has scopes: `Read` lets it read (`GET`, and the egress stream, which only reads), `Write` lets it change
//! anything (every other method, ingress included). A request whose key lacks the scope it needs is 403
//! `InsufficientPermissions`.

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

/// Creates and stores a key called `name` with `scopes` (both when empty); the returned key text is shown once and
/// never again.
pub async fn create_api_key(
    db: &Db,
    name: &str,
    scopes: &[ApiPermission],
) -> Result<NewApiKey, ApiError> {
    validate_name(name)?;
    let key = generate_key();
    let mut scopes = if scopes.is_empty() {
        vec![ApiPermission::Read, ApiPermission::Write]
    } else {
        scopes.to_vec()
    };
    scopes.sort_by_key(|s| *s as u8);
    scopes.dedup();
    let id = api_keys::create(db, name, &hash_key(&key), &scopes).await?;
    Ok(NewApiKey {
        api_key_id: id,
        name: name.to_string(),
        api_key: key,
    })
}

/// The scopes of `key` when it is one of the stored keys. Every stored hash is compared, in constant time.
pub async fn key_scopes(db: &Db, key: &str) -> Result<Option<Vec<ApiPermission>>, ApiError> {
    let candidate = hash_key(key);
    let mut matched = None;
    for (stored, scopes) in api_keys::hashes_and_scopes(db).await? {
        let equal = stored.as_bytes().ct_eq(candidate.as_bytes());
        if bool::from(equal) {
            matched = Some(scopes);
        }
    }
    Ok(matched)
}

/// Whether `key` is one of the stored keys.
pub async fn key_is_valid(db: &Db, key: &str) -> Result<bool, ApiError> {
    Ok(key_scopes(db, key).await?.is_some())
}

/// The scope a request needs: `Read` for what only reads (`GET`, `HEAD`, `OPTIONS`, and the egress stream, a
/// `POST` that reads a view), `Write` for everything else.
pub fn needed_scope(method: &axum::http::Method, path: &str) -> ApiPermission {
    use axum::http::Method;
    let reads = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || (*method == Method::POST && is_egress(path));
    if reads {
        ApiPermission::Read
    } else {
        ApiPermission::Write
    }
}

/// `/v0/pipelines/{name}/egress/{view}`.
fn is_egress(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    matches!(parts.as_slice(), ["", "v0", "pipelines", _, "egress", _])
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
/// `/metrics` too when `metrics_need_key`.
pub fn is_protected(path: &str, metrics_need_key: bool) -> bool {
    path == "/v0" || path.starts_with("/v0/") || (metrics_need_key && path == "/metrics")
}

/// Middleware on every request when [`AuthMode::ApiKey`] is on: a request under `/v0` ([`is_protected`]) is 401
/// unless it carries a stored key, and 403 when the key lacks the scope the request needs; other paths pass.
pub async fn require_api_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let path = request.uri().path();
    if !is_protected(path, state.config().metrics_need_key) {
        return Ok(next.run(request).await);
    }
    let key = bearer_key(&request)?;
    let scopes = key_scopes(state.db(), key)
        .await?
        .ok_or(ApiError::InvalidKey)?;
    let needed = needed_scope(request.method(), path);
    if !scopes.contains(&needed) {
        return Err(ApiError::InsufficientPermissions {
            needed: format!("{needed:?}"),
            action: format!("{} {path}", request.method()),
        });
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
    fn reads_need_read_and_everything_else_needs_write() {
        use axum::http::Method;
        for (method, path) in [
            (Method::GET, "/v0/connectors"),
            (Method::GET, "/v0/pipelines/p/stats"),
            (Method::POST, "/v0/pipelines/p/egress/v"),
        ] {
            assert_eq!(
                needed_scope(&method, path),
                ApiPermission::Read,
                "{method} {path}"
            );
        }
        for (method, path) in [
            (Method::POST, "/v0/connectors"),
            (Method::PUT, "/v0/connectors/c"),
            (Method::DELETE, "/v0/api_keys/k"),
            (Method::POST, "/v0/pipelines/p/ingress/t"),
            (Method::POST, "/v0/pipelines/p/start"),
            (Method::POST, "/v0/pipelines/egress/egress/x/y"),
        ] {
            assert_eq!(
                needed_scope(&method, path),
                ApiPermission::Write,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn the_whole_v0_prefix_is_protected() {
        for path in ["/v0", "/v0/", "/v0/connectors", "/v0/nothing/at/all"] {
            assert!(is_protected(path, false), "{path}");
        }
        assert!(is_protected("/metrics", true));
        for path in [
            "/",
            "/healthz",
            "/metrics",
            "/v0x",
            "/v1/connectors",
            "/api-doc/openapi.json",
        ] {
            assert!(!is_protected(path, false), "{path}");
        }
    }
}
