//! Filename templates: `MOD13Q1.A{year:4}{doy:3}.h{h:2}v{v:2}.{collection:3}.{production:13}.hdf`
//! compiled to anchored regular expressions that capture named fields from an object key.
//!
//! Syntax: literal text; `{f}` one or more characters other than `/` (shortest match); `{f:N}` exactly N
//! ASCII letters or digits; `{f:/REGEX/}` a regular expression; `[…]` an optional part; a leading `**/`
//! any directories. Without `**/` the template matches the key's trailing path segments. A field used
//! twice must capture the same text both times.
use regex::Regex;
use std::collections::BTreeMap;

/// A compiled template.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    regex: Regex,
    /// Capture group `g<i>` holds field `fields[i]`.
    fields: Vec<String>,
    /// The literal text runs, in order, each with whether it sits inside an optional `[…]` part.
    literals: Vec<(String, bool)>,
}

impl Template {
    /// Compiles a template; the error says what is wrong and where.
    pub fn compile(source: &str) -> Result<Template, String> {
        let (body, any_dirs) = match source.strip_prefix("**/") {
            Some(rest) => (rest, true),
            None => (source, false),
        };
        let mut fields = Vec::new();
        let chars: Vec<char> = body.chars().collect();
        let mut pattern = String::from(if any_dirs { "^(?:.*/)?" } else { "(?:^|/)" });
        let mut depth = 0usize;
        let mut i = 0;
        let mut literal = String::new();
        let mut literals = Vec::new();
        let mut flush = |literal: &mut String, pattern: &mut String, optional: bool| {
            pattern.push_str(&regex::escape(literal));
            if !literal.is_empty() {
                literals.push((std::mem::take(literal), optional));
            }
        };
        while i < chars.len() {
            match chars[i] {
                '{' => {
                    flush(&mut literal, &mut pattern, depth > 0);
                    let rest: String = chars[i + 1..].iter().collect();
                    let (spec, used) = field_spec(&rest)
                        .ok_or_else(|| format!("unclosed {{ at character {}", i + 1))?;
                    let (name, kind) = match spec.split_once(':') {
                        Some((n, k)) => (n, Some(k)),
                        None => (spec.as_str(), None),
                    };
                    if name.is_empty()
                        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(format!("field name {name:?} must be letters, digits or _"));
                    }
                    let group = match kind {
                        None => "[^/]+?".to_string(),
                        Some(k) if k.starts_with('/') && k.ends_with('/') && k.len() >= 2 => {
                            let re = &k[1..k.len() - 1];
                            Regex::new(re).map_err(|e| format!("field {name}: bad regex: {e}"))?;
                            format!("(?:{re})")
                        }
                        Some(k) => {
                            let n: usize = k.parse().map_err(|_| {
                                format!("field {name}: {k:?} is not a width or /regex/")
                            })?;
                            format!("[A-Za-z0-9]{{{n}}}")
                        }
                    };
                    pattern.push_str(&format!("(?P<g{}>{group})", fields.len()));
                    fields.push(name.to_string());
                    i += used + 1;
                    continue;
                }
                '[' => {
                    flush(&mut literal, &mut pattern, depth > 0);
                    pattern.push_str("(?:");
                    depth += 1;
                }
                ']' => {
                    if depth == 0 {
                        return Err(format!("] without [ at character {}", i + 1));
                    }
                    flush(&mut literal, &mut pattern, true);
                    pattern.push_str(")?");
                    depth -= 1;
                }
                '*' => {
                    flush(&mut literal, &mut pattern, depth > 0);
                    pattern.push_str("[^/]*");
                }
                c => literal.push(c),
            }
            i += 1;
        }
        if depth != 0 {
            return Err("[ without ]".into());
        }
        flush(&mut literal, &mut pattern, false);
        pattern.push('$');
        let regex = Regex::new(&pattern).map_err(|e| format!("cannot compile: {e}"))?;
        Ok(Template {
            source: source.to_string(),
            regex,
            fields,
            literals,
        })
    }

    /// The template text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The field names, in order of first appearance.
    pub fn field_names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for f in &self.fields {
            if !out.contains(&f.as_str()) {
                out.push(f);
            }
        }
        out
    }

    /// The literal text runs a matching key must contain, in order (optional `[…]` parts left out).
    pub fn required_literals(&self) -> Vec<&str> {
        self.literals
            .iter()
            .filter(|(_, optional)| !optional)
            .map(|(l, _)| l.as_str())
            .collect()
    }

    /// The file-name extensions the template accepts (`.tif`, and `.gz` for `….tif[.gz]`): the text
    /// from the last `.` of its last required literal, and of a trailing optional part.
    pub fn extensions(&self) -> Vec<String> {
        let ext = |l: &str| l.rfind('.').map(|i| l[i..].to_ascii_lowercase());
        let mut out = Vec::new();
        if let Some(e) = self.required_literals().last().and_then(|l| ext(l)) {
            out.push(e);
        }
        if self.source.ends_with(']') {
            if let Some(e) = self.literals.last().and_then(|(l, _)| ext(l)) {
                out.push(e);
            }
        }
        out
    }

    /// True when the template is one literal file name (or path): no fields, globs or optional parts.
    pub fn is_literal(&self) -> bool {
        self.fields.is_empty() && self.literals.len() <= 1 && !self.source.contains(['*', '['])
    }

    /// Matches a key (or path); returns the captured fields, or `None`.
    pub fn matches(&self, key: &str) -> Option<BTreeMap<String, String>> {
        let caps = self.regex.captures(key)?;
        let mut out = BTreeMap::new();
        for (i, name) in self.fields.iter().enumerate() {
            let Some(m) = caps.name(&format!("g{i}")) else {
                continue;
            };
            match out.get(name) {
                Some(prev) if prev != m.as_str() => return None,
                _ => {
                    out.insert(name.clone(), m.as_str().to_string());
                }
            }
        }
        Some(out)
    }
}

/// Reads a `{…}` field spec (the text after `{`), allowing `}` inside a `/regex/`. Returns the spec and
/// how many characters it used, including the closing brace.
fn field_spec(rest: &str) -> Option<(String, usize)> {
    let colon = rest.find(':');
    let close = rest.find('}')?;
    if let Some(c) = colon.filter(|c| *c < close) {
        if rest[c + 1..].starts_with('/') {
            let end = rest[c + 2..].find("/}")? + c + 2;
            let spec: String = rest[..=end].to_string();
            return Some((spec.clone(), spec.chars().count() + 1));
        }
    }
    let spec = rest[..close].to_string();
    Some((spec.clone(), spec.chars().count() + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modis_granule_names() {
        let t = Template::compile(
            "MOD13Q1.A{year:4}{doy:3}.h{h:2}v{v:2}.{collection:3}.{production:13}.hdf",
        )
        .unwrap();
        let m = t
            .matches("s3://lake/modis/MOD13Q1.A2023161.h29v09.061.2023177233537.hdf")
            .unwrap();
        assert_eq!(m["year"], "2023");
        assert_eq!(m["doy"], "161");
        assert_eq!(m["h"], "29");
        assert_eq!(m["production"], "2023177233537");
        assert!(t
            .matches("MOD13Q1.A2023161.h29v09.061.2023177233537.hdf.xml")
            .is_none());
        assert!(t
            .matches("MYD13Q1.A2023161.h29v09.061.2023177233537.hdf")
            .is_none());
    }

    #[test]
    fn optional_parts_directories_and_repeated_fields() {
        let t = Template::compile(
            "**/global_daily/tifs/p05/{year:4}/chirps-v2.0.{year:4}.{month:2}.{day:2}.tif[.gz]",
        )
        .unwrap();
        assert!(t
            .matches("products/CHIRPS-2.0/global_daily/tifs/p05/2023/chirps-v2.0.2023.01.01.tif.gz")
            .is_some());
        assert!(t
            .matches("global_daily/tifs/p05/2023/chirps-v2.0.2023.01.02.tif")
            .is_some());
        // The directory year must equal the file-name year.
        assert!(t
            .matches("global_daily/tifs/p05/2022/chirps-v2.0.2023.01.02.tif")
            .is_none());
        // The pentad directory is a different product.
        assert!(t
            .matches("global_pentad/tifs/p05/2023/chirps-v2.0.2023.01.02.tif")
            .is_none());
    }

    #[test]
    fn regex_fields_and_trailing_segments() {
        let t = Template::compile(
            "3B-DAY{run:/(-E|-L)?/}.MS.MRG.3IMERG.{date:8}-S000000-E235959.{ver}.nc4",
        )
        .unwrap();
        let m = t
            .matches("x/3B-DAY-L.MS.MRG.3IMERG.20240115-S000000-E235959.V07B.nc4")
            .unwrap();
        assert_eq!(m["run"], "-L");
        assert_eq!(m["ver"], "V07B");
        let t = Template::compile("{var}_{year:4}.nc").unwrap();
        let m = t.matches("/data/gridmet/pr_2020.nc").unwrap();
        assert_eq!((m["var"].as_str(), m["year"].as_str()), ("pr", "2020"));
        // `{f}` never crosses a directory boundary.
        assert!(t.matches("a/b_c/2020.nc").is_none());
    }

    #[test]
    fn literal_file_names_and_their_parts() {
        // A user's own file, named as their lake names it: the dots are literal.
        let t = Template::compile("whc_conus_250m_v2.tif").unwrap();
        assert!(t.is_literal());
        assert_eq!(
            t.matches("s3://b/statics/whc_conus_250m_v2.tif"),
            Some(BTreeMap::new())
        );
        assert!(t.matches("/l/whc_conus_250m_v2xtif").is_none());
        assert!(t.matches("/l/my_whc_conus_250m_v2.tif").is_none());
        assert!(t.matches("/l/whc_conus_250m_v2.tif.aux.xml").is_none());
        assert_eq!(t.extensions(), [".tif"]);
        let t = Template::compile("**/chirps-v2.0.{y:4}.{m:2}.{d:2}.tif[.gz]").unwrap();
        assert!(!t.is_literal());
        assert_eq!(t.required_literals(), ["chirps-v2.0.", ".", ".", ".tif"]);
        assert_eq!(t.extensions(), [".tif", ".gz"]);
        assert_eq!(
            Template::compile("soil_{r}_{y:/[0-9]{4}/}_whc.tif")
                .unwrap()
                .required_literals(),
            ["soil_", "_", "_whc.tif"]
        );
    }

    #[test]
    fn bad_templates_are_explained() {
        assert!(Template::compile("a{b").unwrap_err().contains("unclosed"));
        assert!(Template::compile("a[b")
            .unwrap_err()
            .contains("[ without ]"));
        assert!(Template::compile("{x:abc}")
            .unwrap_err()
            .contains("not a width"));
    }
}
