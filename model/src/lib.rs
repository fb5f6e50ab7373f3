//! The model side of etlake: output grids (GeoBoxes) that stacks are assembled on, the VegET kernel,
//! and, as the model issues land, index queries and aligned stacks.
#![deny(missing_docs)]

pub mod geobox;
pub mod veget;

pub use geobox::GeoBox;

/// Errors of the model crate; messages name the grid or input concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A grid definition is unusable.
    #[error("grid: {0}")]
    Grid(String),
}

/// Result alias of the model crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
