//! Reading YAML/JSON documents (products, metadata types) into the JSON that datacube stores.
//! Mirrors Python's rules: NaN/Inf become strings, mapping keys become strings, dates stay text.
use crate::{Error, Result};
use serde_json::{Map, Number, Value};
use std::path::{Path, PathBuf};

/// One document read from a file, with a name for error messages (`file.yaml` or `file.yaml#2`).
#[derive(Debug, Clone)]
pub struct SourceDoc {
    /// `path` for single-document files, `path#N` (1-based) for multi-document YAML.
    pub object: String,
    /// The document as datacube would store it.
    pub value: Value,
}

/// Expands files and directories (their `*.yaml`, `*.yml`, `*.json`, sorted) into document files.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && matches!(
                            p.extension().and_then(|e| e.to_str()),
                            Some("yaml" | "yml" | "json")
                        )
                })
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

/// Reads every document of a YAML or JSON file (YAML streams may hold several, separated by `---`).
pub fn read_documents(path: &Path) -> Result<Vec<SourceDoc>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_documents(&path.display().to_string(), &text)
}

/// Parses YAML (a superset of JSON) text holding one or more documents. JSON text (an object) goes
/// through the JSON parser, which is many times faster than the YAML one on large crawls of sidecars.
pub fn parse_documents(object: &str, text: &str) -> Result<Vec<SourceDoc>> {
    if text.trim_start().starts_with('{') {
        if let Ok(value) = serde_json::from_str::<Value>(text) {
            return Ok(vec![SourceDoc {
                object: object.to_string(),
                value,
            }]);
        }
    }
    let mut docs = Vec::new();
    for (i, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let yaml: serde_yaml_ng::Value =
            serde::Deserialize::deserialize(de).map_err(|e| Error::Invalid {
                object: object.to_string(),
                message: format!("not valid YAML: {e}"),
            })?;
        if yaml.is_null() {
            continue; // an empty document between separators
        }
        let name = format!("{object}#{}", i + 1);
        let value = yaml_to_json(yaml).map_err(|message| Error::Invalid {
            object: name.clone(),
            message,
        })?;
        docs.push(SourceDoc {
            object: name,
            value,
        });
    }
    if docs.len() == 1 {
        docs[0].object = object.to_string();
    }
    if docs.is_empty() {
        return Err(Error::Invalid {
            object: object.to_string(),
            message: "the file holds no document".into(),
        });
    }
    Ok(docs)
}

/// Converts a float the way datacube's `jsonify_document` does: NaN and infinities become strings.
pub fn float_to_json(f: f64) -> Value {
    if f.is_nan() {
        Value::String("NaN".into())
    } else if f.is_infinite() {
        Value::String(if f > 0.0 { "Infinity" } else { "-Infinity" }.into())
    } else {
        Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// Converts a YAML value to the JSON that Python's `json.dumps(jsonify_document(doc))` would produce.
pub fn yaml_to_json(v: serde_yaml_ng::Value) -> Result<Value, String> {
    use serde_yaml_ng::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                float_to_json(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(seq) => Value::Array(
            seq.into_iter()
                .map(yaml_to_json)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(key_to_string(&k)?, yaml_to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => return Err(format!("YAML tag {} is not supported", t.tag)),
    })
}

/// Python's json module turns non-string keys into strings: `0` → `"0"`, `true` → `"true"`.
fn key_to_string(k: &serde_yaml_ng::Value) -> Result<String, String> {
    use serde_yaml_ng::Value as Y;
    match k {
        Y::String(s) => Ok(s.clone()),
        Y::Bool(b) => Ok(b.to_string()),
        Y::Null => Ok("null".into()),
        Y::Number(n) => Ok(if n.is_f64() {
            match float_to_json(n.as_f64().unwrap_or(f64::NAN)) {
                Value::String(s) => s,
                other => other.to_string(),
            }
        } else {
            n.to_string()
        }),
        other => Err(format!("mapping key {other:?} cannot be a JSON key")),
    }
}

/// A human-readable path into a document, e.g. `measurements[2].nodata`.
pub fn offset_string(parts: &[String]) -> String {
    let mut s = String::new();
    for p in parts {
        if p.starts_with('[') {
            s.push_str(p);
        } else {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(p);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_and_int_keys_follow_python() {
        let docs = parse_documents(
            "t.yaml",
            "nodata: .nan\nhi: .inf\nflags: {0: false, 1: true}\nwhen: 2020-01-01\nn: -9999.0\nm: 3\n",
        )
        .unwrap();
        let v = &docs[0].value;
        assert_eq!(v["nodata"], "NaN");
        assert_eq!(v["hi"], "Infinity");
        assert_eq!(v["flags"]["0"], false);
        assert_eq!(v["when"], "2020-01-01");
        assert_eq!(v["n"].to_string(), "-9999.0");
        assert_eq!(v["m"].to_string(), "3");
    }

    #[test]
    fn multi_document_streams_are_numbered() {
        let docs = parse_documents("x.yaml", "a: 1\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].object, "x.yaml#2");
    }

    #[test]
    fn malformed_yaml_names_the_file() {
        let err = parse_documents("bad.yaml", "a: [1, 2\n").unwrap_err();
        assert!(
            err.to_string().starts_with("bad.yaml: not valid YAML"),
            "{err}"
        );
    }
}
