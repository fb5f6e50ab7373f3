//! A minimal NetCDF-3 classic writer for generating sample lakes (CF lat/lon grids with a time axis),
//! so fixtures come from code, not committed binaries. Fixed-size variables only.

/// Attribute values.
pub enum Attr {
    /// A character string.
    Text(String),
    /// One float.
    Float(f32),
    /// One double.
    Double(f64),
    /// One short.
    Short(i16),
}

/// Variable data (big-endian on disk).
pub enum Data {
    /// 32-bit floats.
    Float(Vec<f32>),
    /// 64-bit floats.
    Double(Vec<f64>),
    /// 16-bit integers.
    Short(Vec<i16>),
}

/// A variable: its dimension ids (indexes into the file's dimensions), attributes and data.
pub struct Var {
    /// Name.
    pub name: String,
    /// Dimension ids.
    pub dims: Vec<usize>,
    /// Attributes.
    pub attrs: Vec<(String, Attr)>,
    /// Values, row-major.
    pub data: Data,
}

fn pad4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

fn name(v: &mut Vec<u8>, s: &str) {
    v.extend((s.len() as u32).to_be_bytes());
    v.extend(s.as_bytes());
    pad4(v);
}

fn attrs(v: &mut Vec<u8>, list: &[(String, Attr)]) {
    if list.is_empty() {
        v.extend([0u8; 8]);
        return;
    }
    v.extend(12u32.to_be_bytes());
    v.extend((list.len() as u32).to_be_bytes());
    for (n, a) in list {
        name(v, n);
        match a {
            Attr::Text(s) => {
                v.extend(2u32.to_be_bytes());
                v.extend((s.len() as u32).to_be_bytes());
                v.extend(s.as_bytes());
            }
            Attr::Float(f) => {
                v.extend(5u32.to_be_bytes());
                v.extend(1u32.to_be_bytes());
                v.extend(f.to_be_bytes());
            }
            Attr::Double(d) => {
                v.extend(6u32.to_be_bytes());
                v.extend(1u32.to_be_bytes());
                v.extend(d.to_be_bytes());
            }
            Attr::Short(s) => {
                v.extend(3u32.to_be_bytes());
                v.extend(1u32.to_be_bytes());
                v.extend(s.to_be_bytes());
            }
        }
        pad4(v);
    }
}

impl Data {
    fn kind(&self) -> u32 {
        match self {
            Data::Short(_) => 3,
            Data::Float(_) => 5,
            Data::Double(_) => 6,
        }
    }
    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Data::Short(d) => d.iter().for_each(|x| out.extend(x.to_be_bytes())),
            Data::Float(d) => d.iter().for_each(|x| out.extend(x.to_be_bytes())),
            Data::Double(d) => d.iter().for_each(|x| out.extend(x.to_be_bytes())),
        }
        pad4(&mut out);
        out
    }
}

/// Writes a NetCDF-3 file with the given dimensions (name, length), global attributes and variables.
pub fn write(
    path: &std::path::Path,
    dims: &[(&str, usize)],
    globals: &[(String, Attr)],
    vars: &[Var],
) {
    let build = |offsets: &[u32]| -> Vec<u8> {
        let mut h = b"CDF\x01".to_vec();
        h.extend(0u32.to_be_bytes());
        h.extend(10u32.to_be_bytes());
        h.extend((dims.len() as u32).to_be_bytes());
        for (n, l) in dims {
            name(&mut h, n);
            h.extend((*l as u32).to_be_bytes());
        }
        attrs(&mut h, globals);
        h.extend(11u32.to_be_bytes());
        h.extend((vars.len() as u32).to_be_bytes());
        for (i, var) in vars.iter().enumerate() {
            name(&mut h, &var.name);
            h.extend((var.dims.len() as u32).to_be_bytes());
            for d in &var.dims {
                h.extend((*d as u32).to_be_bytes());
            }
            attrs(&mut h, &var.attrs);
            h.extend(var.data.kind().to_be_bytes());
            h.extend((var.data.bytes().len() as u32).to_be_bytes());
            h.extend(offsets[i].to_be_bytes());
        }
        h
    };
    let header_len = build(&vec![0; vars.len()]).len() as u32;
    let mut offsets = Vec::new();
    let mut at = header_len;
    for v in vars {
        offsets.push(at);
        at += v.data.bytes().len() as u32;
    }
    let mut file = build(&offsets);
    for v in vars {
        file.extend(v.data.bytes());
    }
    std::fs::write(path, file).unwrap();
}

/// A north-up lat/lon grid: upper-left corner, cell size in degrees, rows and columns.
#[derive(Clone, Copy)]
pub struct LatLonGrid {
    /// Northern edge (degrees).
    pub north: f64,
    /// Western edge (degrees).
    pub west: f64,
    /// Cell size (degrees).
    pub res: f64,
    /// Rows.
    pub ny: usize,
    /// Columns.
    pub nx: usize,
}

/// A CF daily file like gridMET's `pr_YYYY.nc`: `day`, `lat` (north to south), `lon`, a `crs` grid
/// mapping, and `var(day, lat, lon)` with NaN fill.
pub fn daily_grid(
    path: &std::path::Path,
    var: &str,
    days: usize,
    g: LatLonGrid,
    value: impl Fn(usize, usize, usize) -> f32,
) {
    let LatLonGrid {
        north,
        west,
        res,
        ny,
        nx,
    } = g;
    let lat: Vec<f64> = (0..ny).map(|r| north - (r as f64 + 0.5) * res).collect();
    let lon: Vec<f64> = (0..nx).map(|c| west + (c as f64 + 0.5) * res).collect();
    let day: Vec<f64> = (0..days).map(|d| 43829.0 + d as f64).collect();
    let mut data = Vec::with_capacity(days * ny * nx);
    for d in 0..days {
        for r in 0..ny {
            for c in 0..nx {
                data.push(value(d, r, c));
            }
        }
    }
    let text = |s: &str| Attr::Text(s.to_string());
    write(
        path,
        &[("day", days), ("lat", ny), ("lon", nx)],
        &[("Conventions".into(), text("CF-1.6"))],
        &[
            Var {
                name: "day".into(),
                dims: vec![0],
                attrs: vec![
                    ("units".into(), text("days since 1900-01-01 00:00:00")),
                    ("calendar".into(), text("gregorian")),
                ],
                data: Data::Double(day),
            },
            Var {
                name: "lat".into(),
                dims: vec![1],
                attrs: vec![
                    ("units".into(), text("degrees_north")),
                    ("standard_name".into(), text("latitude")),
                ],
                data: Data::Double(lat),
            },
            Var {
                name: "lon".into(),
                dims: vec![2],
                attrs: vec![
                    ("units".into(), text("degrees_east")),
                    ("standard_name".into(), text("longitude")),
                ],
                data: Data::Double(lon),
            },
            Var {
                name: "crs".into(),
                dims: vec![],
                attrs: vec![
                    ("grid_mapping_name".into(), text("latitude_longitude")),
                    ("semi_major_axis".into(), Attr::Double(6378137.0)),
                    ("inverse_flattening".into(), Attr::Double(298.257223563)),
                ],
                data: Data::Short(vec![0]),
            },
            Var {
                name: var.into(),
                dims: vec![0, 1, 2],
                attrs: vec![
                    ("_FillValue".into(), Attr::Float(f32::NAN)),
                    ("units".into(), text("mm")),
                    ("grid_mapping".into(), text("crs")),
                ],
                data: Data::Float(data),
            },
        ],
    );
}
