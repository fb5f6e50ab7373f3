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

/// libnetcdf and the HDF4/HDF-EOS libraries are not thread-safe, and tests write lakes from
/// parallel threads of one process: every writer through them holds this lock while it works.
pub(crate) fn c_library_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
