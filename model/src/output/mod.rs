//! Writing stacks and model results out: CF NetCDF (what xarray and GDAL open with coordinates and
//! CRS), one COG per time step, and PNG quicklooks with a colour bar.
mod cf;
mod cog;
mod font;
pub mod netcdf3;
mod quicklook;

pub use cf::write_netcdf;
pub use cog::write_cogs;
pub use quicklook::{write_png, Palette};
