//! The recognition side of a run's report: which spec and template claimed each raw file, the notes
//! an object left (optional measurements absent), and why unclaimed files were not taken — summarised
//! for the terminal (counts with a first example) and attached to each object's `--report` rows.
use crate::recognition::{Recognised, Recogniser};
use crate::unclaimed;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

/// A recognition spec's template, and the product it gives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Claim {
    /// The recognition file.
    pub spec_file: String,
    /// The template that matched.
    pub template: String,
    /// The product.
    pub product: String,
}

/// How many unclaimed objects the summary shows with their explanation.
const EXAMPLES: usize = 5;

/// The summary: counts with the first object of each.
#[derive(Debug, Default, Clone)]
pub struct Recognition {
    /// Claim → (objects claimed, the first one).
    pub claims: BTreeMap<Claim, (usize, String)>,
    /// Note → (objects, the first one's example).
    pub notes: BTreeMap<String, (usize, String)>,
    /// The first unclaimed objects with why no template took them.
    pub unclaimed: Vec<(String, String)>,
}

/// Fields to add to an object's report rows, by the object's reported URI.
pub(crate) type Annotations = HashMap<String, Map<String, Value>>;

impl Recognition {
    /// A raw file claimed by a template: counted, and its rows name the spec and template.
    pub(crate) fn claimed(&mut self, uri: &str, rec: &Recognised, rows: &mut Annotations) {
        let claim = Claim {
            spec_file: rec.spec_file.clone(),
            template: rec.template.clone(),
            product: rec.product.clone(),
        };
        let e = self.claims.entry(claim).or_insert((0, uri.to_string()));
        e.0 += 1;
        let row = rows.entry(uri.to_string()).or_default();
        row.insert("spec".into(), json!(rec.spec_file));
        row.insert("template".into(), json!(rec.template));
    }

    /// A note about an object (indexed all the same): its detail goes to the object's rows, the
    /// first example to the summary.
    pub(crate) fn noted(
        &mut self,
        uri: &str,
        key: &str,
        (detail, example): (&str, &str),
        rows: &mut Annotations,
    ) {
        let e = self
            .notes
            .entry(key.to_string())
            .or_insert((0, example.to_string()));
        e.0 += 1;
        let row = rows.entry(uri.to_string()).or_default();
        match row.get_mut("notes").and_then(Value::as_array_mut) {
            Some(notes) => notes.push(json!(detail)),
            None => {
                row.insert("notes".into(), json!([detail]));
            }
        }
    }

    /// An object no template claimed: its explanation, kept as an example and returned as report
    /// fields (`error`, `candidates`) when `rows_wanted` — computed only when someone will read it.
    pub(crate) fn unclaimed(
        &mut self,
        uri: &str,
        selected: &Recogniser,
        all: &Recogniser,
        rows_wanted: bool,
    ) -> Option<Map<String, Value>> {
        if !rows_wanted && self.unclaimed.len() >= EXAMPLES {
            return None;
        }
        let why = unclaimed::explain(selected, all, uri);
        let text = why.text();
        if self.unclaimed.len() < EXAMPLES {
            self.unclaimed.push((uri.to_string(), text.clone()));
        }
        let mut fields = Map::new();
        fields.insert("error".into(), json!(text));
        fields.insert("candidates".into(), why.json());
        Some(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_and_notes_are_counted_and_attached_to_rows() {
        let mut r = Recogniser::default();
        r.add(
            "rec/user.yaml",
            "product: u\nfile_format: GeoTIFF\ntemplates: ['whc_v2.tif']\ntime: {start: '2020-01-01', period: P1Y}\n\
             measurements: {whc: {band: 1}}\n",
        )
        .unwrap();
        let rec = r.recognise("/l/whc_v2.tif").unwrap().unwrap();
        let (mut s, mut rows) = (Recognition::default(), Annotations::new());
        s.claimed("file:///l/whc_v2.tif", &rec, &mut rows);
        s.noted(
            "file:///l/whc_v2.tif",
            "k",
            ("detail one", "/l/a"),
            &mut rows,
        );
        s.noted(
            "file:///l/whc_v2.tif",
            "k",
            ("detail two", "/l/b"),
            &mut rows,
        );
        let (claim, (n, first)) = s.claims.iter().next().unwrap();
        assert_eq!(
            (claim.spec_file.as_str(), claim.template.as_str(), *n),
            ("rec/user.yaml", "whc_v2.tif", 1)
        );
        assert_eq!(first, "file:///l/whc_v2.tif");
        assert_eq!(s.notes["k"], (2, "/l/a".to_string()));
        let row = &rows["file:///l/whc_v2.tif"];
        assert_eq!(row["template"], "whc_v2.tif");
        assert_eq!(row["notes"], json!(["detail one", "detail two"]));
        // Unclaimed: explained for the first examples, then only when rows are written.
        for i in 0..EXAMPLES {
            assert!(s
                .unclaimed(&format!("/l/x{i}.tif"), &r, &r, false)
                .is_some());
        }
        assert!(s.unclaimed("/l/y.tif", &r, &r, false).is_none());
        let f = s.unclaimed("/l/y.tif", &r, &r, true).unwrap();
        assert!(f["error"].as_str().unwrap().contains("whc_v2.tif"));
        assert_eq!(s.unclaimed.len(), EXAMPLES);
    }
}
