//! Writing stacks and model results out: CF NetCDF or Zarr (what xarray opens with coordinates and
//! CRS), one COG per time step (on disk or S3), and PNG quicklooks with a colour bar.
pub mod banded;
mod cf;
mod cog;
mod font;
pub mod netcdf3;
mod quicklook;
pub mod vsi;
mod zarr;

pub use cf::{write_netcdf, NetcdfPlaced, NetcdfStack};
pub use cog::{cogs_from_netcdf, write_cog_at, write_cogs};
pub use quicklook::{write_png, Palette};
pub use zarr::{is_zarr, write_zarr, ZarrStack};
