//! MOD13Q1 collection 6.1 tiles (HDF-EOS2 grid `MODIS_Grid_16DAY_250m_500m_VI`) with LP DAAC's `.hdf.xml`
//! ECS granule metadata sidecar, as LP DAAC distributes them
//! (`https://data.lpdaac.earthdatacloud.nasa.gov/lp-prod-protected/MOD13Q1.061/{granule}/{granule}.hdf`).
//!
//! Sources:
//! - MOD13 C6.1 User's Guide (Didan & Munoz, LP DAAC) Table "MOD13Q1 SDS": names, order, units, types, fill
//!   values, valid ranges and scale (https://lpdaac.usgs.gov/products/mod13q1v061/);
//! - a real v061 granule's structure (OPeNDAP DMR of `MOD13Q1.A2023241.h08v05.061.2023258002222.hdf`,
//!   provider-specs.md §3): `HDFEOSVersion`, `identifier_product_doi*`, 4800 × 4800 grid, `GCTP_SNSOID`,
//!   `SphereCode -1`, `ProjParams 6371007.181`, `DimList ("YDim","XDim")`, SDS types of the first seven SDS;
//! - a real `.hdf.xml` (stactools-packages/modis `tests/data-files/MOD13Q1.A2022017.h12v11.061.2022034232400.hdf.xml`):
//!   element set and order of `GranuleMetaDataFile`;
//! - the MODIS sinusoidal tile grid (data-families.md §2.6).
//!
//! [unverified] in-file SDS attributes: MODIS land HDF files use the *divide* convention (`scale_factor =
//! 10000` meaning physical = stored / 10000; the User's Guide's "scale 0.0001"), inferred from the
//! `orig_scale_factor=10000` OPeNDAP reports for a MYD13Q1.061 file (OSGeo/gdal#7167); `_FillValue` on
//! `pixel reliability` (−1) follows the User's Guide rank key "−1 Fill/No Data" and the MOD13Q1.005 fill
//! table; types of SDS 8–12 (int16 × 4, int8) follow the User's Guide. The angles' scales follow from
//! their valid ranges: zeniths ±9000 × 0.01 = ±90°, relative azimuth ±3600 × 0.1 = ±360° (with 0.01 its
//! fill −4000 would be −40°, inside the valid angles) [unverified beyond that consistency]. Tiles are written full size (real
//! 4800 × 4800 grid) with DEFLATE in 4800 × 240 tiles [unverified: the real files' chunking].
use crate::hdfeos::{Attr, GridFile, HdfValue, GCTP_SNSOID};
use crate::manifest::Manifest;
use serde_json::json;
use std::path::Path;

pub const GRID: &str = "MODIS_Grid_16DAY_250m_500m_VI";
pub const N: usize = 4800;
pub const R_SPHERE: f64 = 6371007.181;
pub const TILE: f64 = 1111950.5196666666;
pub const PIXEL: f64 = TILE / N as f64;
pub const H: u32 = 9;
pub const V: u32 = 5;
/// The composites written: (year, day of year of the composite start, production timestamp).
pub const GRANULES: [(i32, u32, &str); 2] =
    [(2021, 145, "2021162013812"), (2021, 161, "2021178001247")];

/// Upper-left corner (metres) of tile h/v.
pub fn tile_ul(h: u32, v: u32) -> (f64, f64) {
    (
        -20015109.354 + h as f64 * TILE,
        10007554.677 - v as f64 * TILE,
    )
}

pub fn transform() -> [f64; 6] {
    let (x, y) = tile_ul(H, V);
    [x, PIXEL, 0.0, y, 0.0, -PIXEL]
}

pub const CRS: &str = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs";

/// One SDS as LP DAAC stores it.
pub struct Sds {
    pub name: &'static str,
    pub dtype: &'static str,
    pub units: &'static str,
    pub fill: i32,
    pub valid: (i32, i32),
    /// In-file `scale_factor` (divide convention); `None` = no scale attributes.
    pub scale_factor: Option<f64>,
}

pub const SDS: [Sds; 12] = [
    Sds {
        name: "250m 16 days NDVI",
        dtype: "int16",
        units: "NDVI",
        fill: -3000,
        valid: (-2000, 10000),
        scale_factor: Some(10000.0),
    },
    Sds {
        name: "250m 16 days EVI",
        dtype: "int16",
        units: "EVI",
        fill: -3000,
        valid: (-2000, 10000),
        scale_factor: Some(10000.0),
    },
    Sds {
        name: "250m 16 days VI Quality",
        dtype: "uint16",
        units: "bits",
        fill: 65535,
        valid: (0, 65534),
        scale_factor: None,
    },
    Sds {
        name: "250m 16 days red reflectance",
        dtype: "int16",
        units: "reflectance",
        fill: -1000,
        valid: (0, 10000),
        scale_factor: Some(10000.0),
    },
    Sds {
        name: "250m 16 days NIR reflectance",
        dtype: "int16",
        units: "reflectance",
        fill: -1000,
        valid: (0, 10000),
        scale_factor: Some(10000.0),
    },
    Sds {
        name: "250m 16 days blue reflectance",
        dtype: "int16",
        units: "reflectance",
        fill: -1000,
        valid: (0, 10000),
        scale_factor: Some(10000.0),
    },
    Sds {
        name: "250m 16 days MIR reflectance",
        dtype: "int16",
        units: "reflectance",
        fill: -1000,
        valid: (0, 10000),
        scale_factor: Some(10000.0),
    },
    Sds {
        name: "250m 16 days view zenith angle",
        dtype: "int16",
        units: "degrees",
        fill: -10000,
        valid: (-9000, 9000),
        scale_factor: Some(100.0),
    },
    Sds {
        name: "250m 16 days sun zenith angle",
        dtype: "int16",
        units: "degrees",
        fill: -10000,
        valid: (-9000, 9000),
        scale_factor: Some(100.0),
    },
    Sds {
        name: "250m 16 days relative azimuth angle",
        dtype: "int16",
        units: "degrees",
        fill: -4000,
        valid: (-3600, 3600),
        scale_factor: Some(10.0),
    },
    Sds {
        name: "250m 16 days composite day of the year",
        dtype: "int16",
        units: "Julian day of year",
        fill: -1,
        valid: (1, 366),
        scale_factor: None,
    },
    Sds {
        name: "250m 16 days pixel reliability",
        dtype: "int8",
        units: "rank",
        fill: -1,
        valid: (0, 3),
        scale_factor: None,
    },
];

/// The fill block: rows and columns below this (the tile's north-west corner) are fill in every SDS.
pub const FILL_BLOCK: usize = 240;

/// Stored value of SDS index `s` (into [`SDS`]) in granule `g` (into [`GRANULES`]) at tile pixel (`r`, `c`).
/// Values change in 16 × 16 pixel blocks (smooth data, as vegetation indices are, which keeps the
/// DEFLATE-compressed full tile small).
pub fn stored(s: usize, g: usize, r: usize, c: usize) -> i32 {
    let sds = &SDS[s];
    if r < FILL_BLOCK && c < FILL_BLOCK {
        return sds.fill;
    }
    let (br, bc) = ((r / 16) as i32, (c / 16) as i32);
    let g = g as i32;
    match s {
        // NDVI 0.15…0.85
        0 => 1500 + (br * 7 + bc * 11 + g * 900) % 7000,
        1 => 1000 + (br * 5 + bc * 3 + g * 700) % 5000,
        2 => 2116,
        3..=6 => 200 + (br + bc * 2 + s as i32 * 100 + g * 50) % 3000,
        7 | 8 => (br * 3 + bc + g) % 6000,
        9 => (br + bc * 3 + g) % 3000 - 1500,
        10 => GRANULES[g as usize].1 as i32 + (br + bc) % 16,
        11 => (br + bc + g) % 4,
        _ => unreachable!(),
    }
}

pub fn granule_name(g: usize) -> String {
    let (y, d, prod) = GRANULES[g];
    format!("MOD13Q1.A{y}{d:03}.h{H:02}v{V:02}.061.{prod}.hdf")
}

pub fn rel_path(g: usize) -> String {
    let name = granule_name(g);
    format!("modis/MOD13Q1.061/{}/{name}", name.trim_end_matches(".hdf"))
}

fn field<T: HdfValue>(
    f: &mut GridFile,
    s: usize,
    g: usize,
    cast: impl Fn(i32) -> T,
) -> Result<(), String> {
    let mut data = Vec::with_capacity(N * N);
    for r in 0..N {
        for c in 0..N {
            data.push(cast(stored(s, g, r, c)));
        }
    }
    f.field(SDS[s].name, cast(SDS[s].fill), 6, [240, N], &data)
}

const SPEC: &[&str] = &[
    "https://lpdaac.usgs.gov/products/mod13q1v061/ (MOD13 C6.1 User's Guide, SDS table)",
    "LP DAAC .hdf.xml ECS granule metadata (ScienceGranuleMetadata.dtd), e.g. stactools-packages/modis tests/data-files/MOD13Q1.A2022017.h12v11.061.2022034232400.hdf.xml",
    "HDF-EOS2 grid API (GDcreate/GDdefproj GCTP_SNSOID, sphere R=6371007.181)",
];

pub fn write(root: &Path, m: &mut Manifest) -> Result<(), String> {
    for (g, &(y0, d0, _)) in GRANULES.iter().enumerate() {
        let rel = rel_path(g);
        let path = root.join(&rel);
        std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
        let (x, y) = tile_ul(H, V);
        let mut parm = [0.0; 13];
        parm[0] = R_SPHERE;
        let mut f = GridFile::create(
            &path,
            GRID,
            (N, N),
            [x, y],
            [x + TILE, y - TILE],
            (GCTP_SNSOID, -1, parm),
        )?;
        for (s, sds) in SDS.iter().enumerate() {
            match sds.dtype {
                "int16" => field(&mut f, s, g, |v| v as i16)?,
                "uint16" => field(&mut f, s, g, |v| v as u16)?,
                "int8" => field(&mut f, s, g, |v| v as i8)?,
                t => unreachable!("{t}"),
            }
            let n = Some(sds.name);
            f.attr(n, "long_name", Attr::Text(sds.name.to_string()));
            f.attr(n, "units", Attr::Text(sds.units.to_string()));
            f.attr(
                n,
                "valid_range",
                match sds.dtype {
                    "int16" => Attr::I16(vec![sds.valid.0 as i16, sds.valid.1 as i16]),
                    "uint16" => Attr::U16(vec![sds.valid.0 as u16, sds.valid.1 as u16]),
                    _ => Attr::I8(vec![sds.valid.0 as i8, sds.valid.1 as i8]),
                },
            );
            if let Some(sf) = sds.scale_factor {
                f.attr(n, "scale_factor", Attr::F64(vec![sf]));
                f.attr(n, "scale_factor_err", Attr::F64(vec![0.0]));
                f.attr(n, "add_offset", Attr::F64(vec![0.0]));
                f.attr(n, "add_offset_err", Attr::F64(vec![0.0]));
                // DFNT_FLOAT32: the type the calibrated values are meant to be held in.
                f.attr(n, "calibrated_nt", Attr::I32(vec![5]));
            }
            if s == 11 {
                f.attr(
                    n,
                    "Legend",
                    Attr::Text("Rank Keys:\n\t[-1]: Fill/No Data-Not Processed.\n\t[0]: Good data - Use with confidence\n\t[1]: Marginal data - Useful, but look at other QA information\n\t[2]: Snow/Ice - Target covered with snow/ice\n\t[3]: Cloudy - Target not visible, covered with cloud\n".into()),
                );
            }
        }
        f.attr(
            None,
            "identifier_product_doi",
            Attr::Text("10.5067/MODIS/MOD13Q1.061".into()),
        );
        f.attr(
            None,
            "identifier_product_doi_authority",
            Attr::Text("http://dx.doi.org".into()),
        );
        f.attr(None, "CoreMetadata.0", Attr::Text(core_metadata(g)));
        f.finish()?;
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        std::fs::write(root.join(format!("{rel}.xml")), hdf_xml(g, size))
            .map_err(|e| e.to_string())?;
        let start = chrono::NaiveDate::from_yo_opt(y0, d0).unwrap();
        let end = start + chrono::Duration::days(15);
        m.add(
            &rel,
            "modis",
            SPEC,
            json!({
                "format": "HDF4-EOS grid",
                "grid_name": GRID,
                "sidecar": format!("{rel}.xml"),
                "variables": SDS.iter().map(|s| json!({
                    "name": s.name, "dtype": s.dtype, "nodata": s.fill, "valid_range": [s.valid.0, s.valid.1],
                    "units": s.units, "scale_factor_in_file": s.scale_factor,
                    "physical": s.scale_factor.map(|f| format!("stored / {f}")),
                })).collect::<Vec<_>>(),
                "rule": "conformance_lake::modis::stored(sds_index, granule_index, row, col); rows/cols < FILL_BLOCK are fill",
                "grid": {"crs": CRS, "shape": [N, N], "transform": transform(), "tile": format!("h{H:02}v{V:02}")},
                "time": {"start": start.to_string(), "end": end.to_string()},
            }),
        );
        m.add(
            &format!("{rel}.xml"),
            "modis",
            SPEC,
            json!({"format": "ECS granule metadata XML", "describes": rel}),
        );
    }
    Ok(())
}

fn core_metadata(g: usize) -> String {
    let (y, d, prod) = GRANULES[g];
    let start = chrono::NaiveDate::from_yo_opt(y, d).unwrap();
    let end = start + chrono::Duration::days(15);
    // ODL text as the SDP Toolkit writes it, reduced to the inventory fields a reader uses [unverified
    // beyond those fields].
    format!(
        "\nGROUP                  = INVENTORYMETADATA\n  GROUPTYPE            = MASTERGROUP\n\n  GROUP                  = ECSDATAGRANULE\n\n    OBJECT                 = LOCALGRANULEID\n      NUM_VAL              = 1\n      VALUE                = \"{name}\"\n    END_OBJECT             = LOCALGRANULEID\n\n    OBJECT                 = PRODUCTIONDATETIME\n      NUM_VAL              = 1\n      VALUE                = \"{prod}\"\n    END_OBJECT             = PRODUCTIONDATETIME\n\n  END_GROUP              = ECSDATAGRANULE\n\n  GROUP                  = RANGEDATETIME\n\n    OBJECT                 = RANGEENDINGDATE\n      NUM_VAL              = 1\n      VALUE                = \"{end}\"\n    END_OBJECT             = RANGEENDINGDATE\n\n    OBJECT                 = RANGEENDINGTIME\n      NUM_VAL              = 1\n      VALUE                = \"23:59:59.000000\"\n    END_OBJECT             = RANGEENDINGTIME\n\n    OBJECT                 = RANGEBEGINNINGDATE\n      NUM_VAL              = 1\n      VALUE                = \"{start}\"\n    END_OBJECT             = RANGEBEGINNINGDATE\n\n    OBJECT                 = RANGEBEGINNINGTIME\n      NUM_VAL              = 1\n      VALUE                = \"00:00:00.000000\"\n    END_OBJECT             = RANGEBEGINNINGTIME\n\n  END_GROUP              = RANGEDATETIME\n\n  GROUP                  = COLLECTIONDESCRIPTIONCLASS\n\n    OBJECT                 = SHORTNAME\n      NUM_VAL              = 1\n      VALUE                = \"MOD13Q1\"\n    END_OBJECT             = SHORTNAME\n\n    OBJECT                 = VERSIONID\n      NUM_VAL              = 1\n      VALUE                = 61\n    END_OBJECT             = VERSIONID\n\n  END_GROUP              = COLLECTIONDESCRIPTIONCLASS\n\nEND_GROUP              = INVENTORYMETADATA\n\nEND\n",
        name = granule_name(g),
        prod = prod,
    )
}

/// Lon/lat of a sinusoidal point (sphere).
fn lonlat(x: f64, y: f64) -> (f64, f64) {
    let lat = y / R_SPHERE;
    (x / (R_SPHERE * lat.cos()), lat).into_degrees()
}

trait Deg {
    fn into_degrees(self) -> (f64, f64);
}
impl Deg for (f64, f64) {
    fn into_degrees(self) -> (f64, f64) {
        (self.0.to_degrees(), self.1.to_degrees())
    }
}

fn hdf_xml(g: usize, size: u64) -> String {
    let (y, d, prod) = GRANULES[g];
    let start = chrono::NaiveDate::from_yo_opt(y, d).unwrap();
    let end = start + chrono::Duration::days(15);
    let name = granule_name(g);
    let (x0, y0) = tile_ul(H, V);
    // Boundary points: the tile's corners on the sphere, counter-clockwise from the south-west, not
    // closed, as in the real sidecar.
    let pts = [
        (x0, y0 - TILE),
        (x0 + TILE, y0 - TILE),
        (x0 + TILE, y0),
        (x0, y0),
    ]
    .map(|(x, y)| lonlat(x, y));
    let points: String = pts
        .iter()
        .map(|(lon, lat)| {
            format!("<Point><PointLongitude>{lon}</PointLongitude><PointLatitude>{lat}</PointLatitude></Point>")
        })
        .collect();
    let params: String = SDS
        .iter()
        .map(|s| format!("<MeasuredParameterContainer><ParameterName>{}</ParameterName><QAStats><QAPercentMissingData>0</QAPercentMissingData><QAPercentOutofBoundsData>0</QAPercentOutofBoundsData><QAPercentInterpolatedData>100</QAPercentInterpolatedData><QAPercentCloudCover>1</QAPercentCloudCover></QAStats><QAFlags><AutomaticQualityFlag>Passed</AutomaticQualityFlag><AutomaticQualityFlagExplanation>No automatic quality assessment is performed in the PGE</AutomaticQualityFlagExplanation><ScienceQualityFlag>Not Investigated</ScienceQualityFlag><ScienceQualityFlagExplanation>See http://landweb.nascom.nasa.gov/cgi-bin/QA_WWW/qaFlagPage.cgi?sat=terra for the product Science Quality status.</ScienceQualityFlagExplanation></QAFlags></MeasuredParameterContainer>", s.name))
        .collect();
    let prod_dt =
        chrono::NaiveDate::from_yo_opt(prod[0..4].parse().unwrap(), prod[4..7].parse().unwrap())
            .unwrap();
    let prod_time = format!(
        "{prod_dt} {}:{}:{}.000",
        &prod[7..9],
        &prod[9..11],
        &prod[11..13]
    );
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE GranuleMetaDataFile SYSTEM "http://ecsinfo.gsfc.nasa.gov/ECSInfo/ecsmetadata/dtds/DPL/ECS/ScienceGranuleMetadata.dtd">
<GranuleMetaDataFile>
  <DTDVersion>1.0</DTDVersion>
  <DataCenterId>EDC</DataCenterId>
  <GranuleURMetaData>
    <GranuleUR>SC:MOD13Q1.061:{dbid}</GranuleUR>
    <DbID>{dbid}</DbID>
    <InsertTime>{prod_time}</InsertTime>
    <LastUpdate>{prod_time}</LastUpdate>
    <CollectionMetaData>
      <ShortName>MOD13Q1</ShortName>
      <VersionID>61</VersionID>
    </CollectionMetaData>
    <DataFiles>
      <DataFileContainer>
        <DistributedFileName>{name}</DistributedFileName>
        <FileSize>{size}</FileSize>
        <ChecksumType>CKSUM</ChecksumType>
        <Checksum>0</Checksum>
        <ChecksumOrigin>DPLIngst</ChecksumOrigin>
      </DataFileContainer>
    </DataFiles>
    <ECSDataGranule>
      <SizeMBECSDataGranule>{mb:.3}</SizeMBECSDataGranule>
      <ReprocessingPlanned>further update is anticipated</ReprocessingPlanned>
      <ReprocessingActual>reprocessed</ReprocessingActual>
      <LocalGranuleID>{name}</LocalGranuleID>
      <DayNightFlag>Day</DayNightFlag>
      <ProductionDateTime>{prod_time}</ProductionDateTime>
      <LocalVersionID>6.0.33</LocalVersionID>
    </ECSDataGranule>
    <PGEVersionClass>
      <PGEVersion>6.1.0</PGEVersion>
    </PGEVersionClass>
    <RangeDateTime>
      <RangeEndingTime>23:59:59.000000</RangeEndingTime>
      <RangeEndingDate>{end}</RangeEndingDate>
      <RangeBeginningTime>00:00:00.000000</RangeBeginningTime>
      <RangeBeginningDate>{start}</RangeBeginningDate>
    </RangeDateTime>
    <SpatialDomainContainer><HorizontalSpatialDomainContainer><GPolygon><Boundary>{points}</Boundary></GPolygon></HorizontalSpatialDomainContainer></SpatialDomainContainer>
    <MeasuredParameter>{params}</MeasuredParameter>
    <Platform>
      <PlatformShortName>Terra</PlatformShortName>
      <Instrument>
        <InstrumentShortName>MODIS</InstrumentShortName>
        <Sensor>
          <SensorShortName>MODIS</SensorShortName>
        </Sensor>
      </Instrument>
    </Platform>
    <PSAs>
      <PSA><PSAName>HORIZONTALTILENUMBER</PSAName><PSAValue>{h}</PSAValue></PSA>
      <PSA><PSAName>VERTICALTILENUMBER</PSAName><PSAValue>{v}</PSAValue></PSA>
      <PSA><PSAName>TileID</PSAName><PSAValue>51{h:03}{v:03}</PSAValue></PSA>
      <PSA><PSAName>identifier_product_doi</PSAName><PSAValue>10.5067/MODIS/MOD13Q1.061</PSAValue></PSA>
      <PSA><PSAName>identifier_product_doi_authority</PSAName><PSAValue>http://dx.doi.org</PSAValue></PSA>
    </PSAs>
  </GranuleURMetaData>
</GranuleMetaDataFile>
"#,
        dbid = 2535722960u64 + g as u64,
        mb = size as f64 / 1048576.0,
        h = H,
        v = V,
    )
}
