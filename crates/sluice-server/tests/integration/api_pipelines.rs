//! Program and pipeline endpoints over real HTTP, on SQLite and PostgreSQL.

use std::sync::Arc;

use crate::common::{
    action, assert_error, compiled, reaches, seed_connector, Backend, Options, TestDb, TestServer,
};
use reqwest::Method;
use serde_json::{json, Value};
use sluice_server::UnavailableCompiler;

both_backends!(
    program_crud_versions_and_pending_status,
    program_compilation_with_a_compiler,
    program_schema_has_the_columns_and_rename_keeps_the_program,
    pipeline_crud_and_validation,
    pipeline_lifecycle_errors,
    pipeline_relations_are_checked_against_a_compiled_program,
    data_plane_errors_of_a_running_pipeline,
);

async fn start_compiling(db: &TestDb) -> TestServer {
    // The server's own compiler: sluice-sql.
    TestServer::start(db).await
}

/// A server whose programs stay `Pending`, for the rules that apply before a program is compiled.
async fn start_uncompiled(db: &TestDb) -> TestServer {
    TestServer::start_with(
        db,
        Options {
            compiler: Some(Arc::new(UnavailableCompiler)),
            ..Options::default()
        },
    )
    .await
}

fn program(code: &str) -> Value {
    json!({"description": "d", "code": code})
}

async fn program_crud_versions_and_pending_status(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = start_uncompiled(&db).await;
    let (status, created) = s.put("/v0/programs/p", program("CREATE TABLE t")).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["version"], 1);
    let (_, got) = s.get("/v0/programs/p").await;
    assert_eq!(got["status"], "Pending");
    assert!(got["status_detail"]
        .as_str()
        .unwrap()
        .contains("SQL compiler is not available"));
    assert_eq!(got["schema"], Value::Null);
    assert_eq!(got["code"], Value::Null);
    assert_eq!(got["config"], json!({"profile": null}));
    let (_, got) = s.get("/v0/programs/p?with_code=true").await;
    assert_eq!(got["code"], "CREATE TABLE t");
    assert_error(
        &s.get("/v0/programs/p?with_code=maybe").await,
        400,
        "InvalidQuery",
    );

    // Same code: replaced, same version; new code: next version.
    let (status, same) = s.put("/v0/programs/p", program("CREATE TABLE t")).await;
    assert_eq!((status.as_u16(), &same["version"]), (200, &json!(1)));
    assert_eq!(same["program_id"], created["program_id"]);
    let (_, next) = s.put("/v0/programs/p", program("CREATE TABLE u")).await;
    assert_eq!(next["version"], 2);

    let e = assert_error(
        &s.patch("/v0/programs/p", json!({"code": "x", "guard": 1}))
            .await,
        409,
        "OutdatedProgramVersion",
    );
    assert_eq!(e["details"]["latest_version"], 2);
    let (status, patched) = s
        .patch("/v0/programs/p", json!({"description": "only", "guard": 2}))
        .await;
    assert_eq!((status.as_u16(), patched), (200, json!({"version": 2})));
    let (_, patched) = s
        .patch(
            "/v0/programs/p",
            json!({"config": {"profile": "optimized"}}),
        )
        .await;
    assert_eq!(patched, json!({"version": 3}));
    assert_error(
        &s.patch("/v0/programs/p", json!({"config": {"profile": "fastest"}}))
            .await,
        400,
        "InvalidValue",
    );

    assert_error(
        &s.post("/v0/programs/p/compile", json!({"version": 1}))
            .await,
        409,
        "OutdatedProgramVersion",
    );
    assert_eq!(
        s.post("/v0/programs/p/compile", json!({"version": 3}))
            .await
            .0,
        202
    );

    let (status, posted) = s
        .post(
            "/v0/programs",
            json!({"name": "q", "description": "", "code": ""}),
        )
        .await;
    assert_eq!((status.as_u16(), &posted["version"]), (201, &json!(1)));
    assert_error(
        &s.post(
            "/v0/programs",
            json!({"name": "q", "description": "", "code": ""}),
        )
        .await,
        409,
        "DuplicateName",
    );
    let (_, list) = s.get("/v0/programs").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let (_, list) = s.get("/v0/programs?name=q&with_code=true").await;
    assert_eq!(list[0]["code"], "");
    assert_error(
        &s.get("/v0/programs?name=zz").await,
        404,
        "UnknownProgramName",
    );
    assert_error(
        &s.get("/v0/programs?id=0190b8e4-0000-7000-8000-000000000000")
            .await,
        404,
        "UnknownProgram",
    );
    let id = posted["program_id"].as_str().unwrap();
    let (_, list) = s.get(&format!("/v0/programs?id={id}")).await;
    assert_eq!(list[0]["name"], "q");

    // In use by a pipeline: cannot be deleted.
    s.put(
        "/v0/pipelines/pl",
        json!({"description": "", "program_name": "q"}),
    )
    .await;
    let e = assert_error(
        &s.delete("/v0/programs/q").await,
        400,
        "ProgramInUseByPipeline",
    );
    assert_eq!(e["details"]["program_name"], "q");
    assert_eq!(s.delete("/v0/pipelines/pl").await.0, 200);
    assert_eq!(s.delete("/v0/programs/q").await.0, 200);
    assert_error(&s.delete("/v0/programs/q").await, 404, "UnknownProgramName");
    assert_error(&s.get("/v0/programs/q").await, 404, "UnknownProgramName");
    assert_error(
        &s.patch("/v0/programs/q", json!({})).await,
        404,
        "UnknownProgramName",
    );
    s.stop().await;
}

async fn program_compilation_with_a_compiler(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = start_compiling(&db).await;
    s.put(
        "/v0/programs/good",
        program("CREATE TABLE Orders (id BIGINT NOT NULL, amount DECIMAL(10, 2));\nCREATE VIEW totals AS SELECT id, SUM(amount) AS total FROM orders GROUP BY id;"),
    )
    .await;
    let got = compiled(&s, "good").await;
    assert_eq!(got["status"], "Success", "{got}");
    assert_eq!(got["status_detail"], Value::Null);
    assert_eq!(got["schema"]["inputs"][0]["name"], "orders");
    assert_eq!(got["schema"]["outputs"][0]["name"], "totals");
    assert!(got["schema"].get("warnings").is_none(), "{got}");
    // A program that compiles with a warning: Success, and the warning with its position in the schema.
    s.put(
        "/v0/programs/warned",
        program("CREATE TABLE t (a INT);\nCREATE VIEW v AS SELECT a FROM t ORDER BY a;"),
    )
    .await;
    let got = compiled(&s, "warned").await;
    assert_eq!(got["status"], "Success", "{got}");
    // What the compiler knows of each relation: a materialized view, an append-only table and the view over it.
    assert_eq!(
        (
            &got["schema"]["inputs"][0]["append_only"],
            &got["schema"]["outputs"][0]["materialized"]
        ),
        (&json!(false), &json!(false)),
        "{got}"
    );
    s.put(
        "/v0/programs/kinds",
        program(
            "CREATE TABLE e (a INT) WITH ('append_only' = 'true');\nCREATE MATERIALIZED VIEW m AS SELECT a FROM e;\n\
             CREATE VIEW n AS SELECT COUNT(*) AS c FROM e;",
        ),
    )
    .await;
    let kinds = compiled(&s, "kinds").await;
    let relation = |side: &str, i: usize| {
        let r = &kinds["schema"][side][i];
        (
            r["name"].clone(),
            r["materialized"].clone(),
            r["append_only"].clone(),
        )
    };
    assert_eq!(
        [
            relation("inputs", 0),
            relation("outputs", 0),
            relation("outputs", 1)
        ],
        [
            (json!("e"), json!(false), json!(true)),
            (json!("m"), json!(true), json!(true)),
            (json!("n"), json!(false), json!(false)),
        ],
        "{kinds}"
    );
    let w = &got["schema"]["warnings"][0];
    assert_eq!(
        (
            &w["warning"],
            &w["error_type"],
            &w["start_line_number"],
            &w["start_column"]
        ),
        (&json!(true), &json!("Warning"), &json!(2), &json!(34)),
        "{got}"
    );
    assert!(
        w["message"]
            .as_str()
            .unwrap()
            .contains("ORDER BY without LIMIT"),
        "{got}"
    );
    s.put("/v0/programs/bad", program("SELEKT 1")).await;
    let got = compiled(&s, "bad").await;
    assert_eq!(
        got["status"]["SqlError"][0]["start_line_number"], 1,
        "{got}"
    );
    // A new version drops the old schema until it compiles again.
    s.patch(
        "/v0/programs/good",
        json!({"code": "CREATE TABLE x (a INT);"}),
    )
    .await;
    let got = compiled(&s, "good").await;
    assert_eq!(got["version"], 2);
    assert_eq!(got["schema"]["inputs"][0]["name"], "x");
    s.stop().await;
}

/// A Kafka input connector; it is only stored, never started, so no broker is needed.
fn kafka_input() -> Value {
    json!({"description": "", "config": {
        "transport": {"name": "kafka_input", "config": {"bootstrap.servers": "127.0.0.1:1", "topics": ["t"]}},
        "format": {"name": "json", "config": {"update_format": "raw"}}}})
}

async fn program_schema_has_the_columns_and_rename_keeps_the_program(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = start_compiling(&db).await;
    let (_, created) = s
        .put(
            "/v0/programs/good",
            program("CREATE TABLE Orders (id BIGINT NOT NULL, amount DECIMAL(10, 2), note VARCHAR(20));\nCREATE VIEW totals AS SELECT id, SUM(amount) AS total FROM orders GROUP BY id;"),
        )
        .await;
    let got = compiled(&s, "good").await;
    assert_eq!(got["status"], "Success", "{got}");
    assert_eq!(
        got["schema"],
        json!({
            "inputs": [{"name": "orders", "fields": [
                {"name": "id", "columntype": {"type": "BIGINT"}, "nullable": false},
                {"name": "amount", "columntype": {"type": "DECIMAL", "precision": 10, "scale": 2}, "nullable": true},
                {"name": "note", "columntype": {"type": "VARCHAR", "length": 20}, "nullable": true},
            ], "materialized": false, "append_only": false}],
            "outputs": [{"name": "totals", "fields": [
                {"name": "id", "columntype": {"type": "BIGINT"}, "nullable": false},
                {"name": "total", "columntype": {"type": "DECIMAL", "precision": 20, "scale": 2}, "nullable": true},
            ], "materialized": false, "append_only": false}],
        })
    );

    // Rename through PATCH: same id, version and schema under the new name; the old name is gone, and a
    // pipeline using the program shows the new name.
    s.put(
        "/v0/pipelines/pl",
        json!({"description": "", "program_name": "good"}),
    )
    .await;
    s.put("/v0/programs/other", program("")).await;
    let (status, patched) = s
        .patch("/v0/programs/good", json!({"name": "renamed"}))
        .await;
    assert_eq!((status.as_u16(), patched), (200, json!({"version": 1})));
    assert_error(&s.get("/v0/programs/good").await, 404, "UnknownProgramName");
    let (status, renamed) = s.get("/v0/programs/renamed").await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["program_id"], created["program_id"]);
    assert_eq!(renamed["name"], "renamed");
    assert_eq!(renamed["version"], 1);
    assert_eq!(renamed["schema"], got["schema"]);
    let (_, pl) = s.get("/v0/pipelines/pl").await;
    assert_eq!(pl["descriptor"]["program_name"], "renamed");
    assert_error(
        &s.patch("/v0/programs/renamed", json!({"name": "other"}))
            .await,
        409,
        "DuplicateName",
    );
    assert_error(
        &s.patch("/v0/programs/renamed", json!({"name": "bad name"}))
            .await,
        400,
        "InvalidName",
    );
    let (_, list) = s.get("/v0/programs").await;
    let names: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["renamed", "other"]);
    s.stop().await;
}

fn attach(name: &str, is_input: bool, connector: &str, relation: &str) -> Value {
    json!({"name": name, "is_input": is_input, "connector_name": connector, "relation_name": relation})
}

async fn pipeline_crud_and_validation(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = start_uncompiled(&db).await;
    s.put("/v0/connectors/total-sales", seed_connector()).await;
    s.put("/v0/connectors/other", seed_connector()).await;
    s.put("/v0/programs/prog", program("CREATE VIEW v")).await;
    let out = attach("Output-To-View", false, "total-sales", "my_output_view");
    let (status, created) = s
        .post(
            "/v0/pipelines",
            json!({"name": "p", "description": "d", "program_name": "prog",
                   "config": {"workers": 4}, "connectors": [out.clone()]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["version"], 1);
    let (status, got) = s.get("/v0/pipelines/p").await;
    assert_eq!(status, 200);
    let d = &got["descriptor"];
    assert_eq!(d["pipeline_id"], created["pipeline_id"]);
    assert_eq!(d["program_name"], "prog");
    assert_eq!(d["config"]["workers"], 4);
    assert_eq!(d["config"]["cpu_profiler"], true);
    assert_eq!(d["attached_connectors"], json!([out]));
    assert_eq!(got["state"]["current_status"], "Shutdown");
    assert_eq!(got["state"]["desired_status"], "Shutdown");
    assert_eq!(got["state"]["error"], Value::Null);
    assert_error(
        &s.post("/v0/pipelines", json!({"name": "p", "description": ""}))
            .await,
        409,
        "DuplicateName",
    );

    // PATCH: absent fields are unchanged; a present list replaces all; null detaches the program.
    let (status, v) = s
        .patch("/v0/pipelines/p", json!({"description": "e"}))
        .await;
    assert_eq!((status.as_u16(), v), (200, json!({"version": 2})));
    let (_, got) = s.get("/v0/pipelines/p").await;
    assert_eq!(got["descriptor"]["program_name"], "prog");
    assert_eq!(
        got["descriptor"]["attached_connectors"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(got["descriptor"]["config"]["workers"], 4);
    let two = json!([
        attach("a", false, "total-sales", "v"),
        attach("b", false, "other", "v")
    ]);
    s.patch("/v0/pipelines/p", json!({"connectors": two})).await;
    let (_, got) = s.get("/v0/pipelines/p").await;
    assert_eq!(got["descriptor"]["attached_connectors"], two);
    s.patch("/v0/pipelines/p", json!({"program_name": null}))
        .await;
    let (_, got) = s.get("/v0/pipelines/p").await;
    assert_eq!(got["descriptor"]["program_name"], Value::Null);

    // References are checked and nothing changes on error.
    let e = assert_error(
        &s.patch(
            "/v0/pipelines/p",
            json!({"connectors": [attach("x", false, "nope", "v")]}),
        )
        .await,
        404,
        "UnknownConnectorName",
    );
    assert_eq!(e["details"]["connector_name"], "nope");
    assert_error(
        &s.patch("/v0/pipelines/p", json!({"program_name": "nope"}))
            .await,
        404,
        "UnknownProgramName",
    );
    let e = assert_error(
        &s.patch(
            "/v0/pipelines/p",
            json!({"connectors": [attach("x", true, "other", "t")]}),
        )
        .await,
        400,
        "InvalidAttachedConnector",
    );
    assert!(
        e["message"].as_str().unwrap().contains("kafka_output"),
        "{e}"
    );
    assert_error(
        &s.patch("/v0/pipelines/p", json!({"connectors": [attach("x", false, "other", "v"), attach("x", false, "other", "v")]})).await,
        400,
        "InvalidAttachedConnector",
    );
    assert_error(
        &s.patch(
            "/v0/pipelines/p",
            json!({"connectors": [attach("bad name", false, "other", "v")]}),
        )
        .await,
        400,
        "InvalidName",
    );
    assert_error(
        &s.patch(
            "/v0/pipelines/p",
            json!({"config": {"workers": 2, "wrkers": 3}}),
        )
        .await,
        400,
        "UnknownField",
    );
    let (_, got) = s.get("/v0/pipelines/p").await;
    assert_eq!(got["descriptor"]["attached_connectors"], two);
    assert_eq!(got["descriptor"]["version"], 4);

    // Deleting a connector detaches it.
    assert_eq!(s.delete("/v0/connectors/other").await.0, 200);
    let (_, got) = s.get("/v0/pipelines/p").await;
    assert_eq!(
        got["descriptor"]["attached_connectors"],
        json!([attach("a", false, "total-sales", "v")])
    );

    // PUT: 201 then 200 with the same id; absent connectors mean none.
    let (status, a) = s
        .put(
            "/v0/pipelines/q",
            json!({"description": "", "program_name": "prog"}),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    let (status, b) = s
        .put("/v0/pipelines/q", json!({"description": "again"}))
        .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(a["pipeline_id"], b["pipeline_id"]);
    assert_eq!(b["version"], 2);
    let (_, got) = s.get("/v0/pipelines/q").await;
    assert_eq!(got["descriptor"]["program_name"], Value::Null);
    assert_eq!(got["descriptor"]["description"], "again");

    let (_, list) = s.get("/v0/pipelines").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let (_, list) = s.get("/v0/pipelines?name=q").await;
    assert_eq!(list[0]["descriptor"]["name"], "q");
    assert_error(
        &s.get("/v0/pipelines?name=z").await,
        404,
        "UnknownPipelineName",
    );
    assert_error(
        &s.get("/v0/pipelines?id=0190b8e4-0000-7000-8000-000000000000")
            .await,
        404,
        "UnknownPipeline",
    );
    assert_eq!(
        s.patch("/v0/pipelines/q", json!({"name": "r"})).await.0,
        200
    );
    assert_error(&s.get("/v0/pipelines/q").await, 404, "UnknownPipelineName");
    assert_eq!(s.delete("/v0/pipelines/r").await.0, 200);
    assert_error(
        &s.delete("/v0/pipelines/r").await,
        404,
        "UnknownPipelineName",
    );
    s.stop().await;
}

async fn pipeline_lifecycle_errors(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = start_uncompiled(&db).await;
    s.put("/v0/pipelines/p", json!({"description": ""})).await;
    assert_error(
        &s.post_empty("/v0/pipelines/p/start").await,
        400,
        "ProgramNotSet",
    );
    assert_error(
        &s.get("/v0/pipelines/p/validate").await,
        400,
        "ProgramNotSet",
    );
    let e = assert_error(
        &s.post_empty("/v0/pipelines/p/deploy").await,
        400,
        "InvalidPipelineAction",
    );
    assert_eq!(e["details"]["action"], "deploy");
    assert_error(
        &s.post_empty("/v0/pipelines/zz/start").await,
        404,
        "UnknownPipelineName",
    );
    s.put("/v0/programs/prog", program("CREATE TABLE t")).await;
    s.patch("/v0/pipelines/p", json!({"program_name": "prog"}))
        .await;
    assert_error(
        &s.post_empty("/v0/pipelines/p/start").await,
        503,
        "ProgramNotCompiled",
    );
    assert_error(
        &s.get("/v0/pipelines/p/validate").await,
        503,
        "ProgramNotCompiled",
    );
    assert_error(
        &s.post_empty("/v0/pipelines/p/pause").await,
        503,
        "ProgramNotCompiled",
    );
    let (status, body) = s.post_empty("/v0/pipelines/p/shutdown").await;
    assert_eq!((status.as_u16(), body), (202, Value::Null));
    let e = assert_error(
        &s.get("/v0/pipelines/p/stats").await,
        404,
        "PipelineShutdown",
    );
    let (_, pipeline) = s.get("/v0/pipelines/p").await;
    assert_eq!(
        e["details"],
        json!({"pipeline_id": pipeline["descriptor"]["pipeline_id"], "pipeline_name": "p", "current_status": "Shutdown"})
    );
    assert_error(
        &s.get("/v0/pipelines/zz/stats").await,
        404,
        "UnknownPipelineName",
    );

    s.stop().await;

    // The lifecycle rules against the real runtime: a pipeline with a table and no connectors needs no broker.
    let s = start_compiling(&db).await;
    let (status, body) = s
        .put("/v0/programs/prog", program("CREATE TABLE t (x INT);"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(compiled(&s, "prog").await["status"], "Success");
    action(&s, "p", "start").await;
    reaches(&s, "p", "Running").await;
    let e = assert_error(
        &s.delete("/v0/pipelines/p").await,
        400,
        "IllegalPipelineStateTransition",
    );
    assert_eq!(e["details"]["current_status"], "Running");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("Cannot delete a running pipeline"));
    action(&s, "p", "pause").await;
    let (_, got) = s.get("/v0/pipelines/p").await;
    assert_eq!(got["state"]["desired_status"], "Paused");
    reaches(&s, "p", "Paused").await;
    let (status, stats) = s.get("/v0/pipelines/p/stats").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["global_metrics"]["state"], "Paused");
    action(&s, "p", "shutdown").await;
    reaches(&s, "p", "Shutdown").await;
    assert_error(
        &s.get("/v0/pipelines/p/stats").await,
        404,
        "PipelineShutdown",
    );

    // A failure, written directly (no reconciliation is pending now): it must be shut down before a restart.
    db.execute("UPDATE pipeline SET current_status = 'Failed', desired_status = 'Running'")
        .await;
    let e = assert_error(
        &s.post_empty("/v0/pipelines/p/start").await,
        400,
        "IllegalPipelineStateTransition",
    );
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("Cannot restart a failed pipeline"));
    assert_eq!(e["details"]["requested_status"], "Running");
    action(&s, "p", "shutdown").await;
    reaches(&s, "p", "Shutdown").await;
    db.execute("UPDATE pipeline SET current_status = 'ShuttingDown', desired_status = 'Shutdown'")
        .await;
    let e = assert_error(
        &s.post_empty("/v0/pipelines/p/start").await,
        400,
        "IllegalPipelineStateTransition",
    );
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("while it is shutting down"));
    db.execute("UPDATE pipeline SET current_status = 'Shutdown'")
        .await;
    assert_eq!(s.delete("/v0/pipelines/p").await.0, 200);
    s.stop().await;
}

async fn pipeline_relations_are_checked_against_a_compiled_program(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = start_compiling(&db).await;
    s.put("/v0/connectors/out", seed_connector()).await;
    s.put(
        "/v0/programs/prog",
        program("CREATE TABLE Orders (id BIGINT NOT NULL, amount DECIMAL(10, 2));\nCREATE VIEW totals AS SELECT id, SUM(amount) AS total FROM orders GROUP BY id;"),
    )
    .await;
    compiled(&s, "prog").await;
    let e = assert_error(
        &s.put(
            "/v0/pipelines/p",
            json!({"description": "", "program_name": "prog",
            "connectors": [attach("o", false, "out", "nope")]}),
        )
        .await,
        400,
        "ViewsNotInSchema",
    );
    assert_eq!(e["details"]["missing"], json!([["o", "nope"]]));
    assert_error(&s.get("/v0/pipelines/p").await, 404, "UnknownPipelineName");
    let e = assert_error(
        &s.post(
            "/v0/pipelines",
            json!({"name": "p", "description": "", "program_name": "prog",
                "connectors": [attach("o", false, "out", "totals"), attach("o2", false, "out", "orders")]}),
        )
        .await,
        400,
        "ViewsNotInSchema",
    );
    assert_eq!(
        e["details"]["missing"],
        json!([["o2", "orders"]]),
        "a table is not a view"
    );
    // Input attachments need tables: an unknown relation, and a view, are both TablesNotInSchema.
    s.put("/v0/connectors/in", kafka_input()).await;
    let e = assert_error(
        &s.put(
            "/v0/pipelines/p",
            json!({"description": "", "program_name": "prog",
            "connectors": [attach("i", true, "in", "nope"), attach("i2", true, "in", "totals"), attach("i3", true, "in", "orders")]}),
        )
        .await,
        400,
        "TablesNotInSchema",
    );
    assert_eq!(
        e["details"]["missing"],
        json!([["i", "nope"], ["i2", "totals"]])
    );
    assert!(e["message"].as_str().unwrap().contains("i -> nope"), "{e}");
    assert_error(&s.get("/v0/pipelines/p").await, 404, "UnknownPipelineName");
    // Unquoted names are case-insensitive.
    let (status, _) = s
        .put(
            "/v0/pipelines/p",
            json!({"description": "", "program_name": "prog",
            "connectors": [attach("o", false, "out", "TOTALS")]}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        s.get("/v0/pipelines/p/validate").await,
        (
            reqwest::StatusCode::OK,
            json!("Pipeline successfully validated.")
        )
    );
    // Nothing listens on the connector's broker address: the start is accepted and the pipeline fails, naming
    // the connector. (Starts that succeed are in pipeline_runtime.rs, with a real broker.)
    let mut unreachable = seed_connector();
    unreachable["config"]["transport"]["config"]["bootstrap.servers"] = json!("127.0.0.1:1");
    unreachable["config"]["transport"]["config"]["initialization_timeout_secs"] = json!(2);
    assert_eq!(s.put("/v0/connectors/out", unreachable).await.0, 200);
    action(&s, "p", "start").await;
    let got = reaches(&s, "p", "Failed").await;
    let error = &got["state"]["error"];
    assert_eq!(error["error_code"], "PipelineStartFailed", "{got}");
    assert!(
        error["message"].as_str().unwrap().contains("'o'"),
        "the error names the attachment: {got}"
    );
    action(&s, "p", "shutdown").await;
    reaches(&s, "p", "Shutdown").await;

    // Attachments stored against an uncompiled program are checked at start.
    s.put(
        "/v0/programs/prog2",
        program("CREATE TABLE t (a INT);\nCREATE VIEW other AS SELECT a FROM t;"),
    )
    .await;
    compiled(&s, "prog2").await;
    assert_error(
        &s.patch("/v0/pipelines/p", json!({"program_name": "prog2"}))
            .await,
        400,
        "ViewsNotInSchema",
    );
    s.patch("/v0/programs/prog", json!({"code": "CREATE TABLE orders (id BIGINT);\nCREATE VIEW renamed AS SELECT id FROM orders;"}))
        .await;
    compiled(&s, "prog").await;
    assert_error(
        &s.get("/v0/pipelines/p/validate").await,
        400,
        "ViewsNotInSchema",
    );
    let e = assert_error(
        &s.post_empty("/v0/pipelines/p/start").await,
        400,
        "ViewsNotInSchema",
    );
    assert_eq!(e["details"]["missing"], json!([["o", "TOTALS"]]));
    s.patch("/v0/programs/prog", json!({"code": "broken"}))
        .await;
    compiled(&s, "prog").await;
    assert_error(
        &s.post_empty("/v0/pipelines/p/start").await,
        400,
        "ProgramFailedToCompile",
    );
    s.stop().await;
}

/// Ingress and egress errors of a running pipeline (no connectors, so no broker): oversized body, unknown table
/// or view, invalid format; none of them applies a record.
async fn data_plane_errors_of_a_running_pipeline(backend: Backend) {
    let db = TestDb::new(backend).await;
    let s = TestServer::start_with(
        &db,
        Options {
            max_body_bytes: 4096,
            config: sluice_server::ServerConfig {
                max_ingress_bytes: 4096,
                ..sluice_server::ServerConfig::default()
            },
            ..Options::default()
        },
    )
    .await;
    s.put(
        "/v0/programs/prog",
        program("CREATE TABLE t (x INT NOT NULL);\nCREATE VIEW v AS SELECT x FROM t;"),
    )
    .await;
    assert_eq!(compiled(&s, "prog").await["status"], "Success");
    s.put(
        "/v0/pipelines/p",
        json!({"description": "", "program_name": "prog"}),
    )
    .await;
    action(&s, "p", "start").await;
    reaches(&s, "p", "Running").await;
    let ingress = |path: &str, body: String| {
        let path = format!("/v0/pipelines/p/{path}");
        let s = &s;
        async move {
            s.raw(Method::POST, &path, Some("text/plain"), body.into_bytes())
                .await
        }
    };

    // Over the limit: the JSON 413, not the framework's plain text.
    let big = "{\"x\": 1}\n".repeat(500);
    assert!(big.len() > 4096);
    let e = assert_error(&ingress("ingress/t", big).await, 413, "PayloadTooLarge");
    assert_eq!(e["details"]["limit_bytes"], 4096);

    let e = assert_error(
        &ingress("ingress/nope", "{\"x\": 1}".into()).await,
        404,
        "UnknownTable",
    );
    assert_eq!(e["details"], json!({"pipeline_name": "p", "table": "nope"}));
    let e = assert_error(
        &ingress("ingress/t?format=xml", "{\"x\": 1}".into()).await,
        400,
        "InvalidFormat",
    );
    assert!(e["message"].as_str().unwrap().contains("xml"), "{e}");
    assert_error(
        &ingress("ingress/t?update_format=sideways", "{\"x\": 1}".into()).await,
        400,
        "InvalidFormat",
    );
    assert_error(
        &ingress("ingress/t?format=json&array=maybe", "{\"x\": 1}".into()).await,
        400,
        "InvalidQuery",
    );

    for method in [Method::GET, Method::POST] {
        let e = assert_error(
            &s.call(method.clone(), "/v0/pipelines/p/egress/nope", None)
                .await,
            404,
            "UnknownView",
        );
        assert_eq!(e["details"], json!({"pipeline_name": "p", "view": "nope"}));
        let e = assert_error(
            &s.call(
                method.clone(),
                "/v0/pipelines/p/egress/v?mode=snapshot",
                None,
            )
            .await,
            400,
            "InvalidFormat",
        );
        assert_eq!(e["details"]["field"], "mode");
        assert_error(
            &s.call(method, "/v0/pipelines/p/egress/v?format=xml", None)
                .await,
            400,
            "InvalidFormat",
        );
    }

    // None of the rejected requests applied a record; a valid one still does.
    let (status, stats) = s.get("/v0/pipelines/p/stats").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["global_metrics"]["total_input_records"], 0, "{stats}");
    let (status, body) = ingress("ingress/t?update_format=raw", "{\"x\": 1}".into()).await;
    assert_eq!((status.as_u16(), body), (200, json!({"records": 1})));
    action(&s, "p", "shutdown").await;
    reaches(&s, "p", "Shutdown").await;
    // Shut down: the data plane is 404 PipelineShutdown, as in Feldera.
    assert_error(
        &ingress("ingress/t?update_format=raw", "{\"x\": 1}".into()).await,
        404,
        "PipelineShutdown",
    );
    for method in [Method::GET, Method::POST] {
        assert_error(
            &s.call(method, "/v0/pipelines/p/egress/v", None).await,
            404,
            "PipelineShutdown",
        );
    }
    s.stop().await;
}
