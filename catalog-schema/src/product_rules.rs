//! What datacube accepts as a product definition, checked as datacube checks it (its JSON schema and
//! the rules `datacube product add` applies): keys, names, dtypes, nodata that fits the dtype, and
//! load/storage hints whose keys are the CRS's dimension names. Split from `product` (which writes
//! products) so each file keeps one concern.
use crate::metadata_type::{self, is_word};
use crate::{Error, Result};
use serde_json::Value;

const TOP_KEYS: [&str; 10] = [
    "name",
    "description",
    "metadata_type",
    "license",
    "metadata",
    "extra_dimensions",
    "storage",
    "load",
    "measurements",
    "managed",
];
const MEASUREMENT_KEYS: [&str; 10] = [
    "name",
    "dtype",
    "nodata",
    "scale_factor",
    "add_offset",
    "units",
    "aliases",
    "spectral_definition",
    "flags_definition",
    "extra_dim",
];
const DTYPES: [&str; 13] = [
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "complex64",
    "complex128",
];

/// Validates a product definition; errors name the object, the key and the rule.
pub fn validate(object: &str, doc: &Value) -> Result<()> {
    let name = doc.get("name").and_then(Value::as_str).unwrap_or("?");
    let invalid = |message: String| Error::Invalid {
        object: format!("{object}: product {name:?}"),
        message,
    };
    let obj = doc.as_object().ok_or_else(|| Error::Invalid {
        object: object.to_string(),
        message: "a product definition must be a mapping".into(),
    })?;
    for key in obj.keys() {
        let default_key = key.strip_prefix("default_").is_some_and(is_word);
        if !TOP_KEYS.contains(&key.as_str()) && !default_key {
            return Err(invalid(format!(
                "{key}: unknown key (allowed: {}, default_*)",
                TOP_KEYS.join(", ")
            )));
        }
        if default_key && !obj[key].is_object() {
            return Err(invalid(format!("{key}: expected a mapping")));
        }
    }
    match obj.get("name") {
        Some(Value::String(s)) if is_word(s) => {}
        Some(Value::String(s)) => {
            return Err(invalid(format!(
                "name: {s:?} must match ^\\w+$ (letters, digits, _)"
            )))
        }
        Some(_) => return Err(invalid("name: expected a string".into())),
        None => return Err(invalid("name: required".into())),
    }
    if !matches!(obj.get("description"), Some(Value::String(_))) {
        return Err(invalid("description: required, a string".into()));
    }
    match obj.get("metadata_type") {
        Some(Value::String(_)) => {}
        Some(inline @ Value::Object(_)) => {
            metadata_type::validate(&format!("{object}: metadata_type"), inline)?
        }
        Some(_) => {
            return Err(invalid(
                "metadata_type: expected a name or a metadata-type document".into(),
            ))
        }
        None => return Err(invalid("metadata_type: required (e.g. eo3)".into())),
    }
    if !obj.get("metadata").is_some_and(Value::is_object) {
        return Err(invalid(
            "metadata: required, the match signature, e.g. {product: {name: <name>}}".into(),
        ));
    }
    if let Some(l) = obj.get("license") {
        let ok = l.as_str().is_some_and(|s| {
            !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || "_-.+".contains(c))
        });
        if !ok {
            return Err(invalid(format!(
                "license: {l} must match ^[\\w\\-.+]+$ (an SPDX id, 'various' or 'proprietary')"
            )));
        }
    }
    if let Some(m) = obj.get("managed") {
        if !m.is_boolean() {
            return Err(invalid("managed: expected true or false".into()));
        }
    }
    if let Some(ms) = obj.get("measurements") {
        let list = ms
            .as_array()
            .ok_or_else(|| invalid("measurements: expected a list".into()))?;
        let mut seen: Vec<String> = Vec::new();
        for (i, m) in list.iter().enumerate() {
            let mname = m.get("name").and_then(Value::as_str).unwrap_or("?");
            let at = |rule: String| invalid(format!("measurements[{i}] ({mname}).{rule}"));
            validate_measurement(m).map_err(at)?;
            let aliases = m
                .get("aliases")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for n in std::iter::once(mname.to_string()).chain(
                aliases
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_string)),
            ) {
                if seen.contains(&n) {
                    return Err(at(format!(
                        "name/aliases: {n:?} is used twice in this product"
                    )));
                }
                seen.push(n);
            }
        }
    }
    if let Some(load) = obj.get("load") {
        validate_grid_hints("load", load, &["crs", "resolution", "align"], true)
            .map_err(invalid)?;
    }
    if let Some(storage) = obj.get("storage") {
        validate_grid_hints(
            "storage",
            storage,
            &[
                "chunking",
                "crs",
                "dimension_order",
                "resolution",
                "tile_size",
                "origin",
                "driver",
            ],
            false,
        )
        .map_err(invalid)?;
    }
    if let Some(extra) = obj.get("extra_dimensions") {
        let list = extra
            .as_array()
            .ok_or_else(|| invalid("extra_dimensions: expected a list".into()))?;
        for (i, d) in list.iter().enumerate() {
            let ok = d.get("name").is_some_and(Value::is_string)
                && d.get("values")
                    .and_then(Value::as_array)
                    .is_some_and(|v| v.iter().all(Value::is_number))
                && d.get("dtype")
                    .and_then(Value::as_str)
                    .is_some_and(|t| DTYPES.contains(&t))
                && d.as_object().is_some_and(|o| {
                    o.keys()
                        .all(|k| ["name", "values", "dtype"].contains(&k.as_str()))
                });
            if !ok {
                return Err(invalid(format!(
                    "extra_dimensions[{i}]: needs exactly name, values (numbers) and dtype"
                )));
            }
        }
    }
    Ok(())
}

fn validate_measurement(m: &Value) -> Result<(), String> {
    let obj = m.as_object().ok_or("expected a mapping")?;
    for key in obj.keys() {
        if !MEASUREMENT_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "{key}: unknown key (allowed: {})",
                MEASUREMENT_KEYS.join(", ")
            ));
        }
    }
    for key in ["name", "dtype", "nodata", "units"] {
        if !obj.contains_key(key) {
            return Err(format!("{key}: required"));
        }
    }
    match &obj["name"] {
        Value::String(s) if is_word(s) => {}
        other => return Err(format!("name: {other} must match ^\\w+$")),
    }
    let dtype = obj["dtype"]
        .as_str()
        .filter(|d| DTYPES.contains(d))
        .ok_or_else(|| {
            format!(
                "dtype: {} is not one of {}",
                obj["dtype"],
                DTYPES.join(", ")
            )
        })?;
    check_nodata(dtype, &obj["nodata"]).map_err(|m| format!("nodata: {m}"))?;
    if !obj["units"].is_string() {
        return Err("units: expected a string (e.g. '1', mm, K)".into());
    }
    for key in ["scale_factor", "add_offset"] {
        if obj.get(key).is_some_and(|v| !v.is_number()) {
            return Err(format!("{key}: expected a number"));
        }
    }
    if let Some(a) = obj.get("aliases") {
        if !a.as_array().is_some_and(|l| l.iter().all(Value::is_string)) {
            return Err("aliases: expected a list of strings".into());
        }
    }
    if let Some(e) = obj.get("extra_dim") {
        if !e.is_string() {
            return Err("extra_dim: expected a string".into());
        }
    }
    if let Some(flags) = obj.get("flags_definition") {
        let flags = flags
            .as_object()
            .ok_or("flags_definition: expected a mapping of flag name to definition")?;
        for (flag, def) in flags {
            let bits_ok = def
                .get("bits")
                .is_some_and(|b| b.is_number() || b.is_array());
            if !bits_ok {
                return Err(format!(
                    "flags_definition.{flag}.bits: required, a bit number or a list of them"
                ));
            }
            if !def.get("values").is_some_and(Value::is_object) {
                return Err(format!(
                    "flags_definition.{flag}.values: required, a mapping of value to meaning"
                ));
            }
            if def.get("description").is_some_and(|d| !d.is_string()) {
                return Err(format!(
                    "flags_definition.{flag}.description: expected a string"
                ));
            }
        }
    }
    Ok(())
}

/// Whether `nodata` can be stored in `dtype`: integers must be whole and in range; NaN/Inf need a float.
pub fn check_nodata(dtype: &str, nodata: &Value) -> Result<(), String> {
    let float = dtype.starts_with("float") || dtype.starts_with("complex");
    if let Value::String(s) = nodata {
        return match s.as_str() {
            "NaN" | "Inf" | "-Inf" | "Infinity" | "-Infinity" if float => Ok(()),
            "NaN" | "Inf" | "-Inf" | "Infinity" | "-Infinity" => {
                Err(format!("{s} is not representable in {dtype}"))
            }
            _ => Err(format!("{s:?} must be a number, NaN, Inf or -Inf")),
        };
    }
    let Value::Number(n) = nodata else {
        return Err(format!("{nodata} must be a number, NaN, Inf or -Inf"));
    };
    let v = n.as_f64().unwrap_or(f64::NAN);
    let range = |lo: f64, hi: f64| -> Result<(), String> {
        if v.fract() != 0.0 {
            Err(format!(
                "{n} is not a whole number, so not representable in {dtype}"
            ))
        } else if v < lo || v > hi {
            Err(format!("{n} is outside the range of {dtype} ({lo}..{hi})"))
        } else {
            Ok(())
        }
    };
    match dtype {
        "int8" => range(-128.0, 127.0),
        "int16" => range(-32768.0, 32767.0),
        "int32" => range(-2147483648.0, 2147483647.0),
        "int64" => range(-9.223372036854776e18, 9.223372036854776e18),
        "uint8" => range(0.0, 255.0),
        "uint16" => range(0.0, 65535.0),
        "uint32" => range(0.0, 4294967295.0),
        "uint64" => range(0.0, 1.8446744073709552e19),
        "float16" if v.abs() > 65504.0 => {
            Err(format!("{n} is outside the range of float16 (±65504)"))
        }
        "float32" | "complex64" if v.abs() > f32::MAX as f64 => {
            Err(format!("{n} is outside the range of float32"))
        }
        _ => Ok(()),
    }
}

/// How a CRS names its spatial dimensions, when etlake can tell without PROJ.
pub fn crs_dimensions(crs: &str) -> Option<[&'static str; 2]> {
    const GEOGRAPHIC: [&str; 12] = [
        "4326", "4269", "4258", "4283", "4167", "4674", "4617", "4322", "4230", "4019", "4148",
        "7844",
    ];
    let c = crs.trim();
    let upper = c.to_uppercase();
    if let Some(code) = upper.strip_prefix("EPSG:") {
        if GEOGRAPHIC.contains(&code) {
            return Some(["latitude", "longitude"]);
        }
        let n: u32 = code.parse().ok()?;
        let utm = (32601..=32660).contains(&n) || (32701..=32760).contains(&n);
        let known_projected =
            [3857, 3577, 6933, 5070, 3035, 3031, 3413, 2193, 3395, 8857].contains(&n);
        return (utm || known_projected).then_some(["y", "x"]);
    }
    if c.starts_with('+') || c.contains("+proj=") {
        return if [
            "+proj=longlat",
            "+proj=latlong",
            "+proj=lonlat",
            "+proj=latlon",
        ]
        .iter()
        .any(|p| c.contains(p))
        {
            Some(["latitude", "longitude"])
        } else if c.contains("+proj=") {
            Some(["y", "x"])
        } else {
            None
        };
    }
    if ["GEOGCS[", "GEOGCRS[", "GEODCRS[", "GEOGRAPHICCRS["]
        .iter()
        .any(|p| upper.starts_with(p))
    {
        return Some(["latitude", "longitude"]);
    }
    if ["PROJCS[", "PROJCRS[", "PROJECTEDCRS["]
        .iter()
        .any(|p| upper.starts_with(p))
    {
        return Some(["y", "x"]);
    }
    None
}

fn validate_grid_hints(
    section: &str,
    v: &Value,
    allowed: &[&str],
    required: bool,
) -> Result<(), String> {
    let obj = v
        .as_object()
        .ok_or(format!("{section}: expected a mapping"))?;
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(format!(
                "{section}.{key}: unknown key (allowed: {})",
                allowed.join(", ")
            ));
        }
    }
    if required {
        for key in ["crs", "resolution"] {
            if !obj.contains_key(key) {
                return Err(format!("{section}.{key}: required"));
            }
        }
    }
    let Some(crs) = obj.get("crs") else {
        return Ok(());
    };
    let crs = crs.as_str().ok_or(format!(
        "{section}.crs: expected a string such as EPSG:4326"
    ))?;
    for key in ["resolution", "align", "origin", "tile_size"] {
        let Some(m) = obj.get(key) else { continue };
        let m = m.as_object().ok_or(format!(
            "{section}.{key}: expected a mapping keyed by dimension name"
        ))?;
        if m.values().any(|x| !x.is_number()) {
            return Err(format!("{section}.{key}: values must be numbers"));
        }
        let mut keys: Vec<&str> = m.keys().map(String::as_str).collect();
        keys.sort();
        let expected: Vec<[&str; 2]> = match crs_dimensions(crs) {
            Some(d) => vec![d],
            None => vec![["latitude", "longitude"], ["y", "x"]],
        };
        let ok = expected.iter().any(|d| {
            let mut want = d.to_vec();
            want.sort();
            keys == want
        });
        if !ok {
            let names: Vec<String> = expected
                .iter()
                .map(|d| format!("{}/{}", d[0], d[1]))
                .collect();
            return Err(format!(
                "{section}.{key}: keys {keys:?} do not match the dimensions of {crs} ({})",
                names.join(" or ")
            ));
        }
    }
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"name": "p", "description": "d", "metadata_type": "eo3", "metadata": {"product": {"name": "p"}},
               "measurements": [{"name": "b", "dtype": "uint8", "nodata": 255, "units": "1"}],
               "load": {"crs": "EPSG:4326", "resolution": {"latitude": -0.1, "longitude": 0.1}}})
    }

    fn err(doc: &Value) -> String {
        validate("f.yaml", doc).unwrap_err().to_string()
    }

    #[test]
    fn a_valid_product_passes() {
        validate("f.yaml", &base()).unwrap();
    }

    #[test]
    fn nodata_must_fit_the_dtype() {
        let mut d = base();
        d["measurements"][0]["nodata"] = json!(300);
        let e = err(&d);
        assert!(
            e.contains("measurements[0] (b).nodata: 300 is outside the range of uint8"),
            "{e}"
        );
        d["measurements"][0]["nodata"] = json!("NaN");
        assert!(err(&d).contains("NaN is not representable in uint8"));
        d["measurements"][0]["dtype"] = json!("float32");
        validate("f.yaml", &d).unwrap();
        d["measurements"][0]["dtype"] = json!("int16");
        d["measurements"][0]["nodata"] = json!(-1.5);
        assert!(err(&d).contains("not a whole number"));
    }

    #[test]
    fn required_keys_and_patterns() {
        let mut d = base();
        d.as_object_mut().unwrap().remove("description");
        assert!(err(&d).contains("description: required"));
        let mut d = base();
        d["name"] = json!("bad-name");
        assert!(err(&d).contains("must match ^\\w+$"));
        let mut d = base();
        d["colour"] = json!("blue");
        assert!(err(&d).contains("colour: unknown key"));
        let mut d = base();
        d["license"] = json!("CC BY");
        assert!(err(&d).contains("license"));
    }

    #[test]
    fn load_hints_use_the_crs_dimension_names() {
        let mut d = base();
        d["load"]["resolution"] = json!({"y": -0.1, "x": 0.1});
        assert!(err(&d).contains("do not match the dimensions of EPSG:4326 (latitude/longitude)"));
        d["load"]["crs"] =
            json!("+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs");
        validate("f.yaml", &d).unwrap();
        d["load"]["crs"] = json!("EPSG:32633");
        validate("f.yaml", &d).unwrap();
    }
}
