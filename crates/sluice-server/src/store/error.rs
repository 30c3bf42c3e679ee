//! What storage can fail with, in storage's own words: the HTTP layer decides what status and code each becomes.

use crate::model::names::NameError;
use crate::model::pipelines::AttachmentError;

/// The kinds of stored entity with a unique name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    /// A connector.
    Connector,
    /// A program.
    Program,
    /// A pipeline.
    Pipeline,
    /// An API key.
    ApiKey,
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Entity::Connector => "connector",
            Entity::Program => "program",
            Entity::Pipeline => "pipeline",
            Entity::ApiKey => "API key",
        })
    }
}

/// A storage failure, or a write that storage refuses.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No entity has this name.
    #[error("Unknown {entity} name '{name}'")]
    UnknownName {
        /// What was looked up.
        entity: Entity,
        /// The name.
        name: String,
    },
    /// No entity has this id.
    #[error("Unknown {entity} id '{id}'")]
    UnknownId {
        /// What was looked up.
        entity: Entity,
        /// The id.
        id: String,
    },
    /// An id filter that is not a UUID.
    #[error("Invalid UUID '{0}'")]
    InvalidId(String),
    /// A unique name is already taken.
    #[error("An entity with this name already exists")]
    DuplicateName,
    /// A row the write refers to was deleted meanwhile (a foreign key failed).
    #[error("The request conflicted with a concurrent change; retry it")]
    ConcurrentModification,
    /// A guarded program write whose guard is not the latest version.
    #[error("Outdated program version. Latest version: '{latest_version}'")]
    OutdatedProgramVersion {
        /// The latest version.
        latest_version: i64,
    },
    /// A program that a pipeline still uses.
    #[error("Program named '{0}' is in use by a pipeline")]
    ProgramInUse(String),
    /// Attachments that do not fit the program or their connectors.
    #[error(transparent)]
    Attachment(#[from] AttachmentError),
    /// A name that breaks the naming rule.
    #[error(transparent)]
    Name(#[from] NameError),
    /// A stored value this version cannot read, or a value it cannot encode.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::DuplicateName,
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::ConcurrentModification
            }
            _ => StoreError::Database(e),
        }
    }
}
