//! The one error type of the indexer crate; every message names the file or object concerned.
use std::path::PathBuf;

/// Errors of the indexer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A recognition file or template is invalid.
    #[error("{object}: {message}")]
    Recognition {
        /// The recognition file (and template).
        object: String,
        /// What is wrong.
        message: String,
    },
    /// GDAL could not open or read a raster.
    #[error("{path}: GDAL: {message}")]
    Raster {
        /// The dataset path as given to GDAL.
        path: String,
        /// GDAL's message.
        message: String,
    },
    /// An S3 request failed (missing bucket, denied access, bad credentials, unreachable endpoint).
    #[error("{object}: {message}")]
    S3 {
        /// The bucket, prefix or object.
        object: String,
        /// What S3 said, in words a user can act on.
        message: String,
    },
    /// An SQS request failed (unknown queue, denied access, unreachable endpoint).
    #[error("{queue}: {message}")]
    Queue {
        /// The queue URL.
        queue: String,
        /// What SQS said.
        message: String,
    },
    /// A source argument is not usable.
    #[error("{source_arg}: {message}")]
    Source {
        /// The argument as given.
        source_arg: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file of the listing itself (an inventory data file) that cannot be used: reported as a failed
    /// object naming it, and the rest of the listing goes on.
    #[error("{object}: {message}")]
    Unlisted {
        /// The file.
        object: String,
        /// What is wrong with it.
        message: String,
    },
    /// The catalog refused or failed a write.
    #[error(transparent)]
    Catalog(#[from] catalog_schema::Error),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias of the indexer crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
