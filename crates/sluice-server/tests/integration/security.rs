//! The API's security rules, over real HTTP on SQLite and PostgreSQL: secret option values are stored sealed and
//! shown masked (a PATCH that sends the mask back keeps the value; rows stored in plain text are sealed at start),
//! dangerous options are refused at creation, read-only keys cannot write, `/metrics` can need a key, and without
//! authentication browsers of other sites and rebound host names are refused.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sluice_server::BrowserPolicy;
use sluice_server::ServerConfig;
use sluice_server::{create_api_key, AuthMode};
use sluice_server::{SecretKey, Secrets};

use crate::common::{assert_error, seed_connector, Backend, Options, TestDb, TestServer};

both_backends!(
    secret_values_are_sealed_in_the_database_and_masked_in_answers,
    registry_credentials_are_sealed_and_masked_like_transport_secrets,
    plain_text_secrets_stored_before_are_sealed_at_start,
    dangerous_options_are_refused_when_created,
    read_only_keys_cannot_write_and_metrics_can_need_a_key,
    file_output_writes_under_the_output_directory_only,
);

const PASSWORD: &str = "S3aled-Pa55word-Value";

fn with_password(password: &str) -> Value {
    let mut c = seed_connector();
    let options = &mut c["config"]["transport"]["config"];
    options["security.protocol"] = json!("SASL_SSL");
    options["sasl.mechanism"] = json!("PLAIN");
    options["sasl.username"] = json!("alice");
    options["sasl.password"] = json!(password);
    options["ssl.key.password"] = json!("key-Pa55phrase");
    c
}

/// The stored connector configs as a pipeline gets them: sealed values opened.
async fn resolved_configs(s: &TestServer, db: &TestDb) -> Value {
    s.state
        .config()
        .secrets
        .resolve(&stored_configs(db).await)
        .unwrap()
}

/// Every stored connector config, read straight from the database.
async fn stored_configs(db: &TestDb) -> String {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let rows: Vec<(String,)> = sqlx::query_as("SELECT config FROM connector")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    rows.into_iter()
        .map(|(c,)| c)
        .collect::<Vec<_>>()
        .join("\n")
}

async fn secret_values_are_sealed_in_the_database_and_masked_in_answers(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let (status, body) = s.put("/v0/connectors/c", with_password(PASSWORD)).await;
    assert_eq!(status, 201, "{body}");

    let stored = stored_configs(&db).await;
    assert!(
        !stored.contains(PASSWORD) && !stored.contains("key-Pa55phrase"),
        "{stored}"
    );
    assert!(stored.contains("sluice-sealed:v1:"), "{stored}");

    let (_, one) = s.get("/v0/connectors/c").await;
    let options = &one["config"]["transport"]["config"];
    assert_eq!(options["sasl.password"], "********", "{one}");
    assert_eq!(options["ssl.key.password"], "********", "{one}");
    assert_eq!(options["sasl.username"], "alice", "{one}");
    let (_, all) = s.get("/v0/connectors").await;
    assert_eq!(all[0]["config"], one["config"]);
    let id = one["connector_id"].as_str().unwrap();
    for path in [
        "/v0/connectors?name=c".to_string(),
        format!("/v0/connectors?id={id}"),
    ] {
        let (_, found) = s.get(&path).await;
        assert!(!found.to_string().contains(PASSWORD), "{path}: {found}");
    }

    // The config read back, sent back with a change: the masked values keep what was stored.
    let mut config = one["config"].clone();
    config["transport"]["config"]["topic"] = json!("renamed-topic");
    let (status, body) = s
        .patch("/v0/connectors/c", json!({"config": config.clone()}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s
        .put(
            "/v0/connectors/c",
            json!({"description": "again", "config": config}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let sealed_before = stored_configs(&db).await;
    assert!(!sealed_before.contains(PASSWORD));
    let resolved = s.state.config().secrets.resolve(&sealed_before).unwrap();
    assert_eq!(resolved["transport"]["config"]["sasl.password"], PASSWORD);
    assert_eq!(resolved["transport"]["config"]["topic"], "renamed-topic");

    // A new value replaces it; a mask where nothing is stored is refused, naming the option, storing nothing.
    let (status, _) = s
        .put("/v0/connectors/c", with_password("An0ther-Pa55word"))
        .await;
    assert_eq!(status, 200);
    let resolved = resolved_configs(&s, &db).await;
    assert_eq!(
        resolved["transport"]["config"]["sasl.password"],
        "An0ther-Pa55word"
    );
    let got = s.put("/v0/connectors/new", with_password("********")).await;
    let err = assert_error(&got, 400, "InvalidConnectorConfig");
    assert_eq!(
        err["details"]["field"],
        "config.transport.config.sasl.password"
    );
    assert_error(
        &s.get("/v0/connectors/new").await,
        404,
        "UnknownConnectorName",
    );

    // An error that quotes the request does not quote the password.
    let mut bad = with_password(PASSWORD);
    bad["config"]["transport"]["config"]["topic"] = json!(format!("not a topic {PASSWORD}"));
    let got = s.put("/v0/connectors/bad", bad).await;
    let err = assert_error(&got, 400, "InvalidConnectorConfig");
    assert!(!err.to_string().contains(PASSWORD), "{err}");
    s.stop().await;
}

/// An Avro connector's registry credentials: stored sealed, shown masked, kept when the mask is sent back, opened
/// for the pipeline; a mask where nothing is stored is refused naming the setting.
async fn registry_credentials_are_sealed_and_masked_like_transport_secrets(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let avro = |password: &str, token: Option<&str>| {
        let mut c = seed_connector();
        let mut format = json!({"registry_urls": ["http://127.0.0.1:8081"]});
        match token {
            Some(t) => format["registry_authorization_token"] = json!(t),
            None => {
                format["registry_username"] = json!("alice");
                format["registry_password"] = json!(password);
            }
        }
        c["config"]["format"] = json!({"name": "avro", "config": format});
        c
    };
    let (status, body) = s.put("/v0/connectors/r", avro(PASSWORD, None)).await;
    assert_eq!(status, 201, "{body}");
    let stored = stored_configs(&db).await;
    assert!(!stored.contains(PASSWORD), "{stored}");
    assert!(stored.contains("sluice-sealed:v1:"), "{stored}");
    let (_, one) = s.get("/v0/connectors/r").await;
    let format = &one["config"]["format"]["config"];
    assert_eq!(format["registry_password"], "********", "{one}");
    assert_eq!(format["registry_username"], "alice", "{one}");
    let (status, body) = s
        .patch("/v0/connectors/r", json!({"config": one["config"].clone()}))
        .await;
    assert_eq!(status, 200, "{body}");
    let resolved = resolved_configs(&s, &db).await;
    assert_eq!(resolved["format"]["config"]["registry_password"], PASSWORD);

    let (status, body) = s
        .put("/v0/connectors/t", avro("", Some("T0ken-Value-1234")))
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, shown) = s.get("/v0/connectors/t").await;
    assert_eq!(
        shown["config"]["format"]["config"]["registry_authorization_token"],
        "********"
    );
    assert!(!stored_configs(&db).await.contains("T0ken-Value-1234"));

    let got = s.put("/v0/connectors/new", avro("********", None)).await;
    let err = assert_error(&got, 400, "InvalidConnectorConfig");
    assert_eq!(
        err["details"]["field"],
        "config.format.config.registry_password"
    );
    s.stop().await;
}

async fn plain_text_secrets_stored_before_are_sealed_at_start(backend: Backend) {
    let db = TestDb::new(backend).await;
    // A key that outlives one server, as the key file does.
    let secrets = Secrets {
        key: SecretKey::ephemeral(),
        ..Secrets::default()
    };
    let options = || Options {
        config: ServerConfig {
            secrets: secrets.clone(),
            ..ServerConfig::default()
        },
        ..Options::default()
    };
    let s = TestServer::start_with(&db, options()).await;
    assert_eq!(s.put("/v0/connectors/c", seed_connector()).await.0, 201);
    s.stop().await;
    // What an earlier version stored: the password in plain text.
    let plain = with_password(PASSWORD)["config"]
        .to_string()
        .replace('\'', "''");
    db.execute(&format!("UPDATE connector SET config = '{plain}'"))
        .await;
    assert!(stored_configs(&db).await.contains(PASSWORD));

    let s = TestServer::start_with(&db, options()).await;
    // The server answers once it has sealed them.
    let (_, shown) = s.get("/v0/connectors/c").await;
    assert_eq!(
        shown["config"]["transport"]["config"]["sasl.password"],
        "********"
    );
    let stored = stored_configs(&db).await;
    assert!(!stored.contains(PASSWORD), "{stored}");
    let resolved = s.state.config().secrets.resolve(&stored).unwrap();
    assert_eq!(resolved["transport"]["config"]["sasl.password"], PASSWORD);
    s.stop().await;
}

async fn dangerous_options_are_refused_when_created(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    for (option, value) in [
        (
            "sasl.kerberos.kinit.cmd",
            "touch /tmp/sluice-should-not-exist",
        ),
        ("plugin.library.paths", "/tmp/x.so"),
        ("ssl.engine.location", "/tmp/x.so"),
        ("ssl.providers", "legacy"),
        ("ssl.ca.location", "/etc/passwd"),
        ("sasl.kerberos.principal", "a;id"),
        ("sasl.password", "${secret:../etc/passwd}"),
        ("sasl.password", "${env:HOME}"),
    ] {
        let mut c = seed_connector();
        c["config"]["transport"]["config"][option] = json!(value);
        let got = s.put("/v0/connectors/d", c).await;
        let err = assert_error(&got, 400, "InvalidConnectorConfig");
        assert_eq!(
            err["details"]["field"],
            format!("config.transport.config.{option}"),
            "{err}"
        );
    }
    assert_error(
        &s.get("/v0/connectors/d").await,
        404,
        "UnknownConnectorName",
    );
    s.stop().await;
}

async fn read_only_keys_cannot_write_and_metrics_can_need_a_key(backend: Backend) {
    use sluice_server::ApiPermission;
    let db = TestDb::new(backend).await;
    let options = Options {
        auth: AuthMode::ApiKey,
        config: ServerConfig {
            metrics_need_key: true,
            ..ServerConfig::default()
        },
        ..Options::default()
    };
    let s = TestServer::start_with(&db, options).await;
    let admin = create_api_key(&s.db, "admin", &[]).await.unwrap().api_key;
    let reader = create_api_key(&s.db, "reader", &[ApiPermission::Read])
        .await
        .unwrap()
        .api_key;

    let (status, _) = s
        .call_with(
            Method::PUT,
            "/v0/connectors/c",
            Some(seed_connector()),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = s
        .call_with(Method::GET, "/v0/connectors/c", None, Some(&reader))
        .await;
    assert_eq!(status, 200);
    for (method, path, body) in [
        (Method::PUT, "/v0/connectors/c", Some(seed_connector())),
        (Method::DELETE, "/v0/connectors/c", None),
        (Method::POST, "/v0/api_keys", Some(json!({"name": "more"}))),
        (Method::POST, "/v0/pipelines/p/start", None),
    ] {
        let got = s.call_with(method.clone(), path, body, Some(&reader)).await;
        let err = assert_error(&got, 403, "InsufficientPermissions");
        assert_eq!(err["details"]["needed"], "Write", "{method} {path}: {err}");
    }
    // A read-only key created through the API says so.
    let (status, key) = s
        .call_with(
            Method::POST,
            "/v0/api_keys",
            Some(json!({"name": "ro", "scopes": ["Read"]})),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let (_, descr) = s
        .call_with(Method::GET, "/v0/api_keys/ro", None, Some(&admin))
        .await;
    assert_eq!(descr["scopes"], json!(["Read"]));

    let metrics = s.client.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::UNAUTHORIZED);
    let metrics = s
        .client
        .get(s.url("/metrics"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    s.stop().await;
}

/// Sends `method path` with `headers`; returns the status and JSON body.
async fn send(
    s: &TestServer,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut req = s.client.request(method, s.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = req.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_auth_browsers_of_other_sites_and_rebound_hosts_are_refused() {
    let db = TestDb::new(Backend::Sqlite).await;
    let options = Options {
        config: ServerConfig {
            browser: BrowserPolicy {
                allowed_hosts: vec![],
                cors_origins: vec!["https://console.example.com".into()],
            },
            ..ServerConfig::default()
        },
        ..Options::default()
    };
    let s = TestServer::start_with(&db, options).await;
    let own = s.base.clone();

    // A page elsewhere posting a simple cross-origin request (text/plain) to shut a pipeline down, or to ingress.
    // A page elsewhere posting a simple cross-origin request (text/plain) to shut a pipeline down; a request a
    // browser marks as cross-site; a DNS-rebinding page, with its own name in Host.
    let refused: [(Method, &str, &str, &str, &str); 5] = [
        (
            Method::POST,
            "/v0/pipelines/p/shutdown",
            "origin",
            "https://evil.example.com",
            "ForbiddenOrigin",
        ),
        (
            Method::POST,
            "/v0/pipelines/p/shutdown",
            "origin",
            "null",
            "ForbiddenOrigin",
        ),
        (
            Method::POST,
            "/v0/pipelines/p/ingress/t",
            "origin",
            "http://127.0.0.1:1",
            "ForbiddenOrigin",
        ),
        (
            Method::GET,
            "/v0/connectors",
            "sec-fetch-site",
            "cross-site",
            "ForbiddenOrigin",
        ),
        (
            Method::GET,
            "/v0/connectors",
            "host",
            "rebound.evil.example.com",
            "ForbiddenHost",
        ),
    ];
    for (method, path, header, value, code) in refused {
        let got = send(
            &s,
            method,
            path,
            &[(header, value), ("content-type", "text/plain")],
        )
        .await;
        assert_error(&got, 403, code);
    }

    // The server's own origin, curl (no Origin), and the operator's CORS origin pass.
    assert_eq!(
        send(&s, Method::GET, "/v0/connectors", &[("origin", &own)])
            .await
            .0,
        200
    );
    assert_eq!(send(&s, Method::GET, "/v0/connectors", &[]).await.0, 200);
    let response = s
        .client
        .request(Method::OPTIONS, s.url("/v0/connectors/c"))
        .header("origin", "https://console.example.com")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        "https://console.example.com"
    );
    let (status, _) = send(
        &s,
        Method::GET,
        "/v0/connectors",
        &[("origin", "https://console.example.com")],
    )
    .await;
    assert_eq!(status, 200);
    s.stop().await;
}

async fn file_output_writes_under_the_output_directory_only(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        config: ServerConfig {
            file_output_dir: dir.path().join("files"),
            ..ServerConfig::default()
        },
        ..Options::default()
    };
    let s = TestServer::start_with(&db, options).await;
    let file = |path: &str| {
        json!({"description": "", "config": {
            "transport": {"name": "file_output", "config": {"path": path}},
            "format": {"name": "json"}}})
    };
    for outside in ["/etc/cron.d/x", "../escape.jsonl", "a/../../escape.jsonl"] {
        let got = s.put("/v0/connectors/f", file(outside)).await;
        let err = assert_error(&got, 400, "InvalidConnectorConfig");
        assert_eq!(
            err["details"]["field"], "config.transport.config.path",
            "{err}"
        );
    }
    assert_eq!(
        s.put("/v0/connectors/f", file("out/changes.jsonl")).await.0,
        201
    );
    let program = json!({"description": "", "code": "CREATE TABLE t (x INT NOT NULL); CREATE VIEW v AS SELECT x FROM t;"});
    assert_eq!(s.put("/v0/programs/p", program).await.0, 201);
    crate::common::compiled(&s, "p").await;
    let pipeline = json!({"description": "", "program_name": "p", "config": {"workers": 1},
        "connectors": [{"name": "out", "connector_name": "f", "is_input": false, "relation_name": "v"}]});
    assert_eq!(s.put("/v0/pipelines/pf", pipeline).await.0, 201);
    crate::common::action(&s, "pf", "start").await;
    crate::common::reaches(&s, "pf", "Running").await;
    let (status, body) = s
        .raw(
            Method::POST,
            "/v0/pipelines/pf/ingress/t?format=json",
            Some("application/json"),
            br#"{"insert": {"x": 5}}"#.to_vec(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    crate::common::action(&s, "pf", "shutdown").await;
    crate::common::reaches(&s, "pf", "Shutdown").await;
    let text = std::fs::read_to_string(dir.path().join("files/out/changes.jsonl")).unwrap();
    assert_eq!(text, "{\"insert\":{\"x\":5}}\n");
    s.stop().await;
}
