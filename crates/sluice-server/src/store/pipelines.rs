//! Pipeline rows and their attached connectors.
//!
//! Writes check, in the same transaction, that the program and every attached connector exist, that each
//! attachment's direction matches its connector's transport, and, when the program is compiled, that each
//! input names a table and each output a view. When the program is not compiled, attachments are stored and
//! checked again at `start`.

use sqlx::{Any, Transaction};

use super::error::StoreError;
use super::{
    fetch_listed, json_column, new_id, now, retry_on_conflict, to_json_column, Db, Entity,
    ListFilter,
};
use crate::model::embedded::EmbeddedProgram;
use crate::model::pipelines::{
    check_relations, AttachedConnector, AttachmentError, Pipeline, PipelineDescr,
    PipelineRuntimeState, RuntimeConfig,
};
use crate::model::programs::{ProgramSchema, ProgramStatus};
use crate::model::status::PipelineStatus;

type Row = (
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
);

const SELECT: &str = "SELECT p.id, p.name, p.description, g.name, p.config, p.version, \
     p.desired_status, p.current_status, p.status_since, p.error, p.created_at, p.program \
     FROM pipeline p LEFT JOIN program g ON g.id = p.program_id";

fn status(text: &str) -> Result<PipelineStatus, StoreError> {
    PipelineStatus::parse(text)
        .ok_or_else(|| StoreError::Corrupt(format!("corrupt pipeline status '{text}'")))
}

async fn pipeline(tx: &mut Transaction<'static, Any>, row: Row) -> Result<Pipeline, StoreError> {
    let (
        id,
        name,
        description,
        program_name,
        config,
        version,
        desired,
        current,
        since,
        error,
        created,
        embedded,
    ) = row;
    let attached: Vec<(String, i64, String, String)> = sqlx::query_as(
        "SELECT a.name, a.is_input, c.name, a.relation_name FROM attached_connector a \
         JOIN connector c ON c.id = a.connector_id WHERE a.pipeline_id = $1 ORDER BY a.position",
    )
    .bind(&id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(Pipeline {
        descriptor: PipelineDescr {
            pipeline_id: id.clone(),
            program_name,
            version,
            name,
            description,
            config: json_column(&config)?,
            attached_connectors: attached
                .into_iter()
                .map(
                    |(name, is_input, connector_name, relation_name)| AttachedConnector {
                        name,
                        is_input: is_input != 0,
                        connector_name,
                        relation_name,
                    },
                )
                .collect(),
        },
        state: PipelineRuntimeState {
            pipeline_id: id,
            location: String::new(),
            desired_status: status(&desired)?,
            current_status: status(&current)?,
            status_since: since,
            error: error.as_deref().map(json_column).transpose()?,
            created,
        },
        embedded: embedded.as_deref().map(json_column).transpose()?,
    })
}

/// All pipelines, or the one the filter names (404 when it names none).
pub async fn list(db: &Db, filter: &ListFilter) -> Result<Vec<Pipeline>, StoreError> {
    let mut tx = db.begin().await?;
    let rows: Vec<Row> = fetch_listed(&mut *tx, SELECT, "p", Entity::Pipeline, filter).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(pipeline(&mut tx, row).await?);
    }
    tx.commit().await?;
    Ok(out)
}

/// The pipeline called `name`.
pub async fn get(db: &Db, name: &str) -> Result<Pipeline, StoreError> {
    let mut tx = db.begin().await?;
    let p = get_in(&mut tx, name).await?;
    tx.commit().await?;
    Ok(p)
}

async fn get_in(tx: &mut Transaction<'static, Any>, name: &str) -> Result<Pipeline, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE p.name = $1"))
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    let row = row.ok_or_else(|| Entity::Pipeline.unknown_name(name))?;
    pipeline(tx, row).await
}

/// The program a pipeline uses, as far as validation needs it.
pub struct ProgramRef {
    /// Its id.
    pub id: String,
    /// Its status.
    pub status: ProgramStatus,
    /// Its schema, once compiled.
    pub schema: Option<ProgramSchema>,
}

/// The program called `name`.
pub(crate) async fn program_ref(
    tx: &mut Transaction<'static, Any>,
    name: &str,
) -> Result<ProgramRef, StoreError> {
    let row: Option<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, status, schema_json FROM program WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?;
    let (id, status, schema) = row.ok_or_else(|| Entity::Program.unknown_name(name))?;
    Ok(ProgramRef {
        id,
        status: json_column(&status)?,
        schema: schema.as_deref().map(json_column).transpose()?,
    })
}

/// Resolves and checks attachments; returns the connector id of each.
async fn resolve_connectors(
    tx: &mut Transaction<'static, Any>,
    attached: &[AttachedConnector],
    schema: Option<&ProgramSchema>,
) -> Result<Vec<String>, StoreError> {
    let mut ids = Vec::with_capacity(attached.len());
    for (i, a) in attached.iter().enumerate() {
        if attached[..i].iter().any(|b| b.name == a.name) {
            return Err(AttachmentError::Invalid {
                name: a.name.clone(),
                reason:
                    "two attached connectors have this name; names must be unique within a pipeline"
                        .into(),
            }
            .into());
        }
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT id, config FROM connector WHERE name = $1")
                .bind(&a.connector_name)
                .fetch_optional(&mut **tx)
                .await?;
        let (id, config) = row.ok_or_else(|| Entity::Connector.unknown_name(&a.connector_name))?;
        if let Ok(config) = serde_json::from_str::<sluice_types::ConnectorConfig>(&config) {
            let is_input = config.transport.direction() == sluice_types::Direction::Input;
            if is_input != a.is_input {
                return Err(AttachmentError::Invalid {
                    name: a.name.clone(),
                    reason: format!(
                        "connector '{}' has the {} transport, which is an {} connector; set \"is_input\": {is_input}",
                        a.connector_name,
                        config.transport.name(),
                        if is_input { "input" } else { "output" },
                    ),
                }
                .into());
            }
        }
        ids.push(id);
    }
    if let Some(schema) = schema {
        check_relations(schema, attached)?;
    }
    Ok(ids)
}

async fn store_connectors(
    tx: &mut Transaction<'static, Any>,
    pipeline_id: &str,
    attached: &[AttachedConnector],
    schema: Option<&ProgramSchema>,
) -> Result<(), StoreError> {
    let ids = resolve_connectors(tx, attached, schema).await?;
    sqlx::query("DELETE FROM attached_connector WHERE pipeline_id = $1")
        .bind(pipeline_id)
        .execute(&mut **tx)
        .await?;
    for (position, (a, connector_id)) in attached.iter().zip(ids).enumerate() {
        sqlx::query(
            "INSERT INTO attached_connector (pipeline_id, name, position, connector_id, is_input, \
             relation_name) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(pipeline_id)
        .bind(&a.name)
        .bind(position as i64)
        .bind(connector_id)
        .bind(i64::from(a.is_input))
        .bind(&a.relation_name)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The fields of a pipeline write; `None` leaves a field unchanged (on create: empty / no program).
#[derive(Default)]
pub struct Fields<'a> {
    /// New name (updates only).
    pub name: Option<&'a str>,
    /// Description.
    pub description: Option<&'a str>,
    /// `Some(None)` detaches the program, `Some(Some(name))` attaches one.
    pub program_name: Option<Option<&'a str>>,
    /// Runtime config.
    pub config: Option<&'a RuntimeConfig>,
    /// Attached connectors; a list replaces all.
    pub connectors: Option<&'a [AttachedConnector]>,
    /// `Some(Some(_))` makes it a pipeline with its program embedded, `Some(None)` one that names a program.
    pub embedded: Option<Option<&'a EmbeddedProgram>>,
}

async fn insert(
    tx: &mut Transaction<'static, Any>,
    name: &str,
    fields: &Fields<'_>,
) -> Result<String, StoreError> {
    let id = new_id();
    let at = now();
    sqlx::query(
        "INSERT INTO pipeline (id, name, description, program_id, config, version, desired_status, \
         current_status, status_since, error, created_at) \
         VALUES ($1, $2, '', NULL, $3, 1, 'Shutdown', 'Shutdown', $4, NULL, $5)",
    )
    .bind(&id)
    .bind(name)
    .bind(to_json_column(&RuntimeConfig::default())?)
    .bind(&at)
    .bind(&at)
    .execute(&mut **tx)
    .await?;
    apply(tx, &id, fields).await?;
    Ok(id)
}

/// Writes the given fields of pipeline `id`, checking references.
async fn apply(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    fields: &Fields<'_>,
) -> Result<(), StoreError> {
    if let Some(description) = fields.description {
        Entity::Pipeline
            .set_description(tx, id, description)
            .await?;
    }
    if let Some(config) = fields.config {
        sqlx::query("UPDATE pipeline SET config = $1 WHERE id = $2")
            .bind(to_json_column(config)?)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    if let Some(embedded) = fields.embedded {
        sqlx::query("UPDATE pipeline SET program = $1 WHERE id = $2")
            .bind(embedded.map(to_json_column).transpose()?)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    if let Some(program_name) = fields.program_name {
        let program_id = match program_name {
            Some(name) => Some(program_ref(tx, name).await?.id),
            None => None,
        };
        sqlx::query("UPDATE pipeline SET program_id = $1 WHERE id = $2")
            .bind(program_id)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    // Attachments are checked against the program the pipeline has after this write.
    let current: (Option<String>,) = sqlx::query_as(
        "SELECT g.name FROM pipeline p LEFT JOIN program g ON g.id = p.program_id WHERE p.id = $1",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    let schema = match &current.0 {
        Some(program) => program_ref(tx, program).await?.schema,
        None => None,
    };
    match fields.connectors {
        Some(connectors) => store_connectors(tx, id, connectors, schema.as_ref()).await?,
        None if fields.program_name.is_some() => {
            // A new program must still fit the attachments the pipeline keeps.
            if let Some(schema) = &schema {
                let name: (String,) = sqlx::query_as("SELECT name FROM pipeline WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut **tx)
                    .await?;
                let kept = get_in(tx, &name.0).await?.descriptor.attached_connectors;
                check_relations(schema, &kept)?;
            }
        }
        None => {}
    }
    if let Some(new_name) = fields.name {
        Entity::Pipeline.rename(tx, id, new_name).await?;
    }
    Ok(())
}

async fn bump_version(tx: &mut Transaction<'static, Any>, id: &str) -> Result<i64, StoreError> {
    sqlx::query("UPDATE pipeline SET version = version + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let (version,): (i64,) = sqlx::query_as("SELECT version FROM pipeline WHERE id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(version)
}

/// Creates a pipeline (version 1, `Shutdown`); `DuplicateName` when the name is taken.
pub async fn create(db: &Db, name: &str, fields: &Fields<'_>) -> Result<String, StoreError> {
    let mut tx = db.begin().await?;
    let id = insert(&mut tx, name, fields).await?;
    tx.commit().await?;
    Ok(id)
}

/// Creates or replaces the pipeline called `name`: returns its id, version and whether it was created.
pub async fn create_or_replace(
    db: &Db,
    name: &str,
    fields: &Fields<'_>,
) -> Result<(String, i64, bool), StoreError> {
    retry_on_conflict(|| async {
        let mut tx = db.begin().await?;
        let result = match Entity::Pipeline.find_id(&mut tx, name).await? {
            Some(id) => {
                apply(&mut tx, &id, fields).await?;
                let version = bump_version(&mut tx, &id).await?;
                (id, version, false)
            }
            None => (insert(&mut tx, name, fields).await?, 1, true),
        };
        tx.commit().await?;
        Ok(result)
    })
    .await
}

/// Changes the given fields of the pipeline called `name`; returns the new version.
pub async fn update(db: &Db, name: &str, fields: &Fields<'_>) -> Result<i64, StoreError> {
    let mut tx = db.begin().await?;
    let id = Entity::Pipeline.id_of(&mut tx, name).await?;
    apply(&mut tx, &id, fields).await?;
    let version = bump_version(&mut tx, &id).await?;
    tx.commit().await?;
    Ok(version)
}

/// Records a new desired status.
pub async fn set_desired(db: &Db, id: &str, desired: PipelineStatus) -> Result<(), StoreError> {
    sqlx::query("UPDATE pipeline SET desired_status = $1 WHERE id = $2")
        .bind(desired.as_str())
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Records the status the runner reached, with the error that put it there (cleared with `None`).
pub async fn set_current(
    db: &Db,
    id: &str,
    current: PipelineStatus,
    error: Option<&sluice_types::ErrorResponse>,
) -> Result<(), StoreError> {
    let error = error.map(to_json_column).transpose()?;
    sqlx::query(
        "UPDATE pipeline SET current_status = $1, status_since = $2, error = $3 WHERE id = $4",
    )
    .bind(current.as_str())
    .bind(now())
    .bind(error)
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The pipeline with id `id`, if it still exists.
pub async fn get_by_id(db: &Db, id: &str) -> Result<Option<Pipeline>, StoreError> {
    let mut tx = db.begin().await?;
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let p = match row {
        Some(row) => Some(pipeline(&mut tx, row).await?),
        None => None,
    };
    tx.commit().await?;
    Ok(p)
}

/// The program of the pipeline, for the checks of a deployment.
pub async fn program_of(db: &Db, pipeline: &Pipeline) -> Result<Option<ProgramRef>, StoreError> {
    let Some(program) = &pipeline.descriptor.program_name else {
        return Ok(None);
    };
    let mut tx = db.begin().await?;
    let program = program_ref(&mut tx, program).await?;
    tx.commit().await?;
    Ok(Some(program))
}

/// Deletes the pipeline called `name` if `allowed` says its state permits.
pub async fn delete<E: From<StoreError>>(
    db: &Db,
    name: &str,
    allowed: impl FnOnce(&Pipeline) -> Result<(), E>,
) -> Result<(), E> {
    let mut tx = db.begin().await?;
    let p = get_in(&mut tx, name).await?;
    allowed(&p)?;
    Entity::Pipeline.delete(&mut tx, name).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}
