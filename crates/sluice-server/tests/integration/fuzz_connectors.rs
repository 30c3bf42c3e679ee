//! Property test: random JSON bodies, and random mutations of a valid connector body, thrown at the connector
//! endpoints. Whatever the body, the server never answers 5xx, every 4xx has the JSON error shape, and a rejected
//! request leaves the stored connectors exactly as they were. PATCH always targets `existing`, which is re-created
//! after a PATCH renames it, so every PATCH case updates a stored connector. Runs on SQLite and PostgreSQL.

use crate::common::{seed_connector, Backend, TestDb, TestServer};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{Map, Value};

both_backends!(random_bodies_never_break_the_connector_endpoints);

/// Keys the config types know, so that random objects often get past the first field.
const KEYS: &[&str] = &[
    "name",
    "description",
    "config",
    "transport",
    "format",
    "topic",
    "bootstrap.servers",
    "headers",
    "key",
    "value",
    "update_format",
    "array",
    "json_flavor",
    "key_fields",
    "max_queued_records",
    "log_level",
    "initialization_timeout_secs",
    "buffer_size_records",
    "kafka_output",
    "http_input",
    "json",
    "csv",
    "delimiter",
    "message.max.bytes",
];

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(KEYS).prop_map(str::to_string),
        1 => "[a-z_.]{0,10}",
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        proptest::sample::select(KEYS).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(arb_key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Every JSON pointer inside `v` (including the root, as "").
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                pointers(
                    child,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    Replace(Index, Value),
    Remove(Index),
    Insert(Index, String, Value),
}

fn apply(body: &mut Value, m: &Mutation) {
    let mut all = Vec::new();
    pointers(body, String::new(), &mut all);
    match m {
        Mutation::Replace(i, v) => {
            if let Some(target) = body.pointer_mut(i.get(&all).as_str()) {
                *target = v.clone();
            }
        }
        Mutation::Remove(i) => {
            let p = i.get(&all).clone();
            if let Some((parent, key)) = p.rsplit_once('/') {
                if let Some(Value::Object(m)) = body.pointer_mut(parent) {
                    m.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
            }
        }
        Mutation::Insert(i, k, v) => {
            if let Some(Value::Object(m)) = body.pointer_mut(i.get(&all).as_str()) {
                m.insert(k.clone(), v.clone());
            }
        }
    }
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), arb_json()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        any::<Index>().prop_map(Mutation::Remove),
        (any::<Index>(), arb_key(), arb_json()).prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
    ]
}

/// A request body: random JSON, a mutated valid body, bytes that may not be JSON at all, or a rename.
#[derive(Clone, Debug)]
enum Body {
    Json(Value),
    Raw(String),
}

fn arb_body() -> impl Strategy<Value = Body> {
    prop_oneof![
        2 => arb_json().prop_map(Body::Json),
        4 => proptest::collection::vec(arb_mutation(), 1..4).prop_map(|ms| {
            let mut body = seed_connector();
            for m in &ms {
                apply(&mut body, m);
            }
            Body::Json(body)
        }),
        1 => ".{0,40}".prop_map(Body::Raw),
        // A rename (valid for PATCH only), so that the re-creation of `existing` is exercised.
        1 => "[a-z][a-z0-9_-]{0,6}".prop_map(|name| Body::Json(serde_json::json!({"name": name}))),
    ]
}

#[derive(Clone, Copy, Debug)]
enum Endpoint {
    Post,
    Put,
    Patch,
}

async fn check(
    s: &TestServer,
    endpoint: Endpoint,
    name: &str,
    body: &Body,
) -> Result<(), TestCaseError> {
    let (_, before) = s.get("/v0/connectors").await;
    let (method, path, mut body) = match endpoint {
        Endpoint::Post => (Method::POST, "/v0/connectors".to_string(), body.clone()),
        Endpoint::Put => (Method::PUT, format!("/v0/connectors/{name}"), body.clone()),
        Endpoint::Patch => (
            Method::PATCH,
            "/v0/connectors/existing".to_string(),
            body.clone(),
        ),
    };
    if let (Endpoint::Post, Body::Json(Value::Object(m))) = (endpoint, &mut body) {
        m.entry("name").or_insert_with(|| Value::from(name));
    }
    let bytes = match &body {
        Body::Json(v) => serde_json::to_vec(v).unwrap(),
        Body::Raw(s) => s.clone().into_bytes(),
    };
    let response = s
        .client
        .request(method, s.url(&path))
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    prop_assert!(status.as_u16() < 500, "{status}: {text}");
    if status.is_client_error() {
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("{status}: not JSON ({e}): {text}")))?;
        prop_assert!(v["message"].is_string(), "{v}");
        prop_assert!(v["error_code"].is_string(), "{v}");
        prop_assert!(v["details"].is_object(), "{v}");
        let (_, after) = s.get("/v0/connectors").await;
        prop_assert_eq!(
            &after,
            &before,
            "a rejected request changed the stored connectors"
        );
    } else {
        prop_assert!(status.is_success(), "{status}: {text}");
        // A successful PATCH may have renamed `existing`: put it back, so later PATCH cases keep testing an
        // update rather than a 404.
        if s.get("/v0/connectors/existing").await.0 == 404 {
            let (status, body) = s.put("/v0/connectors/existing", seed_connector()).await;
            prop_assert_eq!(status.as_u16(), 201, "re-creating 'existing': {}", body);
        }
    }
    if let Endpoint::Patch = endpoint {
        prop_assert!(
            status != 404,
            "PATCH of 'existing' found no connector: {}",
            text
        );
    }
    Ok(())
}

async fn random_bodies_never_break_the_connector_endpoints(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    assert_eq!(
        s.put("/v0/connectors/existing", seed_connector()).await.0,
        201
    );
    let handle = tokio::runtime::Handle::current();
    let cases = std::env::var("SLUICE_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(300);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        prop_oneof![
            Just(Endpoint::Post),
            Just(Endpoint::Put),
            Just(Endpoint::Patch)
        ],
        "[a-z][a-z0-9_-]{0,6}",
        arb_body(),
    );
    let result = tokio::task::block_in_place(|| {
        runner.run(&strategy, |(endpoint, name, body)| {
            handle.block_on(check(&s, endpoint, &name, &body))
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    s.stop().await;
}
