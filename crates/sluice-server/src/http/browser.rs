//! What a web browser may do with a server that has no authentication (`--auth none`), and CORS.
//!
//! Without authentication, the server trusts whoever can reach its port, which by default is loopback only. A
//! browser on the same machine is a way around that: any web page can make it send a "simple" cross-origin request
//! (a form POST, a `text/plain` body) to `http://127.0.0.1:8080`, and a DNS-rebinding page can even read the
//! answers, under its own host name. [`check`] (run by [`super::middleware::browser_guard`]) therefore refuses, with a JSON 403:
//! - a `Host` that is not a loopback name (`localhost`, `*.localhost`, `127.0.0.0/8`, `[::1]`) or one the operator
//!   listed (`--allowed-host`): a rebound name is not;
//! - an `Origin` that is neither the server's own (the origin whose host and port are the request's `Host`) nor one
//!   the operator allowed for CORS (`--cors-origin`);
//! - a request a browser marks as sent from another site (`Sec-Fetch-Site: cross-site` or `same-site`, which covers
//!   requests browsers send without an `Origin`) unless its origin is allowed.
//!
//! Clients that are not browsers (curl, the SDKs) send neither `Origin` nor `Sec-Fetch-Site` and pass.
//! With `--auth api-key` a browser cannot attach the key to a cross-origin request without CORS allowing it, so only
//! [`cors_layer`] applies.

use std::net::IpAddr;

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::error::ApiError;

/// Which requests browsers may send.
#[derive(Clone, Debug, Default)]
pub struct BrowserPolicy {
    /// Host names besides the loopback ones that requests may name in `Host` without authentication (the names
    /// under which the operator serves the API), lower-case, without port.
    pub allowed_hosts: Vec<String>,
    /// Origins (`scheme://host[:port]`) whose pages may call the API from a browser (CORS).
    pub cors_origins: Vec<String>,
}

impl BrowserPolicy {
    fn origin_allowed(&self, origin: &str) -> bool {
        self.cors_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
    }

    fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host);
        is_loopback_name(&name)
            || self
                .allowed_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&name))
    }
}

/// The host part of a `Host` value (`[::1]:8080` → `::1`, `Example.com:80` → `example.com`).
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.to_ascii_lowercase()
}

fn is_loopback_name(name: &str) -> bool {
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `Origin` `scheme://host[:port]` is the server's own when its `host[:port]` is the request's `Host`.
fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    origin.split_once("://").is_some_and(|(scheme, authority)| {
        matches!(scheme, "http" | "https") && authority.eq_ignore_ascii_case(host.trim())
    })
}

fn header_text<'a>(request: &'a Request, name: &HeaderName) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

pub(super) fn check(policy: &BrowserPolicy, request: &Request) -> Result<(), ApiError> {
    let host = header_text(request, &header::HOST);
    if let Some(host) = host {
        if !policy.host_allowed(host) {
            return Err(ApiError::ForbiddenHost {
                host: host.to_string(),
            });
        }
    } else if request.headers().contains_key(header::HOST) {
        return Err(ApiError::ForbiddenHost {
            host: "(not ASCII)".to_string(),
        });
    }
    let origin = match request.headers().get(header::ORIGIN) {
        None => None,
        Some(value) => Some(value.to_str().unwrap_or("(not ASCII)")),
    };
    let origin_ok = origin.is_some_and(|o| same_origin(o, host) || policy.origin_allowed(o));
    if let Some(origin) = origin {
        if !origin_ok {
            return Err(ApiError::ForbiddenOrigin {
                origin: origin.to_string(),
            });
        }
    }
    let site = header_text(request, &HeaderName::from_static("sec-fetch-site"));
    if matches!(site, Some("cross-site" | "same-site")) && !origin_ok {
        return Err(ApiError::ForbiddenOrigin {
            origin: origin
                .map(str::to_string)
                .unwrap_or_else(|| format!("(none; Sec-Fetch-Site: {})", site.unwrap_or(""))),
        });
    }
    Ok(())
}

/// The CORS layer for the operator's origins; `None` when there are none (then browsers get no CORS headers and
/// keep other sites' pages from reading answers).
pub fn cors_layer(policy: &BrowserPolicy) -> Option<CorsLayer> {
    if policy.cors_origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = policy
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// Checks an operator-given origin: `http(s)://host[:port]`, nothing after.
pub fn validate_origin(origin: &str) -> Result<(), String> {
    let (scheme, authority) = origin
        .split_once("://")
        .ok_or_else(|| format!("'{origin}' is not an origin like https://console.example.com"))?;
    let ok = matches!(scheme, "http" | "https")
        && !authority.is_empty()
        && !authority.contains(['/', '?', '#', ' '])
        && HeaderValue::from_str(origin).is_ok();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{origin}' is not an origin: scheme http or https, then host[:port], with no path"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().method("POST").uri("/shutdown");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(Body::empty()).unwrap()
    }

    fn code(policy: &BrowserPolicy, headers: &[(&str, &str)]) -> Option<&'static str> {
        check(policy, &request(headers)).err().map(|e| e.code())
    }

    #[test]
    fn loopback_hosts_pass_and_rebound_names_do_not() {
        let p = BrowserPolicy::default();
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "[::1]:8080",
            "LOCALHOST",
            "app.localhost:1",
            "127.1.2.3",
        ] {
            assert_eq!(code(&p, &[("host", host)]), None, "{host}");
        }
        for host in [
            "evil.example.com:8080",
            "192.168.1.5:8080",
            "localhost.evil.com",
        ] {
            assert_eq!(code(&p, &[("host", host)]), Some("ForbiddenHost"), "{host}");
        }
        let p = BrowserPolicy {
            allowed_hosts: vec!["sluice.internal".into()],
            ..BrowserPolicy::default()
        };
        assert_eq!(code(&p, &[("host", "sluice.internal:8080")]), None);
    }

    #[test]
    fn only_the_servers_own_and_allowed_origins_pass() {
        let p = BrowserPolicy {
            cors_origins: vec!["https://console.example.com".into()],
            ..BrowserPolicy::default()
        };
        let host = ("host", "127.0.0.1:8080");
        assert_eq!(code(&p, &[host, ("origin", "http://127.0.0.1:8080")]), None);
        assert_eq!(
            code(&p, &[host, ("origin", "https://console.example.com")]),
            None
        );
        for origin in [
            "https://evil.example.com",
            "http://127.0.0.1:3000",
            "null",
            "http://localhost:8080",
        ] {
            assert_eq!(
                code(&p, &[host, ("origin", origin)]),
                Some("ForbiddenOrigin"),
                "{origin}"
            );
        }
        assert_eq!(
            code(&p, &[host, ("sec-fetch-site", "cross-site")]),
            Some("ForbiddenOrigin")
        );
        assert_eq!(
            code(&p, &[host, ("sec-fetch-site", "same-site")]),
            Some("ForbiddenOrigin")
        );
        assert_eq!(code(&p, &[host, ("sec-fetch-site", "same-origin")]), None);
        assert_eq!(code(&p, &[host, ("sec-fetch-site", "none")]), None);
        // curl and the SDKs send neither.
        assert_eq!(code(&p, &[host]), None);
    }

    #[test]
    fn operator_origins_are_checked() {
        validate_origin("https://console.example.com").unwrap();
        validate_origin("http://localhost:3000").unwrap();
        for bad in [
            "console.example.com",
            "https://x/path",
            "ftp://x",
            "https://",
        ] {
            assert!(validate_origin(bad).is_err(), "{bad}");
        }
    }
}
