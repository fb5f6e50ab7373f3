//! The etlake indexer: recognises lake files from the declarative templates in `product-defs/recognition`
//! and reads their raster metadata with GDAL. Crawling S3 and writing documents build on these pieces.
#![deny(missing_docs)]

pub mod claims;
pub mod crs;
pub mod documents;
mod error;
pub mod events;
pub mod extract;
mod fast_get;
mod feed;
pub mod inventory;
pub mod inventory_listing;
pub mod item_grid;
mod objects;
pub mod outputs;
pub mod packing;
pub mod pipeline;
pub mod queue;
pub mod raster;
pub mod recognition;
pub mod routing;
pub mod s3;
pub mod shard;
pub mod siblings;
mod sources;
pub mod sqs;
pub mod stac_api;
pub mod template;
pub mod unclaimed;

pub use error::{Error, Result};
pub use recognition::{Recognised, Recogniser};
