//! Fuzz test of the whole API: at least 10,000 random and mutated requests (methods, paths, queries, headers,
//! content types, bodies: valid ones mutated, random JSON, random bytes, deeply nested JSON, bodies over the size
//! limit) against a real server on SQLite, over real HTTP. Whatever the request:
//! - no answer is a 5xx other than 503;
//! - every error answer is the JSON error shape `{message, error_code, details}`;
//! - a rejected request stores nothing (the stored rows, less the columns background work changes, are the same
//!   before and after it);
//! - the server still answers `/healthz`.
//!
//! CI runs it with a fixed seed. By hand: `SLUICE_FUZZ_SEED=random SLUICE_FUZZ_REQUESTS=200000 cargo test -p
//! sluice-server --test integration fuzz_api -- --nocapture` (the seed is printed, so a failure can be replayed
//! with `SLUICE_FUZZ_SEED=<seed>`).

use std::collections::BTreeMap;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Map, Value};
use sqlx::Connection;

use crate::common::{compiled, seed_connector, Backend, TestDb, TestServer};

const DEFAULT_SEED: u64 = 0x0005_11CE_F022;
const DEFAULT_REQUESTS: usize = 10_000;

/// Names the seeded objects have, so that many requests hit something that exists.
const NAMES: &[&str] = &["fz-conn", "fz-prog", "fz-pipe", "fz-key", "fz-other"];

fn settings() -> (u64, usize) {
    let seed = match std::env::var("SLUICE_FUZZ_SEED").ok().as_deref() {
        None | Some("") => DEFAULT_SEED,
        Some("random") => rand::random(),
        Some(text) => text
            .parse()
            .expect("SLUICE_FUZZ_SEED: a number or 'random'"),
    };
    let requests = std::env::var("SLUICE_FUZZ_REQUESTS")
        .ok()
        .map(|n| n.parse().expect("SLUICE_FUZZ_REQUESTS: a number"))
        .unwrap_or(DEFAULT_REQUESTS);
    (seed, requests)
}

/// One request to send.
#[derive(Debug)]
struct Request {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn summary(&self) -> String {
        let body = String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned();
        format!(
            "{} {} headers={:?} body({} bytes)={body}",
            self.method,
            self.path,
            self.headers,
            self.body.len()
        )
    }
}

fn random_text(rng: &mut StdRng, max: usize) -> String {
    const ALPHABET: &[char] = &[
        'a', 'z', 'A', '0', '9', '-', '_', '.', ' ', '/', '%', '"', '\\', '{', '}', '[', ']', ':',
        ',', '?', '&', '=', '#', 'é', 'ß', '€', '😀', '\u{7f}', '\u{0}', '\n', '\t',
    ];
    let len = rng.random_range(0..=max);
    (0..len).map(|_| *ALPHABET.choose(rng).unwrap()).collect()
}

fn name(rng: &mut StdRng) -> String {
    match rng.random_range(0..10) {
        0..=5 => NAMES.choose(rng).unwrap().to_string(),
        6 => format!("fz-{}", rng.random_range(0..50)),
        7 => "x".repeat(rng.random_range(90..400)),
        8 => [
            "..", "%2e%2e", "%00", "%ff", "a%20b", "%C3%A9", "~", "a.b", "-", "_",
        ]
        .choose(rng)
        .unwrap()
        .to_string(),
        _ => urlencode(&random_text(rng, 12)),
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Fills a route template's `{...}` parts.
fn fill(template: &str, rng: &mut StdRng) -> String {
    template
        .replace("{name}", &name(rng))
        .replace(
            "{action}",
            ["start", "pause", "shutdown", "resume", "checkpoint", "x"]
                .choose(rng)
                .unwrap(),
        )
        .replace("{table}", ["t", "T", "nope", "\"t\""].choose(rng).unwrap())
        .replace("{view}", ["v", "V", "nope"].choose(rng).unwrap())
}

fn path(rng: &mut StdRng, routes: &[(Method, &'static str)]) -> String {
    let template = routes.choose(rng).unwrap().1;
    let path = random_path(rng, template);
    with_query(rng, path)
}

fn random_path(rng: &mut StdRng, template: &str) -> String {
    if rng.random_bool(0.85) {
        fill(template, rng)
    } else {
        let segments = rng.random_range(0..6);
        let mut p = String::new();
        for _ in 0..segments {
            p.push('/');
            p.push_str(&name(rng));
        }
        if p.is_empty() || rng.random_bool(0.2) {
            p.insert_str(0, "/v0");
        }
        p
    }
}

fn with_query(rng: &mut StdRng, mut path: String) -> String {
    if rng.random_bool(0.15) {
        let query = [
            format!("name={}", name(rng)),
            "id=not-a-uuid".to_string(),
            "id=0192d5d8-0000-7000-8000-000000000000".to_string(),
            "format=json&array=maybe".to_string(),
            "format=csv".to_string(),
            "format=json&update_format=weighted".to_string(),
            "mode=watch&format=json".to_string(),
            "%zz=1".to_string(),
            urlencode(&random_text(rng, 20)),
        ];
        path.push('?');
        path.push_str(query.choose(rng).unwrap());
    }
    path
}

fn method(rng: &mut StdRng) -> Method {
    match rng.random_range(0..100) {
        0..=24 => Method::GET,
        25..=49 => Method::POST,
        50..=69 => Method::PUT,
        70..=79 => Method::PATCH,
        80..=89 => Method::DELETE,
        90..=92 => Method::HEAD,
        93..=95 => Method::OPTIONS,
        _ => Method::from_bytes(
            ["BREW", "PROPFIND", "TRACE", "X"]
                .choose(rng)
                .unwrap()
                .as_bytes(),
        )
        .unwrap(),
    }
}

fn random_json(rng: &mut StdRng, depth: usize) -> Value {
    let pick = if depth == 0 {
        rng.random_range(0..6)
    } else {
        rng.random_range(0..8)
    };
    match pick {
        0 => Value::Null,
        1 => Value::from(rng.random_bool(0.5)),
        2 => Value::from(rng.random::<i64>()),
        3 => Value::from(rng.random::<f64>() * 1e9),
        4 => Value::from(random_text(rng, 16)),
        5 => Value::from(*NAMES.choose(rng).unwrap()),
        6 => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| random_json(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let keys = [
                "name",
                "description",
                "config",
                "transport",
                "format",
                "topic",
                "code",
                "program_name",
                "connectors",
                "is_input",
                "relation_name",
                "connector_name",
                "workers",
                "scopes",
                "sasl.password",
                "bootstrap.servers",
                "update_format",
                "insert",
                "delete",
                "x",
            ];
            let mut map = Map::new();
            for _ in 0..rng.random_range(0..5) {
                map.insert(
                    keys.choose(rng).unwrap().to_string(),
                    random_json(rng, depth - 1),
                );
            }
            Value::Object(map)
        }
    }
}

/// A valid body for the resource `path` names, to be mutated.
fn valid_body(path: &str, rng: &mut StdRng) -> Value {
    let mut connector = seed_connector();
    connector["config"]["transport"]["config"]["bootstrap.servers"] = json!("127.0.0.1:1");
    connector["config"]["transport"]["config"]["initialization_timeout_secs"] = json!(1);
    connector["name"] = json!(name(rng));
    if path.starts_with("/v0/connectors") {
        connector
    } else if path.starts_with("/v0/programs") {
        json!({"name": name(rng), "description": "", "code": "CREATE TABLE t (x INT); CREATE VIEW v AS SELECT x FROM t;"})
    } else if path.contains("/ingress/") {
        json!({"insert": {"x": rng.random::<i32>()}})
    } else if path.starts_with("/v0/pipelines") {
        json!({"name": name(rng), "description": "", "program_name": "fz-prog", "config": {"workers": 1},
               "connectors": [{"name": "out", "connector_name": "fz-conn", "is_input": false, "relation_name": "v"}]})
    } else {
        json!({"name": name(rng)})
    }
}

/// `value` with one randomly chosen place replaced by random JSON.
fn mutate(value: &mut Value, rng: &mut StdRng) {
    let mut at = value;
    loop {
        let children = match at {
            Value::Object(m) if !m.is_empty() => m.len(),
            Value::Array(a) if !a.is_empty() => a.len(),
            _ => break,
        };
        if rng.random_bool(0.3) {
            break;
        }
        let i = rng.random_range(0..children);
        at = match at {
            Value::Object(m) => m.values_mut().nth(i).unwrap(),
            Value::Array(a) => &mut a[i],
            _ => unreachable!(),
        };
    }
    *at = if rng.random_bool(0.2) {
        Value::String("********".into())
    } else {
        random_json(rng, 2)
    };
}

fn body(path: &str, rng: &mut StdRng, limit: usize) -> Vec<u8> {
    match rng.random_range(0..1000) {
        0..=399 => {
            let mut v = valid_body(path, rng);
            for _ in 0..rng.random_range(0..3) {
                mutate(&mut v, rng);
            }
            v.to_string().into_bytes()
        }
        400..=649 => random_json(rng, 4).to_string().into_bytes(),
        650..=749 => (0..rng.random_range(0..200))
            .map(|_| rng.random::<u8>())
            .collect(),
        750..=849 => Vec::new(),
        850..=899 => {
            let depth = rng.random_range(100..20_000);
            let (open, close) = if rng.random_bool(0.5) {
                ("[", "]")
            } else {
                ("{\"a\":", "}")
            };
            let mut text = open.repeat(depth);
            text.push('1');
            text.push_str(&close.repeat(depth));
            text.into_bytes()
        }
        900..=994 => {
            let mut v = valid_body(path, rng);
            v["description"] = Value::String(random_text(rng, 2_000));
            // Cut anywhere, even inside a character.
            let mut bytes = v.to_string().into_bytes();
            bytes.truncate(rng.random_range(0..=bytes.len()));
            bytes
        }
        _ => {
            // Over the limit, sometimes by one byte.
            let len = if rng.random_bool(0.5) {
                limit + 1
            } else {
                limit + rng.random_range(1..1_000_000)
            };
            let mut text = String::from("{\"description\": \"");
            text.push_str(&"x".repeat(len));
            text.push_str("\"}");
            text.into_bytes()
        }
    }
}

fn headers(rng: &mut StdRng) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let content_type = [
        Some("application/json"),
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("application/json; charset=utf-16"),
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/x-ndjson"),
        Some("text/csv"),
        Some("*/*"),
        Some(";;;"),
        None,
    ];
    if let Some(ct) = content_type.choose(rng).unwrap() {
        out.push(("content-type".to_string(), ct.to_string()));
    }
    if rng.random_bool(0.05) {
        out.push((
            "authorization".into(),
            ["Bearer x", "Basic Zm9vOmJhcg==", "Bearer apikey:zzz"]
                .choose(rng)
                .unwrap()
                .to_string(),
        ));
    }
    if rng.random_bool(0.05) {
        out.push((
            "origin".into(),
            ["https://evil.example.com", "null", "http://127.0.0.1:1"]
                .choose(rng)
                .unwrap()
                .to_string(),
        ));
    }
    if rng.random_bool(0.03) {
        out.push((
            "host".into(),
            ["evil.example.com", "localhost:1", "[::1]", "a b"]
                .choose(rng)
                .unwrap()
                .to_string(),
        ));
    }
    if rng.random_bool(0.03) {
        out.push((
            "sec-fetch-site".into(),
            ["cross-site", "same-origin", "none"]
                .choose(rng)
                .unwrap()
                .to_string(),
        ));
    }
    if rng.random_bool(0.03) {
        out.push(("content-encoding".into(), "gzip".into()));
    }
    out
}

/// The stored rows, without the columns that background work (compilation, the runner) changes.
async fn fingerprint(conn: &mut sqlx::AnyConnection) -> Vec<String> {
    let queries = [
        "SELECT id || '|' || name || '|' || description || '|' || config FROM connector ORDER BY id",
        "SELECT id || '|' || name || '|' || description || '|' || code || '|' || config || '|' || version FROM program ORDER BY id",
        "SELECT id || '|' || name || '|' || description || '|' || COALESCE(program_id, '') || '|' || config || '|' || version || '|' || desired_status FROM pipeline ORDER BY id",
        "SELECT pipeline_id || '|' || name || '|' || position || '|' || connector_id || '|' || is_input || '|' || relation_name FROM attached_connector ORDER BY pipeline_id, name",
        "SELECT id || '|' || name || '|' || hash || '|' || scopes FROM api_key ORDER BY id",
    ];
    let mut out = Vec::new();
    for q in queries {
        let rows: Vec<(String,)> = sqlx::query_as(q).fetch_all(&mut *conn).await.unwrap();
        out.extend(rows.into_iter().map(|(r,)| r));
        out.push("--".into());
    }
    out
}

fn assert_error_shape(status: u16, body: &[u8], context: &str) {
    let value: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "{context}: {status} body is not JSON ({e}): {}",
            String::from_utf8_lossy(body)
        )
    });
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("{context}: {value}"));
    assert_eq!(object.len(), 3, "{context}: {value}");
    assert!(value["message"].is_string(), "{context}: {value}");
    assert!(value["error_code"].is_string(), "{context}: {value}");
    assert!(value["details"].is_object(), "{context}: {value}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_requests_never_break_the_api() {
    let (seed, requests) = settings();
    println!("fuzz_api: seed {seed}, {requests} requests");
    let db = TestDb::new(Backend::Sqlite).await;
    let s = TestServer::start(&db).await;
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();

    // Things for requests to find: a compiled program, a connector, a pipeline, an API key.
    let mut rng = StdRng::seed_from_u64(seed);
    // A PUT names the object in its path only.
    let mut for_put = |path: &str| {
        let mut body = valid_body(path, &mut rng);
        body.as_object_mut().unwrap().remove("name");
        body
    };
    let (program, connector, pipeline) = (
        for_put("/v0/programs"),
        for_put("/v0/connectors"),
        for_put("/v0/pipelines"),
    );
    assert_eq!(s.put("/v0/programs/fz-prog", program).await.0, 201);
    compiled(&s, "fz-prog").await;
    assert_eq!(s.put("/v0/connectors/fz-conn", connector).await.0, 201);
    assert_eq!(s.put("/v0/pipelines/fz-pipe", pipeline).await.0, 201);
    assert_eq!(
        s.post("/v0/api_keys", json!({"name": "fz-key"})).await.0,
        201
    );

    // A new connection per request: after an answer that cuts an oversized body off, the server closes the
    // connection, and a pooled client could otherwise send the next request into it.
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let limit = sluice_server::DEFAULT_MAX_BODY_BYTES;
    let routes = sluice_server::route_table();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    let started = Instant::now();
    for i in 0..requests {
        // Mostly a method and path the server routes (so that handlers, not the router, see the request), else
        // anything.
        let (method, path) = if rng.random_bool(0.75) {
            let (m, template) = routes.choose(&mut rng).unwrap().clone();
            let p = random_path(&mut rng, template);
            (m, with_query(&mut rng, p))
        } else {
            (method(&mut rng), path(&mut rng, &routes))
        };
        let body = body(&path, &mut rng, limit);
        let request = Request {
            method,
            headers: headers(&mut rng),
            path,
            body,
        };
        let context = format!("seed {seed}, request #{i}: {}", request.summary());

        let before = fingerprint(&mut conn).await;
        let mut builder = client.request(request.method.clone(), s.url(&request.path));
        for (k, v) in &request.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let response = builder.body(request.body.clone()).send().await;
        let response = match response {
            Ok(r) => r,
            // reqwest refuses some header values itself (`a b` as a host); nothing reached the server.
            Err(e) if e.is_builder() => continue,
            // A body over the limit to a request refused before its body is read (413 from the length, 404, 405):
            // the server answers and closes the connection instead of reading megabytes it will not use, and the
            // client, still sending, sees the connection close. Nothing may have been stored.
            Err(_) if request.body.len() > limit => {
                *by_status.entry(0).or_default() += 1;
                let after = fingerprint(&mut conn).await;
                assert_eq!(
                    before, after,
                    "{context}: a refused oversized request changed what is stored"
                );
                continue;
            }
            Err(e) => panic!("{context}: no answer: {e}"),
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let answer = response.bytes().await.unwrap_or_default();
        *by_status.entry(status).or_default() += 1;
        assert!(
            status < 500 || status == 503,
            "{context}: answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
        if status >= 400 {
            if request.method != Method::HEAD {
                assert!(
                    content_type.starts_with("application/json"),
                    "{context}: {status} as {content_type}"
                );
                assert_error_shape(status, &answer, &context);
            }
            let after = fingerprint(&mut conn).await;
            assert_eq!(
                before, after,
                "{context}: a rejected request ({status}) changed what is stored"
            );
        }
        if i % 1000 == 999 {
            assert_eq!(
                s.get("/healthz").await.0,
                200,
                "{context}: /healthz after it"
            );
        }
    }
    assert_eq!(s.get("/healthz").await.0, 200, "/healthz at the end");
    println!(
        "fuzz_api: {requests} requests in {:.1} s (seed {seed}); answers by status (0: oversized body cut off \
         by the server's early answer): {by_status:?}",
        started.elapsed().as_secs_f64()
    );
    conn.close().await.unwrap();
    s.stop().await;
}
