//! Raster metadata through GDAL: size, geotransform, CRS, band types, nodata and packing (scale,
//! offset), subdatasets.
//! A GDAL `Dataset` is not `Sync`: each worker opens its own, so this module takes paths, not datasets.
use crate::{Error, Result};
use gdal::{Dataset, Metadata};

/// What etlake needs to know about one raster (or one subdataset).
#[derive(Debug, Clone, PartialEq)]
pub struct RasterInfo {
    /// GDAL driver short name (`GTiff`, `netCDF`, `HDF4Image`, …).
    pub driver: String,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// GDAL geotransform `[x0, dx, rx, y0, ry, dy]`.
    pub geo_transform: Option<[f64; 6]>,
    /// EPSG code, when the CRS has one.
    pub epsg: Option<u32>,
    /// The CRS as WKT, when the file has one.
    pub crs_wkt: Option<String>,
    /// Per band: GDAL data type name and nodata value.
    pub bands: Vec<BandInfo>,
    /// Subdatasets (`NAME`, `DESC`) of container formats (HDF, NetCDF).
    pub subdatasets: Vec<(String, String)>,
}

/// One band.
#[derive(Debug, Clone, PartialEq)]
pub struct BandInfo {
    /// GDAL type name (`Byte`, `Int16`, `Float32`, …).
    pub data_type: String,
    /// Nodata value, if set.
    pub nodata: Option<f64>,
    /// GDAL's band scale, if the file declares one. The netCDF and HDF5 drivers take it from
    /// `scale_factor`; the HDF4 driver reports the SDS `scale_factor` as written, whatever its
    /// convention (MODIS land's 10000 means stored ÷ 10000; see `packing`).
    pub scale: Option<f64>,
    /// GDAL's band offset (`add_offset`), if the file declares one.
    pub offset: Option<f64>,
}

impl RasterInfo {
    /// The eo3 `transform` (`[a, b, c, d, e, f]` with x = a·col + b·row + c) from GDAL's geotransform.
    pub fn eo3_transform(&self) -> Option<[f64; 6]> {
        self.geo_transform
            .map(|g| [g[1], g[2], g[0], g[4], g[5], g[3]])
    }
}

/// Prepares GDAL for read-only crawling: its error printing goes to `tracing` (debug), because etlake
/// reports every failure itself naming the object; and GDAL must not write side files into the lake
/// (`.aux.xml` PAM files, `.gz.properties`), which would also change what a second read returns.
pub fn configure_for_indexing() {
    gdal::config::set_error_handler(|class, number, message| {
        tracing::debug!(target: "gdal", "{class:?} {number}: {message}");
    });
    for (k, v) in [
        ("GDAL_PAM_ENABLED", "NO"),
        ("CPL_VSIL_GZIP_WRITE_PROPERTIES", "NO"),
    ] {
        if let Err(e) = gdal::config::set_config_option(k, v) {
            tracing::warn!("cannot set GDAL option {k}: {e}");
        }
    }
}

/// Reads a raster's metadata (a file path, a `/vsi…` path or a GDAL subdataset string). A remote read
/// that fails in a way a retry can mend (a reset or cut-off connection: GDAL's HTTP code 0; 429, 500,
/// 502–504 left after GDAL's own retries) is tried again, up to 4 times with a doubling pause, after
/// dropping what GDAL cached of the failed attempt.
pub fn inspect(path: &str) -> Result<RasterInfo> {
    let remote = vsi_path(path);
    let mut delay = std::time::Duration::from_millis(250);
    let mut attempt = 1;
    loop {
        match inspect_once(path) {
            Err(Error::Raster { message, .. })
                if remote.is_some() && attempt < 4 && transient(&message) =>
            {
                tracing::debug!("{path}: {message}; reading again in {delay:?}");
                if let Some(Ok(prefix)) = remote.map(std::ffi::CString::new) {
                    // SAFETY: a NUL-terminated string GDAL only reads.
                    unsafe { gdal_sys::VSICurlPartialClearCache(prefix.as_ptr()) };
                }
                std::thread::sleep(delay);
                delay *= 2;
                attempt += 1;
            }
            r => return r,
        }
    }
}

/// The `/vsicurl/`-family path inside a GDAL path or subdataset string, if any.
fn vsi_path(path: &str) -> Option<&str> {
    let start = ["/vsis3/", "/vsicurl/", "/vsigs/", "/vsiaz/"]
        .iter()
        .filter_map(|p| path.find(p))
        .min()?;
    let rest = &path[start..];
    Some(rest.split('"').next().unwrap_or(rest))
}

/// Whether GDAL's message is of a failure a retry can mend.
fn transient(message: &str) -> bool {
    let code = message
        .split("HTTP response code")
        .nth(1)
        .and_then(|r| r.rsplit(':').next())
        .and_then(|c| c.trim().trim_end_matches('\'').parse::<u32>().ok());
    matches!(code, Some(0 | 429 | 500 | 502 | 503 | 504))
        || ["SlowDown", "InternalError", "reset by peer", "timed out"]
            .iter()
            .any(|w| message.contains(w))
}

fn inspect_once(path: &str) -> Result<RasterInfo> {
    let err = |e: gdal::errors::GdalError| Error::Raster {
        path: path.to_string(),
        message: e.to_string(),
    };
    lake_gdal::quiet_hdf5_diagnostics();
    let ds = Dataset::open(path).map_err(|e| {
        // GDAL gives no message for some unreadable files (e.g. a zero-byte HDF): say what we know.
        if e.to_string().ends_with("Error msg: ''") {
            let file = path.split('"').nth(1).unwrap_or(path);
            let message = match std::fs::metadata(file) {
                Ok(m) if m.len() == 0 => "the file is empty (0 bytes)".to_string(),
                _ => "GDAL cannot open it as a raster (corrupt, truncated or not this format)"
                    .to_string(),
            };
            Error::Raster {
                path: path.to_string(),
                message,
            }
        } else {
            err(e)
        }
    })?;
    let (width, height) = ds.raster_size();
    let geo_transform = ds.geo_transform().ok();
    let srs = ds.spatial_ref().ok();
    let epsg = srs
        .as_ref()
        .and_then(|s| s.auth_code().ok())
        .map(|c| c as u32);
    let crs_wkt = srs
        .as_ref()
        .and_then(|s| s.to_wkt().ok())
        .filter(|w| !w.is_empty());
    let mut bands = Vec::new();
    for i in 1..=ds.raster_count() {
        let b = ds.rasterband(i).map_err(err)?;
        bands.push(BandInfo {
            data_type: b.band_type().name(),
            nodata: b.no_data_value(),
            scale: declared(b.scale(), 1.0),
            offset: declared(b.offset(), 0.0),
        });
    }
    let mut subdatasets = Vec::new();
    if let Some(md) = ds.metadata_domain("SUBDATASETS") {
        let get = |key: String| {
            md.iter()
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
                .map(str::to_string)
        };
        for n in 1.. {
            match get(format!("SUBDATASET_{n}_NAME")) {
                Some(name) => subdatasets.push((
                    name,
                    get(format!("SUBDATASET_{n}_DESC")).unwrap_or_default(),
                )),
                None => break,
            }
        }
    }
    Ok(RasterInfo {
        driver: ds.driver().short_name(),
        width,
        height,
        geo_transform,
        epsg,
        crs_wkt,
        bands,
        subdatasets,
    })
}

/// The arrays of a NetCDF or HDF5 file, by full path without the leading `/` (`precipitation`,
/// `Grid/precipitation`), through GDAL's multidimensional API; `None` if GDAL cannot open it that way.
pub fn variable_names(file: &str) -> Option<Vec<String>> {
    use gdal::{DatasetOptions, GdalOpenFlags};
    lake_gdal::quiet_hdf5_diagnostics();
    let ds = Dataset::open_ex(
        file,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_MULTIDIM_RASTER,
            ..Default::default()
        },
    )
    .ok()?;
    fn walk(g: &gdal::raster::Group<'_>, prefix: &str, out: &mut Vec<String>, depth: usize) {
        for a in g.array_names(Default::default()) {
            out.push(format!("{prefix}{a}"));
        }
        if depth < 8 {
            for name in g.group_names(Default::default()) {
                if let Ok(sub) = g.open_group(&name, Default::default()) {
                    walk(&sub, &format!("{prefix}{name}/"), out, depth + 1);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&ds.root_group().ok()?, "", &mut out, 0);
    Some(out)
}

/// GDAL answers 1 (scale) or 0 (offset) with success for a band that declares none (GeoTIFF, netCDF
/// without the attribute): the identity is treated as undeclared, which means the same thing.
fn declared(v: Option<f64>, identity: f64) -> Option<f64> {
    v.filter(|x| *x != identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_remote_failures() {
        let m = "GDAL method 'GDALOpenEx' returned a NULL pointer. Error msg: 'HTTP response code on http://127.0.0.1:1/lake/a.tif: 0'";
        assert!(transient(m));
        assert!(transient(&m.replace(": 0'", ": 503'")));
        assert!(!transient(&m.replace(": 0'", ": 403'")));
        assert!(!transient("not a TIFF file"));
        assert_eq!(
            vsi_path("NETCDF:\"/vsis3/lake/x.nc\":pr"),
            Some("/vsis3/lake/x.nc")
        );
        assert_eq!(vsi_path("/tmp/x.tif"), None);
    }
    use gdal::spatial_ref::SpatialRef;
    use gdal::DriverManager;

    #[test]
    fn reads_back_a_geotiff_written_with_gdal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chirps-v2.0.2023.01.01.tif");
        {
            let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
            let mut ds = driver
                .create_with_band_type::<f32, _>(&path, 40, 20, 1)
                .unwrap();
            ds.set_geo_transform(&[-100.0, 0.05, 0.0, 40.0, 0.0, -0.05])
                .unwrap();
            ds.set_spatial_ref(&SpatialRef::from_epsg(4326).unwrap())
                .unwrap();
            ds.rasterband(1)
                .unwrap()
                .set_no_data_value(Some(-9999.0))
                .unwrap();
        }
        let info = inspect(path.to_str().unwrap()).unwrap();
        assert_eq!(
            (info.driver.as_str(), info.width, info.height),
            ("GTiff", 40, 20)
        );
        assert_eq!(info.epsg, Some(4326));
        assert_eq!(
            info.bands,
            vec![BandInfo {
                data_type: "Float32".into(),
                nodata: Some(-9999.0),
                scale: None,
                offset: None,
            }]
        );
        assert_eq!(
            info.eo3_transform(),
            Some([0.05, 0.0, -100.0, 0.0, -0.05, 40.0])
        );
    }

    #[test]
    fn band_packing_is_read_and_the_identity_is_undeclared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("packed.tif");
        {
            let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
            let ds = driver
                .create_with_band_type::<u16, _>(&path, 4, 4, 2)
                .unwrap();
            let mut b = ds.rasterband(1).unwrap();
            b.set_scale(0.1).unwrap();
            b.set_offset(220.0).unwrap();
            b.set_no_data_value(Some(32767.0)).unwrap();
        }
        let info = inspect(path.to_str().unwrap()).unwrap();
        assert_eq!(
            (info.bands[0].scale, info.bands[0].offset),
            (Some(0.1), Some(220.0))
        );
        assert_eq!((info.bands[1].scale, info.bands[1].offset), (None, None));
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.tif");
        std::fs::write(&path, b"II*\0not really a tiff").unwrap();
        let err = inspect(path.to_str().unwrap()).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: GDAL:", path.display())),
            "{err}"
        );
    }
}
