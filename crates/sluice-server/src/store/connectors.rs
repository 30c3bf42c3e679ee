//! Connector rows: `{id, name, description, config}`, the config stored as the normalized JSON text.

use serde_json::value::RawValue;
use sqlx::{Any, Transaction};

use super::error::StoreError;
use super::{fetch_listed, new_id, now, retry_on_conflict, Db, Entity, ListFilter};
use crate::model::connectors::ConnectorDescr;

type Row = (String, String, String, String);

fn descr((connector_id, name, description, config): Row) -> Result<ConnectorDescr, StoreError> {
    let config = RawValue::from_string(config)
        .map_err(|e| StoreError::Corrupt(format!("corrupt connector config: {e}")))?;
    Ok(ConnectorDescr {
        connector_id,
        name,
        description,
        config,
    })
}

const SELECT: &str = "SELECT c.id, c.name, c.description, c.config FROM connector c";

/// All connectors (ordered by creation), or the one the filter names (404 when it names none).
pub async fn list(db: &Db, filter: &ListFilter) -> Result<Vec<ConnectorDescr>, StoreError> {
    let rows: Vec<Row> = fetch_listed(db.pool(), SELECT, "c", Entity::Connector, filter).await?;
    rows.into_iter().map(descr).collect()
}

/// The connector called `name`.
pub async fn get(db: &Db, name: &str) -> Result<ConnectorDescr, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE c.name = $1"))
        .bind(name)
        .fetch_optional(db.pool())
        .await?;
    descr(row.ok_or_else(|| Entity::Connector.unknown_name(name))?)
}

/// Creates a connector; `DuplicateName` when the name is taken. Returns the new id.
pub async fn create(
    db: &Db,
    name: &str,
    description: &str,
    config: &str,
) -> Result<String, StoreError> {
    let mut tx = db.begin().await?;
    let id = insert(&mut tx, name, description, config).await?;
    tx.commit().await?;
    Ok(id)
}

async fn insert(
    tx: &mut Transaction<'static, Any>,
    name: &str,
    description: &str,
    config: &str,
) -> Result<String, StoreError> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO connector (id, name, description, config, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(name)
    .bind(description)
    .bind(config)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Creates or replaces the connector called `name`; returns its id (kept on replace) and whether it was created.
pub async fn create_or_replace(
    db: &Db,
    name: &str,
    description: &str,
    config: &str,
) -> Result<(String, bool), StoreError> {
    retry_on_conflict(|| async {
        let mut tx = db.begin().await?;
        let result = match Entity::Connector.find_id(&mut tx, name).await? {
            Some(id) => {
                sqlx::query("UPDATE connector SET description = $1, config = $2 WHERE id = $3")
                    .bind(description)
                    .bind(config)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                (id, false)
            }
            None => (insert(&mut tx, name, description, config).await?, true),
        };
        tx.commit().await?;
        Ok(result)
    })
    .await
}

/// Changes the fields given of the connector called `name`.
pub async fn update(
    db: &Db,
    name: &str,
    new_name: Option<&str>,
    description: Option<&str>,
    config: Option<&str>,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    let id = Entity::Connector.id_of(&mut tx, name).await?;
    if let Some(description) = description {
        Entity::Connector
            .set_description(&mut tx, &id, description)
            .await?;
    }
    if let Some(config) = config {
        sqlx::query("UPDATE connector SET config = $1 WHERE id = $2")
            .bind(config)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(new_name) = new_name {
        Entity::Connector.rename(&mut tx, &id, new_name).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes the connector called `name`, detaching it from every pipeline (the attachments cascade).
pub async fn delete(db: &Db, name: &str) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    Entity::Connector.delete(&mut tx, name).await?;
    tx.commit().await?;
    Ok(())
}

/// Every connector's id and stored config text, for maintenance at start ([`crate::secrets::Secrets::seal_stored`]).
pub async fn configs(db: &Db) -> Result<Vec<(String, String)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, config FROM connector ORDER BY id")
            .fetch_all(db.pool())
            .await?,
    )
}

/// Replaces the stored config text of connector `id`.
pub async fn set_config(db: &Db, id: &str, config: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE connector SET config = $1 WHERE id = $2")
        .bind(config)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}
