//! The web console: a single-page application over the same `/v0` API as every other client, served by
//! `sluice serve` at `/`.
//!
//! Its files are plain HTML, CSS and ES modules in `assets/`, written for this project and compiled into the binary
//! with `include_bytes!`: there is no build step, no package to fetch at build or run time, and the console a binary
//! serves is always the one it was built with. The app holds no privileges of its own; it sends the user's API key
//! (when the server wants one) like any client, so the server's checks are the only checks.
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles and connections from this origin only,
//! no inline code, no framing): the console shows data that pipelines and users wrote, and the policy keeps a
//! string that slipped into the DOM from ever running.
//!
//! Depends on axum only: it must not depend on tokio directly, rdkafka, dbsp, datafusion, sqlx or any other Sluice
//! crate (the server merges its router; the console reaches the rest only over HTTP).

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One embedded file.
pub struct Asset {
    /// Its name under `/console/`.
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes, as built into the binary.
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../assets/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The page itself, served at `/`.
pub const INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");

/// Every file the page loads, served at `/console/{name}`.
pub const ASSETS: &[Asset] = &[
    asset!("console.css", CSS),
    asset!("chart.css", CSS),
    asset!("editor.css", CSS),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("chart.js", JS),
    asset!("editor.js", JS),
    asset!("pipelines.js", JS),
    asset!("pipeline_page.js", JS),
    asset!("live.js", JS),
    asset!("programs.js", JS),
    asset!("connectors.js", JS),
];

/// What the browser may do with the console's pages: load and connect to this origin only, run no inline code, and
/// not be framed by another site.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The console's routes: `GET /` and `GET /console/{name}` for each of [`ASSETS`]. Any other path is left to the
/// router it is merged into, so that an unknown file gets the server's own JSON 404.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let index = get(|| async { serve(&INDEX) });
    ASSETS
        .iter()
        .fold(Router::new().route("/", index), |router, asset| {
            router.route(
                &format!("/console/{}", asset.name),
                get(move || async move { serve(asset) }),
            )
        })
}

fn serve(asset: &'static Asset) -> Response {
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        ),
        // Small files that change only with the binary: a revalidation is cheap and never shows a stale console.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ];
    (headers, asset.bytes).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    fn text(asset: &Asset) -> &'static str {
        std::str::from_utf8(asset.bytes).expect("assets are UTF-8")
    }

    /// Every `/console/...` reference in the page and the modules names an embedded file, and every embedded file is
    /// referenced: a file renamed on one side only would be a 404 in the browser.
    #[test]
    fn every_reference_is_embedded_and_every_file_referenced() {
        let names: Vec<&str> = ASSETS.iter().map(|a| a.name).collect();
        let mut referenced = std::collections::BTreeSet::new();
        for source in std::iter::once(&INDEX).chain(ASSETS.iter()) {
            let body = text(source);
            for (at, _) in body.match_indices("/console/") {
                let rest = &body[at + "/console/".len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
                    .unwrap_or(rest.len());
                referenced.insert(&rest[..end]);
            }
            // Modules import each other relatively (`./api.js`).
            for (at, _) in body.match_indices("from './") {
                let rest = &body[at + "from './".len()..];
                referenced.insert(&rest[..rest.find('\'').unwrap_or(rest.len())]);
            }
        }
        for name in &referenced {
            assert!(
                names.contains(name),
                "{name} is referenced but not embedded"
            );
        }
        for name in &names {
            assert!(
                referenced.contains(name),
                "{name} is embedded but never referenced"
            );
        }
    }

    /// The page holds no inline script or style, which the policy would block.
    #[test]
    fn the_page_has_no_inline_code() {
        let page = text(&INDEX);
        assert!(
            !page.contains(" style="),
            "inline style attribute in index.html"
        );
        assert!(
            !page.contains("<style"),
            "inline style element in index.html"
        );
        for (at, _) in page.match_indices("<script") {
            let tag = &page[at..at + page[at..].find('>').unwrap()];
            assert!(tag.contains(" src="), "inline script in index.html: {tag}");
        }
        for (at, _) in page.match_indices(" on") {
            let name: String = page[at + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            let after = page[at + 1 + name.len()..].trim_start();
            assert!(
                !after.starts_with('='),
                "inline event handler in index.html: {name}"
            );
        }
    }

    #[tokio::test]
    async fn serves_the_page_and_its_files_with_the_policy() {
        let app: Router = router();
        for (path, asset) in std::iter::once(("/".to_string(), &INDEX))
            .chain(ASSETS.iter().map(|a| (format!("/console/{}", a.name), a)))
        {
            let response = app
                .clone()
                .oneshot(Request::get(&path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let headers = response.headers();
            assert_eq!(headers[header::CONTENT_TYPE], asset.content_type, "{path}");
            assert_eq!(
                headers[header::CONTENT_SECURITY_POLICY],
                CONTENT_SECURITY_POLICY
            );
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        }
        let missing = app
            .oneshot(
                Request::get("/console/nope.js")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }
}
