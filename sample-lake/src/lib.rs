//! Sample files in the real formats of the lake — MODIS HDF-EOS2 grids, gridMET's
//! packed NetCDF-4 — written by code
//! so that tests and the demo never depend on committed binaries or on the network.
#![deny(missing_docs)]

pub mod gridmet;
pub mod hdfeos;
pub mod lake;
pub mod landsat;
pub mod netcdf4;
pub mod scenes;
pub mod usgs_items;
