//! Program rows: code, config, version, compilation status and schema.
//!
//! The version starts at 1 and grows whenever the code or the config changes; such a change resets the status
//! to `Pending` and drops the schema, so a stale schema never validates a pipeline.

use sqlx::{Any, Transaction};

use super::error::StoreError;
use super::{
    fetch_listed, json_column, new_id, now, retry_on_conflict, to_json_column, Db, Entity,
    ListFilter,
};
use crate::model::programs::{ProgramConfig, ProgramDescr};
use crate::model::programs::{ProgramSchema, ProgramStatus};

type Row = (
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
);

const SELECT: &str = "SELECT p.id, p.name, p.description, p.code, p.config, p.version, p.status, \
                      p.status_detail, p.schema_json FROM program p";

fn descr(row: Row, with_code: bool) -> Result<ProgramDescr, StoreError> {
    let (program_id, name, description, code, config, version, status, status_detail, schema) = row;
    Ok(ProgramDescr {
        program_id,
        name,
        description,
        version,
        status: json_column(&status)?,
        status_detail,
        schema: schema.as_deref().map(json_column).transpose()?,
        code: with_code.then_some(code),
        config: json_column(&config)?,
    })
}

/// All programs, or the one the filter names (404 when it names none).
pub async fn list(
    db: &Db,
    filter: &ListFilter,
    with_code: bool,
) -> Result<Vec<ProgramDescr>, StoreError> {
    let rows: Vec<Row> = fetch_listed(db.pool(), SELECT, "p", Entity::Program, filter).await?;
    rows.into_iter().map(|r| descr(r, with_code)).collect()
}

/// The program called `name`.
pub async fn get(db: &Db, name: &str, with_code: bool) -> Result<ProgramDescr, StoreError> {
    let mut tx = db.begin().await?;
    let program = get_in(&mut tx, name, with_code).await?;
    tx.commit().await?;
    Ok(program)
}

/// The program called `name`, inside a transaction.
pub(crate) async fn get_in(
    tx: &mut Transaction<'static, Any>,
    name: &str,
    with_code: bool,
) -> Result<ProgramDescr, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE p.name = $1"))
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    descr(
        row.ok_or_else(|| Entity::Program.unknown_name(name))?,
        with_code,
    )
}

/// What a new or changed program starts with.
pub struct NewStatus {
    /// Its status (`Pending`).
    pub status: ProgramStatus,
    /// Why it stays there, when the build cannot compile.
    pub detail: Option<String>,
}

async fn insert(
    tx: &mut Transaction<'static, Any>,
    name: &str,
    description: &str,
    code: &str,
    config: &ProgramConfig,
    status: &NewStatus,
) -> Result<String, StoreError> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO program (id, name, description, code, config, version, status, status_detail, \
         schema_json, created_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, NULL, $8)",
    )
    .bind(&id)
    .bind(name)
    .bind(description)
    .bind(code)
    .bind(to_json_column(config)?)
    .bind(to_json_column(&status.status)?)
    .bind(status.detail.clone())
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Creates a program at version 1; `DuplicateName` when the name is taken.
pub async fn create(
    db: &Db,
    name: &str,
    description: &str,
    code: &str,
    config: &ProgramConfig,
    status: &NewStatus,
) -> Result<String, StoreError> {
    let mut tx = db.begin().await?;
    let id = insert(&mut tx, name, description, code, config, status).await?;
    tx.commit().await?;
    Ok(id)
}

/// The outcome of a write: the program's id, its version after the write, whether the write created it, and
/// whether its code or config changed (so it must be compiled again).
pub struct Written {
    /// The program id.
    pub id: String,
    /// The version now.
    pub version: i64,
    /// Whether the row was created.
    pub created: bool,
    /// Whether the code or config changed.
    pub changed: bool,
}

/// Creates or replaces the program called `name`.
pub async fn create_or_replace(
    db: &Db,
    name: &str,
    description: &str,
    code: &str,
    config: &ProgramConfig,
    status: &NewStatus,
) -> Result<Written, StoreError> {
    retry_on_conflict(|| async {
        let mut tx = db.begin().await?;
        let written = if Entity::Program.find_id(&mut tx, name).await?.is_some() {
            let patch = Patch {
                name: None,
                description: Some(description),
                code: Some(code),
                config: Some(config),
                guard: None,
            };
            let mut written = patch_in(&mut tx, name, &patch, status).await?;
            written.created = false;
            written
        } else {
            let id = insert(&mut tx, name, description, code, config, status).await?;
            Written {
                id,
                version: 1,
                created: true,
                changed: true,
            }
        };
        tx.commit().await?;
        Ok(written)
    })
    .await
}

/// The fields of a program update; `None` leaves a field unchanged.
pub struct Patch<'a> {
    /// New name.
    pub name: Option<&'a str>,
    /// New description.
    pub description: Option<&'a str>,
    /// New code.
    pub code: Option<&'a str>,
    /// New config.
    pub config: Option<&'a ProgramConfig>,
    /// The version the client based its change on; `OutdatedProgramVersion` when it is not the latest.
    pub guard: Option<i64>,
}

/// Changes the given fields of the program called `name`.
pub async fn update(
    db: &Db,
    name: &str,
    patch: &Patch<'_>,
    status: &NewStatus,
) -> Result<Written, StoreError> {
    let mut tx = db.begin().await?;
    let written = patch_in(&mut tx, name, patch, status).await?;
    tx.commit().await?;
    Ok(written)
}

async fn patch_in(
    tx: &mut Transaction<'static, Any>,
    name: &str,
    patch: &Patch<'_>,
    status: &NewStatus,
) -> Result<Written, StoreError> {
    let current = get_in(tx, name, true).await?;
    if let Some(guard) = patch.guard {
        if guard != current.version {
            return Err(StoreError::OutdatedProgramVersion {
                latest_version: current.version,
            });
        }
    }
    let id = current.program_id.clone();
    if let Some(description) = patch.description {
        Entity::Program
            .set_description(tx, &id, description)
            .await?;
    }
    let code_changed = patch
        .code
        .is_some_and(|c| Some(c) != current.code.as_deref());
    let config_changed = patch.config.is_some_and(|c| *c != current.config);
    let changed = code_changed || config_changed;
    let mut version = current.version;
    if changed {
        version += 1;
        sqlx::query(
            "UPDATE program SET code = $1, config = $2, version = $3, status = $4, \
             status_detail = $5, schema_json = NULL WHERE id = $6",
        )
        .bind(patch.code.or(current.code.as_deref()).unwrap_or_default())
        .bind(to_json_column(patch.config.unwrap_or(&current.config))?)
        .bind(version)
        .bind(to_json_column(&status.status)?)
        .bind(status.detail.clone())
        .bind(&id)
        .execute(&mut **tx)
        .await?;
    }
    if let Some(new_name) = patch.name {
        Entity::Program.rename(tx, &id, new_name).await?;
    }
    Ok(Written {
        id,
        version,
        created: false,
        changed,
    })
}

/// Records a compilation result for `version` of program `id`; ignored when the program changed meanwhile.
pub async fn set_status(
    db: &Db,
    id: &str,
    version: i64,
    status: &ProgramStatus,
    schema: Option<&ProgramSchema>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE program SET status = $1, status_detail = NULL, schema_json = $2 \
         WHERE id = $3 AND version = $4",
    )
    .bind(to_json_column(status)?)
    .bind(schema.map(to_json_column).transpose()?)
    .bind(id)
    .bind(version)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Deletes the program called `name`, unless a pipeline uses it.
pub async fn delete(db: &Db, name: &str) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    let id = Entity::Program.id_of(&mut tx, name).await?;
    let users: Option<(String,)> = sqlx::query_as("SELECT id FROM pipeline WHERE program_id = $1")
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await?;
    if users.is_some() {
        return Err(StoreError::ProgramInUse(name.to_string()));
    }
    Entity::Program.delete(&mut tx, name).await?;
    tx.commit().await?;
    Ok(())
}
