//! STAC items → products by the `stac:` rules of the recognition specs: a provider's item names its
//! own collection (USGS: `landsat-c2l2-sr` for Landsat 8 and 9 alike), so the product is chosen by the
//! collection and item properties such as `platform`, before conversion, without changing the
//! collection the dataset id is derived from.
use crate::recognition::{OneOrMany, Spec, StacRule};
use serde_json::Value;
use std::collections::BTreeSet;

/// STAC 0.x property names that stand for the current ones (USGS's 2020 items write
/// `eo:platform: LANDSAT_8` where current items write `platform: LANDSAT_8`).
const LEGACY_NAMES: [(&str, &str); 3] = [
    ("platform", "eo:platform"),
    ("instruments", "eo:instrument"),
    ("constellation", "eo:constellation"),
];

/// Every spec's routing rules, in spec order.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    rules: Vec<(String, StacRule)>,
}

/// A value as rules compare it: lower case, with `-` and spaces read as `_`.
fn normalise(s: &str) -> String {
    s.trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == '-' || c == ' ' { '_' } else { c })
        .collect()
}

/// The values of an item property as strings (a list gives each element; numbers as written).
fn property_values(props: &Value, name: &str) -> Vec<String> {
    let legacy = LEGACY_NAMES
        .iter()
        .find_map(|(now, old)| {
            if *now == name {
                Some(*old)
            } else if *old == name {
                Some(*now)
            } else {
                None
            }
        })
        .into_iter();
    let value = std::iter::once(name)
        .chain(legacy)
        .find_map(|k| props.get(k).filter(|v| !v.is_null()));
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match value {
        Some(Value::Array(list)) => list.iter().filter_map(text).collect(),
        Some(v) => text(v).into_iter().collect(),
        None => Vec::new(),
    }
}

fn one_of(values: &[String], accepted: &OneOrMany) -> bool {
    values.iter().any(|v| {
        accepted
            .values()
            .iter()
            .any(|a| normalise(a) == normalise(v))
    })
}

fn collection(item: &Value) -> Option<&str> {
    item.get("collection").and_then(Value::as_str)
}

impl Routes {
    /// The rules of the given specs (all loaded specs, not only `--product` ones: an item of another
    /// product must still be told apart from an unknown one).
    pub fn from_specs<'a>(specs: impl Iterator<Item = &'a Spec>) -> Routes {
        let rules = specs
            .flat_map(|s| s.stac.iter().map(|r| (s.product.clone(), r.clone())))
            .collect();
        Routes { rules }
    }

    fn collection_rules<'a>(
        &'a self,
        item: &Value,
    ) -> impl Iterator<Item = &'a (String, StacRule)> + 'a {
        let c = collection(item).map(normalise);
        self.rules.iter().filter(move |(_, r)| {
            c.as_ref()
                .is_some_and(|c| r.collection.values().iter().any(|rc| normalise(rc) == *c))
        })
    }

    /// The product whose rule matches the item, `None` when no rule does; an error when rules of
    /// different products match (the rules overlap).
    pub fn route(&self, item: &Value) -> Result<Option<&str>, String> {
        let props = item.get("properties").unwrap_or(&Value::Null);
        let matched: BTreeSet<&str> = self
            .collection_rules(item)
            .filter(|(_, r)| {
                r.properties
                    .iter()
                    .all(|(k, accepted)| one_of(&property_values(props, k), accepted))
            })
            .map(|(p, _)| p.as_str())
            .collect();
        match matched.len() {
            0 => Ok(None),
            1 => Ok(matched.into_iter().next()),
            _ => Err(format!(
                "the STAC routing rules of {} all match it ({}): make them exclusive",
                matched.into_iter().collect::<Vec<_>>().join(", "),
                self.describe(item)
            )),
        }
    }

    /// The item's collection and the properties the rules for that collection look at, as a reason
    /// can quote them: `collection "landsat-c2l2-sr", platform "LANDSAT_7"`.
    pub fn describe(&self, item: &Value) -> String {
        let props = item.get("properties").unwrap_or(&Value::Null);
        let mut out = match collection(item) {
            Some(c) => format!("collection {c:?}"),
            None => "no collection".to_string(),
        };
        let keys: BTreeSet<&str> = self
            .collection_rules(item)
            .flat_map(|(_, r)| r.properties.keys().map(String::as_str))
            .collect();
        if keys.is_empty() && collection(item).is_some() {
            out.push_str(" (no routing rule names this collection)");
        }
        for k in keys {
            let v = property_values(props, k);
            match v.as_slice() {
                [] => out.push_str(&format!(", no {k}")),
                [one] => out.push_str(&format!(", {k} {one:?}")),
                many => out.push_str(&format!(", {k} {many:?}")),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Recogniser;
    use serde_json::json;

    fn routes() -> Routes {
        let mut r = Recogniser::default();
        for sat in ["8", "9"] {
            r.add(
                &format!("ls{sat}.yaml"),
                &format!(
                    "product: ls{sat}_c2l2_sr\nfile_format: GeoTIFF\ntemplates: ['x{sat}_SR_stac.json']\n\
                     time: {{start: '2020', period: P1D}}\nmeasurements: {{}}\n\
                     stac:\n  - collection: landsat-c2l2-sr\n    properties:\n      platform: [LANDSAT_{sat}, landsat-{sat}]\n"
                ),
            )
            .unwrap();
        }
        Routes::from_specs(r.specs())
    }

    #[test]
    fn collection_and_platform_choose_the_product_in_any_spelling() {
        let routes = routes();
        let item = |c: &str, props: Value| json!({"collection": c, "properties": props});
        for (props, product) in [
            (json!({"platform": "LANDSAT_8"}), "ls8_c2l2_sr"),
            (json!({"platform": "landsat-9"}), "ls9_c2l2_sr"),
            (json!({"platform": "Landsat 9"}), "ls9_c2l2_sr"),
            (json!({"eo:platform": "LANDSAT_8"}), "ls8_c2l2_sr"),
        ] {
            assert_eq!(
                routes
                    .route(&item("landsat-c2l2-sr", props.clone()))
                    .unwrap(),
                Some(product),
                "{props}"
            );
        }
        let l7 = item("landsat-c2l2-sr", json!({"platform": "LANDSAT_7"}));
        assert_eq!(routes.route(&l7).unwrap(), None);
        assert_eq!(
            routes.describe(&l7),
            r#"collection "landsat-c2l2-sr", platform "LANDSAT_7""#
        );
        let st = item("landsat-c2l2-st", json!({"platform": "LANDSAT_8"}));
        assert_eq!(routes.route(&st).unwrap(), None);
        assert!(
            routes.describe(&st).contains("no routing rule names"),
            "{}",
            routes.describe(&st)
        );
        let bare = item("landsat-c2l2-sr", json!({}));
        assert_eq!(
            routes.describe(&bare),
            r#"collection "landsat-c2l2-sr", no platform"#
        );
    }

    #[test]
    fn overlapping_rules_are_an_error_naming_both_products() {
        let mut r = Recogniser::default();
        for p in ["a", "b"] {
            r.add(
                p,
                &format!(
                    "product: {p}\nfile_format: GeoTIFF\ntemplates: ['{p}.json']\n\
                     time: {{start: '2020', period: P1D}}\nmeasurements: {{}}\n\
                     stac: [{{collection: c}}]\n"
                ),
            )
            .unwrap();
        }
        let e = Routes::from_specs(r.specs())
            .route(&json!({"collection": "c", "properties": {}}))
            .unwrap_err();
        assert!(e.contains("a, b") && e.contains("exclusive"), "{e}");
    }
}
