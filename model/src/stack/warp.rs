//! GDAL warping of one source band onto a GeoBox — the only `unsafe` of the model crate. It sets up
//! the warp as rasterio's `reproject` does for `dc.load` (approximate transformer with 0.125 pixel
//! error, `XSCALE=YSCALE=1`, destination initialised to nodata), so nearest-neighbour pixels agree.
use crate::{Error, GeoBox, Result};
use gdal::{Dataset, DriverManager};
use gdal_sys::{CPLErr, GDALDataType, GDALResampleAlg};
use std::ffi::{c_char, c_int, c_void, CString};
use std::ptr::null_mut;

/// The maximum error of the approximate transformer, in pixels (rasterio's default).
const APPROX_ERROR: f64 = 0.125;

/// Resampling methods, named as datacube and GDAL name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resampling {
    /// Nearest neighbour (the output pixel centre's source pixel).
    #[default]
    Nearest,
    /// Bilinear.
    Bilinear,
    /// Cubic convolution.
    Cubic,
    /// Cubic spline.
    CubicSpline,
    /// Lanczos windowed sinc.
    Lanczos,
    /// Average of contributing pixels.
    Average,
    /// Most frequent value.
    Mode,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// Median.
    Median,
    /// First quartile.
    Q1,
    /// Third quartile.
    Q3,
    /// Sum.
    Sum,
    /// Root mean square.
    Rms,
}

impl std::str::FromStr for Resampling {
    type Err = Error;
    fn from_str(s: &str) -> Result<Resampling> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "nearest" | "near" => Resampling::Nearest,
            "bilinear" => Resampling::Bilinear,
            "cubic" => Resampling::Cubic,
            "cubic_spline" | "cubicspline" => Resampling::CubicSpline,
            "lanczos" => Resampling::Lanczos,
            "average" => Resampling::Average,
            "mode" => Resampling::Mode,
            "min" => Resampling::Min,
            "max" => Resampling::Max,
            "med" | "median" => Resampling::Median,
            "q1" => Resampling::Q1,
            "q3" => Resampling::Q3,
            "sum" => Resampling::Sum,
            "rms" => Resampling::Rms,
            other => {
                return Err(Error::Request(format!(
                    "unknown resampling {other:?}: use nearest, bilinear, cubic, cubic_spline, \
                     lanczos, average, mode, min, max, med, q1, q3, sum or rms"
                )))
            }
        })
    }
}

impl Resampling {
    fn gdal(self) -> GDALResampleAlg::Type {
        use GDALResampleAlg::*;
        match self {
            Resampling::Nearest => GRA_NearestNeighbour,
            Resampling::Bilinear => GRA_Bilinear,
            Resampling::Cubic => GRA_Cubic,
            Resampling::CubicSpline => GRA_CubicSpline,
            Resampling::Lanczos => GRA_Lanczos,
            Resampling::Average => GRA_Average,
            Resampling::Mode => GRA_Mode,
            Resampling::Min => GRA_Min,
            Resampling::Max => GRA_Max,
            Resampling::Median => GRA_Med,
            Resampling::Q1 => GRA_Q1,
            Resampling::Q3 => GRA_Q3,
            Resampling::Sum => GRA_Sum,
            Resampling::Rms => GRA_RMS,
        }
    }
}

/// One band of an opened source.
pub struct SourceBand<'a> {
    /// The opened GDAL dataset (one per worker: datasets are not `Sync`).
    pub dataset: &'a Dataset,
    /// 1-based band index.
    pub band: usize,
    /// Nodata of the source pixels (the file's, else the product's).
    pub nodata: Option<f64>,
    /// CRS to assume when the file has none (the dataset document's).
    pub crs: Option<&'a str>,
}

/// Warps `src` onto `geobox`; pixels no source pixel reaches are `dst_nodata` (NaN when None).
pub fn warp(
    src: &SourceBand<'_>,
    geobox: &GeoBox,
    resampling: Resampling,
    dst_nodata: Option<f64>,
    object: &str,
) -> Result<Vec<f64>> {
    let fail = |message: String| Error::Read {
        object: object.to_string(),
        message,
    };
    let fill = dst_nodata.unwrap_or(f64::NAN);
    let mem = DriverManager::get_driver_by_name("MEM").map_err(|e| fail(e.to_string()))?;
    let mut dst = mem
        .create_with_band_type::<f64, _>("", geobox.width, geobox.height, 1)
        .map_err(|e| fail(e.to_string()))?;
    dst.set_geo_transform(&geobox.gdal_transform())
        .map_err(|e| fail(e.to_string()))?;
    // x = easting/longitude whatever the authority's axis order (EPSG:4326 is lat, lon).
    let srs = super::grid::srs(&geobox.crs)?;
    dst.set_spatial_ref(&srs).map_err(|e| fail(e.to_string()))?;
    {
        let mut b = dst.rasterband(1).map_err(|e| fail(e.to_string()))?;
        b.fill(fill, None).map_err(|e| fail(e.to_string()))?;
    }
    // A source without a CRS (some NetCDF/HDF5) takes the dataset document's, through the
    // transformer's SRC_SRS option; a file's own CRS always wins otherwise.
    let mut transformer_options: Vec<(String, String)> = Vec::new();
    if src.dataset.spatial_ref().is_err() {
        let crs = src
            .crs
            .ok_or_else(|| fail("the file has no CRS and the dataset document none".into()))?;
        let wkt = super::grid::srs(crs)?
            .to_wkt()
            .map_err(|e| fail(format!("dataset CRS {crs}: {e}")))?;
        transformer_options.push(("SRC_SRS".into(), wkt));
    }
    // GDAL 3.6 derives an inverted area of interest from a rotated geotransform (a stated grid with
    // swapped axes), on which PROJ recurses without end: state the whole world instead.
    if src
        .dataset
        .geo_transform()
        .is_ok_and(|gt| gt[2] != 0.0 || gt[4] != 0.0)
    {
        transformer_options.push(("AREA_OF_INTEREST".into(), "-180,-90,180,90".into()));
    }
    let warp_options = [
        ("INIT_DEST", "NO_DATA".to_string()),
        ("XSCALE", "1".to_string()),
        ("YSCALE", "1".to_string()),
    ];
    // SAFETY: every pointer handed to GDAL comes from GDAL allocators (CPLMalloc, CSLSetNameValue)
    // or from live datasets that outlive the call; the options, transformer and operation are
    // destroyed on every path before returning.
    let err = unsafe {
        let topts = string_list(&transformer_options);
        let gen = gdal_sys::GDALCreateGenImgProjTransformer2(
            src.dataset.c_dataset(),
            dst.c_dataset(),
            topts,
        );
        gdal_sys::CSLDestroy(topts);
        if gen.is_null() {
            return Err(fail(format!("no transformation to {}", geobox.crs)));
        }
        // The destination window datacube warps: odc-geo's ROI (dst boundary → src pixels, padded by
        // one and clipped; that ROI's boundary → dst pixels). The approximate transformer
        // interpolates along the window's rows, so the window decides which pixel nearest picks.
        let (sw, sh) = src.dataset.raster_size();
        let roi = reproject_roi(gen, (sw, sh), (geobox.width, geobox.height));
        let Some((x0, y0, ww, wh)) = roi else {
            gdal_sys::GDALDestroyGenImgProjTransformer(gen);
            return Ok(vec![fill; geobox.width * geobox.height]);
        };
        let approx = gdal_sys::GDALCreateApproxTransformer(
            Some(gdal_sys::GDALGenImgProjTransform),
            gen,
            APPROX_ERROR,
        );
        gdal_sys::GDALApproxTransformerOwnsSubtransformer(approx, 1);
        let o = gdal_sys::GDALCreateWarpOptions();
        (*o).hSrcDS = src.dataset.c_dataset();
        (*o).hDstDS = dst.c_dataset();
        (*o).eResampleAlg = resampling.gdal();
        (*o).eWorkingDataType = GDALDataType::GDT_Float64;
        (*o).nBandCount = 1;
        (*o).panSrcBands = alloc::<c_int>(src.band as c_int);
        (*o).panDstBands = alloc::<c_int>(1);
        if let Some(n) = src.nodata {
            (*o).padfSrcNoDataReal = alloc::<f64>(n);
        }
        (*o).padfDstNoDataReal = alloc::<f64>(fill);
        (*o).pfnTransformer = Some(gdal_sys::GDALApproxTransform);
        (*o).pTransformerArg = approx;
        let owned: Vec<(String, String)> = warp_options
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        (*o).papszWarpOptions = string_list(&owned);
        let op = gdal_sys::GDALCreateWarpOperation(o);
        let err = if op.is_null() {
            CPLErr::CE_Failure
        } else {
            let e = gdal_sys::GDALChunkAndWarpImage(
                op,
                x0 as c_int,
                y0 as c_int,
                ww as c_int,
                wh as c_int,
            );
            gdal_sys::GDALDestroyWarpOperation(op);
            e
        };
        (*o).pTransformerArg = null_mut();
        gdal_sys::GDALDestroyWarpOptions(o);
        gdal_sys::GDALDestroyApproxTransformer(approx);
        err
    };
    if err != CPLErr::CE_None {
        return Err(fail(format!(
            "GDAL warp failed: {}",
            last_gdal_error().unwrap_or_else(|| "no message".into())
        )));
    }
    let band = dst.rasterband(1).map_err(|e| fail(e.to_string()))?;
    let buf = band
        .read_as::<f64>(
            (0, 0),
            (geobox.width, geobox.height),
            (geobox.width, geobox.height),
            None,
        )
        .map_err(|e| fail(e.to_string()))?;
    Ok(buf.into_shape_and_vec().1)
}

/// Points (pixel, line) through a GenImgProj transformer, dst → src or back; failed points dropped.
unsafe fn transform_points(
    gen: *mut c_void,
    dst_to_src: bool,
    pts: &[(f64, f64)],
) -> Vec<(f64, f64)> {
    let mut x: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let mut y: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let mut z = vec![0.0; pts.len()];
    let mut ok = vec![0 as c_int; pts.len()];
    gdal_sys::GDALGenImgProjTransform(
        gen,
        dst_to_src as c_int,
        pts.len() as c_int,
        x.as_mut_ptr(),
        y.as_mut_ptr(),
        z.as_mut_ptr(),
        ok.as_mut_ptr(),
    );
    (0..pts.len())
        .filter(|&i| ok[i] != 0 && x[i].is_finite() && y[i].is_finite())
        .map(|i| (x[i], y[i]))
        .collect()
}

/// `n` points per side along the edges of the box (x0, y0)–(x1, y1), as odc-geo's `roi_boundary`.
fn boundary(x0: f64, y0: f64, x1: f64, y1: f64, n: usize) -> Vec<(f64, f64)> {
    let lin = |a: f64, b: f64, k: usize| a + (b - a) * k as f64 / (n - 1) as f64;
    (0..n)
        .flat_map(|k| {
            let (x, y) = (lin(x0, x1, k), lin(y0, y1, k));
            [(x, y0), (x, y1), (x0, y), (x1, y)]
        })
        .collect()
}

/// The envelope of points as a (col0, row0, cols, rows) window padded and clipped to `shape`.
fn envelope(
    pts: &[(f64, f64)],
    pad: f64,
    shape: (usize, usize),
) -> Option<(usize, usize, usize, usize)> {
    if pts.is_empty() {
        return None;
    }
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for &(x, y) in pts {
        lo = [lo[0].min(x), lo[1].min(y)];
        hi = [hi[0].max(x), hi[1].max(y)];
    }
    let clip = |v: f64, n: usize| v.clamp(0.0, n as f64) as usize;
    let (x0, x1) = (
        clip(lo[0].floor() - pad, shape.0),
        clip(hi[0].ceil() + pad, shape.0),
    );
    let (y0, y1) = (
        clip(lo[1].floor() - pad, shape.1),
        clip(hi[1].ceil() + pad, shape.1),
    );
    (x1 > x0 && y1 > y0).then_some((x0, y0, x1 - x0, y1 - y0))
}

/// odc-geo's reprojection ROI (5 points per side): the destination window a source covers.
unsafe fn reproject_roi(
    gen: *mut c_void,
    src: (usize, usize),
    dst: (usize, usize),
) -> Option<(usize, usize, usize, usize)> {
    let dst_edge = boundary(0.0, 0.0, dst.0 as f64, dst.1 as f64, 5);
    let (sx, sy, sw, sh) = envelope(&transform_points(gen, true, &dst_edge), 1.0, src)?;
    let src_edge = boundary(sx as f64, sy as f64, (sx + sw) as f64, (sy + sh) as f64, 5);
    envelope(&transform_points(gen, false, &src_edge), 0.0, dst)
}

/// A value in GDAL-allocated memory (freed by `GDALDestroyWarpOptions`).
unsafe fn alloc<T: Copy>(v: T) -> *mut T {
    let p = gdal_sys::CPLMalloc(std::mem::size_of::<T>()) as *mut T;
    p.write(v);
    p
}

/// A GDAL string list (`NAME=VALUE` entries); null when empty. Free with `CSLDestroy`.
unsafe fn string_list(items: &[(String, String)]) -> *mut *mut c_char {
    let mut list: *mut *mut c_char = null_mut();
    for (k, v) in items {
        let (k, v) = (
            CString::new(k.as_str()).unwrap_or_default(),
            CString::new(v.as_str()).unwrap_or_default(),
        );
        list = gdal_sys::CSLSetNameValue(list, k.as_ptr(), v.as_ptr());
    }
    list
}

fn last_gdal_error() -> Option<String> {
    // SAFETY: CPLGetLastErrorMsg returns a pointer to a thread-local string owned by GDAL.
    unsafe {
        let p = gdal_sys::CPLGetLastErrorMsg();
        if p.is_null() {
            return None;
        }
        let s = std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned();
        (!s.is_empty()).then_some(s)
    }
}

/// Copies a GDAL virtual file (e.g. `/vsis3/bucket/key`) to a local path through GDAL's VSI layer,
/// for formats GDAL cannot read remotely (HDF4, NetCDF).
pub fn copy_vsi_file(from: &str, to: &std::path::Path) -> Result<()> {
    let fail = |message: String| Error::Read {
        object: from.to_string(),
        message,
    };
    let c_from = CString::new(from).map_err(|e| fail(e.to_string()))?;
    let mode = CString::new("rb").map_err(|e| fail(e.to_string()))?;
    let mut out = std::fs::File::create(to).map_err(|e| fail(format!("{}: {e}", to.display())))?;
    // SAFETY: the handle is checked for null and closed on every path; the buffer outlives each read.
    unsafe {
        let fp = gdal_sys::VSIFOpenL(c_from.as_ptr(), mode.as_ptr());
        if fp.is_null() {
            return Err(fail(format!(
                "cannot open: {}",
                last_gdal_error().unwrap_or_else(|| "not found".into())
            )));
        }
        let mut buf = vec![0u8; 1 << 20];
        let result = loop {
            let n = gdal_sys::VSIFReadL(buf.as_mut_ptr() as *mut c_void, 1, buf.len(), fp);
            if n == 0 {
                break Ok(());
            }
            if let Err(e) = std::io::Write::write_all(&mut out, &buf[..n]) {
                break Err(fail(format!("{}: {e}", to.display())));
            }
        };
        gdal_sys::VSIFCloseL(fp);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gdal::raster::Buffer;

    fn mem_source(gt: [f64; 6], w: usize, h: usize, data: Vec<f32>, epsg: u32) -> Dataset {
        let mem = DriverManager::get_driver_by_name("MEM").unwrap();
        let mut ds = mem.create_with_band_type::<f32, _>("", w, h, 1).unwrap();
        ds.set_geo_transform(&gt).unwrap();
        // As file drivers return it: x = longitude.
        ds.set_spatial_ref(&super::super::grid::srs(&format!("EPSG:{epsg}")).unwrap())
            .unwrap();
        ds.rasterband(1)
            .unwrap()
            .write((0, 0), (w, h), &mut Buffer::new((w, h), data))
            .unwrap();
        ds
    }

    #[test]
    fn nearest_on_a_finer_grid_repeats_source_pixels_and_fills_outside() {
        let src = mem_source(
            [0.0, 1.0, 0.0, 2.0, 0.0, -1.0],
            2,
            2,
            vec![1.0, 2.0, 3.0, -9.0],
            4326,
        );
        let g = GeoBox::from_bbox("EPSG:4326", [0.0, 0.0, 3.0, 2.0], 0.5, -0.5, None).unwrap();
        let band = SourceBand {
            dataset: &src,
            band: 1,
            nodata: Some(-9.0),
            crs: None,
        };
        let out = warp(&band, &g, Resampling::Nearest, Some(-1.0), "test").unwrap();
        assert_eq!((g.width, g.height), (6, 4));
        assert_eq!(&out[0..6], &[1.0, 1.0, 2.0, 2.0, -1.0, -1.0]);
        // Source nodata stays nodata (the destination's value).
        assert_eq!(&out[18..24], &[3.0, 3.0, -1.0, -1.0, -1.0, -1.0]);
    }

    #[test]
    fn resampling_names_parse_and_unknown_ones_are_refused() {
        assert_eq!("near".parse::<Resampling>().unwrap(), Resampling::Nearest);
        assert_eq!(
            "AVERAGE".parse::<Resampling>().unwrap(),
            Resampling::Average
        );
        let e = "smooth".parse::<Resampling>().unwrap_err().to_string();
        assert!(e.contains("smooth") && e.contains("bilinear"), "{e}");
    }
}
