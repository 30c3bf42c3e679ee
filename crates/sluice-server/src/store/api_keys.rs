//! API key rows: a name, the SHA-256 hash of the key (hex), and its scopes. The key itself is never stored.
//!
//! A key is `apikey:` followed by 128 alphanumeric characters drawn from a CSPRNG (rand's thread RNG, a
//! ChaCha generator seeded from the OS). Only its SHA-256 hash (hex, of the whole `apikey:...` string) is stored.
//! A request's key is hashed and compared with every stored hash in constant time (`subtle`), without an early
//! exit, so the time taken says nothing about how close a guess was.

use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::StoreError;
use super::{json_column, new_id, now, to_json_column, Db, Entity};
use crate::model::api_keys::{ApiKeyDescr, ApiPermission, NewApiKey};
use crate::model::names::validate_name;

type Row = (String, String, String);

fn descr((id, name, scopes): Row) -> Result<ApiKeyDescr, StoreError> {
    Ok(ApiKeyDescr {
        id,
        name,
        scopes: json_column(&scopes)?,
    })
}

/// All keys, or the one called `name` (404 when there is none).
pub async fn list(db: &Db, name: Option<&str>) -> Result<Vec<ApiKeyDescr>, StoreError> {
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
                return Err(Entity::ApiKey.unknown_name(name));
            }
            rows
        }
    };
    rows.into_iter().map(descr).collect()
}

/// Stores a key by its hash; `DuplicateName` when the name is taken. Returns the id.
async fn insert(
    db: &Db,
    name: &str,
    hash: &str,
    scopes: &[ApiPermission],
) -> Result<String, StoreError> {
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

/// Every stored hash (hex) with its key's scopes, for the constant-time comparison of [`key_scopes`].
pub async fn hashes_and_scopes(db: &Db) -> Result<Vec<(String, Vec<ApiPermission>)>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT hash, scopes FROM api_key")
        .fetch_all(db.pool())
        .await?;
    rows.into_iter()
        .map(|(hash, scopes)| Ok((hash, json_column(&scopes)?)))
        .collect()
}

/// Deletes the key called `name`.
pub async fn delete(db: &Db, name: &str) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    Entity::ApiKey.delete(&mut tx, name).await?;
    tx.commit().await?;
    Ok(())
}

/// The prefix of every key.
pub const KEY_PREFIX: &str = "apikey:";
const KEY_RANDOM_CHARS: usize = 128;

/// A fresh key: `apikey:` + 128 random alphanumeric characters.
pub fn generate_key() -> String {
    let random = Alphanumeric.sample_string(&mut rand::rng(), KEY_RANDOM_CHARS);
    format!("{KEY_PREFIX}{random}")
}

/// The stored form of a key: SHA-256 of the full key text, lower-case hex.
pub fn hash_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates and stores a key called `name` with `scopes` (both when empty); the returned key text is shown once and
/// never again.
pub async fn create_api_key(
    db: &Db,
    name: &str,
    scopes: &[ApiPermission],
) -> Result<NewApiKey, StoreError> {
    validate_name(name)?;
    let key = generate_key();
    let mut scopes = if scopes.is_empty() {
        vec![ApiPermission::Read, ApiPermission::Write]
    } else {
        scopes.to_vec()
    };
    scopes.sort_by_key(|s| *s as u8);
    scopes.dedup();
    let id = insert(db, name, &hash_key(&key), &scopes).await?;
    Ok(NewApiKey {
        api_key_id: id,
        name: name.to_string(),
        api_key: key,
    })
}

/// The scopes of `key` when it is one of the stored keys. Every stored hash is compared, in constant time.
pub async fn key_scopes(db: &Db, key: &str) -> Result<Option<Vec<ApiPermission>>, StoreError> {
    let candidate = hash_key(key);
    let mut matched = None;
    for (stored, scopes) in hashes_and_scopes(db).await? {
        let equal = stored.as_bytes().ct_eq(candidate.as_bytes());
        if bool::from(equal) {
            matched = Some(scopes);
        }
    }
    Ok(matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_prefixed() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), KEY_PREFIX.len() + KEY_RANDOM_CHARS);
        assert!(a[KEY_PREFIX.len()..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn hash_is_sha256_hex() {
        // The FIPS 180-2 test vector for "abc".
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
