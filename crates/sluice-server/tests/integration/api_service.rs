//! API keys, authentication, service endpoints, restart persistence and concurrency, on SQLite and PostgreSQL.

use crate::common::{assert_error, compiled, seed_connector, Backend, Options, TestDb, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use sluice_server::{create_api_key, AuthMode};

both_backends!(
    api_key_crud,
    auth_on_requires_a_valid_key,
    auth_on_covers_unknown_routes_and_wrong_methods,
    auth_on_protects_programs_pipelines_actions_and_stats,
    auth_off_ignores_the_header,
    health_config_openapi_and_metrics,
    every_served_route_is_in_the_openapi_document,
    json_responses_carry_cache_control_no_cache,
    everything_survives_a_restart,
    fifty_concurrent_puts_make_one_connector,
    concurrent_puts_of_programs_and_pipelines,
    database_failures_are_generic_json_errors,
);

async fn database_failures_are_generic_json_errors(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    s.put("/v0/connectors/c", seed_connector()).await;
    // Closing the server's pool makes every query fail, as a lost database would.
    s.db.close().await;
    let (status, health) = s.get("/healthz").await;
    assert_eq!(status, 503);
    assert_eq!(health["status"], "unhealthy");
    let e = assert_error(&s.get("/v0/connectors").await, 500, "DatabaseError");
    assert_eq!(e["message"], "Internal database error");
    assert_eq!(e["details"], json!({}));
    assert_error(
        &s.put("/v0/connectors/c", seed_connector()).await,
        500,
        "DatabaseError",
    );
    s.stop().await;
}

async fn api_key_crud(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let (status, key) = s.post("/v0/api_keys", json!({"name": "my-api-key"})).await;
    assert_eq!(status, 201, "{key}");
    assert_eq!(key["name"], "my-api-key");
    let text = key["api_key"].as_str().unwrap();
    assert!(
        text.starts_with("apikey:") && text.len() == 7 + 128,
        "{text}"
    );
    assert_error(
        &s.post("/v0/api_keys", json!({"name": "my-api-key"})).await,
        409,
        "DuplicateName",
    );
    assert_error(
        &s.post("/v0/api_keys", json!({})).await,
        400,
        "MissingField",
    );
    let (status, list) = s.get("/v0/api_keys").await;
    assert_eq!(status, 200);
    assert_eq!(
        list,
        json!([{"id": key["api_key_id"], "name": "my-api-key", "scopes": ["Read", "Write"]}])
    );
    let (_, one) = s.get("/v0/api_keys/my-api-key").await;
    assert_eq!(one, list[0]);
    let (_, filtered) = s.get("/v0/api_keys?name=my-api-key").await;
    assert_eq!(filtered, list);
    assert_error(&s.get("/v0/api_keys?name=x").await, 404, "UnknownApiKey");
    assert_error(&s.get("/v0/api_keys/x").await, 404, "UnknownApiKey");
    // The key is never shown again, and only its hash is stored.
    assert!(!one.to_string().contains(text));
    let stored = sqlx_dump(&db).await;
    assert!(!stored.contains(&text[7..]));
    let (status, body) = s.delete("/v0/api_keys/my-api-key").await;
    assert_eq!((status.as_u16(), body), (200, Value::Null));
    assert_error(
        &s.delete("/v0/api_keys/my-api-key").await,
        404,
        "UnknownApiKey",
    );
    s.stop().await;
}

/// Every stored API key column, as text.
async fn sqlx_dump(db: &TestDb) -> String {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let rows: Vec<(String, String, String)> = sqlx::query_as("SELECT id, name, hash FROM api_key")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    format!("{rows:?}")
}

/// A server over `db` with `--auth api-key`.
async fn start_with_auth(db: &TestDb) -> TestServer {
    TestServer::start_with(
        db,
        Options {
            auth: AuthMode::ApiKey,
            ..Options::default()
        },
    )
    .await
}

async fn auth_on_requires_a_valid_key(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = start_with_auth(&db).await;
    // The first key, as `sluice api-key create` makes it: straight into the database.
    let key = create_api_key(&s.db, "admin", &[]).await.unwrap().api_key;

    let e = assert_error(&s.get("/v0/connectors").await, 401, "MissingCredentials");
    assert!(e["message"].as_str().unwrap().contains("Bearer"), "{e}");
    let wrong = format!("apikey:{}", "A".repeat(128));
    assert_error(
        &s.call_with(Method::GET, "/v0/connectors", None, Some(&wrong))
            .await,
        401,
        "InvalidKey",
    );
    assert_error(
        &s.call_with(Method::GET, "/v0/connectors", None, Some("not-a-key"))
            .await,
        401,
        "MissingCredentials",
    );
    // The challenges Feldera sends: bare without credentials, with the reason for an unknown key.
    let response = s.client.get(s.url("/v0/connectors")).send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let response = s
        .client
        .get(s.url("/v0/connectors"))
        .bearer_auth(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer error_description="Unauthorized API key""#
    );
    // A wrong key on a write stores nothing.
    let (status, _) = s
        .call_with(
            Method::PUT,
            "/v0/connectors/c",
            Some(seed_connector()),
            Some(&wrong),
        )
        .await;
    assert_eq!(status, 401);

    let (status, _) = s
        .call_with(
            Method::PUT,
            "/v0/connectors/c",
            Some(seed_connector()),
            Some(&key),
        )
        .await;
    assert_eq!(status, 201);
    let (status, list) = s
        .call_with(Method::GET, "/v0/connectors", None, Some(&key))
        .await;
    assert_eq!((status.as_u16(), list.as_array().unwrap().len()), (200, 1));
    let (status, second) = s
        .call_with(
            Method::POST,
            "/v0/api_keys",
            Some(json!({"name": "second"})),
            Some(&key),
        )
        .await;
    assert_eq!(status, 201);
    let second = second["api_key"].as_str().unwrap().to_string();
    let (status, _) = s
        .call_with(Method::DELETE, "/v0/api_keys/admin", None, Some(&second))
        .await;
    assert_eq!(status, 200);
    assert_error(
        &s.call_with(Method::GET, "/v0/connectors", None, Some(&key))
            .await,
        401,
        "InvalidKey",
    );
    // Public endpoints need no key.
    assert_eq!(s.get("/healthz").await.0, 200);
    let (_, auth) = s.get("/config/authentication").await;
    assert!(auth["ApiKey"].is_object(), "{auth}");
    assert_eq!(s.get("/api-doc/openapi.json").await.0, 200);
    s.stop().await;
}

/// Under `/v0`, a request without a key learns nothing, not even whether the route exists: 401 before 404/405.
async fn auth_on_covers_unknown_routes_and_wrong_methods(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = start_with_auth(&db).await;
    let key = create_api_key(&s.db, "admin", &[]).await.unwrap().api_key;
    let wrong = format!("apikey:{}", "A".repeat(128));
    for (method, path, with_key) in [
        (Method::GET, "/v0/nothing", (404, "UnknownRoute")),
        (Method::GET, "/v0", (404, "UnknownRoute")),
        (Method::POST, "/v0/connectors/x", (405, "MethodNotAllowed")),
        (Method::DELETE, "/v0/connectors", (405, "MethodNotAllowed")),
    ] {
        assert_error(
            &s.call_with(method.clone(), path, None, None).await,
            401,
            "MissingCredentials",
        );
        assert_error(
            &s.call_with(method.clone(), path, None, Some(&wrong)).await,
            401,
            "InvalidKey",
        );
        assert_error(
            &s.call_with(method, path, None, Some(&key)).await,
            with_key.0,
            with_key.1,
        );
    }
    // Outside /v0 nothing needs a key, errors included; the console's page asks for one itself.
    let console = s.client.get(s.url("/")).send().await.unwrap();
    assert_eq!(console.status(), 200);
    assert!(console.text().await.unwrap().contains("/console/app.js"));
    assert_error(&s.get("/nothing").await, 404, "UnknownRoute");
    assert_error(&s.get("/v1/connectors").await, 404, "UnknownRoute");
    assert_error(&s.put("/healthz", json!({})).await, 405, "MethodNotAllowed");
    let metrics = s.client.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    s.stop().await;
}

/// Programs, pipelines, a lifecycle action and stats with auth on: each is 401 without the key and changes
/// nothing, and succeeds with it.
async fn auth_on_protects_programs_pipelines_actions_and_stats(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = start_with_auth(&db).await;
    let key = create_api_key(&s.db, "admin", &[]).await.unwrap().api_key;
    // Each request once without a key (401, MissingCredentials) and then with it (the given status).
    let both = |method: Method, path: &'static str, body: Option<Value>, want: u16| {
        let s = &s;
        let key = key.clone();
        async move {
            assert_error(
                &s.call_with(method.clone(), path, body.clone(), None).await,
                401,
                "MissingCredentials",
            );
            let (status, got) = s.call_with(method.clone(), path, body, Some(&key)).await;
            assert_eq!(status.as_u16(), want, "{method} {path} with the key: {got}");
            got
        }
    };
    let keyed = |path: &'static str| {
        let s = &s;
        let key = key.clone();
        async move { s.call_with(Method::GET, path, None, Some(&key)).await.1 }
    };

    let code = "CREATE TABLE t (x INT);";
    both(
        Method::PUT,
        "/v0/programs/prog",
        Some(json!({"description": "", "code": code})),
        201,
    )
    .await;
    both(Method::GET, "/v0/programs", None, 200).await;
    let mut program = Value::Null;
    for _ in 0..200 {
        program = keyed("/v0/programs/prog").await;
        if program["status"] == "Success" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(program["status"], "Success", "{program}");
    both(
        Method::PATCH,
        "/v0/programs/prog",
        Some(json!({"description": "patched"})),
        200,
    )
    .await;
    assert_eq!(keyed("/v0/programs/prog").await["description"], "patched");

    both(
        Method::PUT,
        "/v0/pipelines/pipe",
        Some(json!({"description": "", "program_name": "prog"})),
        201,
    )
    .await;
    let listed = both(Method::GET, "/v0/pipelines", None, 200).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    both(Method::GET, "/v0/pipelines/pipe/validate", None, 200).await;

    // The refused start left the desired status alone; the accepted one changed it.
    assert_error(
        &s.call_with(Method::POST, "/v0/pipelines/pipe/start", None, None)
            .await,
        401,
        "MissingCredentials",
    );
    assert_eq!(
        keyed("/v0/pipelines/pipe").await["state"]["desired_status"],
        "Shutdown"
    );
    let (status, _) = s
        .call_with(Method::POST, "/v0/pipelines/pipe/start", None, Some(&key))
        .await;
    assert_eq!(status, 202);
    let mut pipeline = Value::Null;
    for _ in 0..300 {
        pipeline = keyed("/v0/pipelines/pipe").await;
        if pipeline["state"]["current_status"] == "Running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(pipeline["state"]["current_status"], "Running", "{pipeline}");
    let stats = both(Method::GET, "/v0/pipelines/pipe/stats", None, 200).await;
    assert_eq!(stats["global_metrics"]["state"], "Running", "{stats}");
    both(Method::POST, "/v0/pipelines/pipe/shutdown", None, 202).await;
    s.stop().await;
}

async fn auth_off_ignores_the_header(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let (status, _) = s
        .call_with(
            Method::PUT,
            "/v0/connectors/total-sales",
            Some(seed_connector()),
            Some("<API-KEY>"),
        )
        .await;
    assert_eq!(status, 201);
    let (_, auth) = s.get("/config/authentication").await;
    assert_eq!(auth, json!({}));
    s.stop().await;
}

async fn health_config_openapi_and_metrics(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    assert_eq!(
        s.get("/healthz").await,
        (reqwest::StatusCode::OK, json!({"status": "healthy"}))
    );
    let (status, doc) = s.get("/api-doc/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v0/connectors",
        "/v0/connectors/{name}",
        "/v0/programs/{name}/compile",
        "/v0/pipelines/{name}/{action}",
        "/v0/pipelines/{name}/stats",
        "/v0/api_keys/{name}",
        "/healthz",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["paths"]["/v0/connectors/{name}"]["put"]["responses"]["201"].is_object());
    assert!(doc["components"]["schemas"]["ConnectorDescr"].is_object());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert_eq!(
        doc["paths"]["/v0/connectors/{name}"]["put"]["responses"]["400"]["content"]
            ["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    // /stats has a real schema: the transport-neutral connector stats with their health.
    assert_eq!(
        doc["paths"]["/v0/pipelines/{name}/stats"]["get"]["responses"]["200"]["content"]
            ["application/json"]["schema"]["$ref"],
        "#/components/schemas/PipelineStats"
    );
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [
        ("PipelineStats", "outputs"),
        ("PipelineStats", "input_connectors"),
        ("OutputConnectorStats", "transport"),
        ("OutputTransportStats", "health"),
        ("InputTransportStats", "transport_name"),
        ("GlobalStats", "total_processed_records"),
    ] {
        assert!(
            schemas[schema]["properties"][field].is_object(),
            "{schema}.{field} missing: {}",
            schemas[schema]
        );
    }

    s.put("/v0/connectors/c", seed_connector()).await;
    s.get("/v0/connectors/c").await;
    let response = s.client.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    assert!(text.contains(
        r#"sluice_http_requests_total{method="PUT",route="/v0/connectors/{name}",status="201"} 1"#
    ), "{text}");
    assert!(text.contains("\nsluice_connectors 1\n"), "{text}");
    assert!(text.contains("\nsluice_pipelines 0\n"), "{text}");
    s.stop().await;
}

/// Walks the server's own route table (the list the router is built from): every method and path it serves is
/// answered by a handler (not 404 `UnknownRoute` nor 405) and is an operation of the OpenAPI document, and the
/// document has no operation the server does not serve. Also checks the error responses documented per kind.
async fn every_served_route_is_in_the_openapi_document(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let (status, doc) = s.get("/api-doc/openapi.json").await;
    assert_eq!(status, 200);
    let routes = sluice_server::route_table();
    let mut served = std::collections::BTreeSet::new();
    for (method, path) in &routes {
        let verb = method.as_str().to_ascii_lowercase();
        let operation = &doc["paths"][*path][&verb];
        assert!(
            operation.is_object(),
            "{method} {path} is served but missing from the OpenAPI document"
        );
        served.insert((verb, path.to_string()));
        let concrete = path
            .replace("{name}", "x")
            .replace("{table}", "t")
            .replace("{view}", "v")
            .replace("{action}", "start");
        let response = s
            .client
            .request(method.clone(), s.url(&concrete))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_ne!(status, 405, "{method} {concrete}: {text}");
        assert!(
            !text.contains("\"UnknownRoute\""),
            "{method} {concrete}: {text}"
        );
    }
    let mut documented = std::collections::BTreeSet::new();
    let mut operation_ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (verb, operation) in item.as_object().unwrap() {
            documented.insert((verb.clone(), path.clone()));
            let id = operation["operationId"].as_str().unwrap().to_string();
            assert!(
                operation_ids.insert(id),
                "{verb} {path}: duplicate operationId"
            );
        }
    }
    assert_eq!(
        documented, served,
        "documented operations the server does not serve"
    );

    let errors = |verb: &str, path: &str, status: &str| -> String {
        let response = &doc["paths"][path][verb]["responses"][status];
        assert_eq!(
            response["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody",
            "{verb} {path} {status}"
        );
        response["description"].as_str().unwrap().to_string()
    };
    assert!(errors("get", "/v0/connectors", "400").contains("InvalidUuidParam"));
    assert!(errors("post", "/v0/programs", "400").contains("InvalidName"));
    assert!(errors("put", "/v0/programs/{name}", "400").contains("InvalidName"));
    assert!(errors("put", "/v0/pipelines/{name}", "400").contains("TablesNotInSchema"));
    assert!(errors("put", "/v0/pipelines/{name}", "409").contains("ConcurrentModification"));
    assert!(errors("patch", "/v0/pipelines/{name}", "400").contains("InvalidAttachedConnector"));
    assert!(errors("patch", "/v0/pipelines/{name}", "409").contains("DuplicateName"));
    assert!(errors("post", "/v0/api_keys", "400").contains("InvalidName"));
    // Cross-cutting: 401 on every /v0 operation only, 413 with a body, 415 with a JSON body.
    for (method, path) in &routes {
        let verb = method.as_str().to_ascii_lowercase();
        let responses = &doc["paths"][*path][&verb]["responses"];
        assert_eq!(
            responses["401"].is_object(),
            path.starts_with("/v0"),
            "{method} {path}: 401"
        );
    }
    assert!(errors("put", "/v0/connectors/{name}", "413").contains("PayloadTooLarge"));
    assert!(errors("put", "/v0/connectors/{name}", "415").contains("UnsupportedMediaType"));
    assert!(
        errors("post", "/v0/pipelines/{name}/ingress/{table}", "413").contains("PayloadTooLarge")
    );
    let ingress = &doc["paths"]["/v0/pipelines/{name}/ingress/{table}"]["post"]["responses"];
    assert!(ingress["415"].is_null(), "ingress takes any content type");
    assert!(doc["paths"]["/v0/connectors"]["get"]["responses"]["413"].is_null());
    s.stop().await;
}

/// Every JSON answer, success or error, carries `Cache-Control: no-cache`, as Feldera's did; the Prometheus text
/// of `/metrics` is left alone.
async fn json_responses_carry_cache_control_no_cache(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let cache_control = |method: Method, path: &'static str, body: Option<Value>| {
        let s = &s;
        async move {
            let mut request = s.client.request(method, s.url(path));
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let header = response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap().to_string());
            (status, header)
        }
    };
    let no_cache = Some("no-cache".to_string());
    for (method, path, body, status) in [
        (Method::PUT, "/v0/connectors/c", Some(seed_connector()), 201),
        (Method::GET, "/v0/connectors", None, 200),
        (Method::GET, "/v0/connectors/c", None, 200),
        (Method::GET, "/v0/connectors/nope", None, 404),
        (Method::POST, "/v0/connectors", Some(json!({})), 400),
        (Method::GET, "/v0/nothing", None, 404),
        (Method::GET, "/healthz", None, 200),
        (Method::GET, "/api-doc/openapi.json", None, 200),
    ] {
        assert_eq!(
            cache_control(method.clone(), path, body).await,
            (status, no_cache.clone()),
            "{method} {path}"
        );
    }
    assert_eq!(
        cache_control(Method::GET, "/metrics", None).await,
        (200, None)
    );
    s.stop().await;
}

async fn everything_survives_a_restart(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let (status, c) = s.put("/v0/connectors/total-sales", seed_connector()).await;
    assert_eq!(status, 201, "{c}");
    let code = "CREATE TABLE t (x INT); CREATE VIEW v AS SELECT x FROM t;";
    let (status, body) = s
        .put(
            "/v0/programs/prog",
            json!({"description": "d", "code": code}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // Compilation runs in the background: wait for it, so both snapshots see the same final status.
    assert_eq!(compiled(&s, "prog").await["status"], "Success");
    let attached = json!([{"name": "out", "is_input": false, "connector_name": "total-sales", "relation_name": "v"}]);
    let (status, body) = s
        .put(
            "/v0/pipelines/pipe",
            json!({"description": "d", "program_name": "prog", "connectors": attached}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, key) = s.post("/v0/api_keys", json!({"name": "k"})).await;
    let before = snapshot(&s).await;
    s.stop().await;

    let s = start_with_auth(&db).await;
    let key = key["api_key"].as_str().unwrap();
    let (status, got) = s
        .call_with(Method::GET, "/v0/connectors/total-sales", None, Some(key))
        .await;
    assert_eq!(status, 200, "the API key must survive the restart");
    assert_eq!(got["connector_id"], c["connector_id"]);
    s.stop().await;
    let s = TestServer::start(&db).await;
    assert_eq!(snapshot(&s).await, before);
    let (status, _) = s.put("/v0/connectors/total-sales", seed_connector()).await;
    assert_eq!(status, 200);
    s.stop().await;
}

async fn snapshot(s: &TestServer) -> Value {
    let mut all = serde_json::Map::new();
    for path in [
        "/v0/connectors",
        "/v0/programs?with_code=true",
        "/v0/pipelines",
        "/v0/api_keys",
    ] {
        let (status, body) = s.get(path).await;
        assert_eq!(status, 200);
        assert_eq!(body.as_array().unwrap().len(), 1, "{path}: {body}");
        all.insert(path.to_string(), body);
    }
    Value::Object(all)
}

async fn concurrent_puts(s: &TestServer, path: &str, body: Value, n: usize) -> Vec<(u16, Value)> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let client = s.client.clone();
        let url = s.url(path);
        let mut body = body.clone();
        body["description"] = json!(format!("writer {i}"));
        tasks.push(tokio::spawn(async move {
            let r = client.put(url).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn assert_one_created(results: &[(u16, Value)], id_field: &str) {
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let replaced = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!((created, replaced), (1, results.len() - 1), "{results:?}");
    let first = &results[0].1[id_field];
    assert!(
        results.iter().all(|(_, b)| &b[id_field] == first),
        "{results:?}"
    );
}

async fn fifty_concurrent_puts_make_one_connector(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let results = concurrent_puts(&s, "/v0/connectors/total-sales", seed_connector(), 50).await;
    assert_one_created(&results, "connector_id");
    let (_, list) = s.get("/v0/connectors").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    s.stop().await;
}

async fn concurrent_puts_of_programs_and_pipelines(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let results = concurrent_puts(
        &s,
        "/v0/programs/prog",
        json!({"description": "", "code": "CREATE TABLE t"}),
        20,
    )
    .await;
    assert_one_created(&results, "program_id");
    let results = concurrent_puts(
        &s,
        "/v0/pipelines/pipe",
        json!({"description": "", "program_name": "prog"}),
        20,
    )
    .await;
    assert_one_created(&results, "pipeline_id");
    let (_, list) = s.get("/v0/pipelines").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    s.stop().await;
}
