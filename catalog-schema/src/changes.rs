//! Differences between a stored and a new document, and datacube's rules for which of them are safe
//! to apply to a product (`product update`): anything in description/license/metadata_type, dropping
//! keys from the `metadata` signature, dropping obsolete `storage` keys.
use serde_json::Value;

/// One step of an offset into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A mapping key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// One difference: where, the stored value and the new value (`None` = missing).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Where in the document.
    pub offset: Vec<Step>,
    /// The stored value.
    pub old: Option<Value>,
    /// The new value.
    pub new: Option<Value>,
}

impl Change {
    /// `measurements.2.nodata` style path.
    pub fn path(&self) -> String {
        self.offset
            .iter()
            .map(|s| match s {
                Step::Key(k) => k.clone(),
                Step::Index(i) => i.to_string(),
            })
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// Numbers compare by value (`-9999` equals `-9999.0`), as Python's `==` does.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

/// All differences between two documents, sorted by offset.
pub fn diff(old: &Value, new: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk(Some(old), Some(new), &mut Vec::new(), &mut out);
    out
}

fn walk(old: Option<&Value>, new: Option<&Value>, at: &mut Vec<Step>, out: &mut Vec<Change>) {
    match (old, new) {
        (Some(a), Some(b)) if values_equal(a, b) => {}
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a
                .keys()
                .chain(b.keys().filter(|k| !a.contains_key(*k)))
                .collect();
            keys.sort();
            for k in keys {
                at.push(Step::Key(k.clone()));
                walk(a.get(k), b.get(k), at, out);
                at.pop();
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                at.push(Step::Index(i));
                walk(
                    a.get(i).or(Some(&Value::Null)),
                    b.get(i).or(Some(&Value::Null)),
                    at,
                    out,
                );
                at.pop();
            }
        }
        (None, None) => {}
        _ => out.push(Change {
            offset: at.clone(),
            old: old.cloned(),
            new: new.cloned(),
        }),
    }
}

/// Splits product changes into (safe, unsafe) by datacube's `can_update` rules.
pub fn classify_product_changes(changes: Vec<Change>) -> (Vec<Change>, Vec<Change>) {
    let key = |s: &str| Step::Key(s.into());
    changes.into_iter().partition(|c| {
        let o = &c.offset;
        match o.first() {
            Some(Step::Key(k)) if k == "description" || k == "license" || k == "metadata_type" => {
                true
            }
            // Loosening the match signature: removing a direct child of `metadata`.
            Some(Step::Key(k)) if k == "metadata" => o.len() == 2 && c.new.is_none(),
            Some(Step::Key(k)) if k == "storage" => {
                o.len() == 2
                    && [key("chunking"), key("driver"), key("dimension_order")].contains(&o[1])
                    && c.new.is_none()
            }
            _ => false,
        }
    })
}

/// A short human description of a list of changes.
pub fn describe(changes: &[Change]) -> String {
    let show = |v: &Option<Value>| {
        v.as_ref()
            .map(|v| v.to_string())
            .unwrap_or_else(|| "missing".into())
    };
    let mut parts: Vec<String> = changes
        .iter()
        .take(8)
        .map(|c| format!("{}: {} -> {}", c.path(), show(&c.old), show(&c.new)))
        .collect();
    if changes.len() > 8 {
        parts.push(format!("and {} more", changes.len() - 8));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        assert!(diff(&json!({"a": -9999}), &json!({"a": -9999.0})).is_empty());
        assert_eq!(
            diff(&json!({"a": [1, 2]}), &json!({"a": [1, 3, 4]})).len(),
            2
        );
    }

    #[test]
    fn datacube_safe_change_rules() {
        let old = json!({"description": "a", "metadata": {"product": {"name": "p"}, "properties": {"x": 1}},
                         "measurements": [{"name": "b", "nodata": 0}]});
        let new = json!({"description": "b", "metadata": {"product": {"name": "p"}},
                         "measurements": [{"name": "b", "nodata": 1}]});
        let (safe, bad) = classify_product_changes(diff(&old, &new));
        assert_eq!(
            safe.iter().map(Change::path).collect::<Vec<_>>(),
            ["description", "metadata.properties"]
        );
        assert_eq!(
            bad.iter().map(Change::path).collect::<Vec<_>>(),
            ["measurements.0.nodata"]
        );
        // Tightening the signature is unsafe.
        let tighter =
            json!({"metadata": {"product": {"name": "p"}, "properties": {"x": 1, "y": 2}}});
        let (_, bad) =
            classify_product_changes(diff(&json!({"metadata": old["metadata"]}), &tighter));
        assert_eq!(bad.len(), 1);
    }
}
