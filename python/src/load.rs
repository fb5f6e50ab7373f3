//! `etlake.load`'s Rust half: plan a load against the index (the output grid, the datasets of each
//! time step, the measurements) as plain JSON, cut a plan into chunk plans, and read a plan's window
//! into numpy arrays with the stack engine `etlake stack` uses (datasets warped in parallel threads,
//! GIL released). A plan needs no index to be read, so Dask workers read chunk plans on their own.
use crate::{run, EtlakeError, Index, InvalidInputError, NotFoundError};
use catalog_schema::search;
use model::stack::{self, grid, GroupBy, LoadRequest, PortablePlan, Resampling};
use model::{Error, GeoBox};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use std::collections::HashMap;
use std::sync::OnceLock;

fn to_py(e: Error) -> PyErr {
    let text = e.to_string();
    match e {
        Error::Catalog(e) => crate::to_py(e),
        Error::Request(m) if m.starts_with("no product ") => NotFoundError::new_err(text),
        Error::Request(_) | Error::Grid(_) => InvalidInputError::new_err(text),
        _ => EtlakeError::new_err(text),
    }
}

/// Runs model work with the GIL released, panics caught (see `crate::run`).
fn run_model<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T, Error> + Send,
) -> PyResult<T> {
    run(py, || Ok(work()))?.map_err(to_py)
}

/// GDAL set up once per process as `etlake stack` sets it up: its messages go to `tracing`, and
/// `/vsis3/` reaches the endpoint the AWS environment names.
fn configure_gdal() -> Result<(), Error> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        indexer::raster::configure_for_indexing();
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let opts = indexer::s3::S3Options {
            endpoint_url: env("AWS_ENDPOINT_URL_S3").or_else(|| env("AWS_ENDPOINT_URL")),
            region: env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")),
            ..Default::default()
        };
        indexer::s3::configure_gdal(&opts).map_err(|e| e.to_string())
    })
    .clone()
    .map_err(Error::Request)
}

/// A grid from Python: (crs, width, height, affine a, b, c, d, e, f).
type GridArg = (String, usize, usize, [f64; 6]);

/// Plans a load: returns the plan as JSON. The grid is `geobox` when given (its footprint is the
/// search area unless `bbox` is given too), else built over `bbox` from `crs`, `resolution` (x, y)
/// and `align` (x, y), falling back on the product's load hints.
#[pyfunction]
#[pyo3(signature = (index, product, measurements=None, *, time=None, bbox=None, bbox_label=None,
    geobox=None, crs=None, resolution=None, align=None, resampling="nearest".to_string(),
    resampling_of=None, group_by="time".to_string(), physical=false))]
#[allow(clippy::too_many_arguments)]
fn load_plan(
    py: Python<'_>,
    index: PyRef<'_, Index>,
    product: String,
    measurements: Option<Vec<String>>,
    time: Option<String>,
    bbox: Option<(f64, f64, f64, f64)>,
    bbox_label: Option<String>,
    geobox: Option<GridArg>,
    crs: Option<String>,
    resolution: Option<(f64, f64)>,
    align: Option<(f64, f64)>,
    resampling: String,
    resampling_of: Option<HashMap<String, String>>,
    group_by: String,
    physical: bool,
) -> PyResult<String> {
    index
        .with(py, |c| {
            Ok((|| -> Result<String, Error> {
                let time = time.as_deref().map(search::parse_time_range).transpose()?;
                let lonlat = bbox
                    .map(|(w, s, e, n)| {
                        search::check_bbox(bbox_label.as_deref().unwrap_or("bbox"), [w, s, e, n])
                    })
                    .transpose()?;
                let geobox = match (geobox, lonlat) {
                    (Some((crs, width, height, transform)), _) => {
                        grid::srs(&crs)?;
                        if width == 0 || height == 0 {
                            return Err(Error::Request(format!(
                                "the output grid is empty ({width}×{height} pixels)"
                            )));
                        }
                        GeoBox {
                            crs,
                            width,
                            height,
                            transform,
                        }
                    }
                    (None, Some(b)) => {
                        grid::for_product(c, &product, b, crs.as_deref(), resolution, align)?
                    }
                    (None, None) => {
                        return Err(Error::Request(
                            "give the area to load: bbox, lon/lat, like or geobox".into(),
                        ))
                    }
                };
                if geobox.width == 0 || geobox.height == 0 {
                    return Err(Error::Request(format!(
                        "the output grid over the area is empty ({}×{} pixels)",
                        geobox.width, geobox.height
                    )));
                }
                let resampling_of = resampling_of
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| Ok((k, v.parse::<Resampling>()?)))
                    .collect::<Result<_, Error>>()?;
                let req = LoadRequest {
                    product: product.clone(),
                    measurements: measurements.unwrap_or_default(),
                    time,
                    lonlat,
                    geobox,
                    resampling: resampling.parse()?,
                    resampling_of,
                    group_by: group_by.parse::<GroupBy>()?,
                    default: None,
                    physical,
                };
                let plan = stack::plan(c, &req)?;
                if plan.is_empty() {
                    return Err(Error::Request(format!(
                        "no dataset of product {} matches the time and area asked for",
                        req.product
                    )));
                }
                serde_json::to_string(&plan.to_portable(&req)?)
                    .map_err(|e| Error::Request(format!("writing the plan: {e}")))
            })())
        })?
        .map_err(to_py)
}

fn parse(plan: &str) -> Result<PortablePlan, Error> {
    serde_json::from_str(plan).map_err(|e| Error::Request(format!("not an etlake load plan: {e}")))
}

/// The plans of chunks `(t0, t1, y0, y1, x0, x1)` of a plan (steps, rows, columns; ends excluded),
/// each with only the datasets whose footprint can reach its window.
#[pyfunction]
fn load_chunk_plans(
    py: Python<'_>,
    plan: String,
    chunks: Vec<(usize, usize, usize, usize, usize, usize)>,
) -> PyResult<Vec<String>> {
    run_model(py, || {
        let plan = parse(&plan)?;
        chunks
            .into_iter()
            .map(|(t0, t1, y0, y1, x0, x1)| {
                let c = plan.chunk((t0, t1), (y0, y1), (x0, x1))?;
                serde_json::to_string(&c)
                    .map_err(|e| Error::Request(format!("writing the plan: {e}")))
            })
            .collect()
    })
}

/// A measurement's values in its dtype.
enum Typed {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Typed {
    /// An empty buffer of `dtype` with room for `n` values.
    fn with_capacity(dtype: &str, n: usize) -> Result<Self, Error> {
        Ok(match dtype {
            "uint8" => Typed::U8(Vec::with_capacity(n)),
            "int8" => Typed::I8(Vec::with_capacity(n)),
            "uint16" => Typed::U16(Vec::with_capacity(n)),
            "int16" => Typed::I16(Vec::with_capacity(n)),
            "uint32" => Typed::U32(Vec::with_capacity(n)),
            "int32" => Typed::I32(Vec::with_capacity(n)),
            "uint64" => Typed::U64(Vec::with_capacity(n)),
            "int64" => Typed::I64(Vec::with_capacity(n)),
            "float32" => Typed::F32(Vec::with_capacity(n)),
            "float64" => Typed::F64(Vec::with_capacity(n)),
            other => return Err(Error::Request(format!("unsupported dtype {other:?}"))),
        })
    }

    /// Appends `values` cast to the buffer's dtype (they hold values of that dtype: the engine
    /// quantises what it reads).
    fn extend(&mut self, values: &[f64]) {
        macro_rules! cast {
            ($v:ident, $t:ty) => {
                $v.extend(values.iter().map(|&x| x as $t))
            };
        }
        match self {
            Typed::U8(v) => cast!(v, u8),
            Typed::I8(v) => cast!(v, i8),
            Typed::U16(v) => cast!(v, u16),
            Typed::I16(v) => cast!(v, i16),
            Typed::U32(v) => cast!(v, u32),
            Typed::I32(v) => cast!(v, i32),
            Typed::U64(v) => cast!(v, u64),
            Typed::I64(v) => cast!(v, i64),
            Typed::F32(v) => cast!(v, f32),
            Typed::F64(v) => v.extend_from_slice(values),
        }
    }
}

/// Float64 values the engine holds at once while reading a plan: the plan is read a run of time
/// steps at a time, each run cast into the measurements' own dtypes as it comes, so a load never
/// holds a float64 copy of the whole result beside it.
const RUN_VALUES: usize = 8 << 20;

/// A plan read: the shape (time, y, x) and each measurement's values.
type Read = ([usize; 3], Vec<(String, Typed)>);

/// Reads `plan` into one buffer per measurement in its dtype.
fn read_typed(plan: &PortablePlan) -> Result<Read, Error> {
    let stager = stack::source::Stager::new()?;
    let grid = plan.window_grid()?;
    let [y0, y1, x0, x1] = plan
        .window
        .unwrap_or([0, plan.grid.height, 0, plan.grid.width]);
    let (steps, pixels) = (plan.steps.len(), grid.width * grid.height);
    let per_step = (pixels * plan.measurements.len()).max(1);
    // At least the steps the engine warps in parallel at once, so that every thread has work.
    let run = (RUN_VALUES / per_step)
        .max(rayon::current_num_threads() * 4)
        .min(steps.max(1));
    let mut layers: Vec<(String, Typed)> = Vec::new();
    let mut t0 = 0;
    loop {
        let t1 = (t0 + run).min(steps);
        let part = if steps == 0 {
            plan.read(&stager)?
        } else {
            plan.chunk((t0, t1), (y0, y1), (x0, x1))?.read(&stager)?
        };
        if layers.is_empty() {
            layers = part
                .layers
                .iter()
                .map(|l| {
                    Ok((
                        l.name.clone(),
                        Typed::with_capacity(&l.dtype, steps * pixels)?,
                    ))
                })
                .collect::<Result<_, Error>>()?;
        }
        for ((_, out), l) in layers.iter_mut().zip(&part.layers) {
            out.extend(&l.data);
        }
        t0 = t1;
        if t0 >= steps {
            break;
        }
    }
    Ok(([steps, grid.height, grid.width], layers))
}

/// Reads a plan's window (the whole grid for a plan from `load_plan`, the chunk's for a chunk plan):
/// a list of (measurement, array (time, y, x) in the measurement's dtype). The arrays own the
/// buffers the values were read into (no copy is made handing them to numpy).
#[pyfunction]
fn load_read(py: Python<'_>, plan: String) -> PyResult<Vec<(String, Py<PyAny>)>> {
    let (shape, layers) = run_model(py, || {
        configure_gdal()?;
        read_typed(&parse(&plan)?)
    })?;
    layers
        .into_iter()
        .map(|(name, data)| {
            macro_rules! arr {
                ($v:expr) => {
                    PyArray1::from_vec(py, $v)
                        .reshape(shape)?
                        .into_any()
                        .unbind()
                };
            }
            let a = match data {
                Typed::U8(v) => arr!(v),
                Typed::I8(v) => arr!(v),
                Typed::U16(v) => arr!(v),
                Typed::I16(v) => arr!(v),
                Typed::U32(v) => arr!(v),
                Typed::I32(v) => arr!(v),
                Typed::U64(v) => arr!(v),
                Typed::I64(v) => arr!(v),
                Typed::F32(v) => arr!(v),
                Typed::F64(v) => arr!(v),
            };
            Ok((name, a))
        })
        .collect()
}

/// Warps band `band` of one file onto a grid (the odc-loader reader driver's read): float64
/// (height, width), `dst_nodata` (NaN when None) where no source pixel lands. `layer` is the
/// NetCDF/HDF subdataset, `format` the `odc:file_format` (`NetCDF`, `HDF5`, `HDF4_EOS:EOS_GRID`,
/// else a plain raster).
#[pyfunction]
#[pyo3(signature = (uri, band, layer, format, grid, resampling="nearest".to_string(),
    src_nodata=None, dst_nodata=None))]
#[allow(clippy::too_many_arguments)]
fn warp_source(
    py: Python<'_>,
    uri: String,
    band: usize,
    layer: Option<String>,
    format: String,
    grid: GridArg,
    resampling: String,
    src_nodata: Option<f64>,
    dst_nodata: Option<f64>,
) -> PyResult<Py<PyAny>> {
    let (crs, width, height, transform) = grid;
    let geobox = GeoBox {
        crs,
        width,
        height,
        transform,
    };
    let values = run_model(py, || {
        configure_gdal()?;
        let stager = stack::source::Stager::new()?;
        let b = stack::source::BandRef {
            uri,
            band,
            layer,
            format,
        };
        let path = stager.gdal_path(&b)?;
        let object = format!("{path} band {band}");
        let read = |message: String| Error::Read {
            object: object.clone(),
            message,
        };
        let ds = gdal::Dataset::open(&path).map_err(|e| read(e.to_string()))?;
        let file_nodata = ds
            .rasterband(band)
            .map_err(|e| read(e.to_string()))?
            .no_data_value();
        let src = stack::warp::SourceBand {
            dataset: &ds,
            band,
            nodata: file_nodata.or(src_nodata),
            crs: None,
            shared: None,
        };
        let r: Resampling = resampling.parse()?;
        stack::warp::warp(&src, &geobox, &geobox, r, dst_nodata, &object)
    })?;
    Ok(PyArray1::from_vec(py, values)
        .reshape([height, width])?
        .into_any()
        .unbind())
}

/// Adds the load functions to the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(load_plan, m)?)?;
    m.add_function(wrap_pyfunction!(load_chunk_plans, m)?)?;
    m.add_function(wrap_pyfunction!(load_read, m)?)?;
    m.add_function(wrap_pyfunction!(warp_source, m)?)?;
    Ok(())
}
