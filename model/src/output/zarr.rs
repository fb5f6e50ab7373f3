//! A stack as a Zarr (format 2) store that `xr.open_zarr` opens with the same CF coordinates, CRS and
//! attributes as etlake's NetCDF: uncompressed chunks of one time step × whole rows, written in place.
//!
//! Layout: `.zgroup`/`.zattrs` at the root, one folder per variable with `.zarray` and `.zattrs`
//! (`_ARRAY_DIMENSIONS` names the dimensions), and `.zmetadata` (consolidated metadata). Layers keep
//! their dtype (unsigned types natively); nodata is the array's `fill_value`.
use super::cf::describe;
use super::netcdf3::{Attr, Data};
use crate::{Error, Result, Stack};
use serde_json::{json, Map, Value};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Bytes aimed at per chunk (one time step, as many whole rows as fit).
const CHUNK_BYTES: usize = 8 << 20;

/// The Zarr dtype of an eo3 dtype (as the NetCDF writer stores it: 64-bit integers become float32).
fn zarr_dtype(dtype: &str) -> &'static str {
    match dtype {
        "int8" => "|i1",
        "uint8" | "bool" => "|u1",
        "int16" => "<i2",
        "uint16" => "<u2",
        "int32" => "<i4",
        "uint32" => "<u4",
        "float64" => "<f8",
        _ => "<f4",
    }
}

/// Bytes per value of a Zarr dtype (its trailing digit: `<u2` → 2).
fn item_size(zdtype: &str) -> usize {
    zdtype[2..].parse().unwrap_or(4)
}

/// Values as little-endian bytes of `zdtype` (integers rounded; NaN becomes 0).
fn le_bytes(zdtype: &str, values: &[f64]) -> Vec<u8> {
    let whole = |v: f64| if v.is_nan() { 0 } else { v.round() as i64 };
    let mut out = Vec::with_capacity(values.len() * 8);
    for &v in values {
        match zdtype {
            "|i1" => out.extend((whole(v) as i8).to_le_bytes()),
            "|u1" => out.extend((whole(v) as u8).to_le_bytes()),
            "<i2" => out.extend((whole(v) as i16).to_le_bytes()),
            "<u2" => out.extend((whole(v) as u16).to_le_bytes()),
            "<i4" => out.extend((whole(v) as i32).to_le_bytes()),
            "<u4" => out.extend((whole(v) as u32).to_le_bytes()),
            "<f8" => out.extend(v.to_le_bytes()),
            _ => out.extend((v as f32).to_le_bytes()),
        }
    }
    out
}

/// One value of `zdtype` from little-endian bytes.
fn from_le(zdtype: &str, b: &[u8]) -> f64 {
    match zdtype {
        "|i1" => b[0] as i8 as f64,
        "|u1" => b[0] as f64,
        "<i2" => i16::from_le_bytes([b[0], b[1]]) as f64,
        "<u2" => u16::from_le_bytes([b[0], b[1]]) as f64,
        "<i4" => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        "<u4" => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        "<f8" => f64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8])),
        _ => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
    }
}

fn number(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v.is_infinite() {
        json!(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(v)
    }
}

fn attr_json(a: &Attr) -> Value {
    match a {
        Attr::Text(s) => json!(s),
        Attr::Byte(x) => json!(x),
        Attr::Short(x) => json!(x),
        Attr::Int(x) => json!(x),
        Attr::Float(x) => number(*x as f64),
        Attr::Double(x) => number(*x),
    }
}

/// A Zarr store filled band by band (whole rows of the grid).
pub struct ZarrStack {
    root: PathBuf,
    /// (name, zarr dtype, item size) of each layer.
    layers: Vec<(String, &'static str, usize)>,
    width: usize,
    height: usize,
    chunk_rows: usize,
}

impl ZarrStack {
    /// Creates the store for `stack`'s grid, time steps and layers (values not read), writing the
    /// metadata and the coordinates.
    pub fn create(path: &Path, stack: &Stack) -> Result<ZarrStack> {
        let fail = |m: String| Error::Write {
            path: path.display().to_string(),
            message: m,
        };
        let io = |e: std::io::Error| fail(e.to_string());
        let cf = describe(stack).map_err(fail)?;
        // An earlier store is replaced, as a NetCDF file would be; anything else is left alone.
        if path.exists() {
            if !path.join(".zgroup").is_file() {
                return Err(fail(
                    "exists and is not a Zarr store: choose another path or remove it".into(),
                ));
            }
            std::fs::remove_dir_all(path).map_err(io)?;
        }
        std::fs::create_dir_all(path).map_err(io)?;
        let (w, h) = (stack.geobox.width, stack.geobox.height);
        let widest = cf
            .layers
            .iter()
            .map(|(_, d)| item_size(zarr_dtype(d)))
            .max()
            .unwrap_or(1);
        let chunk_rows = (CHUNK_BYTES / (w * widest).max(1)).clamp(1, h.max(1));
        let mut meta = Map::new();
        meta.insert(".zgroup".into(), json!({"zarr_format": 2}));
        let globals: Map<String, Value> = cf
            .globals
            .iter()
            .map(|(k, v)| (k.clone(), attr_json(v)))
            .collect();
        meta.insert(".zattrs".into(), Value::Object(globals));
        let dim_names = |dims: &[usize]| -> Vec<String> {
            dims.iter().map(|&d| cf.dims[d].0.clone()).collect()
        };
        let shape_of =
            |dims: &[usize]| -> Vec<usize> { dims.iter().map(|&d| cf.dims[d].1).collect() };
        for (v, data) in &cf.coords {
            let (zdtype, values) = match data {
                Data::Double(x) => ("<f8", x.clone()),
                Data::Int(x) => ("<i4", x.iter().map(|&i| i as f64).collect()),
                _ => {
                    return Err(fail(format!(
                        "coordinate {} has an unexpected type",
                        v.name
                    )))
                }
            };
            let shape = shape_of(&v.dims);
            array_meta(
                &mut meta,
                &v.name,
                &shape,
                &shape,
                zdtype,
                Value::Null,
                &v.attrs,
                dim_names(&v.dims),
            );
            // One chunk, key "0" (also for the 0-d grid mapping).
            let dir = path.join(&v.name);
            std::fs::create_dir_all(&dir).map_err(io)?;
            std::fs::write(dir.join("0"), le_bytes(zdtype, &values)).map_err(io)?;
        }
        let mut layers = Vec::new();
        for (v, dtype) in &cf.layers {
            let zdtype = zarr_dtype(dtype);
            let size = item_size(zdtype);
            let fill = v.attrs.iter().find(|(k, _)| k == "_FillValue").map(|_| {
                stack
                    .layers
                    .iter()
                    .find(|l| l.name == v.name)
                    .and_then(|l| l.nodata)
            });
            let fill = match fill.flatten() {
                Some(n) if zdtype.contains('f') => number(n),
                Some(n) => json!(n.round() as i64),
                None => Value::Null,
            };
            // NetCDF-3 spellings the Zarr dtype makes unnecessary.
            let attrs: Vec<(String, Attr)> = v
                .attrs
                .iter()
                .filter(|(k, _)| k != "_FillValue" && k != "_Unsigned")
                .cloned()
                .collect();
            array_meta(
                &mut meta,
                &v.name,
                &shape_of(&v.dims),
                &[1, chunk_rows, w],
                zdtype,
                fill,
                &attrs,
                dim_names(&v.dims),
            );
            std::fs::create_dir_all(path.join(&v.name)).map_err(io)?;
            layers.push((v.name.clone(), zdtype, size));
        }
        for (key, value) in &meta {
            let file = path.join(key);
            let text = serde_json::to_string_pretty(value).map_err(|e| fail(e.to_string()))?;
            std::fs::write(file, text).map_err(io)?;
        }
        let consolidated = json!({"zarr_consolidated_format": 1, "metadata": Value::Object(meta)});
        std::fs::write(
            path.join(".zmetadata"),
            serde_json::to_string_pretty(&consolidated).map_err(|e| fail(e.to_string()))?,
        )
        .map_err(io)?;
        Ok(ZarrStack {
            root: path.to_path_buf(),
            layers,
            width: w,
            height: h,
            chunk_rows,
        })
    }

    /// Writes rows `row0 .. row0 + band height` of every layer from `band` (same time steps and
    /// layers as the store, on the rows of its grid that start at `row0`).
    pub fn write_rows(&self, band: &Stack, row0: usize) -> Result<()> {
        let (w, rows) = (band.geobox.width, band.geobox.height);
        let fail = |m: String| Error::Write {
            path: self.root.display().to_string(),
            message: m,
        };
        if w != self.width || row0 + rows > self.height || band.layers.len() != self.layers.len() {
            return Err(fail(format!(
                "a band of {rows}×{w} at row {row0} does not fit the {}×{} grid",
                self.height, self.width
            )));
        }
        let pixels = w * rows;
        for (layer, (name, zdtype, size)) in band.layers.iter().zip(&self.layers) {
            for t in 0..band.times.len() {
                let step = layer.step(t, pixels);
                // Consecutive rows of one chunk are one write.
                let mut r = row0;
                while r < row0 + rows {
                    let j = r / self.chunk_rows;
                    let end = ((j + 1) * self.chunk_rows).min(row0 + rows);
                    let values = &step[(r - row0) * w..(end - row0) * w];
                    let file = std::fs::OpenOptions::new()
                        .create(true)
                        .write(true)
                        .truncate(false)
                        .open(self.root.join(name).join(format!("{t}.{j}.0")))
                        .map_err(|e| fail(e.to_string()))?;
                    // Edge chunks are stored whole (format 2).
                    file.set_len((self.chunk_rows * w * size) as u64)
                        .map_err(|e| fail(e.to_string()))?;
                    let offset = ((r - j * self.chunk_rows) * w * size) as u64;
                    file.write_all_at(&le_bytes(zdtype, values), offset)
                        .map_err(|e| fail(e.to_string()))?;
                    r = end;
                }
            }
        }
        Ok(())
    }
}

/// Records one array's `.zarray` and `.zattrs` in the store's metadata.
#[allow(clippy::too_many_arguments)]
fn array_meta(
    meta: &mut Map<String, Value>,
    name: &str,
    shape: &[usize],
    chunks: &[usize],
    dtype: &str,
    fill: Value,
    attrs: &[(String, Attr)],
    dims: Vec<String>,
) {
    meta.insert(
        format!("{name}/.zarray"),
        json!({
            "zarr_format": 2, "shape": shape, "chunks": chunks, "dtype": dtype,
            "compressor": null, "fill_value": fill, "order": "C", "filters": null,
            "dimension_separator": ".",
        }),
    );
    let mut a: Map<String, Value> = attrs
        .iter()
        .map(|(k, v)| (k.clone(), attr_json(v)))
        .collect();
    a.insert("_ARRAY_DIMENSIONS".into(), json!(dims));
    meta.insert(format!("{name}/.zattrs"), Value::Object(a));
}

/// Writes `stack` to `path` as a Zarr store.
pub fn write_zarr(path: &Path, stack: &Stack) -> Result<()> {
    ZarrStack::create(path, stack)?.write_rows(stack, 0)
}

/// One time step of a layer read back from a Zarr store written by etlake, decimated (nearest) to at
/// most `max` pixels on a side: (values, width, height).
pub fn read_step(
    root: &Path,
    layer: &str,
    step: usize,
    max: usize,
) -> Result<(Vec<f64>, usize, usize)> {
    let fail = |m: String| Error::Read {
        object: format!("{} variable {layer}", root.display()),
        message: m,
    };
    let zarray: Value = std::fs::read(root.join(layer).join(".zarray"))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(fail)?;
    let dims = |k: &str, i: usize| zarray[k][i].as_u64().unwrap_or(0) as usize;
    let (h, w, chunk_rows) = (dims("shape", 1), dims("shape", 2), dims("chunks", 1).max(1));
    let zdtype = zarray["dtype"].as_str().unwrap_or("<f4").to_string();
    let size = item_size(&zdtype);
    let scale = w.div_ceil(max).max(h.div_ceil(max)).max(1);
    let (qw, qh) = (w.div_ceil(scale), h.div_ceil(scale));
    let mut out = Vec::with_capacity(qw * qh);
    let mut row = vec![0u8; w * size];
    for qr in 0..qh {
        let r = qr * scale;
        let (j, k) = (r / chunk_rows, r % chunk_rows);
        let file = std::fs::File::open(root.join(layer).join(format!("{step}.{j}.0")))
            .map_err(|e| fail(e.to_string()))?;
        file.read_exact_at(&mut row, (k * w * size) as u64)
            .map_err(|e| fail(e.to_string()))?;
        out.extend((0..qw).map(|qc| from_le(&zdtype, &row[qc * scale * size..])));
    }
    Ok((out, qw, qh))
}

/// Whether `path` names a Zarr store (`.zarr`).
pub fn is_zarr(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zarr"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::Packing;
    use crate::{GeoBox, Layer};
    use chrono::{TimeZone, Utc};

    fn stack() -> Stack {
        let g = GeoBox::from_bbox("EPSG:4326", [-105.0, 40.0, -104.8, 40.1], 0.05, -0.05, None)
            .unwrap();
        let n = g.width * g.height;
        let t = |d| Utc.with_ymd_and_hms(2020, 1, d, 0, 0, 0).unwrap();
        Stack {
            product: "p".into(),
            geobox: g,
            times: vec![t(1), t(2)],
            sources: vec![vec![]; 2],
            spans: vec![(t(1), t(1)), (t(2), t(2))],
            layers: vec![Layer {
                name: "qa".into(),
                dtype: "uint16".into(),
                nodata: Some(65535.0),
                units: None,
                packing: Packing::NONE,
                unpacked: None,
                data: (0..2 * n).map(|i| (i * 1000 % 65536) as f64).collect(),
            }],
        }
    }

    #[test]
    fn stores_read_back_and_only_stores_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let s = stack();
        let path = dir.path().join("s.zarr");
        write_zarr(&path, &s).unwrap();
        write_zarr(&path, &s).unwrap(); // an earlier store is replaced
        let (w, h) = (s.geobox.width, s.geobox.height);
        let (v, qw, qh) = read_step(&path, "qa", 1, 4096).unwrap();
        assert_eq!((qw, qh), (w, h));
        assert_eq!(v, s.layers[0].step(1, w * h));
        let meta: Value =
            serde_json::from_slice(&std::fs::read(path.join(".zmetadata")).unwrap()).unwrap();
        assert_eq!(meta["metadata"]["qa/.zarray"]["dtype"], "<u2");
        assert_eq!(meta["metadata"]["qa/.zarray"]["fill_value"], 65535);
        assert_eq!(
            meta["metadata"]["qa/.zattrs"]["_ARRAY_DIMENSIONS"],
            json!(["time", "latitude", "longitude"])
        );
        // A folder that is not a Zarr store is never removed.
        let other = dir.path().join("data.zarr");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("keep.txt"), "x").unwrap();
        let err = write_zarr(&other, &s).unwrap_err().to_string();
        assert!(err.contains("not a Zarr store"), "{err}");
        assert!(other.join("keep.txt").is_file());
    }
}
