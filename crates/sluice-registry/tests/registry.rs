//! The registry client over real HTTP. The tests that need a Confluent-compatible registry are ignored unless one
//! is given: none can be installed from the package registries this project's machines reach (see
//! docs/formats-avro.md). Run them with a registry on loopback:
//! `SLUICE_SCHEMA_REGISTRY_URL=http://127.0.0.1:8081 cargo test -p sluice-registry -- --ignored`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use sluice_registry::{Auth, Registry, RegistryConfig, RegistryError};

fn config(urls: &[&str]) -> RegistryConfig {
    RegistryConfig {
        urls: urls.iter().map(|u| u.to_string()).collect(),
        timeout: Some(Duration::from_secs(5)),
        ..RegistryConfig::default()
    }
}

/// Nothing listens on port 1: every URL is tried, and the error names each with its cause.
#[test]
fn an_unreachable_registry_names_every_url_tried() {
    let r = Registry::new(&config(&[
        "http://127.0.0.1:1",
        "http://127.0.0.1:1/second",
    ]))
    .unwrap();
    match r.register("t-value", r#"{"type":"string"}"#) {
        Err(RegistryError::Unreachable(tried)) => {
            assert_eq!(tried.len(), 2, "{tried:?}");
            assert!(tried[0].starts_with("http://127.0.0.1:1/"), "{tried:?}");
            assert!(
                tried[1].starts_with("http://127.0.0.1:1/second"),
                "{tried:?}"
            );
        }
        other => panic!("{:?}", other.map_err(|e| e.to_string())),
    }
}

/// Settings that cannot work are refused before any request, naming the setting.
#[test]
fn settings_that_cannot_work_are_refused_by_name() {
    let no_url = Registry::new(&config(&[])).err().unwrap().to_string();
    assert!(no_url.contains("no registry URL"), "{no_url}");
    let bad_url = Registry::new(&config(&["not a url"]))
        .err()
        .unwrap()
        .to_string();
    assert!(bad_url.contains("registry URL 'not a url'"), "{bad_url}");
    let mut bad_header = config(&["http://127.0.0.1:1"]);
    bad_header.headers = BTreeMap::from([("bad header".to_string(), "x".to_string())]);
    let e = Registry::new(&bad_header).err().unwrap().to_string();
    assert!(e.contains("registry header 'bad header'"), "{e}");
}

fn registry_url() -> String {
    std::env::var("SLUICE_SCHEMA_REGISTRY_URL")
        .expect("SLUICE_SCHEMA_REGISTRY_URL names the registry these tests use")
}

fn record(fields: serde_json::Value) -> String {
    json!({"type": "record", "name": "totals", "fields": fields}).to_string()
}

/// Against a real registry: registering is idempotent (the same schema keeps its id), a compatible change gets a
/// new id, and an incompatible one is refused with the registry's reason.
#[test]
#[ignore = "needs a Confluent-compatible schema registry: set SLUICE_SCHEMA_REGISTRY_URL and run with --ignored"]
fn registering_is_idempotent_and_incompatible_schemas_are_refused_with_the_reason() {
    let url = registry_url();
    let r = Registry::new(&config(&[&url])).unwrap();
    let subject = format!("sluice-test-{}-value", std::process::id());
    let v1 = record(json!([{"name": "k", "type": "long"}]));
    let id = r.register(&subject, &v1).unwrap();
    assert_eq!(r.register(&subject, &v1).unwrap(), id);
    // What an Avro input reads a message's schema with.
    let fetched: serde_json::Value = serde_json::from_str(&r.schema_by_id(id).unwrap()).unwrap();
    assert_eq!(
        fetched,
        serde_json::from_str::<serde_json::Value>(&v1).unwrap()
    );
    match r.schema_by_id(u32::MAX) {
        Err(RegistryError::Refused { status, .. }) => assert_eq!(status, 404),
        other => panic!("{:?}", other.map_err(|e| e.to_string())),
    }
    // The subject's rule, set as an operator would.
    let client = reqwest::blocking::Client::new();
    let set = client
        .put(format!("{url}/config/{subject}"))
        .header("Content-Type", "application/vnd.schemaregistry.v1+json")
        .body(json!({"compatibility": "BACKWARD"}).to_string())
        .send()
        .unwrap();
    assert!(set.status().is_success(), "{:?}", set.text());
    let compatible = record(
        json!([{"name": "k", "type": "long"}, {"name": "n", "type": ["null", "long"], "default": null}]),
    );
    let id2 = r.register(&subject, &compatible).unwrap();
    assert_ne!(id2, id);
    let incompatible =
        record(json!([{"name": "k", "type": "long"}, {"name": "required", "type": "string"}]));
    match r.register(&subject, &incompatible) {
        Err(RegistryError::Refused {
            status, message, ..
        }) => {
            assert_eq!(status, 409, "{message}");
            assert!(message.to_lowercase().contains("incompatib"), "{message}");
        }
        other => panic!("{:?}", other.map_err(|e| e.to_string())),
    }
}

/// An Avro config's registry settings become the client's: basic authentication from a user and password, bearer
/// from a token, the timeout in seconds.
#[test]
fn the_avro_settings_become_the_clients() {
    let avro: sluice_types::AvroEncoderConfig = serde_json::from_value(json!({
        "registry_urls": ["http://r:8081"], "registry_username": "alice", "registry_password": "pw",
        "registry_timeout_secs": 3, "registry_headers": {"X-Team": "a"}}))
    .unwrap();
    let c = RegistryConfig::of_avro(&avro);
    assert_eq!(c.urls, ["http://r:8081"]);
    assert_eq!(c.timeout, Some(Duration::from_secs(3)));
    assert_eq!(c.headers["X-Team"], "a");
    assert!(
        matches!(&c.auth, Some(Auth::Basic { username, password }) if username == "alice" && password == "pw")
    );
    assert_eq!(format!("{:?}", c.auth.unwrap()), "Basic(alice, ********)");
    let token: sluice_types::AvroEncoderConfig = serde_json::from_value(
        json!({"registry_urls": ["http://r"], "registry_authorization_token": "t0k"}),
    )
    .unwrap();
    assert!(matches!(RegistryConfig::of_avro(&token).auth, Some(Auth::Bearer(t)) if t == "t0k"));
}

/// Against a registry that needs basic authentication (`SLUICE_SCHEMA_REGISTRY_AUTH_URL`, with
/// `SLUICE_SCHEMA_REGISTRY_USER` and `SLUICE_SCHEMA_REGISTRY_PASSWORD`): refused without the credentials (401, the
/// registry's reason), accepted with them.
#[test]
#[ignore = "needs a schema registry with basic authentication: set SLUICE_SCHEMA_REGISTRY_AUTH_URL, _USER, _PASSWORD"]
fn basic_authentication_is_sent() {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let url = var("SLUICE_SCHEMA_REGISTRY_AUTH_URL");
    let subject = format!("sluice-auth-{}-value", std::process::id());
    let schema = record(json!([{"name": "k", "type": "long"}]));
    match Registry::new(&config(&[&url]))
        .unwrap()
        .register(&subject, &schema)
    {
        Err(RegistryError::Refused { status, .. }) => assert_eq!(status, 401),
        other => panic!("{:?}", other.map_err(|e| e.to_string())),
    }
    let mut with_auth = config(&[&url]);
    with_auth.auth = Some(Auth::Basic {
        username: var("SLUICE_SCHEMA_REGISTRY_USER"),
        password: var("SLUICE_SCHEMA_REGISTRY_PASSWORD"),
    });
    Registry::new(&with_auth)
        .unwrap()
        .register(&subject, &schema)
        .unwrap();
}

/// Against a registry on HTTPS whose certificate an authority outside the system's store signed
/// (`SLUICE_SCHEMA_REGISTRY_TLS_URL`, and `SLUICE_SCHEMA_REGISTRY_CA_FILE` with that authority's PEM): the
/// certificate is refused without the authority, accepted with it as `ca_pem`.
#[test]
#[ignore = "needs a schema registry on HTTPS with its own CA: set SLUICE_SCHEMA_REGISTRY_TLS_URL and _CA_FILE"]
fn a_registry_behind_its_own_certificate_authority_is_trusted_with_its_ca() {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let url = var("SLUICE_SCHEMA_REGISTRY_TLS_URL");
    let subject = format!("sluice-tls-{}-value", std::process::id());
    let schema = record(json!([{"name": "k", "type": "long"}]));
    match Registry::new(&config(&[&url]))
        .unwrap()
        .register(&subject, &schema)
    {
        Err(RegistryError::Unreachable(tried)) => {
            assert!(tried[0].starts_with(&url), "{tried:?}")
        }
        other => panic!("{:?}", other.map_err(|e| e.to_string())),
    }
    let mut trusting = config(&[&url]);
    trusting.ca_pem = Some(std::fs::read_to_string(var("SLUICE_SCHEMA_REGISTRY_CA_FILE")).unwrap());
    Registry::new(&trusting)
        .unwrap()
        .register(&subject, &schema)
        .unwrap();
    // Text that is no certificate is a setting that cannot work.
    let mut broken = config(&[&url]);
    broken.ca_pem =
        Some("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".into());
    let e = Registry::new(&broken)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("registry CA certificates"), "{e}");
}
