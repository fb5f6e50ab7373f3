//! Units of VegET's inputs: the units each role takes (°C, mm, unitless NDVI, percent), the units a
//! product declares, and the one linear map from stored values to the role's units: the product's
//! packing (or the config's `scale`/`offset` instead), then kelvin to °C where needed. A config
//! that would convert twice, or units that do not fit the role, are refused with what to change.
use super::config::InputSpec;
use crate::stack::Packing;

/// What a role measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quantity {
    /// Air temperature, in °C.
    Temperature,
    /// Water depth (per day for fluxes), in mm.
    Depth,
    /// A ratio without units (NDVI, the water mask).
    Unitless,
    /// Percent (interception).
    Percent,
}

/// A unit as products and configs spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Celsius,
    Kelvin,
    Millimetre,
    One,
    Percent,
}

fn quantity(role: &str) -> Quantity {
    match role {
        "tmin" | "tmax" | "tavg" => Quantity::Temperature,
        "ndvi" | "water" => Quantity::Unitless,
        "interception" => Quantity::Percent,
        // precipitation, eto, whc, field_capacity, saturation
        _ => Quantity::Depth,
    }
}

/// The units the kernel takes for `role`, as the messages name them.
pub(crate) fn role_units(role: &str) -> &'static str {
    match quantity(role) {
        Quantity::Temperature => "°C",
        Quantity::Depth => "mm",
        Quantity::Unitless => "1 (unitless)",
        Quantity::Percent => "%",
    }
}

/// CF/UDUNITS spellings and the common ones products use. Depths per day count as depths: every
/// depth role of VegET is a daily total or a static depth. 1 kg m-2 of water is 1 mm.
fn parse(units: &str) -> Option<Unit> {
    let u = units.trim();
    Some(match u {
        "K" | "Kelvin" | "kelvin" | "degK" | "deg_K" | "degrees_K" => Unit::Kelvin,
        "degC" | "°C" | "C" | "deg_C" | "degrees_C" | "celsius" | "Celsius" | "degree_Celsius"
        | "degrees_Celsius" => Unit::Celsius,
        "mm" | "mm/day" | "mm/d" | "mm day-1" | "mm d-1" | "mm day^-1" | "millimeter"
        | "millimeters" | "millimetre" | "millimetres" | "kg m-2" | "kg/m2" | "kg m-2 d-1"
        | "kg m-2 day-1" => Unit::Millimetre,
        "1" | "" | "-" | "unitless" | "dimensionless" | "none" | "NDVI" | "ratio" => Unit::One,
        "%" | "percent" => Unit::Percent,
        _ => return None,
    })
}

/// The map from values in `units` to the role's units, or why there is none.
fn conversion(role: &str, units: &str) -> Result<Packing, String> {
    let unit = parse(units).ok_or_else(|| {
        format!(
            "units {units:?} are not ones etlake knows for {role} (it takes {}: e.g. K or degC for \
             temperatures, mm for water depths, 1 for NDVI, % for interception)",
            role_units(role)
        )
    })?;
    let identity = Packing::NONE;
    match (quantity(role), unit) {
        (Quantity::Temperature, Unit::Celsius)
        | (Quantity::Depth, Unit::Millimetre)
        | (Quantity::Unitless, Unit::One)
        | (Quantity::Percent, Unit::Percent) => Ok(identity),
        (Quantity::Temperature, Unit::Kelvin) => Ok(Packing {
            scale_factor: 1.0,
            add_offset: -273.15,
        }),
        _ => Err(format!(
            "units {units:?} cannot be {role}, which takes {}",
            role_units(role)
        )),
    }
}

/// Whether `units` (a config's `units:`) can feed `role`.
pub(crate) fn check_role_units(role: &str, units: &str) -> Result<(), String> {
    conversion(role, units).map(|_| ())
}

/// The map from a measurement's stored values to the role's units: the product's packing (or the
/// config's `scale`/`offset`, each replacing its own half), then the units conversion. Errors name the role,
/// product, measurement and units, and say what to change in the config.
pub(crate) fn input_map(
    role: &str,
    spec: &InputSpec,
    (product, measurement): (&str, &str),
    product_units: Option<&str>,
    product_packing: Packing,
) -> Result<Packing, String> {
    let what = format!("inputs.{role}: product {product} measurement {measurement}");
    let own = spec.scale.is_some() || spec.offset.is_some();
    let packing = if own {
        // Each key replaces its own half: `scale:` alone keeps the product's add_offset (a gridMET
        // temperature rescaled by hand keeps its +220 K).
        Packing {
            scale_factor: spec.scale.unwrap_or(product_packing.scale_factor),
            add_offset: spec.offset.unwrap_or(product_packing.add_offset),
        }
    } else {
        product_packing
    };
    if !(packing.scale_factor.is_finite()
        && packing.scale_factor != 0.0
        && packing.add_offset.is_finite())
    {
        return Err(format!(
            "{what}: scale {} and offset {} cannot map stored values (the scale must be a non-zero \
             number)",
            packing.scale_factor, packing.add_offset
        ));
    }
    let (units, whose) = match (&spec.units, product_units) {
        (Some(u), _) => (u.as_str(), "the config's units"),
        (None, Some(u)) => (u, "the product's units"),
        (None, None) => {
            return Err(format!(
                "{what} declares no units: state them with `units:` in inputs.{role} ({role} takes \
                 {})",
                role_units(role)
            ))
        }
    };
    let to_role = conversion(role, units).map_err(|m| format!("{what}: {whose}: {m}"))?;
    if own && spec.units.is_none() && !to_role.is_none() {
        // The config's scale/offset and etlake's own conversion would both apply: the classic case is
        // `offset: -273.15` on a kelvin product.
        let mut keys = Vec::new();
        if let Some(s) = spec.scale {
            keys.push(format!("`scale: {s}`"));
        }
        if let Some(o) = spec.offset {
            keys.push(format!("`offset: {o}`"));
        }
        let keys = keys.join(" and ");
        return Err(format!(
            "{what} is in {units}, which etlake converts to {} itself: {keys} would convert \
             twice. Remove {keys} from inputs.{role} (the product's scale_factor {} and add_offset \
             {} apply without them); or, if your scale/offset already give {}, say so with \
             `units:`",
            role_units(role),
            product_packing.scale_factor,
            product_packing.add_offset,
            role_units(role),
        ));
    }
    Ok(Packing {
        scale_factor: packing.scale_factor * to_role.scale_factor,
        add_offset: packing.add_offset * to_role.scale_factor + to_role.add_offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> InputSpec {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    const NDVI: Packing = Packing {
        scale_factor: 0.0001,
        add_offset: 0.0,
    };
    const GRIDMET_TMMN: Packing = Packing {
        scale_factor: 0.1,
        add_offset: 220.0,
    };

    #[test]
    fn product_packing_and_kelvin_apply_by_default() {
        let m = input_map(
            "ndvi",
            &spec("{product: p}"),
            ("p", "ndvi"),
            Some("1"),
            NDVI,
        )
        .unwrap();
        assert_eq!(m, NDVI);
        let t = input_map(
            "tmin",
            &spec("{product: g}"),
            ("g", "tmmn"),
            Some("K"),
            GRIDMET_TMMN,
        )
        .unwrap();
        // stored 500 → 270 K → −3.15 °C
        assert!((t.apply(500.0) - (-3.15)).abs() < 1e-9, "{t:?}");
        let c = input_map(
            "tmax",
            &spec("{product: g}"),
            ("g", "t"),
            Some("degC"),
            Packing::NONE,
        )
        .unwrap();
        assert!(c.is_none());
    }

    #[test]
    fn config_scale_and_offset_replace_the_products() {
        let m = input_map(
            "ndvi",
            &spec("{product: p, scale: 0.001}"),
            ("p", "ndvi"),
            Some("1"),
            NDVI,
        )
        .unwrap();
        assert_eq!(m.scale_factor, 0.001);
        let zero = input_map(
            "ndvi",
            &spec("{product: p, scale: 0}"),
            ("p", "ndvi"),
            Some("1"),
            NDVI,
        );
        assert!(zero.unwrap_err().contains("non-zero"));
        // `scale:` alone keeps the product's offset: 2731 × 0.1 + 220 K = 493.1 K = 219.95 °C.
        let t = input_map(
            "tmin",
            &spec("{product: g, scale: 0.1, units: K}"),
            ("g", "tmmn"),
            Some("K"),
            GRIDMET_TMMN,
        )
        .unwrap();
        assert!(
            (t.apply(2731.0) - (2731.0 * 0.1 + 220.0 - 273.15)).abs() < 1e-9,
            "{t:?}"
        );
        // Stated units: the config's values are kelvin, converted once.
        let k = input_map(
            "tmin",
            &spec("{product: g, scale: 0.01, offset: 200, units: K}"),
            ("g", "tmmn"),
            Some("K"),
            GRIDMET_TMMN,
        )
        .unwrap();
        assert!((k.apply(7315.0) - 0.0).abs() < 1e-9, "{k:?}");
        // Or already °C.
        let c = input_map(
            "tmin",
            &spec("{product: g, offset: -273.15, units: degC}"),
            ("g", "tmmn"),
            Some("K"),
            Packing::NONE,
        )
        .unwrap();
        assert_eq!(c.apply(273.15), 0.0);
    }

    #[test]
    fn a_double_conversion_is_refused_saying_what_to_remove() {
        let e = input_map(
            "tmin",
            &spec("{product: gridmet_tmmn, offset: -273.15}"),
            ("gridmet_tmmn", "tmmn"),
            Some("K"),
            GRIDMET_TMMN,
        )
        .unwrap_err();
        assert!(
            e.contains("inputs.tmin: product gridmet_tmmn measurement tmmn is in K")
                && e.contains("Remove `offset: -273.15` from inputs.tmin"),
            "{e}"
        );
    }

    #[test]
    fn unknown_or_unfit_units_name_role_product_measurement_and_units() {
        for (role, units, expect) in [
            (
                "tmin",
                "furlongs",
                "units \"furlongs\" are not ones etlake knows",
            ),
            ("precipitation", "K", "units \"K\" cannot be precipitation"),
            ("ndvi", "mm", "cannot be ndvi, which takes 1 (unitless)"),
        ] {
            let e = input_map(
                role,
                &spec("{product: p}"),
                ("p", "m"),
                Some(units),
                Packing::NONE,
            )
            .unwrap_err();
            assert!(
                e.starts_with(&format!(
                    "inputs.{role}: product p measurement m: the product's units"
                )) && e.contains(expect),
                "{e}"
            );
        }
        let e = input_map(
            "whc",
            &spec("{product: p}"),
            ("p", "whc"),
            None,
            Packing::NONE,
        )
        .unwrap_err();
        assert!(
            e.contains("declares no units") && e.contains("`units:`"),
            "{e}"
        );
    }
}
