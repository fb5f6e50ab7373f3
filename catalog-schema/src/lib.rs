//! The etlake index: the Open Data Cube `agdc` schema exactly as `datacube system init` creates it,
//! etlake's own `etlake` schema, typed ODC documents, and the Postgres read/write layer.
//!
//! Nothing here knows about S3 or GDAL: the indexer and the model crates build on this one.
//!
//! ```no_run
//! use catalog_schema::{config, Catalog};
//! let resolved = config::resolve(&config::ConnectOptions::default(), &config::SystemEnv)?;
//! let mut catalog = Catalog::open(&resolved, &config::SystemEnv)?;
//! catalog_schema::init::init(&mut catalog)?;
//! # Ok::<(), catalog_schema::Error>(())
//! ```
#![deny(missing_docs)]

pub mod changes;
pub mod check;
pub mod checkpoint;
pub mod config;
pub mod dataset;
pub mod dataset_rules;
pub mod db;
pub mod dburl;
pub mod document;
pub mod embedded;
pub mod eo3;
mod error;
pub mod etlake_schema;
pub mod fields;
pub mod init;
pub mod locations;
pub mod metadata_type;
pub mod product;
pub mod product_rules;
pub mod runs;
pub mod search;
pub mod stac_eo3;
pub mod stac_item;
pub mod stac_upgrade;
pub mod tls;

pub use db::Catalog;
pub use dburl::DbUrl;
pub use error::{Error, Result};

/// The etlake version, written into `application_name` and run records.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
