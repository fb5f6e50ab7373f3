//! GeoTIFF, COG and gzip writing shared by the GeoTIFF families (CHIRPS, Landsat): a MEM dataset copied
//! by GDAL's GTiff or COG driver with the creation options a family's provider uses, and a gzip stream
//! through zlib for CHIRPS's `.tif.gz`.
use gdal::raster::{Buffer, GdalType};
use gdal::spatial_ref::SpatialRef;
use gdal::{Dataset, DriverManager};
use std::ffi::{c_char, c_int, c_void, CString};
use std::path::Path;

#[link(name = "z")]
extern "C" {
    fn gzopen(path: *const c_char, mode: *const c_char) -> *mut c_void;
    fn gzwrite(f: *mut c_void, buf: *const c_void, len: u32) -> c_int;
    fn gzclose(f: *mut c_void) -> c_int;
}

/// One band's pixels (row-major) and its optional nodata.
pub struct Band<'a, T> {
    pub data: &'a [T],
    pub nodata: Option<f64>,
}

fn err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

/// Builds an in-memory dataset of `size` = (cols, rows) with these bands.
fn mem<T: GdalType + Copy>(
    size: (usize, usize),
    gt: [f64; 6],
    srs: &SpatialRef,
    bands: &[Band<T>],
    path: &Path,
) -> Result<Dataset, String> {
    let drv = DriverManager::get_driver_by_name("MEM").map_err(|e| err(path, e))?;
    let mut ds = drv
        .create_with_band_type::<T, _>("", size.0, size.1, bands.len())
        .map_err(|e| err(path, e))?;
    ds.set_geo_transform(&gt).map_err(|e| err(path, e))?;
    ds.set_spatial_ref(srs).map_err(|e| err(path, e))?;
    for (i, b) in bands.iter().enumerate() {
        assert_eq!(
            b.data.len(),
            size.0 * size.1,
            "{}: band {}",
            path.display(),
            i + 1
        );
        let mut band = ds.rasterband(i + 1).map_err(|e| err(path, e))?;
        let mut buf = Buffer::new((size.0, size.1), b.data.to_vec());
        band.write((0, 0), (size.0, size.1), &mut buf)
            .map_err(|e| err(path, e))?;
        if let Some(nd) = b.nodata {
            band.set_no_data_value(Some(nd)).map_err(|e| err(path, e))?;
        }
    }
    Ok(ds)
}

/// Writes `path` with GDAL driver `driver` (`GTiff` or `COG`) and its creation options.
pub fn write<T: GdalType + Copy>(
    path: &Path,
    driver: &str,
    options: &[&str],
    size: (usize, usize),
    gt: [f64; 6],
    srs: &SpatialRef,
    bands: &[Band<T>],
) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    }
    let ds = mem(size, gt, srs, bands, path)?;
    let drv = DriverManager::get_driver_by_name(driver).map_err(|e| err(path, e))?;
    let opts: gdal::cpl::CslStringList = options.iter().copied().collect();
    ds.create_copy(&drv, path, &opts)
        .map_err(|e| err(path, e))?;
    Ok(())
}

/// Gzips `src` into `dst` (whole-file gzip stream, as `gzip` would write it).
pub fn gzip(src: &Path, dst: &Path) -> Result<(), String> {
    let bytes = std::fs::read(src).map_err(|e| err(src, e))?;
    let p = CString::new(dst.display().to_string()).map_err(|e| err(dst, e))?;
    // SAFETY: valid C strings; the buffer outlives the write; the handle is closed once.
    unsafe {
        let f = gzopen(p.as_ptr(), c"wb9".as_ptr());
        if f.is_null() {
            return Err(err(dst, "cannot create"));
        }
        let n = gzwrite(f, bytes.as_ptr() as *const c_void, bytes.len() as u32);
        let rc = gzclose(f);
        if n as usize != bytes.len() || rc != 0 {
            return Err(err(dst, "gzip write failed"));
        }
    }
    Ok(())
}

/// The spatial reference of an EPSG code.
pub fn epsg(code: u32) -> Result<SpatialRef, String> {
    SpatialRef::from_epsg(code).map_err(|e| format!("EPSG:{code}: {e}"))
}
