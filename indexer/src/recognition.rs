//! Recognition specs (`product-defs/recognition/*.yaml`): for each raw product, the templates that
//! recognise its files and the rules that turn captured fields into time range, region code and maturity.
//! This is the one place that turns product definitions into recognition templates.
use crate::template::Template;
use crate::{Error, Result};
use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One recognition file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Product name (a file in `product-defs/products`).
    pub product: String,
    /// `odc:file_format` of the product's files.
    pub file_format: String,
    /// Filename templates.
    pub templates: Vec<String>,
    /// Time derivation.
    pub time: TimeRule,
    /// Region code built from fields, e.g. `h{h}v{v}`.
    #[serde(default)]
    pub region_code: Option<String>,
    /// A literal maturity, or `{field}` looked up in `maturity_map`.
    #[serde(default)]
    pub maturity: Option<String>,
    /// Field value → maturity (`final`, `interim`, `nrt`).
    #[serde(default)]
    pub maturity_map: BTreeMap<String, String>,
    /// Product measurement → where it lives in the file.
    pub measurements: BTreeMap<String, MeasurementSource>,
    /// The grid of every file, for files whose georeferencing GDAL cannot use (IMERG: no CRS, axes
    /// stored as (lon, lat)); the CRS then comes from the product's `load.crs`.
    #[serde(default)]
    pub grid: Option<StatedGrid>,
    /// Rules that route STAC items carrying no `odc:product` to this product by their collection and
    /// properties (`crate::routing`).
    #[serde(default)]
    pub stac: Vec<StacRule>,
}

/// One STAC routing rule: an item whose collection is one of `collection` and whose every listed
/// property has one of the listed values belongs to the spec's product. Values compare without regard
/// to case, `-`, `_` or spaces (`LANDSAT_8` = `landsat-8`); STAC 0.x names stand in for current ones
/// (`eo:platform` for `platform`, `eo:instrument` for `instruments`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StacRule {
    /// The item's `collection`: one id or a list.
    pub collection: OneOrMany,
    /// Property name → accepted value(s).
    #[serde(default)]
    pub properties: BTreeMap<String, OneOrMany>,
}

/// A YAML string or list of strings.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One value.
    One(String),
    /// Several values, any of which matches.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values.
    pub fn values(&self) -> &[String] {
        match self {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        }
    }
}

/// A grid stated by the recognition spec: GDAL's (rows, cols) of the file and the eo3 affine from
/// (col, row) to the CRS's (x, y), which may swap axes.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StatedGrid {
    /// `[rows, cols]` as GDAL reads the file; a file of another shape is refused.
    pub shape: [usize; 2],
    /// `[a, b, c, d, e, f]`: x = a·col + b·row + c, y = d·col + e·row + f.
    pub transform: [f64; 6],
}

/// How a dataset's time range follows from the captured fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRule {
    /// `{year}-{month}-{day}`, `{year}-{doy}`, `{year}-{month}` or `{year}`, built from fields,
    /// optionally followed by a time of day `T{h}:{m}[:{s}]` (UTC), e.g. IMERG's half hours.
    pub start: String,
    /// ISO-8601 duration of each dataset: `P1D`, `P8D`, `P16D`, `P1M`, `P1Y`, or with a time of day
    /// `PT30M`, `PT1H`, `PT1S`.
    pub period: String,
    /// The dataset's last second, when the file name states it (IMERG `-E002959`): built like
    /// `start`; the dataset then ends at that second's end, whatever `period` says.
    #[serde(default)]
    pub end: Option<String>,
    /// One dataset per time step of a multi-time file (`band` = 1-based step).
    #[serde(default)]
    pub per_band: bool,
}

/// Where a measurement lives: a band, a NetCDF/HDF layer, or a sibling file (Landsat).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MeasurementSource {
    /// 1-based band.
    #[serde(default)]
    pub band: Option<u32>,
    /// Subdataset / variable name.
    #[serde(default)]
    pub layer: Option<String>,
    /// File-name suffix in the same directory.
    #[serde(default)]
    pub suffix: Option<String>,
}

/// A recognised file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognised {
    /// Product name.
    pub product: String,
    /// Captured fields.
    pub fields: BTreeMap<String, String>,
    /// First day of the dataset (or of the file, for `per_band`).
    pub start: NaiveDate,
    /// Last day, inclusive.
    pub end: NaiveDate,
    /// Time of day of the start, when the rule gives one (else the day starts at midnight).
    pub start_time: Option<NaiveTime>,
    /// Last instant of the last day, when the rule gives times (else the day's end).
    pub end_time: Option<NaiveTime>,
    /// Region code, if the product has one.
    pub region_code: Option<String>,
    /// Maturity, if the product has one.
    pub maturity: Option<String>,
}

/// All recognition specs, compiled.
#[derive(Debug, Clone, Default)]
pub struct Recogniser {
    entries: Vec<(Spec, Vec<Template>)>,
}

impl Recogniser {
    /// Loads every `*.yaml` of a recognition directory.
    pub fn load_dir(dir: &Path) -> Result<Recogniser> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|source| Error::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        files.sort();
        let mut r = Recogniser::default();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|source| Error::Io {
                path: f.clone(),
                source,
            })?;
            r.add(&f.display().to_string(), &text)?;
        }
        Ok(r)
    }

    /// Adds one spec from YAML text; `object` names it in errors.
    pub fn add(&mut self, object: &str, yaml: &str) -> Result<()> {
        let bad = |message: String| Error::Recognition {
            object: object.to_string(),
            message,
        };
        let spec: Spec = serde_yaml_ng::from_str(yaml).map_err(|e| bad(e.to_string()))?;
        if spec.templates.is_empty() {
            return Err(bad("templates: at least one is needed".into()));
        }
        for (i, rule) in spec.stac.iter().enumerate() {
            let empty =
                |v: &OneOrMany| v.values().is_empty() || v.values().iter().any(String::is_empty);
            if empty(&rule.collection) {
                return Err(bad(format!(
                    "stac[{i}].collection: a non-empty id is needed"
                )));
            }
            if let Some((k, _)) = rule.properties.iter().find(|(_, v)| empty(v)) {
                return Err(bad(format!(
                    "stac[{i}].properties.{k}: at least one non-empty value is needed"
                )));
            }
        }
        let templates = spec
            .templates
            .iter()
            .map(|t| Template::compile(t).map_err(|m| bad(format!("template {t:?}: {m}"))))
            .collect::<Result<Vec<_>>>()?;
        parse_period(&spec.time.period).ok_or_else(|| {
            bad(format!(
                "time.period: {:?} is not P<n>D, P<n>M, P<n>Y or PT<n>H/M/S",
                spec.time.period
            ))
        })?;
        for t in &templates {
            let names = t.field_names();
            for needed in placeholders(&spec.time.start)
                .into_iter()
                .chain(
                    spec.time
                        .end
                        .as_deref()
                        .map(placeholders)
                        .unwrap_or_default(),
                )
                .chain(
                    spec.region_code
                        .as_deref()
                        .map(placeholders)
                        .unwrap_or_default(),
                )
                .chain(
                    spec.maturity
                        .as_deref()
                        .map(placeholders)
                        .unwrap_or_default(),
                )
            {
                if !names.contains(&needed.as_str()) {
                    return Err(bad(format!(
                        "template {:?} does not capture {{{needed}}}, which the rules use",
                        t.source()
                    )));
                }
            }
        }
        self.entries.push((spec, templates));
        Ok(())
    }

    /// Keeps only the specs `keep` accepts (e.g. `--product`).
    pub fn retain(&mut self, keep: impl Fn(&Spec) -> bool) {
        self.entries.retain(|(s, _)| keep(s));
    }

    /// The spec of a product.
    pub fn spec(&self, product: &str) -> Option<&Spec> {
        self.specs().find(|s| s.product == product)
    }

    /// The loaded specs.
    pub fn specs(&self) -> impl Iterator<Item = &Spec> {
        self.entries.iter().map(|(s, _)| s)
    }

    /// Recognises a key: the first spec whose template matches, with its time and region.
    /// `Ok(None)` means no template matched (skipped, not failed); `Err` means a template matched but its
    /// fields make no date (e.g. day 400).
    pub fn recognise(&self, key: &str) -> Result<Option<Recognised>> {
        for (spec, templates) in &self.entries {
            for t in templates {
                let Some(fields) = t.matches(key) else {
                    continue;
                };
                let bad = |message: String| Error::Recognition {
                    object: key.to_string(),
                    message: format!("{} ({}): {message}", spec.product, t.source()),
                };
                let start_text = fill(&spec.time.start, &fields);
                let (start, start_time) = parse_start(&start_text)
                    .ok_or_else(|| bad(format!("{start_text:?} is not a date")))?;
                let at = start.and_time(start_time.unwrap_or(NaiveTime::MIN));
                // The last instant (inclusive, to the microsecond).
                let last: NaiveDateTime = if spec.time.per_band {
                    start
                        .with_month(12)
                        .and_then(|d| d.with_day(31))
                        .unwrap_or(start)
                        .and_time(last_instant(NaiveTime::MIN, Duration::days(1)))
                } else if let Some(end) = &spec.time.end {
                    let end_text = fill(end, &fields);
                    let (d, t) = parse_start(&end_text)
                        .ok_or_else(|| bad(format!("{end_text:?} is not a date")))?;
                    let end = d.and_time(last_instant(
                        t.unwrap_or(NaiveTime::MIN),
                        match t {
                            Some(_) => Duration::seconds(1),
                            None => Duration::days(1),
                        },
                    ));
                    if end < at {
                        return Err(bad(format!(
                            "the end {end_text} is before the start {start_text}"
                        )));
                    }
                    end
                } else {
                    let p = parse_period(&spec.time.period).expect("validated at load");
                    add_period(at, p).ok_or_else(|| bad("period overflows the calendar".into()))?
                        - Duration::microseconds(1)
                };
                let timed = start_time.is_some() || spec.time.end.is_some();
                let maturity = spec.maturity.as_ref().map(|m| {
                    let v = fill(m, &fields);
                    spec.maturity_map.get(&v).cloned().unwrap_or(v)
                });
                return Ok(Some(Recognised {
                    product: spec.product.clone(),
                    region_code: spec.region_code.as_ref().map(|r| fill(r, &fields)),
                    maturity,
                    fields,
                    start,
                    end: last.date(),
                    start_time: timed.then_some(at.time()),
                    end_time: timed.then_some(last.time()),
                }));
            }
        }
        Ok(None)
    }
}

fn placeholders(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push(rest[open + 1..open + close].to_string());
        rest = &rest[open + close + 1..];
    }
    out
}

fn fill(pattern: &str, fields: &BTreeMap<String, String>) -> String {
    let mut s = pattern.to_string();
    for (k, v) in fields {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

/// `2023-01-05` (date), `2023-161` (day of year), `2023-07` (month) or `2023` (year), optionally
/// followed by `T13:30` or `T13:30:00` (time of day).
fn parse_start(s: &str) -> Option<(NaiveDate, Option<NaiveTime>)> {
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let num = |p: &str| p.parse::<u32>().ok();
    let date = match parts.as_slice() {
        [y, m, d] => NaiveDate::from_ymd_opt(num(y)? as i32, num(m)?, num(d)?),
        [y, doy] if doy.len() == 3 => NaiveDate::from_yo_opt(num(y)? as i32, num(doy)?),
        [y, m] => NaiveDate::from_ymd_opt(num(y)? as i32, num(m)?, 1),
        [y] => NaiveDate::from_ymd_opt(num(y)? as i32, 1, 1),
        _ => None,
    }?;
    let time = match time {
        None => None,
        Some(t) => {
            let hms: Vec<u32> = t.split(':').map(num).collect::<Option<_>>()?;
            match hms.as_slice() {
                [h, m] => Some(NaiveTime::from_hms_opt(*h, *m, 0)?),
                [h, m, s] => Some(NaiveTime::from_hms_opt(*h, *m, *s)?),
                _ => return None,
            }
        }
    };
    Some((date, time))
}

/// The last microsecond of the interval of length `unit` starting at `t` (a day: 23:59:59.999999).
fn last_instant(t: NaiveTime, unit: Duration) -> NaiveTime {
    t.overflowing_add_signed(unit - Duration::microseconds(1)).0
}

#[derive(Debug, Clone, Copy)]
enum Period {
    Days(i64),
    Months(u32),
    Seconds(i64),
}

fn parse_period(p: &str) -> Option<Period> {
    if let Some(body) = p.strip_prefix("PT") {
        let (n, unit) = body.split_at(body.len().checked_sub(1)?);
        let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
        return match unit {
            "H" => Some(Period::Seconds(3600 * n)),
            "M" => Some(Period::Seconds(60 * n)),
            "S" => Some(Period::Seconds(n)),
            _ => None,
        };
    }
    let body = p.strip_prefix('P')?;
    let (n, unit) = body.split_at(body.len().checked_sub(1)?);
    let n: u32 = n.parse().ok().filter(|n| *n > 0)?;
    match unit {
        "D" => Some(Period::Days(n as i64)),
        "W" => Some(Period::Days(7 * n as i64)),
        "M" => Some(Period::Months(n)),
        "Y" => Some(Period::Months(12 * n)),
        _ => None,
    }
}

fn add_period(d: NaiveDateTime, p: Period) -> Option<NaiveDateTime> {
    match p {
        Period::Days(n) => d.checked_add_signed(Duration::days(n)),
        Period::Months(n) => d.checked_add_months(Months::new(n)),
        Period::Seconds(n) => d.checked_add_signed(Duration::seconds(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODIS: &str = r#"
product: mod13q1_061
file_format: HDF4_EOS:EOS_GRID
templates: ["MOD13Q1.A{year:4}{doy:3}.h{h:2}v{v:2}.{collection:3}.{production:13}.hdf"]
time: {start: "{year}-{doy}", period: P16D}
region_code: "h{h}v{v}"
maturity: final
measurements:
  ndvi: {layer: 'MODIS_Grid_16DAY_250m_500m_VI:"250m 16 days NDVI"'}
"#;

    #[test]
    fn modis_time_and_region() {
        let mut r = Recogniser::default();
        r.add("mod13q1.yaml", MODIS).unwrap();
        let m = r
            .recognise("MOD13Q1.A2023353.h09v05.061.2024005123456.hdf")
            .unwrap()
            .unwrap();
        assert_eq!(m.product, "mod13q1_061");
        assert_eq!(m.start, NaiveDate::from_ymd_opt(2023, 12, 19).unwrap());
        // The last composite of the year crosses into January.
        assert_eq!(m.end, NaiveDate::from_ymd_opt(2024, 1, 3).unwrap());
        assert_eq!(m.region_code.as_deref(), Some("h09v05"));
        assert!(r.recognise("readme.txt").unwrap().is_none());
        let err = r
            .recognise("MOD13Q1.A2023400.h09v05.061.2024005123456.hdf")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("MOD13Q1.A2023400") && err.contains("not a date"),
            "{err}"
        );
    }

    #[test]
    fn maturity_maps_and_per_band_years() {
        let mut r = Recogniser::default();
        r.add("prism.yaml", "product: p\nfile_format: GeoTIFF\ntemplates: ['PRISM_ppt_{status}_4kmD2_{y:4}{m:2}{d:2}_bil.zip']\n\
            time: {start: '{y}-{m}-{d}', period: P1D}\nmaturity: '{status}'\nmaturity_map: {stable: final, provisional: interim}\n\
            measurements: {ppt: {band: 1}}\n").unwrap();
        let m = r
            .recognise("PRISM_ppt_provisional_4kmD2_20240229_bil.zip")
            .unwrap()
            .unwrap();
        assert_eq!(m.maturity.as_deref(), Some("interim"));
        assert_eq!(
            (m.start, m.end),
            (
                NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
                NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
            )
        );
        r.add("gridmet.yaml", "product: g\nfile_format: NetCDF\ntemplates: ['pr_{year:4}.nc']\n\
            time: {start: '{year}', period: P1D, per_band: true}\nmeasurements: {pr: {layer: precipitation_amount}}\n").unwrap();
        let m = r.recognise("pr_2020.nc").unwrap().unwrap();
        assert_eq!(m.end, NaiveDate::from_ymd_opt(2020, 12, 31).unwrap());
        assert_eq!((m.start_time, m.end_time), (None, None));
    }

    const HHR: &str = r#"
product: hhr
file_format: HDF5
templates: ["3B-HHR{run:/(-E|-L)?/}.MS.MRG.3IMERG.{year:4}{month:2}{day:2}-S{sh:2}{sm:2}{ss:2}-E{eh:2}{em:2}{es:2}.{minutes:4}.{version:/V07[A-Z]/}.HDF5"]
time: {start: "{year}-{month}-{day}T{sh}:{sm}:{ss}", end: "{year}-{month}-{day}T{eh}:{em}:{es}", period: PT30M}
maturity: "{run}"
maturity_map: {"": final, "-L": interim, "-E": nrt}
measurements: {precipitation: {layer: //Grid/precipitation}}
"#;

    #[test]
    fn half_hours_take_their_span_from_the_file_name() {
        let mut r = Recogniser::default();
        r.add("hhr.yaml", HHR).unwrap();
        let t = |h, m, s, us| NaiveTime::from_hms_micro_opt(h, m, s, us).unwrap();
        let m = r
            .recognise("3B-HHR.MS.MRG.3IMERG.20240115-S233000-E235959.1410.V07B.HDF5")
            .unwrap()
            .unwrap();
        let d = NaiveDate::from_ymd_opt(2024, 1, 15).unwrap();
        assert_eq!((m.start, m.end), (d, d));
        assert_eq!(m.start_time, Some(t(23, 30, 0, 0)));
        assert_eq!(m.end_time, Some(t(23, 59, 59, 999_999)));
        assert_eq!(m.maturity.as_deref(), Some("final"));
        let m = r
            .recognise("3B-HHR-E.MS.MRG.3IMERG.20240229-S120000-E122959.0720.V07B.HDF5")
            .unwrap()
            .unwrap();
        assert_eq!(m.start_time, Some(t(12, 0, 0, 0)));
        assert_eq!(m.end_time, Some(t(12, 29, 59, 999_999)));
        assert_eq!(m.maturity.as_deref(), Some("nrt"));
        // An end before the start, or an hour 24, is an error naming the file.
        for bad in [
            "3B-HHR.MS.MRG.3IMERG.20240115-S003000-E002959.0030.V07B.HDF5",
            "3B-HHR.MS.MRG.3IMERG.20240115-S240000-E242959.1440.V07B.HDF5",
        ] {
            let e = r.recognise(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        // Without `end`, the period gives the span; dates without times keep whole days.
        let mut r = Recogniser::default();
        r.add(
            "p.yaml",
            "product: p\nfile_format: GeoTIFF\ntemplates: ['x_{y:4}{m:2}{d:2}{h:2}{mi:2}.tif']\n\
            time: {start: '{y}-{m}-{d}T{h}:{mi}', period: PT1H}\nmeasurements: {v: {band: 1}}\n",
        )
        .unwrap();
        let m = r.recognise("x_202012312330.tif").unwrap().unwrap();
        assert_eq!(m.end, NaiveDate::from_ymd_opt(2021, 1, 1).unwrap());
        assert_eq!(m.end_time, Some(t(0, 29, 59, 999_999)));
        let e = Recogniser::default()
            .add("q.yaml", "product: p\nfile_format: GeoTIFF\ntemplates: ['x.tif']\ntime: {start: '2020', period: PT}\nmeasurements: {}\n")
            .unwrap_err();
        assert!(e.to_string().contains("PT<n>H/M/S"), "{e}");
    }

    #[test]
    fn bad_specs_name_the_file_and_rule() {
        let mut r = Recogniser::default();
        let e = r.add("x.yaml", "product: p\nfile_format: GeoTIFF\ntemplates: ['a_{y:4}.tif']\ntime: {start: '{y}-{m}', period: P1D}\nmeasurements: {}\n").unwrap_err();
        assert!(
            e.to_string().contains("x.yaml") && e.to_string().contains("does not capture {m}"),
            "{e}"
        );
        let e = r.add("y.yaml", "product: p\nfile_format: GeoTIFF\ntemplates: ['a.tif']\ntime: {start: '2020', period: 16D}\nmeasurements: {}\n").unwrap_err();
        assert!(e.to_string().contains("time.period"), "{e}");
        let e = r.add("s.yaml", "product: p\nfile_format: GeoTIFF\ntemplates: ['a.tif']\ntime: {start: '2020', period: P1D}\nmeasurements: {}\n\
            stac: [{collection: c, properties: {platform: []}}]\n").unwrap_err();
        assert!(e.to_string().contains("stac[0].properties.platform"), "{e}");
        let e = r.add("t.yaml", "product: p\nfile_format: GeoTIFF\ntemplates: ['a.tif']\ntime: {start: '2020', period: P1D}\nmeasurements: {}\n\
            stac: [{collection: c, platfrom: x}]\n").unwrap_err();
        assert!(e.to_string().contains("platfrom"), "{e}");
        let e = r.add("z.yaml", "product: p\ncolour: red\n").unwrap_err();
        assert!(e.to_string().starts_with("z.yaml: "), "{e}");
    }
}
