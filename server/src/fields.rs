//! The fields extension: which members of each item a search returns. `include` keeps only the
//! paths named (dot-separated, `properties.datetime`) plus what a client needs to follow the item
//! (`type`, `stac_version`, `id`, `collection`, `links`); `exclude` removes paths (include wins
//! where both name one). Neither: the whole item.
use crate::error::ApiError;
use serde_json::{Map, Value};

/// Members every item keeps when `include` is given.
const ALWAYS: [&str; 5] = ["type", "stac_version", "id", "collection", "links"];

/// Parsed `fields`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    include: Vec<String>,
    exclude: Vec<String>,
}

impl Fields {
    fn or_none(self) -> Option<Fields> {
        (!self.include.is_empty() || !self.exclude.is_empty()).then_some(self)
    }

    /// GET `fields=id,-geometry,+properties.datetime` (`+` may arrive decoded as a space).
    pub fn parse_get(s: &str) -> Option<Fields> {
        let mut f = Fields::default();
        for part in s.split(',').map(str::trim) {
            if let Some(p) = part.strip_prefix('-') {
                f.exclude.push(p.trim().to_string());
            } else {
                let p = part.trim_start_matches('+').trim();
                if !p.is_empty() {
                    f.include.push(p.to_string());
                }
            }
        }
        f.or_none()
    }

    /// POST `fields: {"include": [...], "exclude": [...]}` (null or `{}`: the whole item).
    pub fn parse_post(v: &Value) -> Result<Option<Fields>, ApiError> {
        let bad = || {
            ApiError::bad_request(format!(
                "fields {v}: expected {{\"include\": [PATH, …], \"exclude\": [PATH, …]}}"
            ))
        };
        let list = |k: &str| -> Result<Vec<String>, ApiError> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|x| x.as_str().map(String::from).ok_or_else(bad))
                    .collect(),
                _ => Err(bad()),
            }
        };
        match v {
            Value::Null => Ok(None),
            Value::Object(_) => Ok(Fields {
                include: list("include")?,
                exclude: list("exclude")?,
            }
            .or_none()),
            _ => Err(bad()),
        }
    }

    /// The item with only the members asked for.
    pub fn apply(&self, item: Map<String, Value>) -> Map<String, Value> {
        let mut out = if self.include.is_empty() {
            item
        } else {
            let mut kept = Map::new();
            for path in ALWAYS
                .iter()
                .copied()
                .chain(self.include.iter().map(String::as_str))
            {
                copy(&item, &mut kept, path);
            }
            kept
        };
        for path in &self.exclude {
            if !self.include.contains(path) && !ALWAYS.contains(&path.as_str()) {
                remove(&mut out, path);
            }
        }
        out
    }
}

fn copy(from: &Map<String, Value>, to: &mut Map<String, Value>, path: &str) {
    match path.split_once('.') {
        None => {
            if let Some(v) = from.get(path) {
                to.insert(path.to_string(), v.clone());
            }
        }
        Some((head, rest)) => {
            if let Some(Value::Object(inner)) = from.get(head) {
                let slot = to
                    .entry(head.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(dest) = slot {
                    copy(inner, dest, rest);
                }
            }
        }
    }
}

fn remove(m: &mut Map<String, Value>, path: &str) {
    match path.split_once('.') {
        None => {
            m.remove(path);
        }
        Some((head, rest)) => {
            if let Some(Value::Object(inner)) = m.get_mut(head) {
                remove(inner, rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn include_and_exclude() {
        let item = json!({"type": "Feature", "id": "a", "links": [], "geometry": {"type": "Point"},
            "properties": {"datetime": "t", "eo:cloud_cover": 3}, "assets": {"x": {}}});
        let m = |v: &Value| v.as_object().unwrap().clone();
        let f = Fields::parse_get("properties.datetime, -assets").unwrap();
        assert_eq!(
            Value::Object(f.apply(m(&item))),
            json!({"type": "Feature", "id": "a", "links": [], "properties": {"datetime": "t"}})
        );
        let f = Fields::parse_get("-properties.eo:cloud_cover,-geometry").unwrap();
        let out = Value::Object(f.apply(m(&item)));
        assert_eq!(out["properties"], json!({"datetime": "t"}));
        assert!(out.get("geometry").is_none() && out.get("assets").is_some());
        assert_eq!(Fields::parse_get(""), None);
        assert_eq!(Fields::parse_post(&json!({})).unwrap(), None);
        let f =
            Fields::parse_post(&json!({"include": ["geometry"], "exclude": ["geometry", "id"]}))
                .unwrap()
                .unwrap();
        let out = Value::Object(f.apply(m(&item)));
        assert!(out.get("geometry").is_some() && out.get("id").is_some());
        assert!(Fields::parse_post(&json!({"include": "geometry"})).is_err());
    }
}
