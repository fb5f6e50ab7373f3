//! Why no recognition spec claimed a file, in words a data manager can act on: the templates that
//! came closest (same extension, most of their literal text present) with what each lacks, and where
//! the recipe for adding a spec of one's own is. Computed only for the objects a report shows.
use crate::recognition::Recogniser;
use crate::template::Template;
use serde_json::{json, Value};

/// The skip reason of an object no template matches (the key its count is summarised under).
pub const NO_TEMPLATE: &str = "no template matches";

/// The skip reason of a file that is a measurement of another file's dataset (a `suffix` or `file`
/// sibling): not unclaimed, read with the file its spec claims.
pub const SIBLING: &str = "sibling of a claimed file (read as one of its measurements)";

/// Where the recipe for a spec of one's own is.
pub const RECIPE: &str =
    "to index such files, add a recognition spec: product-defs/README.md, \"Adding a file of your own\"";

/// A template that came close to matching.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The recognition file.
    pub spec_file: String,
    /// The template.
    pub template: String,
    /// Its product.
    pub product: String,
    /// The template's literal text runs that the object's key does not contain.
    pub lacks: Vec<String>,
    /// For a literal template: the start the file name shares with it, when it shares one.
    pub differs_after: Option<String>,
    /// Letters of the template's literal words that the key shares, and for a literal template
    /// the length of the start they share (the ranking).
    score: usize,
}

/// Why an object was not claimed.
#[derive(Debug, Clone, PartialEq)]
pub struct Unclaimed {
    /// A spec that does claim it but was left out of the run (`--product`): (spec file, product).
    pub not_selected: Option<(String, String)>,
    /// Up to three templates for the same file extension, closest first.
    pub candidates: Vec<Candidate>,
    /// The key's file extension (`.tif`), if it has one.
    pub extension: Option<String>,
}

impl Unclaimed {
    /// One line: the closest candidates (or that none takes the extension) and the recipe.
    pub fn text(&self) -> String {
        if let Some((spec, product)) = &self.not_selected {
            return format!(
                "{NO_TEMPLATE} among the selected products; {spec} (product {product}) claims it, \
                 but --product leaves it out"
            );
        }
        let closest = if self.candidates.is_empty() {
            match &self.extension {
                Some(e) => format!("no template takes {e} files"),
                None => "no template takes files without an extension".to_string(),
            }
        } else {
            let c: Vec<String> = self
                .candidates
                .iter()
                .map(|c| {
                    let why = if let Some(same) = &c.differs_after {
                        format!("the name departs from it after {same:?}")
                    } else if c.lacks.is_empty() {
                        "its literal text is all there: a field's width or pattern does not fit"
                            .to_string()
                    } else {
                        let lacks: Vec<String> = c.lacks.iter().map(|l| format!("{l:?}")).collect();
                        format!("the name lacks {}", lacks.join(", "))
                    };
                    format!("{} template {:?} ({why})", c.spec_file, c.template)
                })
                .collect();
            format!("closest: {}", c.join("; "))
        };
        format!("{NO_TEMPLATE}: {closest}; {RECIPE}")
    }

    /// The candidates as report fields.
    pub fn json(&self) -> Value {
        Value::Array(
            self.candidates
                .iter()
                .map(|c| {
                    json!({"spec": c.spec_file, "template": c.template, "product": c.product, "lacks": c.lacks, "differs_after": c.differs_after})
                })
                .collect(),
        )
    }
}

/// Explains why neither template of `selected` (the run's specs) claims `key`; `all` holds every
/// spec, to tell a file that `--product` left out.
pub fn explain(selected: &Recogniser, all: &Recogniser, key: &str) -> Unclaimed {
    let name = key.rsplit('/').next().unwrap_or(key);
    let extension = name.rfind('.').map(|i| name[i..].to_ascii_lowercase());
    let key_words = words(key);
    let not_selected = match all.recognise(key) {
        Ok(Some(r)) if selected.spec(&r.product).is_none() => Some((r.spec_file, r.product)),
        _ => None,
    };
    let mut candidates: Vec<Candidate> = selected
        .templates()
        .filter(|(_, t, _)| {
            extension
                .as_ref()
                .is_some_and(|e| t.extensions().contains(e))
        })
        .map(|(spec, t, file)| {
            let literals = t.required_literals();
            let lacks: Vec<String> = literals
                .iter()
                .filter(|l| !key.contains(**l))
                .map(|l| l.to_string())
                .collect();
            // Ranked by the words they share (`whc` in `whc_conus.tif` and `soil_{r}_whc.tif`), not
            // by punctuation or the extension every candidate has.
            let mut shared: Vec<String> = literals
                .iter()
                .flat_map(|l| words(l))
                .filter(|w| key_words.contains(w) && Some(format!(".{w}")) != extension)
                .collect();
            shared.sort();
            shared.dedup();
            let mut score: usize = shared.iter().map(String::len).sum();
            // A literal name (`whc_conus_250m_v2.tif` against `whc_conus_250m_v3.tif`): where they part.
            let differs_after = t.is_literal().then(|| {
                let lit = t.source();
                let same = lit
                    .char_indices()
                    .zip(name.chars())
                    .take_while(|((_, a), b)| a == b)
                    .last()
                    .map_or(0, |((i, a), _)| i + a.len_utf8());
                score += same;
                lit[..same].to_string()
            });
            let differs_after = differs_after.filter(|s| !s.is_empty());
            Candidate {
                spec_file: file.to_string(),
                template: t.source().to_string(),
                product: spec.product.clone(),
                lacks,
                differs_after,
                score,
            }
        })
        .collect();
    candidates.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then(a.lacks.len().cmp(&b.lacks.len()))
    });
    // Templates that share nothing with the name are shown only when no other is closer.
    if candidates.iter().any(|c| c.score > 0) {
        candidates.retain(|c| c.score > 0);
    }
    candidates.truncate(3);
    Unclaimed {
        not_selected,
        candidates,
        extension,
    }
}

/// The names sibling measurements take, as templates: a `file` as written (fields allowed), a
/// `suffix` as the claiming template with its trailing literal replaced by `_` + suffix.
#[derive(Debug, Clone, Default)]
pub struct Siblings {
    /// (template, spec file, product, measurement, how to name the claimed file).
    entries: Vec<(Template, String, String, String, Owner)>,
}

/// How the claimed file's name follows from a sibling's.
#[derive(Debug, Clone)]
enum Owner {
    /// `suffix:` siblings: the sibling ends with `_<suffix>` where the claimed file has the template's
    /// last literal.
    Suffix { tail: String, literal: String },
    /// `file:` siblings: the claimed file is a template of the spec filled with the sibling's fields,
    /// when that leaves a plain file name.
    File { templates: Vec<String> },
}

impl Siblings {
    /// The sibling names of every spec.
    pub fn of_specs(specs: &Recogniser) -> Siblings {
        let mut entries = Vec::new();
        for (spec, t, file) in specs.templates() {
            for (name, source) in &spec.measurements {
                let (pattern, owner) = match (&source.suffix, &source.file) {
                    (Some(suffix), _) => {
                        let src = t.source();
                        let lit = src.rsplit('}').next().unwrap_or_default();
                        if lit.is_empty() || lit.contains('[') || lit == src {
                            continue;
                        }
                        let owner = Owner::Suffix {
                            tail: format!("_{suffix}"),
                            literal: lit.to_string(),
                        };
                        (format!("{}_{suffix}", &src[..src.len() - lit.len()]), owner)
                    }
                    (None, Some(f)) => (
                        f.clone(),
                        Owner::File {
                            templates: spec.templates.clone(),
                        },
                    ),
                    (None, None) => continue,
                };
                if let Ok(compiled) = Template::compile(&pattern) {
                    entries.push((
                        compiled,
                        file.to_string(),
                        spec.product.clone(),
                        name.clone(),
                        owner,
                    ));
                }
            }
        }
        Siblings { entries }
    }

    /// The spec file, product and measurement a key is a sibling file of, if any.
    pub fn of(&self, key: &str) -> Option<(&str, &str, &str)> {
        self.entries
            .iter()
            .find(|(t, ..)| t.matches(key).is_some())
            .map(|(_, f, p, m, _)| (f.as_str(), p.as_str(), m.as_str()))
    }

    /// The key of the file that claims `key` as its sibling, when its name can be told: the object a
    /// sharded run hashes in its place, so one shard reads the whole dataset.
    pub fn owner(&self, key: &str) -> Option<String> {
        let (t, .., owner) = self
            .entries
            .iter()
            .find(|(t, ..)| t.matches(key).is_some())?;
        let dir = &key[..key.rfind('/').map_or(0, |i| i + 1)];
        match owner {
            Owner::Suffix { tail, literal } => key
                .strip_suffix(tail.as_str())
                .map(|stem| format!("{stem}{literal}")),
            Owner::File { templates } => {
                let fields = t.matches(key)?;
                templates
                    .iter()
                    .map(|c| crate::recognition::fill_fields(c, &fields))
                    .find(|name| !name.contains(['{', '}', '[', ']', '*', '/']) && !name.is_empty())
                    .map(|name| format!("{dir}{name}"))
            }
        }
    }
}

/// The lower-case runs of letters and digits.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> Recogniser {
        let mut r = Recogniser::default();
        r.add(
            "recognition/soil_whc.yaml",
            "product: soil_whc\nfile_format: GeoTIFF\ntemplates: ['soil_{region}_{year:/[0-9]{4}/}_whc.tif']\n\
             time: {start: '{year}', period: P1Y}\nmeasurements: {whc: {suffix: whc.tif}}\n",
        )
        .unwrap();
        r.add(
            "recognition/chirps.yaml",
            "product: chirps\nfile_format: GeoTIFF\ntemplates: ['chirps-v2.0.{y:4}.{m:2}.{d:2}.tif[.gz]']\n\
             time: {start: '{y}-{m}-{d}', period: P1D}\nmeasurements: {precip: {band: 1}}\n",
        )
        .unwrap();
        r.add(
            "recognition/gridmet_pr.yaml",
            "product: gridmet_pr\nfile_format: NetCDF\ntemplates: ['pr_{year:4}.nc']\n\
             time: {start: '{year}', period: P1D, per_band: true}\nmeasurements: {pr: {layer: p}}\n",
        )
        .unwrap();
        r
    }

    #[test]
    fn closest_templates_share_the_extension_and_say_what_is_missing() {
        let r = specs();
        let u = explain(&r, &r, "/lake/statics/whc_conus_250m_v2.tif");
        // Only .tif templates; soil_whc first because the name shares its word "whc".
        let names: Vec<&str> = u.candidates.iter().map(|c| c.product.as_str()).collect();
        assert_eq!(names, ["soil_whc", "chirps"]);
        assert_eq!(u.candidates[0].lacks, ["soil_", "_whc.tif"]);
        let t = u.text();
        assert!(
            t.starts_with("no template matches: closest: recognition/soil_whc.yaml template")
                && t.contains(r#"the name lacks "soil_", "_whc.tif""#)
                && t.contains("product-defs/README.md"),
            "{t}"
        );
        // A .gz file is a candidate for the template with an optional .gz part only.
        let u = explain(&r, &r, "chirps-v2.0.2023.1.01.tif.gz");
        assert_eq!(u.candidates.len(), 1);
        assert!(
            u.text().contains("a field's width or pattern does not fit"),
            "{}",
            u.text()
        );
        // A literal template (a user's own file name): where the name departs from it.
        let mut r = r;
        r.add(
            "recognition/user.yaml",
            "product: user\nfile_format: GeoTIFF\ntemplates: [whc_conus_250m_v2.tif]\n\
             time: {start: '2020', period: P1Y}\nmeasurements: {whc: {band: 1}}\n",
        )
        .unwrap();
        let u = explain(&r, &r, "/lake/whc_conus_250m_v3.tif");
        assert_eq!(u.candidates[0].product, "user");
        assert_eq!(
            u.candidates[0].differs_after.as_deref(),
            Some("whc_conus_250m_v")
        );
        assert!(
            u.text()
                .contains(r#"(the name departs from it after "whc_conus_250m_v")"#),
            "{}",
            u.text()
        );
        let u = explain(&r, &r, "notes.txt");
        assert!(u.candidates.is_empty());
        assert!(
            u.text().contains("no template takes .txt files"),
            "{}",
            u.text()
        );
    }

    #[test]
    fn sibling_files_are_known_as_such() {
        let mut r = specs();
        r.add(
            "recognition/user.yaml",
            "product: user\nfile_format: GeoTIFF\ntemplates: [whc_v2.tif]\ntime: {start: '2020', period: P1Y}\n\
             measurements: {whc: {band: 1}, fc: {file: fc_v2.tif, optional: true}}\n",
        )
        .unwrap();
        r.add(
            "recognition/soil2.yaml",
            "product: soil2\nfile_format: GeoTIFF\ntemplates: ['s_{region}_whc.tif']\ntime: {start: '2020', period: P1Y}\n\
             measurements: {whc: {suffix: whc.tif}, sat: {suffix: sat.tif}, c: {file: 'c_{region}.tif'}}\n",
        )
        .unwrap();
        let s = Siblings::of_specs(&r);
        assert_eq!(
            s.of("/l/fc_v2.tif"),
            Some(("recognition/user.yaml", "user", "fc"))
        );
        assert_eq!(s.of("/l/s_conus_sat.tif").map(|x| x.2), Some("sat"));
        assert_eq!(s.of("/l/c_conus.tif").map(|x| x.2), Some("c"));
        assert_eq!(s.of("/l/fc_v3.tif"), None);
        assert_eq!(s.of("/l/s_conus_fc.tif"), None);
        // The file that claims each sibling (what a sharded run hashes in its place).
        assert_eq!(
            s.owner("/l/s_conus_sat.tif").as_deref(),
            Some("/l/s_conus_whc.tif")
        );
        assert_eq!(
            s.owner("/l/c_conus.tif").as_deref(),
            Some("/l/s_conus_whc.tif")
        );
        assert_eq!(
            s.owner("s3://b/p/fc_v2.tif").as_deref(),
            Some("s3://b/p/whc_v2.tif")
        );
        assert_eq!(s.owner("/l/fc_v3.tif"), None);
    }

    #[test]
    fn a_file_left_out_by_product_selection_says_so() {
        let all = specs();
        let mut only = specs();
        only.retain(|s| s.product == "chirps");
        let u = explain(&only, &all, "pr_2020.nc");
        assert_eq!(
            u.not_selected,
            Some(("recognition/gridmet_pr.yaml".into(), "gridmet_pr".into()))
        );
        assert!(u.text().contains("--product leaves it out"), "{}", u.text());
    }
}
