//! Extractors that answer every malformed request with the API's JSON error shape.
//!
//! [`ApiJson`] replaces axum's `Json`: a missing or non-JSON `Content-Type` is 415 `UnsupportedMediaType`, a body
//! over the limit 413 `PayloadTooLarge`, and a body that does not deserialize 400 with one of the
//! [`BodyErrorCode`]s, naming the field by its dotted path (`config.transport.config.topic`) through
//! `serde_path_to_error`. [`ApiQuery`] and [`NamePath`] do the same for query strings and path names. (Ingress
//! bodies are streamed instead: `api::ingress_body`.)

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use super::error::{ApiError, BodyErrorCode};
use super::state::AppState;
use crate::model::decode::{path_text, serde_reason};
use crate::model::names::validate_name;

/// A JSON request body of type `T`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if !is_json_content_type(&content_type) {
            return Err(ApiError::UnsupportedMediaType { content_type });
        }
        let bytes = read_body(req, state, |reason| {
            ApiError::body(BodyErrorCode::InvalidJson, "", reason)
        })
        .await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Reads the whole body: a body over the limit is 413 `PayloadTooLarge`, any other failure to read it
/// `unreadable(reason)`.
async fn read_body(
    req: Request,
    state: &AppState,
    unreadable: impl FnOnce(String) -> ApiError,
) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                limit_bytes: state.max_body_bytes(),
            }
        } else {
            unreadable(e.body_text())
        }
    })
}

fn is_json_content_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Deserializes `bytes` as `T`, classifying the failure and naming the field path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // PostgreSQL's text cannot hold NUL, and every string of a body may be stored: refused here, on both backends.
    if bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return Err(ApiError::body(
            BodyErrorCode::InvalidValue,
            "",
            "a string holds the NUL character (\\u0000), which cannot be stored",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = path_text(e.path());
        body_error(path, e.into_inner())
    })?;
    de.end().map_err(|e| body_error(String::new(), e))?;
    Ok(value)
}

fn body_error(path: String, e: serde_json::Error) -> ApiError {
    let reason = serde_reason(&e);
    let code = match e.classify() {
        serde_json::error::Category::Data => {
            if reason.starts_with("missing field") {
                BodyErrorCode::MissingField
            } else if reason.starts_with("unknown field") {
                BodyErrorCode::UnknownField
            } else if reason.starts_with("invalid type") {
                BodyErrorCode::InvalidType
            } else {
                BodyErrorCode::InvalidValue
            }
        }
        _ => BodyErrorCode::InvalidJson,
    };
    // serde reports a missing field at its parent; name the field itself.
    let path = match (code, reason.split('`').nth(1)) {
        (BodyErrorCode::MissingField, Some(field)) if path.is_empty() => field.to_string(),
        (BodyErrorCode::MissingField, Some(field)) => format!("{path}.{field}"),
        _ => path,
    };
    ApiError::body(code, path, reason)
}

/// A query string of type `T`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| ApiError::InvalidQuery {
                reason: e.body_text(),
            })
    }
}

/// The `{name}` segment of a path, checked against the naming rule.
pub struct NamePath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for NamePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(segments) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::InvalidName {
                name: parts.uri.path().to_string(),
                reason: e.body_text(),
            })?;
        let name = segments
            .into_iter()
            .find(|(key, _)| key == "name")
            .map(|(_, v)| v)
            .ok_or_else(|| ApiError::Internal("route without a {name} segment".into()))?;
        validate_name(&name)?;
        Ok(NamePath(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    fn code_and_path(body: &str) -> (&'static str, String) {
        match parse_json::<Outer>(body.as_bytes()).unwrap_err() {
            e @ ApiError::InvalidBody { .. } => {
                let path = e.details()["path"].as_str().unwrap().to_string();
                (e.code(), path)
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn body_errors_are_classified_with_their_path() {
        assert_eq!(code_and_path("{"), ("InvalidJson", "".into()));
        assert_eq!(
            code_and_path(r#"{"inner": {"n": 1}} x"#),
            ("InvalidJson", "".into())
        );
        assert_eq!(code_and_path("{}"), ("MissingField", "inner".into()));
        assert_eq!(
            code_and_path(r#"{"inner": {}}"#),
            ("MissingField", "inner.n".into())
        );
        assert_eq!(
            code_and_path(r#"{"inner": {"n": "1"}}"#),
            ("InvalidType", "inner.n".into())
        );
        assert_eq!(
            code_and_path(r#"{"inner": {"n": -1}}"#),
            ("InvalidValue", "inner.n".into())
        );
        assert_eq!(
            code_and_path(r#"{"inner": {"n": 1, "m": 2}}"#),
            ("UnknownField", "inner.m".into())
        );
    }

    #[test]
    fn json_content_types() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=utf-8"));
        assert!(is_json_content_type("application/problem+json"));
        assert!(!is_json_content_type("text/plain"));
        assert!(!is_json_content_type(""));
    }
}
