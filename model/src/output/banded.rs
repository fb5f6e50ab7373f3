//! Stacks larger than memory: assembled band by band (whole rows of the grid) from one search plan and
//! written into the CF NetCDF or Zarr store as they come, with the quicklook read back from the file.
use super::cf::NetcdfStack;
use super::zarr::{self, is_zarr, ZarrStack};
use crate::stack::source::Stager;
use crate::stack::{LoadRequest, Plan};
use crate::{Error, Layer, Result, Stack};
use std::path::Path;

/// Bytes one row of the grid needs while assembling: its output values plus the warped slices in
/// flight (four per worker), 8 bytes each.
pub fn bytes_per_row(plan: &Plan, width: usize) -> usize {
    let in_flight = 4 * rayon::current_num_threads();
    8 * width * plan.measurements() * (plan.steps() + in_flight)
}

/// A stack file being written: NetCDF, or Zarr when the path ends in `.zarr`.
pub enum StackFile {
    /// CF NetCDF-3.
    Netcdf(NetcdfStack),
    /// Zarr format 2.
    Zarr(ZarrStack),
}

impl StackFile {
    /// Creates the file for `stack`'s grid, steps and layers (values not read).
    pub fn create(path: &Path, stack: &Stack) -> Result<StackFile> {
        Ok(if is_zarr(path) {
            StackFile::Zarr(ZarrStack::create(path, stack)?)
        } else {
            StackFile::Netcdf(NetcdfStack::create(path, stack)?)
        })
    }

    /// Writes the rows of `band` from grid row `row0` on.
    pub fn write_rows(&self, band: &Stack, row0: usize) -> Result<()> {
        match self {
            StackFile::Netcdf(f) => f.write_rows(band, row0),
            StackFile::Zarr(f) => f.write_rows(band, row0),
        }
    }

    /// Flushes what needs flushing.
    pub fn finish(self) -> Result<()> {
        match self {
            StackFile::Netcdf(f) => f.finish(),
            StackFile::Zarr(_) => Ok(()),
        }
    }
}

/// Writes a whole stack to `path` (NetCDF, or Zarr for `.zarr`).
pub fn write_stack(path: &Path, stack: &Stack) -> Result<()> {
    let f = StackFile::create(path, stack)?;
    f.write_rows(stack, 0)?;
    f.finish()
}

/// Assembles the request's stack `rows` rows at a time and writes it to `path` (NetCDF, or Zarr for
/// `.zarr`); returns the stack's description on the whole grid (without values) and the number of
/// bands.
pub fn write_banded(
    plan: &Plan,
    req: &LoadRequest,
    stager: &Stager,
    path: &Path,
    rows: usize,
    on_band: &dyn Fn(usize, usize),
) -> Result<(Stack, usize)> {
    let rows = rows.max(1);
    let bands = req.geobox.height.div_ceil(rows).max(1);
    let mut file: Option<(StackFile, Stack)> = None;
    for k in 0..bands {
        let band = plan.assemble(req, &req.geobox.rows(k * rows, rows), stager)?;
        let (f, _) = match &file {
            Some(open) => open,
            None => {
                let header = whole_grid_header(&band, req);
                file.insert((StackFile::create(path, &header)?, header))
            }
        };
        f.write_rows(&band, k * rows)?;
        on_band(k + 1, bands);
    }
    let (f, header) = file.ok_or_else(|| Error::Request("the grid has no rows".into()))?;
    f.finish()?;
    Ok((header, bands))
}

/// A band's stack described on the request's whole grid, without values: what the header needs.
fn whole_grid_header(band: &Stack, req: &LoadRequest) -> Stack {
    Stack {
        product: band.product.clone(),
        geobox: req.geobox.clone(),
        times: band.times.clone(),
        sources: band.sources.clone(),
        spans: band.spans.clone(),
        layers: band
            .layers
            .iter()
            .map(|l| Layer {
                name: l.name.clone(),
                dtype: l.dtype.clone(),
                nodata: l.nodata,
                units: l.units.clone(),
                packing: l.packing,
                unpacked: l.unpacked.clone(),
                data: Vec::new(),
            })
            .collect(),
    }
}

/// One time step of a layer read back from a CF NetCDF or Zarr store written by etlake, decimated
/// (nearest) to at most `max` pixels on a side: (values, width, height).
pub fn read_step(
    nc: &Path,
    layer: &str,
    step: usize,
    size: (usize, usize),
    max: usize,
) -> Result<(Vec<f64>, usize, usize)> {
    if is_zarr(nc) {
        return zarr::read_step(nc, layer, step, max);
    }
    let fail = |e: gdal::errors::GdalError| Error::Read {
        object: format!("{} variable {layer}", nc.display()),
        message: e.to_string(),
    };
    let ds = gdal::Dataset::open(format!("NETCDF:\"{}\":{layer}", nc.display())).map_err(fail)?;
    let (w, h) = size;
    let scale = w.div_ceil(max).max(h.div_ceil(max)).max(1);
    let (qw, qh) = (w.div_ceil(scale), h.div_ceil(scale));
    let values = ds
        .rasterband(step + 1)
        .map_err(fail)?
        .read_as::<f64>((0, 0), (w, h), (qw, qh), None)
        .map_err(fail)?
        .into_shape_and_vec()
        .1;
    Ok((values, qw, qh))
}
