//! GPM IMERG V07 Final run: half-hourly HDF5 and daily NetCDF-4, as NASA GES DISC distributes them
//! (`https://data.gesdisc.earthdata.nasa.gov/data/GPM_L3/…`, S3 `gesdisc-cumulus-prod-protected/GPM_L3/…`).
//!
//! Sources: IMERG V07 Technical Documentation and the GPM File Specification (PPS), and real files' dumps
//! (provider-specs.md §4: OPeNDAP `.info`/`.dmr` of `3B-HHR.MS.MRG.3IMERG.19980101-S000000-E002959.0000.V07B.HDF5`;
//! xarray repr of a V07B `3B-DAY` file); GES DISC dataset pages GPM_3IMERGHH_07 and GPM_3IMERGDF_07.
//! - half-hourly: `GPM_L3/GPM_3IMERGHH.07/{YYYY}/{DDD}/3B-HHR.MS.MRG.3IMERG.{YYYYMMDD}-S{hhmmss}-E{hhmmss}.{MMMM}.V07B.HDF5`;
//!   group `/Grid` (attribute `GridHeader`), dims time 1, lon 3600, lat 1800, nv/lonv/latv 2; `lat`/`lon`
//!   float32 cell centres ascending (Origin=SOUTHWEST); `time` int32 seconds since 1980-01-06 (GPS epoch);
//!   data variables `(time, lon, lat)` — lon before lat — float32 with `_FillValue` −9999.9 and
//!   `CodeMissingValue "-9999.9"`, int16 ones with −9999; `/Grid/Intermediate/` holds MWprecipitation,
//!   MWprecipSource, MWobservationTime, IRprecipitation, IRinfluence, precipitationUncal [verified names
//!   except IRinfluence and precipitationUncal, unverified]; `precipitation` in mm/hr [unverified detail:
//!   its attribute block was not seen; by analogy with the verified Intermediate variables];
//! - daily: `GPM_L3/GPM_3IMERGDF.07/{YYYY}/{MM}/3B-DAY.MS.MRG.3IMERG.{YYYYMMDD}-S000000-E235959.V07B.nc4`;
//!   variables in the **root** group, dims time 1, lon 3600, lat 1800, nv 2; data `(time, lon, lat)`;
//!   `precipitation` float32 mm/day `_FillValue` −9999.9 [unverified units/fill], the `*_cnt` variables int16;
//!   `time` units "days since 1970-01-01 00:00:00Z" [unverified].
//!
//! The real files are produced with HDF5 directly; these are written through libnetcdf's NetCDF-4 (HDF5)
//! model, which yields the same groups, datasets, types, dimension scales and attributes plus netCDF's own
//! bookkeeping attributes (`_NCProperties`, `_Netcdf4Dimid`).
//! Grids are global and full size (the real 3600 × 1800); values are non-zero only in a window.
use crate::manifest::Manifest;
use crate::netcdf::{Dim, File, Group, NcType, Var};
use serde_json::json;
use std::path::Path;

pub const NLON: usize = 3600;
pub const NLAT: usize = 1800;
pub const FILL: f32 = -9999.9;
/// The window holding rain: lon index [`LON0`]…+[`WIN`], lat index [`LAT0`]…+[`WIN`] (lat ascending).
pub const LON0: usize = 740; // −106.0°
pub const LAT0: usize = 1250; // 35.0°
pub const WIN: usize = 30;
pub const YEAR: i32 = 2021;
pub const MONTH: u32 = 6;
pub const DAILY_DAYS: [u32; 2] = [1, 2];
/// Half-hour steps (index from 00:00) of day 1 written.
pub const HALF_HOURS: [u32; 2] = [0, 1];

pub fn lon(i: usize) -> f32 {
    -179.95 + 0.1 * i as f32
}
pub fn lat(j: usize) -> f32 {
    -89.95 + 0.1 * j as f32
}

/// Stored `precipitation` at lon index `i`, lat index `j`; `step` = day of month (daily) or 100 + half-hour
/// index (half-hourly). Zero outside the window; one fill cell in the window.
pub fn stored(step: u32, i: usize, j: usize) -> f32 {
    let (a, b) = (i.wrapping_sub(LON0), j.wrapping_sub(LAT0));
    if a >= WIN || b >= WIN {
        return 0.0;
    }
    if a == 3 && b == 4 {
        return FILL;
    }
    ((step as usize * 17 + a * 3 + b * 5) % 64) as f32 * 0.5
}

fn grid_vals(step: u32) -> Vec<f32> {
    let mut v = Vec::with_capacity(NLON * NLAT);
    for i in 0..NLON {
        for j in 0..NLAT {
            v.push(stored(step, i, j));
        }
    }
    v
}

pub fn daily_rel(day: u32) -> String {
    format!(
        "imerg/GPM_L3/GPM_3IMERGDF.07/{YEAR}/{MONTH:02}/3B-DAY.MS.MRG.3IMERG.{YEAR}{MONTH:02}{day:02}-S000000-E235959.V07B.nc4"
    )
}

pub fn hhr_rel(k: u32) -> String {
    let doy = chrono::NaiveDate::from_ymd_opt(YEAR, MONTH, 1)
        .unwrap()
        .format("%j");
    let s = k * 30;
    let e = s + 29;
    format!(
        "imerg/GPM_L3/GPM_3IMERGHH.07/{YEAR}/{doy}/3B-HHR.MS.MRG.3IMERG.{YEAR}{MONTH:02}01-S{:02}{:02}00-E{:02}{:02}59.{s:04}.V07B.HDF5",
        s / 60,
        s % 60,
        e / 60,
        e % 60
    )
}

const SPEC: &[&str] = &[
    "IMERG V07 Technical Documentation (Huffman et al., NASA GSFC PPS)",
    "GPM File Specification for GPM products (PPS), 3IMERGHH / 3IMERGDF",
    "https://disc.gsfc.nasa.gov/datasets/GPM_3IMERGHH_07/summary",
    "https://disc.gsfc.nasa.gov/datasets/GPM_3IMERGDF_07/summary",
];

struct Dims {
    time: Dim,
    lon: Dim,
    lat: Dim,
    nv: Dim,
}

/// Coordinate variables and their bounds in `g`.
fn coords(
    f: &File,
    g: Group,
    d: &Dims,
    lonv: Dim,
    latv: Dim,
    lat_f64: bool,
) -> Result<Vec<(Var, Vec<f64>, bool)>, String> {
    let mut out = vec![];
    let vlat = f.var(
        g,
        "lat",
        if lat_f64 {
            NcType::Double
        } else {
            NcType::Float
        },
        &[d.lat],
        None,
    )?;
    for (k, v) in [
        ("DimensionNames", "lat"),
        ("Units", "degrees_north"),
        ("units", "degrees_north"),
        ("standard_name", "latitude"),
        ("LongName", "Latitude at the center of\n\t\t\t0.10 degree grid intervals of latitude\n\t\t\tfrom -90 to 90."),
        ("bounds", "lat_bnds"),
        ("axis", "Y"),
    ] {
        f.text(g, Some(vlat), k, v)?;
    }
    out.push((vlat, (0..NLAT).map(|j| lat(j) as f64).collect(), lat_f64));
    let vlon = f.var(g, "lon", NcType::Float, &[d.lon], None)?;
    for (k, v) in [
        ("DimensionNames", "lon"),
        ("Units", "degrees_east"),
        ("units", "degrees_east"),
        ("standard_name", "longitude"),
        ("LongName", "Longitude at the center of\n\t\t\t0.10 degree grid intervals of longitude\n\t\t\tfrom -180 to 180."),
        ("bounds", "lon_bnds"),
        ("axis", "X"),
    ] {
        f.text(g, Some(vlon), k, v)?;
    }
    out.push((vlon, (0..NLON).map(|i| lon(i) as f64).collect(), false));
    let vlatb = f.var(g, "lat_bnds", NcType::Float, &[d.lat, latv], None)?;
    f.text(g, Some(vlatb), "DimensionNames", "lat,latv")?;
    f.text(g, Some(vlatb), "Units", "degrees_north")?;
    f.text(g, Some(vlatb), "units", "degrees_north")?;
    out.push((
        vlatb,
        (0..NLAT)
            .flat_map(|j| [lat(j) as f64 - 0.05, lat(j) as f64 + 0.05])
            .collect(),
        false,
    ));
    let vlonb = f.var(g, "lon_bnds", NcType::Float, &[d.lon, lonv], None)?;
    f.text(g, Some(vlonb), "DimensionNames", "lon,lonv")?;
    f.text(g, Some(vlonb), "Units", "degrees_east")?;
    f.text(g, Some(vlonb), "units", "degrees_east")?;
    out.push((
        vlonb,
        (0..NLON)
            .flat_map(|i| [lon(i) as f64 - 0.05, lon(i) as f64 + 0.05])
            .collect(),
        false,
    ));
    let _ = d.time;
    let _ = d.nv;
    Ok(out)
}

fn put_coords(f: &File, cs: Vec<(Var, Vec<f64>, bool)>) -> Result<(), String> {
    for (v, vals, is_f64) in cs {
        if is_f64 {
            f.put(v, &vals)?;
        } else {
            f.put(v, &vals.iter().map(|x| *x as f32).collect::<Vec<_>>())?;
        }
    }
    Ok(())
}

/// A `(time, lon, lat)` data variable with the PPS attribute set.
#[allow(clippy::too_many_arguments)]
fn data_var(
    f: &File,
    g: Group,
    d: &Dims,
    name: &str,
    ty: NcType,
    units: &str,
    long: &str,
) -> Result<Var, String> {
    let v = f.var(
        g,
        name,
        ty,
        &[d.time, d.lon, d.lat],
        Some((4, &[1, 145, 1800])),
    )?;
    f.text(g, Some(v), "DimensionNames", "time,lon,lat")?;
    f.text(g, Some(v), "Units", units)?;
    f.text(g, Some(v), "units", units)?;
    f.text(g, Some(v), "coordinates", "time lon lat")?;
    match ty {
        NcType::Float => {
            f.num(g, Some(v), "_FillValue", &[FILL])?;
            f.text(g, Some(v), "CodeMissingValue", "-9999.9")?;
        }
        _ => {
            f.num(g, Some(v), "_FillValue", &[-9999i16])?;
            f.text(g, Some(v), "CodeMissingValue", "-9999")?;
        }
    }
    f.text(g, Some(v), "LongName", long)?;
    Ok(v)
}

fn write_hhr(path: &Path, k: u32) -> Result<(), String> {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let f = File::create(path)?;
    let root = f.root();
    let start = chrono::NaiveDate::from_ymd_opt(YEAR, MONTH, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        + chrono::Duration::minutes(30 * k as i64);
    let stop = start + chrono::Duration::seconds(1799);
    f.text(
        root,
        None,
        "FileHeader",
        &format!(
            "DOI=10.5067/GPM/IMERG/3B-HH/07;\nDOIauthority=http://dx.doi.org/;\nDOIshortName=3IMERGHH;\nAlgorithmID=3IMERGHH;\nAlgorithmVersion=3IMERGH_7.0;\nFileName={name};\nSatelliteName=MULTI;\nInstrumentName=MERGED;\nGenerationDateTime=2024-11-11T14:17:54.000Z;\nStartGranuleDateTime={}.000Z;\nStopGranuleDateTime={}.999Z;\nGranuleNumber=;\nNumberOfSwaths=0;\nNumberOfGrids=1;\nGranuleStart=;\nTimeInterval=HALF_HOUR;\nProcessingSystem=PPS;\nProductVersion=V07B;\nEmptyGranule=NOT_EMPTY;\nMissingData=;\n",
            start.format("%Y-%m-%dT%H:%M:%S"),
            stop.format("%Y-%m-%dT%H:%M:%S")
        ),
    )?;
    f.text(root, None, "FileInfo", "DataFormatVersion=7e;\nTKCodeBuildVersion=0;\nMetadataVersion=7e;\nFormatPackage=HDF5-1.10.9;\nBlueprintFilename=GPM.V7.3IMERGHH.blueprint.xml;\nBlueprintVersion=BV_69;\nTKIOVersion=3.101;\nMetadataStyle=PVL;\nEndianType=LITTLE_ENDIAN;\n")?;
    let g = f.group(root, "Grid")?;
    f.text(g, None, "GridHeader", "BinMethod=ARITHMETIC_MEAN;\nRegistration=CENTER;\nLatitudeResolution=0.1;\nLongitudeResolution=0.1;\nNorthBoundingCoordinate=90;\nSouthBoundingCoordinate=-90;\nEastBoundingCoordinate=180;\nWestBoundingCoordinate=-180;\nOrigin=SOUTHWEST;\n")?;
    let d = Dims {
        time: f.dim(g, "time", 1)?,
        lon: f.dim(g, "lon", NLON)?,
        lat: f.dim(g, "lat", NLAT)?,
        nv: f.dim(g, "nv", 2)?,
    };
    let lonv = f.dim(g, "lonv", 2)?;
    let latv = f.dim(g, "latv", 2)?;
    let vtime = f.var(g, "time", NcType::Int, &[d.time], None)?;
    for (k, v) in [
        ("DimensionNames", "time"),
        ("Units", "seconds since 1980-01-06 00:00:00 UTC"),
        ("units", "seconds since 1980-01-06 00:00:00 UTC"),
        ("standard_name", "time"),
        ("LongName", "Representative time of data in \n\t\t\tseconds since 1980-01-06 00:00:00 UTC. \n\t\t\tThe calculation of time does not add leap seconds."),
        ("bounds", "time_bnds"),
        ("axis", "T"),
        ("calendar", "julian"),
    ] {
        f.text(g, Some(vtime), k, v)?;
    }
    let vtb = f.var(g, "time_bnds", NcType::Int, &[d.time, d.nv], None)?;
    f.text(g, Some(vtb), "DimensionNames", "time,nv")?;
    f.text(
        g,
        Some(vtb),
        "Units",
        "seconds since 1980-01-06 00:00:00 UTC",
    )?;
    f.text(
        g,
        Some(vtb),
        "units",
        "seconds since 1980-01-06 00:00:00 UTC",
    )?;
    let cs = coords(&f, g, &d, lonv, latv, false)?;
    let vp = data_var(
        &f,
        g,
        &d,
        "precipitation",
        NcType::Float,
        "mm/hr",
        "Merged microwave-infrared-gauge precipitation estimate",
    )?;
    let vre = data_var(
        &f,
        g,
        &d,
        "randomError",
        NcType::Float,
        "mm/hr",
        "Random error estimate of precipitation",
    )?;
    let vpl = data_var(
        &f,
        g,
        &d,
        "probabilityLiquidPrecipitation",
        NcType::Short,
        "percent",
        "Probability of liquid precipitation",
    )?;
    let vqi = data_var(
        &f,
        g,
        &d,
        "precipitationQualityIndex",
        NcType::Float,
        "",
        "Quality Index for precipitation",
    )?;
    let gi = f.group(g, "Intermediate")?;
    // Intermediate variables use the parent group's dimensions (visible to child groups in NetCDF-4).
    let vmw = data_var(
        &f,
        gi,
        &d,
        "MWprecipitation",
        NcType::Float,
        "mm/hr",
        "Observed merged microwave precipitation estimate; formerly HQprecipitation",
    )?;
    let vms = data_var(
        &f,
        gi,
        &d,
        "MWprecipSource",
        NcType::Short,
        "",
        "Microwave precipitation sensor identifier",
    )?;
    let vmt = data_var(
        &f,
        gi,
        &d,
        "MWobservationTime",
        NcType::Short,
        "minutes",
        "Observation time of the microwave precipitation estimate",
    )?;
    let vir = data_var(
        &f,
        gi,
        &d,
        "IRprecipitation",
        NcType::Float,
        "mm/hr",
        "Infrared precipitation estimate",
    )?;
    let vii = data_var(
        &f,
        gi,
        &d,
        "IRinfluence",
        NcType::Short,
        "percent",
        "Influence of the IR estimate",
    )?;
    let vpu = data_var(
        &f,
        gi,
        &d,
        "precipitationUncal",
        NcType::Float,
        "mm/hr",
        "Multi-satellite precipitation estimate, not gauge-adjusted",
    )?;
    f.enddef()?;
    let gps = chrono::NaiveDate::from_ymd_opt(1980, 1, 6)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let t0 = (start - gps).num_seconds() as i32;
    f.put(vtime, &[t0])?;
    f.put(vtb, &[t0, t0 + 1799])?;
    put_coords(&f, cs)?;
    let p = grid_vals(100 + k);
    f.put(vp, &p)?;
    f.put(vpu, &p)?;
    f.put(vmw, &p)?;
    f.put(vir, &p)?;
    let zero = vec![0.0f32; NLON * NLAT];
    f.put(vre, &zero)?;
    f.put(vqi, &zero)?;
    let pct = vec![100i16; NLON * NLAT];
    f.put(vpl, &pct)?;
    f.put(vii, &pct)?;
    let mz = vec![0i16; NLON * NLAT];
    f.put(vms, &mz)?;
    f.put(vmt, &mz)?;
    f.close()
}

fn write_day(path: &Path, day: u32) -> Result<(), String> {
    let f = File::create(path)?;
    let g = f.root();
    let date = chrono::NaiveDate::from_ymd_opt(YEAR, MONTH, day).unwrap();
    for (k, v) in [
        ("BeginDate", date.to_string()),
        ("BeginTime", "00:00:00.000Z".into()),
        ("EndDate", date.to_string()),
        ("EndTime", "23:59:59.999Z".into()),
        ("FileHeader", format!("StartGranuleDateTime={date}T00:00:00.000Z;\nStopGranuleDateTime={date}T23:59:59.999Z")),
        ("InputPointer", format!("3B-HHR.MS.MRG.3IMERG.{}-S000000-E002959.0000.V07B.HDF5;…", date.format("%Y%m%d"))),
        ("title", "GPM IMERG Final Precipitation L3 1 day 0.1 degree x 0.1 degree (GPM_3IMERGDF)".into()),
        ("DOI", "10.5067/GPM/IMERGDF/DAY/07".into()),
        ("ProductionTime", "2024-11-12T00:00:00.000Z".into()),
    ] {
        f.text(g, None, k, &v)?;
    }
    let d = Dims {
        time: f.dim(g, "time", 1)?,
        lon: f.dim(g, "lon", NLON)?,
        lat: f.dim(g, "lat", NLAT)?,
        nv: f.dim(g, "nv", 2)?,
    };
    let vtime = f.var(g, "time", NcType::Int, &[d.time], None)?;
    for (k, v) in [
        ("standard_name", "time"),
        ("bounds", "time_bnds"),
        ("units", "days since 1970-01-01 00:00:00Z"),
        ("calendar", "standard"),
    ] {
        f.text(g, Some(vtime), k, v)?;
    }
    let vtb = f.var(g, "time_bnds", NcType::Int, &[d.time, d.nv], None)?;
    f.text(g, Some(vtb), "units", "days since 1970-01-01 00:00:00Z")?;
    // The daily file has no lat_bnds/lon_bnds: only nv is a bounds dimension [verified dims list].
    let vlat = f.var(g, "lat", NcType::Double, &[d.lat], None)?;
    for (k, v) in [
        ("units", "degrees_north"),
        ("long_name", "Latitude"),
        ("standard_name", "latitude"),
        ("axis", "Y"),
    ] {
        f.text(g, Some(vlat), k, v)?;
    }
    let vlon = f.var(g, "lon", NcType::Float, &[d.lon], None)?;
    for (k, v) in [
        ("units", "degrees_east"),
        ("long_name", "Longitude"),
        ("standard_name", "longitude"),
        ("axis", "X"),
    ] {
        f.text(g, Some(vlon), k, v)?;
    }
    let mk = |name: &str, ty: NcType, units: &str, long: &str| -> Result<Var, String> {
        let v = f.var(
            g,
            name,
            ty,
            &[d.time, d.lon, d.lat],
            Some((4, &[1, 145, 1800])),
        )?;
        if ty == NcType::Float {
            f.num(g, Some(v), "_FillValue", &[FILL])?;
        }
        f.text(g, Some(v), "units", units)?;
        f.text(g, Some(v), "long_name", long)?;
        Ok(v)
    };
    let vp = mk(
        "precipitation",
        NcType::Float,
        "mm/day",
        "Daily mean precipitation rate (combined microwave-IR-gauge estimate)",
    )?;
    let vpc = mk(
        "precipitation_cnt",
        NcType::Short,
        "count",
        "Count of all valid half-hourly precipitation retrievals for the day",
    )?;
    let vpcc = mk("precipitation_cnt_cond", NcType::Short, "count", "Count of half-hourly precipitation retrievals for the day where precipitation is at least 0.01 mm/hr")?;
    let vmw = mk(
        "MWprecipitation",
        NcType::Float,
        "mm/day",
        "Daily mean High Quality precipitation rate from all available microwave sources",
    )?;
    let vmwc = mk(
        "MWprecipitation_cnt",
        NcType::Short,
        "count",
        "Count of all valid half-hourly MWprecipitation retrievals for the day",
    )?;
    let vmwcc = mk("MWprecipitation_cnt_cond", NcType::Short, "count", "Count of half-hourly MWprecipitation retrievals for the day where precipitation is at least 0.01 mm/hr")?;
    let vre = mk(
        "randomError",
        NcType::Float,
        "mm/day",
        "Root-mean-square error estimate for combined microwave-IR-gauge estimate",
    )?;
    let vrec = mk(
        "randomError_cnt",
        NcType::Short,
        "count",
        "Count of valid half-hourly randomError retrievals for the day",
    )?;
    let vpl = mk(
        "probabilityLiquidPrecipitation",
        NcType::Short,
        "percent",
        "Probability of liquid precipitation",
    )?;
    f.enddef()?;
    let t0 = (date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32;
    f.put(vtime, &[t0])?;
    f.put(vtb, &[t0, t0 + 1])?;
    f.put(vlat, &(0..NLAT).map(|j| lat(j) as f64).collect::<Vec<_>>())?;
    f.put(vlon, &(0..NLON).map(lon).collect::<Vec<_>>())?;
    let p = grid_vals(day);
    f.put(vp, &p)?;
    f.put(vmw, &p)?;
    f.put(vre, &vec![0.0f32; NLON * NLAT])?;
    let cnt = vec![48i16; NLON * NLAT];
    for v in [vpc, vmwc, vrec] {
        f.put(v, &cnt)?;
    }
    let z = vec![0i16; NLON * NLAT];
    for v in [vpcc, vmwcc] {
        f.put(v, &z)?;
    }
    f.put(vpl, &vec![100i16; NLON * NLAT])?;
    f.close()
}

fn record(
    m: &mut Manifest,
    rel: &str,
    format: &str,
    group: &str,
    units: &str,
    step: u32,
    time: serde_json::Value,
) {
    m.add(
        rel,
        "imerg",
        SPEC,
        json!({
            "format": format,
            "variables": [{"name": format!("{group}precipitation"), "dims": ["time", "lon", "lat"], "dtype": "float32",
                           "nodata": FILL, "units": units,
                           "rule": format!("conformance_lake::imerg::stored({step}, lon_index, lat_index)")}],
            "grid": {"crs": "EPSG:4326", "lon_centres": [-179.95, 0.1, NLON], "lat_centres_ascending": [-89.95, 0.1, NLAT],
                     "raster_equivalent": {"shape": [NLAT, NLON], "transform": [0.1, 0.0, -180.0, 0.0, -0.1, 90.0],
                                           "row0_is_lat": 89.95}},
            "time": time,
        }),
    );
}

pub fn write(root: &Path, m: &mut Manifest) -> Result<(), String> {
    for day in DAILY_DAYS {
        let rel = daily_rel(day);
        let p = root.join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).map_err(|e| e.to_string())?;
        write_day(&p, day)?;
        record(
            m,
            &rel,
            "NetCDF-4",
            "/",
            "mm/day",
            day,
            json!({"date": format!("{YEAR}-{MONTH:02}-{day:02}"), "period": "P1D"}),
        );
    }
    for k in HALF_HOURS {
        let rel = hhr_rel(k);
        let p = root.join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).map_err(|e| e.to_string())?;
        write_hhr(&p, k)?;
        record(
            m,
            &rel,
            "HDF5",
            "/Grid/",
            "mm/hr",
            100 + k,
            json!({"start_minute_of_day": k * 30, "period": "PT30M",
            "date": format!("{YEAR}-{MONTH:02}-01")}),
        );
    }
    Ok(())
}
