//! API-key authentication: `Authorization: Bearer apikey:<key>` on every `/v0` request when enabled. How keys
//! are made, stored and compared is in [`crate::store::api_keys`].
//!
//! A key has scopes: `Read` lets it read (`GET`, and the egress stream, which only reads), `Write` lets it change
//! anything (every other method, ingress included). A request whose key lacks the scope it needs is 403
//! `InsufficientPermissions`.

use axum::extract::Request;
use axum::http::header;

use super::error::ApiError;
use crate::model::api_keys::ApiPermission;
use crate::store::api_keys::KEY_PREFIX;

/// Whether `/v0` requests need a key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthMode {
    /// No authentication; the server binds to loopback unless told otherwise.
    #[default]
    None,
    /// Every `/v0` request needs a valid API key.
    ApiKey,
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
pub(super) fn bearer_key(request: &Request) -> Result<&str, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
