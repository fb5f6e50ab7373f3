//! The one error type of the catalog crate.
//! Every variant names the object it is about (a file, a product, a database), so messages stand alone.
use std::path::PathBuf;

/// Errors of the catalog layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database connection could not be resolved from the configuration.
    #[error("configuration: {0}")]
    Config(String),
    /// A document (product, metadata type) breaks a rule; nothing was written.
    #[error("{object}: {message}")]
    Invalid {
        /// The file and document the error is about.
        object: String,
        /// Which key broke which rule.
        message: String,
    },
    /// An object already exists in the index with a different definition.
    #[error("{object}: {message}")]
    Conflict {
        /// The product or metadata type.
        object: String,
        /// What differs and what to do about it.
        message: String,
    },
    /// A referenced object does not exist in the index.
    #[error("{object}: {message}")]
    NotFound {
        /// The missing object.
        object: String,
        /// What to do about it.
        message: String,
    },
    /// A database statement failed.
    #[error("database {context}: {}", db_message(.source))]
    Db {
        /// What etlake was doing.
        context: String,
        /// The driver error.
        #[source]
        source: postgres::Error,
    },
    /// The embedded private Postgres cluster could not be created, started or stopped.
    #[error("embedded Postgres at {dir}: {message}")]
    Embedded {
        /// The cluster's directory.
        dir: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias of the catalog crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a context (what etlake was doing) to a Postgres error.
pub(crate) trait DbContext<T> {
    fn ctx(self, context: impl Into<String>) -> Result<T>;
}

impl<T> DbContext<T> for std::result::Result<T, postgres::Error> {
    fn ctx(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|source| Error::Db {
            context: context.into(),
            source,
        })
    }
}

/// The server's own words when Postgres refused a statement (the driver's text is only "db error").
fn db_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => match d.detail() {
            Some(detail) => format!("{} ({detail})", d.message()),
            None => d.message().to_string(),
        },
        None => e.to_string(),
    }
}
