//! Connector endpoints, body errors and routing errors over real HTTP, on SQLite and PostgreSQL.

use crate::common::{assert_error, seed_connector, Backend, Options, TestDb, TestServer};
use reqwest::Method;
use serde_json::json;

both_backends!(
    connector_put_creates_then_replaces_keeping_the_id,
    connector_get_returns_the_normalized_config,
    connector_list_and_filters,
    connector_post_patch_delete,
    connector_invalid_configs_are_rejected_and_not_stored,
    body_errors_have_the_json_error_shape,
    routing_errors_have_the_json_error_shape,
    names_are_validated,
    kafka_input_connectors_are_validated_and_stored_normalized,
);

async fn connector_put_creates_then_replaces_keeping_the_id(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let (status, first) = s.put("/v0/connectors/total-sales", seed_connector()).await;
    assert_eq!(status, 201, "{first}");
    let id = first["connector_id"].as_str().unwrap().to_string();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
    let mut changed = seed_connector();
    changed["description"] = json!("changed");
    let (status, second) = s.put("/v0/connectors/total-sales", changed).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["connector_id"], id.as_str());
    let (_, got) = s.get("/v0/connectors/total-sales").await;
    assert_eq!(got["description"], "changed");
    let (_, list) = s.get("/v0/connectors").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    s.stop().await;
}

async fn connector_get_returns_the_normalized_config(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    s.put("/v0/connectors/total-sales", seed_connector()).await;
    let (status, got) = s.get("/v0/connectors/total-sales").await;
    assert_eq!(status, 200);
    assert_eq!(got["name"], "total-sales");
    assert_eq!(
        got["description"],
        "Kafka output connector for total sales from the book fair"
    );
    let config = &got["config"];
    assert_eq!(config["transport"]["name"], "kafka_output");
    let transport = &config["transport"]["config"];
    assert_eq!(transport["bootstrap.servers"], "example.com:9092");
    assert_eq!(transport["auto.offset.reset"], "earliest");
    assert_eq!(transport["topic"], "total-sales");
    assert_eq!(transport["initialization_timeout_secs"], 60);
    assert_eq!(transport["headers"], json!([]));
    assert_eq!(config["format"]["config"]["update_format"], "insert_delete");
    assert_eq!(config["format"]["config"]["array"], false);
    assert_eq!(config["max_queued_records"], 1_000_000);
    s.stop().await;
}

async fn connector_list_and_filters(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let (_, a) = s.put("/v0/connectors/a", seed_connector()).await;
    s.put("/v0/connectors/b", seed_connector()).await;
    let (status, list) = s.get("/v0/connectors").await;
    assert_eq!(status, 200);
    let names: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let (status, by_name) = s.get("/v0/connectors?name=b").await;
    assert_eq!(status, 200);
    assert_eq!(by_name.as_array().unwrap().len(), 1);
    assert_eq!(by_name[0]["name"], "b");
    let id = a["connector_id"].as_str().unwrap();
    let (status, by_id) = s.get(&format!("/v0/connectors?id={id}")).await;
    assert_eq!(status, 200);
    assert_eq!(by_id[0]["name"], "a");
    let e = assert_error(
        &s.get("/v0/connectors?name=nope").await,
        404,
        "UnknownConnectorName",
    );
    assert_eq!(e["details"]["connector_name"], "nope");
    assert_error(
        &s.get("/v0/connectors?id=0190b8e4-0000-7000-8000-000000000000")
            .await,
        404,
        "UnknownConnector",
    );
    assert_error(
        &s.get("/v0/connectors?id=not-a-uuid").await,
        400,
        "InvalidUuidParam",
    );
    s.stop().await;
}

async fn connector_post_patch_delete(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let mut body = seed_connector();
    body["name"] = json!("c1");
    let (status, created) = s.post("/v0/connectors", body.clone()).await;
    assert_eq!(status, 201, "{created}");
    let id = created["connector_id"].clone();
    assert_error(
        &s.post("/v0/connectors", body.clone()).await,
        409,
        "DuplicateName",
    );
    body["name"] = json!("c2");
    assert_eq!(s.post("/v0/connectors", body).await.0, 201);

    // PATCH changes only the given fields.
    let (status, patched) = s
        .patch("/v0/connectors/c1", json!({"description": "new"}))
        .await;
    assert_eq!((status.as_u16(), patched), (200, json!({})));
    let (_, got) = s.get("/v0/connectors/c1").await;
    assert_eq!(got["description"], "new");
    assert_eq!(got["config"]["transport"]["config"]["topic"], "total-sales");

    let mut config = seed_connector()["config"].clone();
    config["transport"]["config"]["topic"] = json!("other");
    assert_eq!(
        s.patch("/v0/connectors/c1", json!({"config": config}))
            .await
            .0,
        200
    );
    let (_, got) = s.get("/v0/connectors/c1").await;
    assert_eq!(got["config"]["transport"]["config"]["topic"], "other");
    assert_eq!(got["description"], "new");

    // Rename keeps the id; a clash is 409 and changes nothing.
    assert_eq!(
        s.patch("/v0/connectors/c1", json!({"name": "renamed"}))
            .await
            .0,
        200
    );
    assert_error(
        &s.get("/v0/connectors/c1").await,
        404,
        "UnknownConnectorName",
    );
    let (_, got) = s.get("/v0/connectors/renamed").await;
    assert_eq!(got["connector_id"], id);
    assert_error(
        &s.patch(
            "/v0/connectors/renamed",
            json!({"name": "c2", "description": "x"}),
        )
        .await,
        409,
        "DuplicateName",
    );
    let (_, got) = s.get("/v0/connectors/renamed").await;
    assert_eq!(got["description"], "new");
    assert_error(
        &s.patch("/v0/connectors/nope", json!({"description": "x"}))
            .await,
        404,
        "UnknownConnectorName",
    );
    assert_error(
        &s.patch(
            "/v0/connectors/renamed",
            json!({"config": {"transport": {"name": "kafka_output", "config": {}}}}),
        )
        .await,
        400,
        "InvalidConnectorConfig",
    );

    let (status, body) = s.delete("/v0/connectors/renamed").await;
    assert_eq!((status.as_u16(), body), (200, serde_json::Value::Null));
    assert_error(
        &s.delete("/v0/connectors/renamed").await,
        404,
        "UnknownConnectorName",
    );
    assert_error(
        &s.get("/v0/connectors/renamed").await,
        404,
        "UnknownConnectorName",
    );
    s.stop().await;
}

async fn connector_invalid_configs_are_rejected_and_not_stored(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let cases = [
        (
            json!({"/transport/config/topic": null}),
            "config.transport.config.topic",
        ),
        (
            json!({"/transport/config/topic": "bad topic"}),
            "config.transport.config.topic",
        ),
        (
            json!({"/transport/config/bootstrap.servers": null}),
            "config.transport.config.bootstrap.servers",
        ),
        (
            json!({"/format/config/update_format": "weighted"}),
            "config.format.config.update_format",
        ),
        (
            json!({"/format/config/tombstones": true}),
            "config.format.config.tombstones",
        ),
        (
            json!({"/format/config/key_fields": ["no_such_column", "no_such_column"]}),
            "config.format.config.key_fields",
        ),
        (json!({"/format/name": "parquet"}), "config.format.name"),
        // Avro: a password without a user, credentials in a header, and a schema that is not a record.
        (
            json!({"/format": {"name": "avro", "config": {
                "registry_urls": ["http://127.0.0.1:8081"], "registry_password": "pw"}}}),
            "config.format.config.registry_username",
        ),
        (
            json!({"/format": {"name": "avro", "config": {
                "registry_urls": ["http://127.0.0.1:8081"], "registry_headers": {"Authorization": "Basic x"}}}}),
            "config.format.config.registry_headers",
        ),
        (
            json!({"/format": {"name": "avro", "config": {"schema": "\"long\""}}}),
            "config.format.config.schema",
        ),
        (
            json!({"/transport/name": "kafka_outptu"}),
            "config.transport.name",
        ),
        (
            json!({"/max_queued_records": 0}),
            "config.max_queued_records",
        ),
        (
            json!({"/transport/config/max_inflight_messages": 5}),
            "config.transport.config.max_inflight_messages",
        ),
        (
            json!({"/transport/config/linger.msx": "10"}),
            "config.transport.config.linger.msx",
        ),
        (
            json!({"/transport/config/compression.type": "brotli"}),
            "config.transport.config.compression.type",
        ),
    ];
    for (change, field) in cases {
        let mut body = seed_connector();
        let (pointer, value) = change.as_object().unwrap().iter().next().unwrap();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let target = body["config"]
            .pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap();
        if value.is_null() {
            target.remove(key);
        } else {
            target.insert(key.to_string(), value.clone());
        }
        let e = assert_error(
            &s.put("/v0/connectors/c", body).await,
            400,
            "InvalidConnectorConfig",
        );
        assert_eq!(e["details"]["field"], field, "{e}");
        let reason = e["details"]["reason"].as_str().unwrap();
        assert!(!reason.is_empty());
        assert_eq!(
            e["message"],
            format!("Invalid connector config: {field}: {reason}")
        );
    }
    for name in ["http_input", "http_output"] {
        let body = json!({"description": "", "config": {"transport": {"name": name}}});
        let e = assert_error(
            &s.put("/v0/connectors/c", body).await,
            400,
            "InvalidConnectorTransport",
        );
        assert!(e["message"].as_str().unwrap().contains(name), "{e}");
    }
    let (_, list) = s.get("/v0/connectors").await;
    assert_eq!(list, json!([]));
    s.stop().await;
}

async fn body_errors_have_the_json_error_shape(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start_with(
        &db,
        Options {
            max_body_bytes: 4096,
            ..Options::default()
        },
    )
    .await;
    let json_ct = Some("application/json");
    let put = |body: &str| {
        s.raw(
            Method::PUT,
            "/v0/connectors/c",
            json_ct,
            body.as_bytes().to_vec(),
        )
    };
    assert_error(&put("{").await, 400, "InvalidJson");
    assert_error(&put("").await, 400, "InvalidJson");
    assert_error(
        &put(r#"{"description": "", "config": {}} {}"#).await,
        400,
        "InvalidJson",
    );
    let e = assert_error(&put(r#"{"config": {}}"#).await, 400, "MissingField");
    assert_eq!(e["details"]["path"], "description");
    let e = assert_error(
        &put(r#"{"description": 5, "config": {}}"#).await,
        400,
        "InvalidType",
    );
    assert_eq!(e["details"]["path"], "description");
    let e = assert_error(
        &put(r#"{"description": "", "config": {}, "colour": 1}"#).await,
        400,
        "UnknownField",
    );
    assert!(e["message"].as_str().unwrap().contains("colour"), "{e}");
    let e = assert_error(
        &s.raw(
            Method::PUT,
            "/v0/connectors/c",
            Some("text/plain"),
            b"{}".to_vec(),
        )
        .await,
        415,
        "UnsupportedMediaType",
    );
    assert_eq!(e["details"]["content_type"], "text/plain");
    assert_error(
        &s.raw(Method::PUT, "/v0/connectors/c", None, b"{}".to_vec())
            .await,
        415,
        "UnsupportedMediaType",
    );
    let big = format!(
        r#"{{"description": "{}", "config": {{}}}}"#,
        "x".repeat(5000)
    );
    let e = assert_error(&put(&big).await, 413, "PayloadTooLarge");
    assert_eq!(e["details"]["limit_bytes"], 4096);
    let (_, list) = s.get("/v0/connectors").await;
    assert_eq!(list, json!([]));
    s.stop().await;
}

async fn routing_errors_have_the_json_error_shape(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let e = assert_error(&s.get("/v0/nothing").await, 404, "UnknownRoute");
    assert_eq!(e["details"]["path"], "/v0/nothing");
    assert_error(&s.get("/nothing").await, 404, "UnknownRoute");
    assert_error(&s.get("/console/nothing.js").await, 404, "UnknownRoute");
    let e = assert_error(
        &s.call(Method::POST, "/v0/connectors/x", Some(json!({})))
            .await,
        405,
        "MethodNotAllowed",
    );
    assert_eq!(e["details"]["method"], "POST");
    assert_error(&s.delete("/v0/connectors").await, 405, "MethodNotAllowed");
    assert_error(&s.put("/healthz", json!({})).await, 405, "MethodNotAllowed");
    s.stop().await;
}

async fn names_are_validated(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    for bad in ["bad%20name", "-lead", "a.b", &"x".repeat(101)] {
        let e = assert_error(
            &s.put(&format!("/v0/connectors/{bad}"), seed_connector())
                .await,
            400,
            "InvalidName",
        );
        assert!(e["details"]["reason"].is_string());
    }
    let mut body = seed_connector();
    body["name"] = json!("has space");
    assert_error(&s.post("/v0/connectors", body).await, 400, "InvalidName");
    assert_error(
        &s.post("/v0/api_keys", json!({"name": ""})).await,
        400,
        "InvalidName",
    );
    let (_, list) = s.get("/v0/connectors").await;
    assert_eq!(list, json!([]));
    s.stop().await;
}

async fn kafka_input_connectors_are_validated_and_stored_normalized(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start(&db).await;
    let body = |transport: serde_json::Value| {
        json!({"description": "orders in", "config": {
            "transport": {"name": "kafka_input", "config": transport},
            "format": {"name": "json", "config": {"update_format": "raw"}}}})
    };
    let good = json!({"bootstrap.servers": "example.com:9092", "topics": ["orders"],
                      "auto.offset.reset": "earliest", "fetch.wait.max.ms": 100});
    let (status, created) = s.put("/v0/connectors/orders-in", body(good.clone())).await;
    assert_eq!(status, 201, "{created}");
    let (_, got) = s.get("/v0/connectors/orders-in").await;
    assert_eq!(
        got["config"]["transport"],
        json!({"name": "kafka_input", "config": {
            "auto.offset.reset": "earliest", "bootstrap.servers": "example.com:9092",
            "fetch.wait.max.ms": "100", "topics": ["orders"], "log_level": null,
            "group_join_timeout_secs": 10}})
    );

    for (key, value) in [
        ("topics", json!([])),
        ("auto.offset.reset", json!("oldest")),
        ("fetch.wait.max.msx", json!("10")),
    ] {
        let mut transport = good.clone();
        transport[key] = value;
        let e = assert_error(
            &s.put("/v0/connectors/bad", body(transport)).await,
            400,
            "InvalidConnectorConfig",
        );
        assert_eq!(
            e["details"]["field"],
            format!("config.transport.config.{key}"),
            "{e}"
        );
    }
    let (_, list) = s.get("/v0/connectors").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    s.stop().await;
}
