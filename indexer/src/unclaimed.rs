//! Why no recognition spec claimed a file, in words a data manager can act on: the templates that
//! came closest (same extension, most of their literal text present) with what each lacks, and where
//! the recipe for adding a spec of one's own is. Computed only for the objects a report shows.
use crate::recognition::Recogniser;
use serde_json::{json, Value};

/// The skip reason of an object no template matches (the key its count is summarised under).
pub const NO_TEMPLATE: &str = "no template matches";

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
    /// Letters of the template's literal words that the key shares (the ranking).
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
                    let why = if c.lacks.is_empty() {
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
                    json!({"spec": c.spec_file, "template": c.template, "product": c.product, "lacks": c.lacks})
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
            let score = shared.iter().map(String::len).sum();
            Candidate {
                spec_file: file.to_string(),
                template: t.source().to_string(),
                product: spec.product.clone(),
                lacks,
                score,
            }
        })
        .collect();
    candidates.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then(a.lacks.len().cmp(&b.lacks.len()))
    });
    candidates.truncate(3);
    Unclaimed {
        not_selected,
        candidates,
        extension,
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
        let u = explain(&r, &r, "notes.txt");
        assert!(u.candidates.is_empty());
        assert!(
            u.text().contains("no template takes .txt files"),
            "{}",
            u.text()
        );
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
