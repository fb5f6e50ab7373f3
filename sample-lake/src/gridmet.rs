//! gridMET yearly files (`pr_YYYY.nc`, …) as the University of Idaho has published them since mid-2019,
//! reproduced from a real file's header (`pet_2015.nc`, see `/work/shared-research/provider-specs.md`
//! §1a and README "gridMET"): NetCDF-4; `unsigned short var(day, lat, lon)` packed with
//! `scale_factor`/`add_offset`, `_FillValue` = `missing_value` = 32767 and `_Unsigned "true"`; `day`
//! in days since 1900-01-01; `lat` north to south and `lon` west to east at cell centres; a `crs`
//! variable whose `GeoTransform` attribute puts the origin at the first cell's *centre* (half a cell
//! off the grid the coordinates give, as in the real files).
use crate::netcdf4::{write, Attr, Data, NetCdfError, Var};
use std::path::Path;

/// The stored value of missing data (`_FillValue` and `missing_value`).
pub const FILL: u16 = 32767;

/// One gridMET variable: its file prefix, NetCDF variable and packing.
#[derive(Debug, Clone, Copy)]
pub struct Variable {
    /// File-name prefix (`pr` in `pr_2020.nc`).
    pub file: &'static str,
    /// NetCDF variable name.
    pub name: &'static str,
    /// `units`.
    pub units: &'static str,
    /// `description`.
    pub description: &'static str,
    /// `scale_factor`.
    pub scale: f64,
    /// `add_offset`.
    pub offset: f64,
}

/// Precipitation: scale 0.1, offset 0 [unverified: by analogy with pet].
pub const PR: Variable = Variable {
    file: "pr",
    name: "precipitation_amount",
    units: "mm",
    description: "Daily Accumulated Precipitation",
    scale: 0.1,
    offset: 0.0,
};
/// Grass reference ET: scale 0.1, offset 0 (seen in the real pet_2015.nc header).
pub const PET: Variable = Variable {
    file: "pet",
    name: "potential_evapotranspiration",
    units: "mm",
    description: "Daily reference evapotranspiration (short grass)",
    scale: 0.1,
    offset: 0.0,
};
/// Minimum temperature in K: scale 0.1, offset 220 [unverified].
pub const TMMN: Variable = Variable {
    file: "tmmn",
    name: "air_temperature",
    units: "K",
    description: "Daily Minimum Temperature",
    scale: 0.1,
    offset: 220.0,
};
/// Maximum temperature in K: scale 0.1, offset 220 [unverified].
pub const TMMX: Variable = Variable {
    file: "tmmx",
    name: "air_temperature",
    units: "K",
    description: "Daily Maximum Temperature",
    scale: 0.1,
    offset: 220.0,
};

impl Variable {
    /// The stored value of a physical one (NaN → [`FILL`]), rounded as a packer does.
    pub fn pack(&self, physical: f64) -> u16 {
        if physical.is_nan() {
            return FILL;
        }
        let v = ((physical - self.offset) / self.scale).round();
        assert!(
            (0.0..FILL as f64).contains(&v),
            "{}: {physical} {} does not pack into 0..32767",
            self.file,
            self.units
        );
        v as u16
    }

    /// The physical value of a stored one (NaN for [`FILL`]).
    pub fn unpack(&self, stored: u16) -> f64 {
        if stored == FILL {
            return f64::NAN;
        }
        stored as f64 * self.scale + self.offset
    }
}

/// A north-up lat/lon grid: upper-left corner, cell size in degrees, rows and columns.
#[derive(Clone, Copy, Debug)]
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

/// Days from 1900-01-01 to January 1st of `year` (gridMET's `day` of 2015-01-01 is 42003).
pub fn jan1_since_1900(year: i64) -> i64 {
    let y = year - 1;
    365 * (y - 1899) + (y / 4 - 1899 / 4) - (y / 100 - 1899 / 100) + (y / 400 - 1899 / 400)
}

/// Writes one yearly file of `days` days of `var` (`stored(day, row, col)`, row 0 northernmost).
pub fn yearly_file(
    path: &Path,
    var: &Variable,
    year: i64,
    days: usize,
    g: LatLonGrid,
    stored: impl Fn(usize, usize, usize) -> u16,
) -> Result<(), NetCdfError> {
    let LatLonGrid {
        north,
        west,
        res,
        ny,
        nx,
    } = g;
    let lat: Vec<f64> = (0..ny).map(|r| north - (r as f64 + 0.5) * res).collect();
    let lon: Vec<f64> = (0..nx).map(|c| west + (c as f64 + 0.5) * res).collect();
    let first = jan1_since_1900(year);
    let day: Vec<f64> = (0..days).map(|d| (first + d as i64) as f64).collect();
    let mut data = Vec::with_capacity(days * ny * nx);
    for d in 0..days {
        for r in 0..ny {
            for c in 0..nx {
                data.push(stored(d, r, c));
            }
        }
    }
    let text = |s: &str| Attr::Text(s.to_string());
    let a = |k: &str, v: Attr| (k.to_string(), v);
    let (lon0, lat0) = (lon[0], lat[0]);
    let (lon1, lat1) = (lon[nx - 1], lat[ny - 1]);
    // As published: five numbers, a double space, the origin at the first cell's centre.
    let geo_transform = format!("{lon0:.13} {res:.15} 0  {lat0:.15} -{res:.15}");
    let wkt = "GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563,AUTHORITY[\"EPSG\",\"7030\"]],AUTHORITY[\"EPSG\",\"6326\"]],PRIMEM[\"Greenwich\",0,AUTHORITY[\"EPSG\",\"8901\"]],UNIT[\"degree\",0.0174532925199433,AUTHORITY[\"EPSG\",\"9122\"]],AUTHORITY[\"EPSG\",\"4326\"]]";
    let global = vec![
        a("geospatial_bounds_crs", text("EPSG:4326")),
        a("Conventions", text("CF-1.6")),
        a(
            "geospatial_bounds",
            text(&format!(
                "POLYGON(({lon0} {lat0}, {lon0} {lat1}, {lon1} {lat1}, {lon1} {lat0}, {lon0} {lat0}))"
            )),
        ),
        a("geospatial_lat_min", text(&lat1.to_string())),
        a("geospatial_lat_max", text(&lat0.to_string())),
        a("geospatial_lon_min", text(&lon0.to_string())),
        a("geospatial_lon_max", text(&lon1.to_string())),
        a("geospatial_lon_resolution", text(&res.to_string())),
        a("geospatial_lat_resolution", text(&res.to_string())),
        a("coordinate_system", text("EPSG:4326")),
        a("author", text("etlake sample lake, laid out as gridMET publishes")),
        a(
            "note5",
            text("Days correspond approximately to calendar days ending at midnight, Mountain Standard Time (7 UTC the next calendar day)"),
        ),
    ];
    let coord = |name: &str, std: &str, units: &str, axis: &str, values: Vec<f64>, dim| Var {
        name: name.into(),
        dims: vec![dim],
        attrs: vec![
            a("units", text(units)),
            a("description", text(std)),
            a("long_name", text(std)),
            a("standard_name", text(std)),
            a("axis", text(axis)),
        ],
        data: Data::Double(values),
        chunks: None,
    };
    let mut var_attrs = vec![
        a("_FillValue", Attr::UShort(FILL)),
        a("units", text(var.units)),
        a("description", text(var.description)),
        a("long_name", text(var.file)),
        a("standard_name", text(var.file)),
        a("missing_value", Attr::UShort(FILL)),
        a("dimensions", text("lon lat time")),
        a("grid_mapping", text("crs")),
        a("coordinate_system", text("WGS84,EPSG:4326")),
        a("scale_factor", Attr::Double(var.scale)),
        a("add_offset", Attr::Double(var.offset)),
        a("coordinates", text("lon lat")),
        a("_Unsigned", text("true")),
    ];
    if var.units == "K" {
        var_attrs.push(a("height", text("2 m")));
    }
    // Dimensions in the real file's order: lon, lat, day, crs.
    write(
        path,
        &[("lon", nx), ("lat", ny), ("day", days), ("crs", 1)],
        &global,
        &[
            coord("lon", "longitude", "degrees_east", "X", lon, 0),
            coord("lat", "latitude", "degrees_north", "Y", lat, 1),
            Var {
                name: "day".into(),
                dims: vec![2],
                attrs: vec![
                    a("description", text("days since 1900-01-01")),
                    a("units", text("days since 1900-01-01 00:00:00")),
                    a("long_name", text("time")),
                    a("standard_name", text("time")),
                    a("calendar", text("gregorian")),
                ],
                data: Data::Double(day),
                chunks: None,
            },
            Var {
                name: "crs".into(),
                dims: vec![3],
                attrs: vec![
                    a("grid_mapping_name", text("latitude_longitude")),
                    a("longitude_of_prime_meridian", Attr::Double(0.0)),
                    a("semi_major_axis", Attr::Double(6378137.0)),
                    a("long_name", text("WGS 84")),
                    a("inverse_flattening", Attr::Double(298.257223563)),
                    a("GeoTransform", text(&geo_transform)),
                    a("spatial_ref", text(wkt)),
                ],
                // The crs variable's type is not in the published header [unverified]; its value unused.
                data: Data::Short(vec![3]),
                chunks: None,
            },
            Var {
                name: var.name.into(),
                dims: vec![2, 1, 0],
                attrs: var_attrs,
                data: Data::UShort(data),
                // The real file's chunks (61 days × 98 rows × 231 columns), deflate level 9.
                chunks: Some((vec![days.min(61), ny.min(98), nx.min(231)], 9)),
            },
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_and_packing_follow_the_published_file() {
        assert_eq!(jan1_since_1900(2015), 42003);
        assert_eq!(jan1_since_1900(1900), 0);
        assert_eq!(jan1_since_1900(2020), 43829);
        assert_eq!(PET.pack(4.2), 42);
        assert_eq!(TMMX.pack(300.05), 801);
        assert!((TMMX.unpack(801) - 300.1).abs() < 1e-9);
        assert_eq!(PR.pack(f64::NAN), FILL);
        assert!(PR.unpack(FILL).is_nan());
    }

    #[test]
    fn gdal_reads_the_packing_and_the_grid_of_the_coordinates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tmmx_2020.nc");
        let g = LatLonGrid {
            north: 41.0,
            west: -105.0,
            res: 1.0 / 24.0,
            ny: 3,
            nx: 4,
        };
        yearly_file(&path, &TMMX, 2020, 2, g, |d, r, c| {
            (d * 100 + r * 10 + c) as u16
        })
        .unwrap();
        let ds =
            gdal::Dataset::open(format!("NETCDF:\"{}\":air_temperature", path.display())).unwrap();
        assert_eq!((ds.raster_size(), ds.raster_count()), ((4, 3), 2));
        let b = ds.rasterband(2).unwrap();
        assert_eq!(b.band_type().name(), "UInt16");
        assert_eq!(
            (b.no_data_value(), b.scale(), b.offset()),
            (Some(32767.0), Some(0.1), Some(220.0))
        );
        let gt = ds.geo_transform().unwrap();
        for (got, want) in gt
            .iter()
            .zip([-105.0, 1.0 / 24.0, 0.0, 41.0, 0.0, -1.0 / 24.0])
        {
            assert!((got - want).abs() < 1e-9, "{gt:?}");
        }
        let v = b.read_band_as::<u16>().unwrap();
        assert_eq!(v.data()[..4], [100, 101, 102, 103]);
    }
}
