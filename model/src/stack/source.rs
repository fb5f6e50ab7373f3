//! From a dataset found in the index to what GDAL opens: the measurement's path resolved against the
//! dataset's location, `/vsis3/` and `/vsigzip/` prefixes, NetCDF/HDF subdataset names, band index.
use crate::{Error, Result};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Where one measurement of one dataset lives.
#[derive(Debug, Clone, PartialEq)]
pub struct BandRef {
    /// The file's URI (location joined with the measurement path).
    pub uri: String,
    /// 1-based band.
    pub band: usize,
    /// Subdataset (`layer`) for NetCDF/HDF.
    pub layer: Option<String>,
    /// `odc:file_format`.
    pub format: String,
}

/// The measurement `name` of a stored eo3 document at `location`.
pub fn band_ref(doc: &Value, location: &str, name: &str) -> Result<BandRef> {
    let id = doc["id"].as_str().unwrap_or("?");
    let m = doc["measurements"].get(name).ok_or_else(|| Error::Read {
        object: format!("dataset {id}"),
        message: format!("has no measurement {name:?}"),
    })?;
    let path = m["path"].as_str().unwrap_or_default();
    Ok(BandRef {
        uri: join_uri(location, path),
        band: m["band"].as_u64().unwrap_or(1) as usize,
        layer: m["layer"].as_str().map(str::to_string),
        format: doc["properties"]["odc:file_format"]
            .as_str()
            .unwrap_or("GeoTIFF")
            .to_string(),
    })
}

/// Resolves a measurement path against a dataset location as datacube does: absolute URIs stand,
/// relative paths are relative to the location's directory (or the location itself when it ends in `/`).
pub fn join_uri(location: &str, path: &str) -> String {
    if path.is_empty() {
        return location.to_string();
    }
    if path.contains("://") || path.starts_with('/') {
        return path.to_string();
    }
    match location.rfind('/') {
        Some(i) => format!("{}{}", &location[..=i], path),
        None => path.to_string(),
    }
}

/// Dataset time as datacube computes `center_time`: the middle of the time range (microseconds
/// truncated), or the single time.
pub fn center_time(doc: &Value) -> Option<DateTime<Utc>> {
    let (a, b) = time_span(doc)?;
    Some(a + Duration::microseconds((b - a).num_microseconds()? / 2))
}

/// The dataset's time span (start, end); both the single time when it has no range.
pub fn time_span(doc: &Value) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let p = &doc["properties"];
    let parse = |v: &Value| {
        v.as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    match (
        parse(&p["dtr:start_datetime"]),
        parse(&p["dtr:end_datetime"]),
    ) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => parse(&p["datetime"]).map(|t| (t, t)),
    }
}

/// Mid longitude of the dataset's footprint (stored `extent`), for solar-day grouping.
pub fn mid_longitude(doc: &Value) -> Option<f64> {
    let lon = &doc["extent"]["lon"];
    Some((lon["begin"].as_f64()? + lon["end"].as_f64()?) * 0.5)
}

/// How many idle files a stager that keeps them open holds (each of the machine's workers reads a
/// few files at once: a day of each input).
const KEEP_OPEN: usize = 64;

/// Local copies of remote container files (HDF4 cannot be read remotely; NetCDF readers want a
/// file), made once per file and removed when the stager is dropped.
pub struct Stager {
    dir: tempfile::TempDir,
    done: Mutex<HashMap<String, PathBuf>>,
    /// Files kept open for later reads through this stager (see [`Stager::keeping_open`]).
    keep: Option<super::files::OpenFiles>,
    /// Decoded windows kept for later reads of the same window (see [`Stager::keeping_open`]).
    windows: Option<super::windows::WindowCache>,
}

impl Stager {
    /// A stager with a private temporary directory. Also raises netCDF's chunk cache for the files
    /// read from now on (see `nc_cache`).
    pub fn new() -> Result<Stager> {
        super::nc_cache::ensure_chunk_cache();
        let dir = tempfile::Builder::new()
            .prefix("etlake-stack-")
            .tempdir()
            .map_err(|e| Error::Read {
                object: "staging directory".into(),
                message: e.to_string(),
            })?;
        Ok(Stager {
            dir,
            done: Mutex::new(HashMap::new()),
            keep: None,
            windows: None,
        })
    }

    /// A stager whose reads keep the files they open open (a few dozen, for its whole life), so that
    /// a file read again through this stager — the same daily file for the next tile of a model
    /// run, a yearly NetCDF for each of its days — is not opened and parsed again. For runs that
    /// read the same files many times; the files must not change while the stager lives. Windows
    /// read on the whole request grid for a part of it (a tile) are kept too, up to `window_bytes`,
    /// so the other parts read them from memory.
    pub fn keeping_open(window_bytes: usize) -> Result<Stager> {
        let mut s = Stager::new()?;
        s.keep = Some(super::files::OpenFiles::new(KEEP_OPEN));
        s.windows = Some(super::windows::WindowCache::new(window_bytes));
        Ok(s)
    }

    /// The files this stager keeps open, when it keeps them.
    pub(super) fn open_files(&self) -> Option<&super::files::OpenFiles> {
        self.keep.as_ref()
    }

    /// The windows this stager keeps, when it keeps them.
    pub fn windows(&self) -> Option<&super::windows::WindowCache> {
        self.windows.as_ref()
    }

    /// The GDAL path that opens `band`'s file, staging it first when it must be local.
    pub fn gdal_path(&self, b: &BandRef) -> Result<String> {
        let file = self.file(b)?;
        // A measurement path that is already a GDAL virtual path (`/vsigzip//vsis3/…`, as the indexer
        // stores gzipped files so that datacube reads them) is used as it is.
        let gz = b.uri.ends_with(".gz") && !b.uri.starts_with("/vsi");
        let file = if gz { format!("/vsigzip/{file}") } else { file };
        Ok(match (b.format.as_str(), &b.layer) {
            ("NetCDF", Some(l)) => format!("NETCDF:\"{file}\":{l}"),
            ("HDF5", Some(l)) => format!("HDF5:\"{file}\":{l}"),
            ("HDF4_EOS:EOS_GRID", Some(l)) => format!("HDF4_EOS:EOS_GRID:\"{file}\":{l}"),
            (_, _) => file,
        })
    }

    fn file(&self, b: &BandRef) -> Result<String> {
        let container = matches!(b.format.as_str(), "NetCDF" | "HDF5" | "HDF4_EOS:EOS_GRID");
        if let Some(rest) = b.uri.strip_prefix("s3://") {
            let vsi = format!("/vsis3/{rest}");
            if !container {
                return Ok(vsi);
            }
            let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(p) = done.get(&b.uri) {
                return Ok(p.display().to_string());
            }
            let name = rest.rsplit('/').next().unwrap_or("object");
            let local = self.dir.path().join(format!("{}-{name}", done.len()));
            super::warp::copy_vsi_file(&vsi, &local)?;
            done.insert(b.uri.clone(), local.clone());
            return Ok(local.display().to_string());
        }
        if b.uri.starts_with("/vsi") {
            return Ok(b.uri.clone());
        }
        if let Some(rest) = b.uri.strip_prefix("file://") {
            return Ok(percent_decode(rest));
        }
        if b.uri.contains("://") {
            // http(s): GDAL reads it through /vsicurl/.
            return Ok(format!("/vsicurl/{}", b.uri));
        }
        Ok(b.uri.clone())
    }

    /// The staging directory (for tests).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_resolve_against_the_location_like_datacube() {
        assert_eq!(
            join_uri("s3://b/x/ds.odc-metadata.yaml", "band1.tif"),
            "s3://b/x/band1.tif"
        );
        assert_eq!(join_uri("s3://b/x/f.nc", ""), "s3://b/x/f.nc");
        assert_eq!(join_uri("file:///a/b.tif", "s3://o/c.tif"), "s3://o/c.tif");
    }

    #[test]
    fn center_time_is_the_middle_of_the_range_truncated_to_microseconds() {
        let doc = json!({"properties": {
            "datetime": "2020-01-01T00:00:00Z",
            "dtr:start_datetime": "2020-01-01T00:00:00Z",
            "dtr:end_datetime": "2020-01-01T23:59:59.999999Z"}});
        assert_eq!(
            center_time(&doc).unwrap().to_rfc3339(),
            "2020-01-01T11:59:59.999999+00:00"
        );
    }

    #[test]
    fn gdal_paths_for_each_format() {
        let s = Stager::new().unwrap();
        let b = |uri: &str, format: &str, layer: Option<&str>| BandRef {
            uri: uri.into(),
            band: 1,
            layer: layer.map(str::to_string),
            format: format.into(),
        };
        assert_eq!(
            s.gdal_path(&b("file:///l/a%20b.tif.gz", "GeoTIFF", None))
                .unwrap(),
            "/vsigzip//l/a b.tif.gz"
        );
        assert_eq!(
            s.gdal_path(&b("/vsigzip//vsis3/bk/c.tif.gz", "GeoTIFF", None))
                .unwrap(),
            "/vsigzip//vsis3/bk/c.tif.gz"
        );
        assert_eq!(
            s.gdal_path(&b("s3://bk/c.tif", "GeoTIFF", None)).unwrap(),
            "/vsis3/bk/c.tif"
        );
        assert_eq!(
            s.gdal_path(&b(
                "file:///l/pr_2020.nc",
                "NetCDF",
                Some("precipitation_amount")
            ))
            .unwrap(),
            "NETCDF:\"/l/pr_2020.nc\":precipitation_amount"
        );
    }
}
