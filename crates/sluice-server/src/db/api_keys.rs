//! API key rows: a name, the SHA-256 hash of the key (hex), and its scopes. The key itself is never stored.

use super::{json_column, new_id, now, to_json_column, Db, Named};
use crate::api::api_keys::{ApiKeyDescr, ApiPermission};
use crate::error::ApiError;

type Row = (String, String, String);

fn descr((id, name, scopes): Row) -> Result<ApiKeyDescr, ApiError> {
    Ok(ApiKeyDescr {
        id,
        name,
        scopes: json_column(&scopes)?,
    })
}

/// All keys, or the one called `name` (404 when there is none).
pub async fn list(db: &Db, name: Option<&str>) -> Result<Vec<ApiKeyDescr>, ApiError> {
    let rows: Vec<Row> = match name {
        None => {
            sqlx::query_as("SELECT id, name, scopes FROM api_key ORDER BY id")
                .fetch_all(db.pool())
                .await?
        }
        Some(name) => {
            let rows: Vec<Row> =
                sqlx::query_as("SELECT id, name, scopes FROM api_key WHERE name = $1")
                    .bind(name)
                    .fetch_all(db.pool())
                    .await?;
            if rows.is_empty() {
                return Err(Named::ApiKey.unknown_name(name));
            }
            rows
        }
    };
    rows.into_iter().map(descr).collect()
}

/// Stores a key by its hash; `DuplicateName` when the name is taken. Returns the id.
pub async fn create(
    db: &Db,
    name: &str,
    hash: &str,
    scopes: &[ApiPermission],
) -> Result<String, ApiError> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO api_key (id, name, hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(name)
    .bind(hash)
    .bind(to_json_column(&scopes)?)
    .bind(now())
    .execute(db.pool())
    .await?;
    Ok(id)
}

/// Every stored hash (hex) with its key's scopes, for the constant-time comparison of [`crate::auth`].
pub async fn hashes_and_scopes(db: &Db) -> Result<Vec<(String, Vec<ApiPermission>)>, ApiError> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT hash, scopes FROM api_key")
        .fetch_all(db.pool())
        .await?;
    rows.into_iter()
        .map(|(hash, scopes)| Ok((hash, json_column(&scopes)?)))
        .collect()
}

/// Deletes the key called `name`.
pub async fn delete(db: &Db, name: &str) -> Result<(), ApiError> {
    let mut tx = db.begin().await?;
    Named::ApiKey.delete(&mut tx, name).await?;
    tx.commit().await?;
    Ok(())
}
