//! Recognition specs (`product-defs/recognition/*.yaml`): for each raw product, the templates that
//! recognise its files and the rules that turn captured fields into time range, region code and maturity.
//! This is the one place that turns product definitions into recognition templates: the spec as written
//! is in `spec`, its time-span rules in `span`; this module loads and checks specs and recognises keys.
mod span;
mod spec;

pub use spec::{MeasurementSource, OneOrMany, Spec, StacRule, StatedGrid, TimeRule};

use crate::template::Template;
use crate::{Error, Result};
use chrono::{NaiveDate, NaiveTime};
use span::{parse_period, parse_start, Span};
use std::collections::BTreeMap;
use std::path::Path;

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
    /// The recognition file that claimed the object (as loaded, e.g. `…/recognition/soil_whc.yaml`).
    pub spec_file: String,
    /// The template that matched.
    pub template: String,
}

/// All recognition specs, compiled.
#[derive(Debug, Clone, Default)]
pub struct Recogniser {
    /// (spec, its templates, the file it came from).
    entries: Vec<(Spec, Vec<Template>, String)>,
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
        check_user_rules(&spec, &templates).map_err(bad)?;
        self.entries.push((spec, templates, object.to_string()));
        Ok(())
    }

    /// Keeps only the specs `keep` accepts (e.g. `--product`).
    pub fn retain(&mut self, keep: impl Fn(&Spec) -> bool) {
        self.entries.retain(|(s, _, _)| keep(s));
    }

    /// The spec of a product.
    pub fn spec(&self, product: &str) -> Option<&Spec> {
        self.specs().find(|s| s.product == product)
    }

    /// The spec that recognised a file. A product can have several specs (its provider's naming and a
    /// user's own file names), so the claiming file decides, not the product name.
    pub fn claiming(&self, r: &Recognised) -> Option<&Spec> {
        self.entries
            .iter()
            .find(|(s, _, f)| *f == r.spec_file && s.product == r.product)
            .map(|(s, _, _)| s)
    }

    /// The loaded specs.
    pub fn specs(&self) -> impl Iterator<Item = &Spec> {
        self.entries.iter().map(|(s, _, _)| s)
    }

    /// Every template with its spec and the file the spec came from, in the order they are tried.
    pub fn templates(&self) -> impl Iterator<Item = (&Spec, &Template, &str)> {
        self.entries
            .iter()
            .flat_map(|(s, ts, f)| ts.iter().map(move |t| (s, t, f.as_str())))
    }

    /// Recognises a key: the first spec whose template matches, with its time and region.
    /// `Ok(None)` means no template matched (skipped, not failed); `Err` means a template matched but its
    /// fields make no date (e.g. day 400).
    pub fn recognise(&self, key: &str) -> Result<Option<Recognised>> {
        for (spec, templates, spec_file) in &self.entries {
            for t in templates {
                let Some(fields) = t.matches(key) else {
                    continue;
                };
                let bad = |message: String| Error::Recognition {
                    object: key.to_string(),
                    message: format!("{} ({}): {message}", spec.product, t.source()),
                };
                let span = Span::of(&spec.time, &fields).map_err(bad)?;
                let maturity = spec.maturity.as_ref().map(|m| {
                    let v = fill(m, &fields);
                    spec.maturity_map.get(&v).cloned().unwrap_or(v)
                });
                return Ok(Some(Recognised {
                    product: spec.product.clone(),
                    region_code: spec.region_code.as_ref().map(|r| fill(r, &fields)),
                    maturity,
                    fields,
                    start: span.start,
                    end: span.end,
                    start_time: span.start_time,
                    end_time: span.end_time,
                    spec_file: spec_file.clone(),
                    template: t.source().to_string(),
                }));
            }
        }
        Ok(None)
    }
}

/// The rules of specs written for a user's own files: a literal `time.start`/`time.end` must be a date
/// (with its time of day, if any) and make a span, a sibling is named one way (`suffix` or `file`, a
/// plain name in the same directory, from fields every template captures), and only siblings and
/// layers (a variable the file may not hold) can be `optional` (the claimed file itself is always
/// there).
fn check_user_rules(spec: &Spec, templates: &[Template]) -> std::result::Result<(), String> {
    // Literal times (a user's file of a fixed year) are checked now rather than at each file.
    let literal = |rule: &str| placeholders(rule).is_empty();
    for (key, rule) in [
        ("start", Some(&spec.time.start)),
        ("end", spec.time.end.as_ref()),
    ] {
        if let Some(rule) = rule.filter(|r| literal(r)) {
            if parse_start(rule).is_none() {
                return Err(format!(
                    "time.{key}: {rule:?} is not a date (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-DDD, \
                     optionally followed by THH:MM or THH:MM:SS)"
                ));
            }
        }
    }
    if literal(&spec.time.start) && spec.time.end.as_deref().is_none_or(literal) {
        Span::of(&spec.time, &BTreeMap::new()).map_err(|m| format!("time: {m}"))?;
    }
    for (name, source) in &spec.measurements {
        if source.suffix.is_some() && source.file.is_some() {
            return Err(format!(
                "measurements.{name}: give either suffix or file, not both"
            ));
        }
        if source.optional && !source.is_sibling() && source.layer.is_none() {
            return Err(format!(
                "measurements.{name}: only a sibling (suffix or file) or a layer can be optional; \
                 the matched file itself is always there"
            ));
        }
        let Some(file) = &source.file else { continue };
        if file.is_empty() || file.contains('/') {
            return Err(format!(
                "measurements.{name}: file {file:?} must be a file name in the same directory"
            ));
        }
        for t in templates {
            if let Some(f) = placeholders(file)
                .into_iter()
                .find(|f| !t.field_names().contains(&f.as_str()))
            {
                return Err(format!(
                    "measurements.{name}: file {file:?} uses {{{f}}}, which template {:?} does not capture",
                    t.source()
                ));
            }
        }
    }
    Ok(())
}

/// Fills `{field}` placeholders of a rule (a sibling's `file`) from the captured fields.
pub(crate) fn fill_fields(pattern: &str, fields: &BTreeMap<String, String>) -> String {
    fill(pattern, fields)
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

    #[test]
    fn literal_templates_with_a_fixed_time() {
        let mut r = Recogniser::default();
        r.add(
            "recognition/soil_user.yaml",
            "product: soil_user\nfile_format: GeoTIFF\ntemplates: ['whc_conus_250m_v2.tif']\n\
             time: {start: '2020-01-01', period: P1Y}\nmeasurements:\n  whc: {band: 1}\n  \
             field_capacity: {file: fc_conus_250m_v2.tif, optional: true}\n",
        )
        .unwrap();
        let m = r
            .recognise("/lake/statics/whc_conus_250m_v2.tif")
            .unwrap()
            .unwrap();
        assert_eq!(
            (m.start, m.end),
            (
                NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
                NaiveDate::from_ymd_opt(2020, 12, 31).unwrap()
            )
        );
        assert_eq!(
            (m.spec_file.as_str(), m.template.as_str()),
            ("recognition/soil_user.yaml", "whc_conus_250m_v2.tif")
        );
        let fc = &r.spec("soil_user").unwrap().measurements["field_capacity"];
        assert!(fc.optional && fc.is_sibling());
        // The sibling itself is not claimed.
        assert!(r
            .recognise("/lake/statics/fc_conus_250m_v2.tif")
            .unwrap()
            .is_none());
        // A second spec of the same product (the etlake naming convention): each file is extracted
        // with the spec that claimed it.
        r.add(
            "recognition/soil_convention.yaml",
            "product: soil_user\nfile_format: GeoTIFF\n\
            templates: ['soil_{region}_{year:4}_whc.tif']\ntime: {start: '{year}', period: P1Y}\n\
            measurements: {whc: {suffix: whc.tif}}\n",
        )
        .unwrap();
        let conv = r.recognise("/l/soil_conus_2019_whc.tif").unwrap().unwrap();
        assert_eq!(
            r.claiming(&conv).unwrap().templates[0],
            "soil_{region}_{year:4}_whc.tif"
        );
        assert_eq!(
            r.claiming(&m).unwrap().templates[0],
            "whc_conus_250m_v2.tif"
        );
        // A bare year, as in soil_whc.yaml, and a year-month work as literal starts too.
        for start in ["2020", "2020-07", "2020-183"] {
            let mut r = Recogniser::default();
            r.add("a.yaml", &format!("product: a\nfile_format: GeoTIFF\ntemplates: [a.tif]\ntime: {{start: '{start}', period: P1Y}}\nmeasurements: {{a: {{band: 1}}}}\n")).unwrap();
            assert!(r.recognise("a.tif").unwrap().is_some(), "{start}");
        }
    }

    #[test]
    fn user_spec_mistakes_are_refused_at_load() {
        let spec = |start: &str, ms: &str| {
            format!("product: p\nfile_format: GeoTIFF\ntemplates: ['x_{{r}}.tif']\ntime: {{start: '{start}', period: P1Y}}\nmeasurements: {ms}\n")
        };
        let e = |start: &str, ms: &str| {
            Recogniser::default()
                .add("u.yaml", &spec(start, ms))
                .unwrap_err()
                .to_string()
        };
        let m = e("2020-13-01", "{a: {band: 1}}");
        assert!(
            m.contains("u.yaml") && m.contains("\"2020-13-01\" is not a date"),
            "{m}"
        );
        let m = e("2020", "{a: {band: 1, optional: true}}");
        assert!(m.contains("only a sibling"), "{m}");
        let m = e("2020", "{a: {file: a.tif, suffix: a.tif}}");
        assert!(m.contains("either suffix or file"), "{m}");
        let m = e("2020", "{a: {file: ../a.tif}}");
        assert!(m.contains("same directory"), "{m}");
        let m = e("2020", "{a: {file: 'a_{v}.tif'}}");
        assert!(m.contains("{v}") && m.contains("does not capture"), "{m}");
        let m = e("2020", "{a: {file: a.tif, required: false}}");
        assert!(m.contains("unknown field"), "{m}");
        // Fields the template captures can name the sibling.
        Recogniser::default()
            .add(
                "ok.yaml",
                &spec(
                    "2020",
                    "{a: {band: 1}, b: {file: 'fc_{r}.tif', optional: true}}",
                ),
            )
            .unwrap();
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
