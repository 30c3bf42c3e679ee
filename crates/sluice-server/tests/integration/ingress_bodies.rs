//! Ingress bodies of any size: parsed as they arrive, under their own limit (`max_ingress_bytes`), all or nothing.
//! A 2.2 MB NDJSON body (refused with 413 before, over the 2 MiB body limit) and a CSV body sent chunked in slices
//! that cut records and quoted line breaks anywhere are applied whole; a bad record near the end of a large body is
//! reported at its line in the whole body and nothing of it is applied; a body over the ingress limit is 413 with
//! or without a `Content-Length`; other requests keep `max_body_bytes`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use sluice_server::ServerConfig;

use crate::api_embedded::{body, completed, until};
use crate::common::{assert_error, Backend, Options, TestDb, TestServer};

both_backends!(large_ingress_bodies_are_parsed_as_they_arrive);

const LIMIT: u64 = 8 << 20;

/// The one row of the `totals` view.
async fn totals(s: &TestServer) -> Value {
    let text = s
        .text("/v0/pipelines/p/query?sql=SELECT%20n%2C%20total%2C%20longest%20FROM%20totals&format=json")
        .await;
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Posts `chunks` as one body sent chunked (no `Content-Length`).
async fn post_chunked(s: &TestServer, path: &str, chunks: Vec<Vec<u8>>) -> (u16, Value) {
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let response = s
        .client
        .post(s.url(path))
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    let code = response.status().as_u16();
    (code, response.json().await.unwrap())
}

async fn large_ingress_bodies_are_parsed_as_they_arrive(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start_with(
        &db,
        Options {
            max_body_bytes: 4096,
            config: ServerConfig {
                max_ingress_bytes: LIMIT,
                ..ServerConfig::default()
            },
            ..Options::default()
        },
    )
    .await;
    let program = "CREATE TABLE t (x BIGINT NOT NULL, s VARCHAR);\n\
        CREATE MATERIALIZED VIEW totals AS SELECT COUNT(*) AS n, SUM(x) AS total, MAX(CHAR_LENGTH(s)) AS longest FROM t;";
    let (code, p) = s.put("/v0/pipelines/p", body(program)).await;
    assert_eq!(code, 201, "{p}");
    let (code, _) = s.post_empty("/v0/pipelines/p/start").await;
    assert_eq!(code, 202);
    until(&s, "p", "deployment_status", "Running").await;

    // 20,000 NDJSON records in 2.2 MB: over the old 2 MiB limit, and 500 times `max_body_bytes`.
    let text = |i: i32| {
        format!("record {i:>8} of the first body, long enough to make it over two mebibytes")
    };
    let lines: Vec<String> = (0..20_000)
        .map(|i| format!("{{\"insert\": {{\"x\": {i}, \"s\": \"{}\"}}}}", text(i)))
        .collect();
    let ndjson = lines.join("\n");
    assert!(ndjson.len() > 2 << 20);
    let (code, answer) = s
        .raw(
            Method::POST,
            "/v0/pipelines/p/ingress/t?format=json",
            Some("application/json"),
            ndjson.clone().into_bytes(),
        )
        .await;
    assert_eq!(
        (code.as_u16(), &answer["records"]),
        (200, &json!(20_000)),
        "{answer}"
    );
    completed(&s, &answer).await;
    let first_sum: i64 = (0..20_000).sum();
    assert_eq!(
        totals(&s).await,
        json!({"n": 20_000, "total": first_sum, "longest": text(0).len()})
    );

    // 30,000 CSV records whose text holds a line break and doubled quotes, sent chunked in 7,001-byte slices.
    let csv: String = (0..30_000)
        .map(|i| format!("{i},\"line one\nline \"\"two\"\" of {i:>6}\"\n"))
        .collect();
    let chunks: Vec<Vec<u8>> = csv.as_bytes().chunks(7_001).map(<[u8]>::to_vec).collect();
    assert!(chunks.len() > 100);
    let (code, answer) = post_chunked(&s, "/v0/pipelines/p/ingress/t?format=csv", chunks).await;
    assert_eq!(
        (code, &answer["records"]),
        (200, &json!(30_000)),
        "{answer}"
    );
    completed(&s, &answer).await;
    let both_sums = first_sum + (0..30_000i64).sum::<i64>();
    assert!("line one\nline \"two\" of  29999".len() < text(0).len());
    let longest = text(0).len();
    assert_eq!(
        totals(&s).await,
        json!({"n": 50_000, "total": both_sums, "longest": longest})
    );

    // A bad record at line 19,500 of 20,000: reported at that line, and nothing of the body applied.
    let mut bad = lines.clone();
    bad[19_499] = "{\"insert\": {\"x\": \"ten\"}}".into();
    let (code, e) = s
        .raw(
            Method::POST,
            "/v0/pipelines/p/ingress/t?format=json",
            Some("application/json"),
            bad.join("\n").into_bytes(),
        )
        .await;
    let e = assert_error(&(code, e), 400, "InvalidRecords");
    assert_eq!(e["details"]["num_errors"], 1, "{e}");
    assert_eq!(e["details"]["errors"][0]["line"], 19_500, "{e}");
    assert_eq!(e["details"]["errors"][0]["index"], 19_499, "{e}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        totals(&s).await["n"],
        50_000,
        "nothing of the bad body was applied"
    );

    // Over the ingress limit: with a Content-Length, refused before the body is read; chunked, once it passes.
    let over = vec![b' '; LIMIT as usize + 1];
    let e = assert_error(
        &s.raw(
            Method::POST,
            "/v0/pipelines/p/ingress/t?format=json",
            None,
            over.clone(),
        )
        .await,
        413,
        "PayloadTooLarge",
    );
    assert_eq!(e["details"]["limit_bytes"], LIMIT);
    let chunks = over.chunks(64 << 10).map(<[u8]>::to_vec).collect();
    let (code, e) = post_chunked(&s, "/v0/pipelines/p/ingress/t?format=json", chunks).await;
    assert_eq!(
        (code, &e["error_code"]),
        (413, &json!("PayloadTooLarge")),
        "{e}"
    );

    // Other requests keep `max_body_bytes`.
    let long = json!({"description": "x".repeat(5_000)});
    assert_error(
        &s.put("/v0/pipelines/q", long).await,
        413,
        "PayloadTooLarge",
    );
    let (code, _) = s.post_empty("/v0/pipelines/p/stop?force=true").await;
    assert_eq!(code, 202);
}
