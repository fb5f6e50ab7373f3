//! GDAL warping of one source band onto a GeoBox (with `window`, the model crate's only `unsafe`).
//! Set up as dc.load reads: decimated first when shrinking 2× or more, then warped as rasterio's
//! `reproject` (approximate transformer with 0.125 pixel error, `XSCALE=YSCALE=1`, destination
//! initialised to nodata), so nearest-neighbour pixels agree.
use super::lookup::{self, Lookup};
use super::shrink::{Read, Window};
use super::window::plan_read;
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
    /// Where windows of this band read for the whole grid are shared, and the band's GDAL path.
    pub shared: Option<(&'a super::windows::WindowCache, &'a str)>,
}

/// Warps `src` onto `geobox`, which is `whole` (the request's grid) or a band of its rows; pixels no
/// source pixel reaches are `dst_nodata` (NaN when None). A source shrunk by 2× or more is read
/// decimated first, as dc.load reads it (`super::shrink`), decided on `whole` so that a stack
/// assembled band by band has the same pixels.
pub fn warp(
    src: &SourceBand<'_>,
    geobox: &GeoBox,
    whole: &GeoBox,
    resampling: Resampling,
    dst_nodata: Option<f64>,
    object: &str,
) -> Result<Vec<f64>> {
    warp_with(src, geobox, whole, resampling, dst_nodata, object, false)
}

/// [`warp`], or with `gdal_only` always through GDAL's warper (what the index lookup is tested
/// against).
fn warp_with(
    src: &SourceBand<'_>,
    geobox: &GeoBox,
    whole: &GeoBox,
    resampling: Resampling,
    dst_nodata: Option<f64>,
    object: &str,
    gdal_only: bool,
) -> Result<Vec<f64>> {
    let fail = |message: String| Error::Read {
        object: object.to_string(),
        message,
    };
    let gdal_err = |e: gdal::errors::GdalError| fail(e.to_string());
    let fill = dst_nodata.unwrap_or(f64::NAN);
    let (gw, gh) = (geobox.width, geobox.height);
    let dst_srs = super::grid::srs(&geobox.crs)?;
    let mem = DriverManager::get_driver_by_name("MEM").map_err(gdal_err)?;
    // x = easting/longitude whatever the authority's axis order (EPSG:4326 is lat, lon).
    let grid = |g: &GeoBox, bands: usize| -> Result<Dataset> {
        let mut d = mem
            .create_with_band_type::<f64, _>("", g.width, g.height, bands)
            .map_err(gdal_err)?;
        d.set_geo_transform(&g.gdal_transform()).map_err(gdal_err)?;
        d.set_spatial_ref(&dst_srs).map_err(gdal_err)?;
        Ok(d)
    };
    // A source without a CRS (some NetCDF/HDF5) takes the dataset document's, through the
    // transformer's SRC_SRS option; a file's own CRS always wins otherwise.
    let mut topts: Vec<(String, String)> = Vec::new();
    let src_srs = match src.dataset.spatial_ref() {
        Ok(srs) => srs,
        Err(_) => {
            let crs = src
                .crs
                .ok_or_else(|| fail("the file has no CRS and the dataset document none".into()))?;
            let srs = super::grid::srs(crs)?;
            let wkt = srs
                .to_wkt()
                .map_err(|e| fail(format!("dataset CRS {crs}: {e}")))?;
            topts.push(("SRC_SRS".into(), wkt));
            srs
        }
    };
    // GDAL 3.6 derives an inverted area of interest from a rotated geotransform (a stated grid with
    // swapped axes), on which PROJ recurses without end: state the whole world instead.
    let src_gt = src.dataset.geo_transform().ok();
    if src_gt.is_some_and(|gt| gt[2] != 0.0 || gt[4] != 0.0) {
        topts.push(("AREA_OF_INTEREST".into(), "-180,-90,180,90".into()));
    }
    let same_crs = src_srs == dst_srs;
    if resampling == Resampling::Nearest && same_crs && !gdal_only {
        if let Some(l) = src_gt.and_then(|gt| Lookup::new(gt, src.dataset.raster_size(), geobox)) {
            // A part of the grid (a tile) gathers from the whole grid's window, shared when kept.
            let whole_window = match (src.shared, geobox != whole) {
                (Some(shared), true) => src_gt
                    .and_then(|gt| Lookup::new(gt, src.dataset.raster_size(), whole))
                    .and_then(|w| w.window())
                    .map(|win| (shared, win)),
                _ => None,
            };
            return match whole_window {
                Some(((cache, path), win)) => {
                    let key = format!("{path}\u{0}{}\u{0}{win:?}", src.band);
                    cache
                        .get_or_read(&key, || lookup::read_window(src.dataset, src.band, win))
                        .map(|pix| l.gather(&pix, win, src.nodata, fill))
                }
                None => l.read(src.dataset, src.band, src.nodata, fill),
            }
            .map_err(fail);
        }
    }
    let dst = grid(geobox, 1)?;
    dst.rasterband(1)
        .map_err(gdal_err)?
        .fill(fill, None)
        .map_err(gdal_err)?;
    let plan = |d: &Dataset, g: &GeoBox| -> Result<Option<(Window, Window, Read)>> {
        // SAFETY: the transformer is made from live datasets and destroyed before returning.
        unsafe {
            let list = string_list(&topts);
            let gen = gdal_sys::GDALCreateGenImgProjTransformer2(
                src.dataset.c_dataset(),
                d.c_dataset(),
                list,
            );
            gdal_sys::CSLDestroy(list);
            if gen.is_null() {
                return Err(fail(format!("no transformation to {}", g.crs)));
            }
            let r = plan_read(
                gen,
                src_gt,
                same_crs,
                src.dataset.raster_size(),
                g,
                resampling,
            );
            gdal_sys::GDALDestroyGenImgProjTransformer(gen);
            Ok(r)
        }
    };
    let banded = geobox != whole;
    let here = plan(&dst, geobox)?;
    let overall = if banded {
        plan(&grid(whole, 0)?, whole)?
    } else {
        here
    };
    let (Some((band_src, band_dst, _)), Some((_, _, read))) = (here, overall) else {
        return Ok(vec![fill; gw * gh]);
    };
    // This band's rows of the whole grid.
    let row0 = if banded {
        ((geobox.transform[5] - whole.transform[5]) / whole.transform[4]).round() as usize
    } else {
        0
    };
    let target = Target {
        dst: &dst,
        width: gw,
        height: gh,
        row0,
        fill,
        transformer_options: &topts,
        resampling,
    };
    match read {
        Read::Full => warp_window(src.dataset, src.band, src.nodata, &target, band_dst),
        Read::Paste {
            scale,
            src: sw,
            dst: dw,
        } => return paste(src, &target, scale, sw, dw).map_err(fail),
        Read::Shrunk {
            scale,
            src: sw,
            dst: dw,
        } => {
            let gt = src_gt.ok_or_else(|| fail("the file has no geotransform".into()))?;
            let only = banded.then_some(band_src);
            warp_shrunk(src, (gt, &src_srs), &target, scale, (sw, dw), only)
        }
    }
    .map_err(fail)?;
    let buf = dst
        .rasterband(1)
        .map_err(gdal_err)?
        .read_as::<f64>((0, 0), (gw, gh), (gw, gh), None)
        .map_err(gdal_err)?;
    Ok(buf.into_shape_and_vec().1)
}

/// Where one warp writes: rows `row0 ..` of the whole grid, held in `dst` (`width` × `height`).
struct Target<'a> {
    dst: &'a Dataset,
    width: usize,
    height: usize,
    row0: usize,
    fill: f64,
    transformer_options: &'a [(String, String)],
    resampling: Resampling,
}

impl Target<'_> {
    /// The rows of a whole-grid window that fall in this target (whole-grid numbering).
    fn rows(&self, w: &Window) -> (usize, usize) {
        (w.y0.max(self.row0), w.y1.min(self.row0 + self.height))
    }
}

/// dc.load's aligned shrink: the source window read decimated straight into the destination window,
/// valid pixels only (`scale` source pixels per destination pixel).
fn paste(
    src: &SourceBand<'_>,
    t: &Target<'_>,
    scale: usize,
    sw: Window,
    dw: Window,
) -> std::result::Result<Vec<f64>, String> {
    let mut out = vec![t.fill; t.width * t.height];
    let (k0, k1) = t.rows(&dw);
    if k0 >= k1 {
        return Ok(out);
    }
    let band = src
        .dataset
        .rasterband(src.band)
        .map_err(|e| e.to_string())?;
    let y0 = sw.y0 + (k0 - dw.y0) * scale;
    let y1 = sw.y0 + (k1 - dw.y0) * scale;
    let pix = decimated(
        &band,
        sw,
        (y0 as f64, (y1 - y0) as f64),
        (dw.width(), k1 - k0),
    )?;
    for (r, k) in (k0..k1).enumerate() {
        for c in 0..dw.width() {
            let v = pix[r * dw.width() + c];
            let valid = match src.nodata {
                None => true,
                Some(n) if n.is_nan() => !v.is_nan(),
                Some(n) => v != n,
            };
            if valid {
                out[(k - t.row0) * t.width + dw.x0 + c] = v;
            }
        }
    }
    Ok(out)
}

/// dc.load's general shrink: the whole grid's source window `sw` read decimated by `scale` (only the
/// rows this band needs, `band_src` being the band's own source window), then warped into the
/// destination window `dw`.
fn warp_shrunk(
    src: &SourceBand<'_>,
    (gt, srs): ([f64; 6], &gdal::spatial_ref::SpatialRef),
    t: &Target<'_>,
    scale: usize,
    (sw, dw): (Window, Window),
    band_src: Option<Window>,
) -> std::result::Result<(), String> {
    let (k0, k1) = t.rows(&dw);
    if k0 >= k1 {
        return Ok(());
    }
    // The decimated image of the whole grid's source window has (bw, bh) pixels; a band reads only
    // its rows that reach this band (with a margin), sampled at the same source rows.
    let (bw, bh) = (sw.width().div_ceil(scale), sw.height().div_ceil(scale));
    let (j0, j1) = match band_src {
        Some(b) => {
            let z = |y: usize| (y as f64 - sw.y0 as f64) / scale as f64;
            (
                (z(b.y0).floor() - 2.0).clamp(0.0, bh as f64) as usize,
                (z(b.y1).ceil() + 2.0).clamp(0.0, bh as f64) as usize,
            )
        }
        None => (0, bh),
    };
    if j0 >= j1 {
        return Ok(());
    }
    let band = src
        .dataset
        .rasterband(src.band)
        .map_err(|e| e.to_string())?;
    let h = sw.height() as f64;
    let y_off = sw.y0 as f64 + j0 as f64 * h / bh as f64;
    let y_size = (j1 - j0) as f64 * h / bh as f64;
    let pix = decimated(&band, sw, (y_off, y_size), (bw, j1 - j0))?;
    let (x0, y0, k) = (
        sw.x0 as f64,
        sw.y0 as f64 + (j0 * scale) as f64,
        scale as f64,
    );
    let shrunk_gt = [
        gt[0] + x0 * gt[1] + y0 * gt[2],
        gt[1] * k,
        gt[2] * k,
        gt[3] + x0 * gt[4] + y0 * gt[5],
        gt[4] * k,
        gt[5] * k,
    ];
    let gdal_err = |e: gdal::errors::GdalError| e.to_string();
    let mut shrunk = DriverManager::get_driver_by_name("MEM")
        .map_err(gdal_err)?
        .create_with_band_type::<f64, _>("", bw, j1 - j0, 1)
        .map_err(gdal_err)?;
    shrunk.set_geo_transform(&shrunk_gt).map_err(gdal_err)?;
    shrunk.set_spatial_ref(srs).map_err(gdal_err)?;
    shrunk
        .rasterband(1)
        .map_err(gdal_err)?
        .write(
            (0, 0),
            (bw, j1 - j0),
            &mut gdal::raster::Buffer::new((bw, j1 - j0), pix),
        )
        .map_err(gdal_err)?;
    let win = Window {
        x0: dw.x0,
        x1: dw.x1,
        y0: k0 - t.row0,
        y1: k1 - t.row0,
    };
    warp_window(&shrunk, 1, src.nodata, t, win)
}

/// Columns `w.x0..w.x1` and the (fractional) rows `y = (offset, size)` of a band, read decimated to
/// `size` pixels by GDAL's nearest `RasterIO` (which samples at the same rows for any part of a
/// larger read with the same step, and uses overviews when present).
fn decimated(
    band: &gdal::raster::RasterBand<'_>,
    w: Window,
    (y_off, y_size): (f64, f64),
    (bw, bh): (usize, usize),
) -> std::result::Result<Vec<f64>, String> {
    let (_, rows) = band.size();
    let iy0 = y_off.floor().max(0.0) as usize;
    let iy1 = ((y_off + y_size).ceil() as usize).min(rows).max(iy0 + 1);
    let mut out = vec![0.0f64; bw * bh];
    let mut extra = gdal_sys::GDALRasterIOExtraArg {
        nVersion: 1,
        eResampleAlg: gdal_sys::GDALRIOResampleAlg::GRIORA_NearestNeighbour,
        pfnProgress: None,
        pProgressData: null_mut(),
        bFloatingPointWindowValidity: 1,
        dfXOff: w.x0 as f64,
        dfYOff: y_off,
        dfXSize: w.width() as f64,
        dfYSize: y_size,
    };
    // SAFETY: the buffer holds bw × bh f64 values, as the call is told; the band is live.
    let err = unsafe {
        gdal_sys::GDALRasterIOEx(
            band.c_rasterband(),
            gdal_sys::GDALRWFlag::GF_Read,
            w.x0 as c_int,
            iy0 as c_int,
            w.width() as c_int,
            (iy1 - iy0) as c_int,
            out.as_mut_ptr() as *mut c_void,
            bw as c_int,
            bh as c_int,
            GDALDataType::GDT_Float64,
            0,
            0,
            &mut extra,
        )
    };
    if err != CPLErr::CE_None {
        return Err(format!(
            "decimated read failed: {}",
            last_gdal_error().unwrap_or_else(|| "no message".into())
        ));
    }
    Ok(out)
}

/// Warps one band of `src` into the window `win` of the target, set up as rasterio's `reproject`.
fn warp_window(
    src: &Dataset,
    band: usize,
    src_nodata: Option<f64>,
    t: &Target<'_>,
    win: Window,
) -> std::result::Result<(), String> {
    let (dst, fill, resampling) = (t.dst, t.fill, t.resampling);
    let warp_options = [
        ("INIT_DEST", "NO_DATA".to_string()),
        ("XSCALE", "1".to_string()),
        ("YSCALE", "1".to_string()),
    ];
    // SAFETY: every pointer handed to GDAL comes from GDAL allocators (CPLMalloc, CSLSetNameValue)
    // or from live datasets that outlive the call; the options, transformer and operation are
    // destroyed on every path before returning.
    let err = unsafe {
        let topts = string_list(t.transformer_options);
        let gen =
            gdal_sys::GDALCreateGenImgProjTransformer2(src.c_dataset(), dst.c_dataset(), topts);
        gdal_sys::CSLDestroy(topts);
        if gen.is_null() {
            return Err("no transformation between the source and the grid".into());
        }
        let approx = gdal_sys::GDALCreateApproxTransformer(
            Some(gdal_sys::GDALGenImgProjTransform),
            gen,
            APPROX_ERROR,
        );
        gdal_sys::GDALApproxTransformerOwnsSubtransformer(approx, 1);
        let o = gdal_sys::GDALCreateWarpOptions();
        (*o).hSrcDS = src.c_dataset();
        (*o).hDstDS = dst.c_dataset();
        (*o).eResampleAlg = resampling.gdal();
        (*o).eWorkingDataType = GDALDataType::GDT_Float64;
        (*o).nBandCount = 1;
        (*o).panSrcBands = alloc::<c_int>(band as c_int);
        (*o).panDstBands = alloc::<c_int>(1);
        if let Some(n) = src_nodata {
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
                win.x0 as c_int,
                win.y0 as c_int,
                win.width() as c_int,
                win.height() as c_int,
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
        return Err(format!(
            "GDAL warp failed: {}",
            last_gdal_error().unwrap_or_else(|| "no message".into())
        ));
    }
    Ok(())
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
mod tests;
