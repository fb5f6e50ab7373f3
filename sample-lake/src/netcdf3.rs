//! CF daily lat/lon NetCDF fixtures like gridMET's yearly files, written with the model crate's
//! NetCDF-3 writer, so fixtures come from code, not committed binaries.
use model::output::netcdf3::{write, Attr, Data, Var};

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
    )
    .expect("write NetCDF fixture");
}
