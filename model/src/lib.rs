//! The model side of etlake: index queries, output grids (GeoBoxes), aligned stacks warped with
//! GDAL, outputs (CF NetCDF, COG, PNG quicklooks) and the VegET kernel.
#![deny(missing_docs)]

pub mod geobox;
pub mod output;
pub mod stack;
pub mod veget;

pub use geobox::GeoBox;
pub use stack::{Layer, Stack};

/// Errors of the model crate; messages name the grid, dataset, file or input concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A grid definition is unusable.
    #[error("grid: {0}")]
    Grid(String),
    /// Reading or warping a source failed.
    #[error("{object}: {message}")]
    Read {
        /// The dataset, file or GDAL path concerned.
        object: String,
        /// What went wrong.
        message: String,
    },
    /// Writing an output failed.
    #[error("{path}: {message}")]
    Write {
        /// The output file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A dataset's document lacks a measurement its product defines (an optional one), and no
    /// constant stands in for it.
    #[error("dataset {dataset} of product {product} has no measurement {measurement:?} (its document has {has})")]
    MissingMeasurement {
        /// The dataset id.
        dataset: String,
        /// Its product.
        product: String,
        /// The measurement asked for.
        measurement: String,
        /// The measurements the document has.
        has: String,
    },
    /// A request is inconsistent (unknown measurement, missing input day, bad option).
    #[error("{0}")]
    Request(String),
    /// The index could not be queried.
    #[error(transparent)]
    Catalog(#[from] catalog_schema::Error),
}

/// Result alias of the model crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
