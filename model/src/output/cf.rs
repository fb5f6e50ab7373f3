//! A stack as a CF-1.8 NetCDF file that xarray, rioxarray and GDAL open with the right coordinates and
//! CRS: `time`, y/x pixel-centre coordinates (named as `dc.load` names them), a `spatial_ref` grid mapping.
use super::netcdf3::{self, Attr, Data, Kind, VarDef};
use crate::{Error, Result, Stack};
use gdal::spatial_ref::SpatialRef;
use std::path::Path;

/// The stored form of a dtype: NetCDF-3 type and whether `_Unsigned` marks it.
fn storage(dtype: &str) -> (&'static str, bool) {
    match dtype {
        "int8" => ("byte", false),
        "uint8" | "bool" => ("byte", true),
        "int16" => ("short", false),
        "uint16" => ("short", true),
        "int32" => ("int", false),
        "uint32" => ("int", true),
        "float64" => ("double", false),
        _ => ("float", false),
    }
}

/// Values cast to the stored type; unsigned types keep their bit pattern in the signed one.
fn data(kind: &str, values: &[f64]) -> Data {
    let whole = |v: f64| if v.is_nan() { 0.0 } else { v.round() };
    match kind {
        "byte" => Data::Byte(
            values
                .iter()
                .map(|&v| whole(v) as i64 as u8 as i8)
                .collect(),
        ),
        "short" => Data::Short(
            values
                .iter()
                .map(|&v| whole(v) as i64 as u16 as i16)
                .collect(),
        ),
        "int" => Data::Int(
            values
                .iter()
                .map(|&v| whole(v) as i64 as u32 as i32)
                .collect(),
        ),
        "double" => Data::Double(values.to_vec()),
        _ => Data::Float(values.iter().map(|&v| v as f32).collect()),
    }
}

fn fill(kind: &str, v: f64) -> Attr {
    match data(kind, &[v]) {
        Data::Byte(x) => Attr::Byte(x[0]),
        Data::Short(x) => Attr::Short(x[0]),
        Data::Int(x) => Attr::Int(x[0]),
        Data::Double(x) => Attr::Double(x[0]),
        Data::Float(x) => Attr::Float(x[0]),
    }
}

/// Writes `stack` to `path` as CF-1.8 NetCDF (64-bit offset NetCDF-3).
pub fn write_netcdf(path: &Path, stack: &Stack) -> Result<()> {
    let file = NetcdfStack::create(path, stack)?;
    file.write_rows(stack, 0)?;
    file.finish()
}

/// A CF NetCDF file filled band by band (whole rows of the grid), so a stack too large for memory is
/// written as it is assembled.
pub struct NetcdfStack {
    layout: netcdf3::Layout,
    shape: Shape,
}

/// Where a stack's layers go in its file.
#[derive(Debug, Clone)]
struct Shape {
    path: String,
    /// (variable index, stored kind) of each layer.
    layers: Vec<(usize, &'static str)>,
    width: usize,
    height: usize,
}

impl Shape {
    fn write_rows(
        &self,
        band: &Stack,
        row0: usize,
        write: &dyn Fn(usize, usize, &Data) -> std::io::Result<()>,
    ) -> Result<()> {
        let (w, rows) = (band.geobox.width, band.geobox.height);
        if w != self.width || row0 + rows > self.height || band.layers.len() != self.layers.len() {
            return Err(Error::Write {
                path: self.path.clone(),
                message: format!(
                    "a band of {rows}×{w} at row {row0} does not fit the {}×{} grid",
                    self.height, self.width
                ),
            });
        }
        let pixels = w * rows;
        for (layer, &(var, kind)) in band.layers.iter().zip(&self.layers) {
            for t in 0..band.times.len() {
                let at = (t * self.height + row0) * w;
                write(var, at, &data(kind, layer.step(t, pixels))).map_err(|e| Error::Write {
                    path: self.path.clone(),
                    message: e.to_string(),
                })?;
            }
        }
        Ok(())
    }
}

/// A CF NetCDF file on disk that bands of rows are written into in place, by this run or by others
/// (tiles of one model run): made sure of once ([`NetcdfPlaced::ensure`]), then opened per write.
#[derive(Debug, Clone)]
pub struct NetcdfPlaced {
    placement: netcdf3::Placement,
    shape: Shape,
    path: std::path::PathBuf,
}

impl NetcdfPlaced {
    /// The file for `stack`'s grid, time steps, sources and layers (values not read): created sized
    /// for its data, or kept when it is already there with this header; coordinates written.
    pub fn ensure(path: &Path, stack: &Stack) -> Result<NetcdfPlaced> {
        let fail = |m: String| Error::Write {
            path: path.display().to_string(),
            message: m,
        };
        let cf = describe(stack).map_err(fail)?;
        let (vars, layers) = variables(&cf);
        let dims: Vec<(&str, usize)> = cf.dims.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        let placement = netcdf3::place(&dims, &cf.globals, &vars);
        let kept = placement.ensure(path).map_err(|e| fail(e.to_string()))?;
        if !kept {
            let file = placement.open(path).map_err(|e| fail(e.to_string()))?;
            for (i, (_, v)) in cf.coords.iter().enumerate() {
                placement
                    .write_at(&file, i, 0, v)
                    .map_err(|e| fail(e.to_string()))?;
            }
        }
        Ok(NetcdfPlaced {
            placement,
            shape: Shape {
                path: path.display().to_string(),
                layers,
                width: stack.geobox.width,
                height: stack.geobox.height,
            },
            path: path.to_path_buf(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the rows of `band` (the file's steps and layers) from grid row `row0` on and, with
    /// `durable`, flushes them to disk before returning.
    pub fn write_rows(&self, band: &Stack, row0: usize, durable: bool) -> Result<()> {
        let fail = |e: std::io::Error| Error::Write {
            path: self.shape.path.clone(),
            message: e.to_string(),
        };
        let file = self.placement.open(&self.path).map_err(fail)?;
        self.shape.write_rows(band, row0, &|var, at, data| {
            self.placement.write_at(&file, var, at, data)
        })?;
        if durable {
            file.sync_data().map_err(fail)?;
        }
        Ok(())
    }

    /// Flushes what was written to the file (without `durable`) to disk.
    pub fn sync(&self) -> Result<()> {
        let fail = |e: std::io::Error| Error::Write {
            path: self.shape.path.clone(),
            message: e.to_string(),
        };
        let file = self.placement.open(&self.path).map_err(fail)?;
        file.sync_data().map_err(fail)
    }
}

impl NetcdfStack {
    /// Creates the file for `stack`'s grid, time steps, sources and layers (their values are not read)
    /// and writes the coordinates.
    pub fn create(path: &Path, stack: &Stack) -> Result<NetcdfStack> {
        create(path, stack)
    }

    /// Writes rows `row0 .. row0 + band height` of every layer from `band`: the same time steps and
    /// layers as the file, on the rows of its grid that start at `row0`.
    pub fn write_rows(&self, band: &Stack, row0: usize) -> Result<()> {
        self.shape.write_rows(band, row0, &|var, at, data| {
            self.layout.write_at(var, at, data)
        })
    }

    /// Flushes the file.
    pub fn finish(self) -> Result<()> {
        self.layout.finish().map_err(|e| Error::Write {
            path: self.shape.path,
            message: e.to_string(),
        })
    }
}

/// A stack described in CF terms, whatever the container: dimensions (time, y, x), global
/// attributes, coordinate variables with their values, and one variable per layer.
pub(super) struct Cf {
    pub dims: [(String, usize); 3],
    pub globals: Vec<(String, Attr)>,
    pub coords: Vec<(VarDef, Data)>,
    /// Each layer's variable (its attributes include `_FillValue`/`_Unsigned` as NetCDF-3 needs
    /// them) and the layer's dtype.
    pub layers: Vec<(VarDef, String)>,
}

pub(super) fn describe(stack: &Stack) -> std::result::Result<Cf, String> {
    let g = &stack.geobox;
    let srs = SpatialRef::from_definition(&g.crs).map_err(|e| format!("CRS {}: {e}", g.crs))?;
    let wkt = srs.to_wkt().map_err(|e| e.to_string())?;
    let geographic = srs.is_geographic();
    let text = |s: &str| Attr::Text(s.to_string());
    let t = &g.transform;
    let xs: Vec<f64> = (0..g.width)
        .map(|c| t[0] * (c as f64 + 0.5) + t[2])
        .collect();
    let ys: Vec<f64> = (0..g.height)
        .map(|r| t[4] * (r as f64 + 0.5) + t[5])
        .collect();
    let (ydim, xdim) = if geographic {
        ("latitude", "longitude")
    } else {
        ("y", "x")
    };
    let coord = |dim: &str, values: Vec<f64>, axis: &str| {
        let attrs = match (geographic, axis) {
            (true, "Y") => vec![
                ("standard_name".into(), text("latitude")),
                ("long_name".into(), text("latitude")),
                ("units".into(), text("degrees_north")),
                ("axis".into(), text("Y")),
            ],
            (true, _) => vec![
                ("standard_name".into(), text("longitude")),
                ("long_name".into(), text("longitude")),
                ("units".into(), text("degrees_east")),
                ("axis".into(), text("X")),
            ],
            (false, a) => vec![
                (
                    "standard_name".into(),
                    text(if a == "Y" {
                        "projection_y_coordinate"
                    } else {
                        "projection_x_coordinate"
                    }),
                ),
                ("units".into(), text("m")),
                ("axis".into(), text(a)),
            ],
        };
        (
            VarDef {
                name: dim.into(),
                dims: vec![if axis == "Y" { 1 } else { 2 }],
                attrs,
                kind: Kind::Double,
            },
            Data::Double(values),
        )
    };
    // Microseconds since midnight of the first step: readers multiply by 1000 in float64 to get
    // nanoseconds, which is exact (to the microsecond labels datacube uses) for spans up to 104 days
    // from that epoch; counting from 1970 would round every label to 256 ns.
    let epoch = stack
        .times
        .first()
        .map(|t| {
            t.date_naive()
                .and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
        })
        .unwrap_or_default();
    let micros: Vec<f64> = stack
        .times
        .iter()
        .map(|t| (*t - epoch).num_microseconds().unwrap_or(0) as f64)
        .collect();
    let time_units = format!("microseconds since {}", epoch.format("%Y-%m-%d %H:%M:%S"));
    let gdal_gt = g.gdal_transform().map(|v| v.to_string()).join(" ");
    let mut grid_mapping = vec![
        ("crs_wkt".into(), text(&wkt)),
        ("spatial_ref".into(), text(&wkt)),
        ("GeoTransform".into(), text(&gdal_gt)),
    ];
    if geographic {
        grid_mapping.push(("grid_mapping_name".into(), text("latitude_longitude")));
    }
    let coords: Vec<(VarDef, Data)> = vec![
        (
            VarDef {
                name: "time".into(),
                dims: vec![0],
                attrs: vec![
                    ("standard_name".into(), text("time")),
                    ("units".into(), text(&time_units)),
                    ("calendar".into(), text("proleptic_gregorian")),
                    ("axis".into(), text("T")),
                ],
                kind: Kind::Double,
            },
            Data::Double(micros),
        ),
        coord(ydim, ys, "Y"),
        coord(xdim, xs, "X"),
        (
            VarDef {
                name: "spatial_ref".into(),
                dims: vec![],
                attrs: grid_mapping,
                kind: Kind::Int,
            },
            Data::Int(vec![0]),
        ),
    ];
    let mut layers = Vec::new();
    for l in &stack.layers {
        let (kind, unsigned) = storage(&l.dtype);
        let mut attrs = Vec::new();
        if let Some(n) = l.nodata {
            attrs.push(("_FillValue".to_string(), fill(kind, n)));
        }
        if unsigned {
            attrs.push(("_Unsigned".into(), text("true")));
        }
        attrs.push(("grid_mapping".into(), text("spatial_ref")));
        if let Some(u) = &l.units {
            attrs.push(("units".into(), text(u)));
        }
        if let Some(u) = &l.unpacked {
            // Physical values: what was applied, so that nobody applies it again (no CF
            // scale_factor/add_offset is left to decode).
            let p = u.packing;
            attrs.push(("source_dtype".into(), text(&u.dtype)));
            if let Some(n) = u.nodata {
                attrs.push(("source_nodata".into(), Attr::Double(n)));
            }
            attrs.push(("applied_scale_factor".into(), Attr::Double(p.scale_factor)));
            attrs.push(("applied_add_offset".into(), Attr::Double(p.add_offset)));
            attrs.push((
                "comment".into(),
                text(&format!(
                    "physical values: stored {} x {} + {} (the product's scale_factor and \
                     add_offset), stored nodata as NaN",
                    u.dtype, p.scale_factor, p.add_offset
                )),
            ));
        }
        layers.push((
            VarDef {
                name: l.name.clone(),
                dims: vec![0, 1, 2],
                attrs,
                kind: kind_of(kind),
            },
            l.dtype.clone(),
        ));
    }
    let sources: Vec<String> = stack
        .sources
        .iter()
        .flatten()
        .map(|u| u.to_string())
        .collect();
    let globals = vec![
        ("Conventions".into(), text("CF-1.8")),
        (
            "title".into(),
            text(&format!("{} stack written by etlake", stack.product)),
        ),
        ("product".into(), text(&stack.product)),
        ("source_datasets".into(), text(&sources.join(","))),
    ];
    Ok(Cf {
        dims: [
            ("time".into(), stack.times.len()),
            (ydim.into(), g.height),
            (xdim.into(), g.width),
        ],
        globals,
        coords,
        layers,
    })
}

/// The file's variables (coordinates, then layers) and (variable index, stored kind) of each layer.
fn variables(cf: &Cf) -> (Vec<VarDef>, Vec<(usize, &'static str)>) {
    let mut vars: Vec<VarDef> = cf.coords.iter().map(|(v, _)| v.clone()).collect();
    let mut layers = Vec::new();
    for (v, dtype) in &cf.layers {
        layers.push((vars.len(), storage(dtype).0));
        vars.push(v.clone());
    }
    (vars, layers)
}

fn create(path: &Path, stack: &Stack) -> Result<NetcdfStack> {
    let fail = |m: String| Error::Write {
        path: path.display().to_string(),
        message: m,
    };
    let cf = describe(stack).map_err(fail)?;
    let (vars, layers) = variables(&cf);
    let dims: Vec<(&str, usize)> = cf.dims.iter().map(|(n, l)| (n.as_str(), *l)).collect();
    let layout =
        netcdf3::create(path, &dims, &cf.globals, &vars).map_err(|e| fail(e.to_string()))?;
    for (i, (_, v)) in cf.coords.iter().enumerate() {
        layout.write_at(i, 0, v).map_err(|e| fail(e.to_string()))?;
    }
    Ok(NetcdfStack {
        layout,
        shape: Shape {
            path: path.display().to_string(),
            layers,
            width: stack.geobox.width,
            height: stack.geobox.height,
        },
    })
}

fn kind_of(stored: &str) -> Kind {
    match stored {
        "byte" => Kind::Byte,
        "short" => Kind::Short,
        "int" => Kind::Int,
        "double" => Kind::Double,
        _ => Kind::Float,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::Packing;
    use crate::{GeoBox, Layer};
    use chrono::{TimeZone, Utc};

    fn stack(crs: &str, bbox: [f64; 4], res: f64) -> Stack {
        let g = GeoBox::from_bbox(crs, bbox, res, -res, None).unwrap();
        let n = g.width * g.height;
        let t = |d| Utc.with_ymd_and_hms(2020, 1, d, 0, 0, 0).unwrap();
        Stack {
            product: "p".into(),
            geobox: g,
            times: vec![t(1), t(2), t(3)],
            sources: vec![vec![]; 3],
            spans: vec![(t(1), t(1)), (t(2), t(2)), (t(3), t(3))],
            layers: vec![
                Layer {
                    name: "qa".into(),
                    dtype: "uint16".into(),
                    nodata: Some(65535.0),
                    units: None,
                    packing: Packing::NONE,
                    unpacked: None,
                    data: (0..3 * n)
                        .map(|i| {
                            if i % 7 == 0 {
                                65535.0
                            } else {
                                (i * 1000 % 65000) as f64
                            }
                        })
                        .collect(),
                },
                Layer {
                    name: "v".into(),
                    dtype: "float32".into(),
                    nodata: Some(f64::NAN),
                    units: Some("mm".into()),
                    packing: Packing::NONE,
                    unpacked: None,
                    data: (0..3 * n)
                        .map(|i| if i % 5 == 0 { f64::NAN } else { i as f64 * 0.5 })
                        .collect(),
                },
            ],
        }
    }

    #[test]
    fn gdal_reads_back_grid_crs_and_values() {
        let dir = tempfile::tempdir().unwrap();
        for (crs, bbox, res, epsg) in [
            ("EPSG:4326", [-105.0, 40.0, -104.75, 40.2], 0.05, 4326),
            (
                "EPSG:32613",
                [500_000.0, 4_400_000.0, 500_150.0, 4_400_120.0],
                30.0,
                32613,
            ),
        ] {
            let s = stack(crs, bbox, res);
            let p = dir.path().join(format!("{epsg}.nc"));
            write_netcdf(&p, &s).unwrap();
            assert_eq!(&std::fs::read(&p).unwrap()[..4], b"CDF\x02");
            for l in &s.layers {
                let ds =
                    gdal::Dataset::open(format!("NETCDF:\"{}\":{}", p.display(), l.name)).unwrap();
                assert_eq!(ds.raster_count(), 3);
                let gt = ds.geo_transform().unwrap();
                for (a, b) in gt.iter().zip(s.geobox.gdal_transform()) {
                    assert!((a - b).abs() < 1e-9, "{gt:?}");
                }
                let mut srs = ds.spatial_ref().unwrap();
                srs.auto_identify_epsg().ok();
                assert_eq!(srs.auth_code().unwrap(), epsg);
                let n = s.pixels();
                for t in 0..3 {
                    let b = ds.rasterband(t + 1).unwrap();
                    let (w, h) = (s.geobox.width, s.geobox.height);
                    let got = b
                        .read_as::<f64>((0, 0), (w, h), (w, h), None)
                        .unwrap()
                        .into_shape_and_vec()
                        .1;
                    let want = l.step(t, n);
                    for (g, w) in got.iter().zip(want) {
                        // GDAL applies _Unsigned: uint16 values come back unsigned.
                        assert!(
                            g == w || g.is_nan() && w.is_nan(),
                            "{} t{t}: {g} vs {w}",
                            l.name
                        );
                    }
                }
            }
        }
    }
}
