//! The `intersects` parameter: a GeoJSON geometry (any of the seven types) reduced to points,
//! segments and polygon rings, its envelope for the SQL prefilter, and an exact test of whether it
//! meets an item's lon/lat box (items' footprints are their boxes).
use crate::error::ApiError;
use serde_json::Value;

type Pt = [f64; 2];

/// A parsed geometry.
#[derive(Debug, Clone, Default)]
pub struct Geometry {
    points: Vec<Pt>,
    /// Line strings and polygon rings, each as its vertices.
    lines: Vec<Vec<Pt>>,
    /// Polygons, each as its rings (the first the outside, the rest holes).
    polygons: Vec<Vec<Vec<Pt>>>,
}

fn bad(why: &str) -> ApiError {
    ApiError::bad_request(format!("intersects: {why}"))
}

fn point(v: &Value) -> Result<Pt, ApiError> {
    match v.as_array().map(Vec::as_slice) {
        Some([x, y, ..]) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) if x.is_finite() && y.is_finite() => Ok([x, y]),
            _ => Err(bad("a position's coordinates must be numbers")),
        },
        _ => Err(bad("a position needs two numbers")),
    }
}

fn points(v: &Value) -> Result<Vec<Pt>, ApiError> {
    v.as_array()
        .ok_or_else(|| bad("expected an array of positions"))?
        .iter()
        .map(point)
        .collect()
}

fn rings(v: &Value) -> Result<Vec<Vec<Pt>>, ApiError> {
    let rings: Vec<Vec<Pt>> = v
        .as_array()
        .ok_or_else(|| bad("a polygon is an array of rings"))?
        .iter()
        .map(points)
        .collect::<Result<_, _>>()?;
    if rings.is_empty() || rings.iter().any(|r| r.len() < 4 || r.first() != r.last()) {
        return Err(bad(
            "a polygon ring needs at least 4 positions, the last equal to the first",
        ));
    }
    Ok(rings)
}

impl Geometry {
    /// Parses a GeoJSON geometry object.
    pub fn parse(v: &Value) -> Result<Geometry, ApiError> {
        let mut g = Geometry::default();
        g.add(v, 0)?;
        if g.points.is_empty() && g.lines.is_empty() && g.polygons.is_empty() {
            return Err(bad("the geometry is empty"));
        }
        Ok(g)
    }

    fn add(&mut self, v: &Value, depth: usize) -> Result<(), ApiError> {
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("expected a GeoJSON geometry object with a type"))?;
        let coords = || v.get("coordinates").ok_or_else(|| bad("no coordinates"));
        let each = |c: &Value| -> Result<Vec<Value>, ApiError> {
            c.as_array()
                .cloned()
                .ok_or_else(|| bad("expected an array"))
        };
        match kind {
            "Point" => self.points.push(point(coords()?)?),
            "MultiPoint" => self.points.extend(points(coords()?)?),
            "LineString" => self.lines.push(points(coords()?)?),
            "MultiLineString" => {
                for l in each(coords()?)? {
                    self.lines.push(points(&l)?);
                }
            }
            "Polygon" => self.polygons.push(rings(coords()?)?),
            "MultiPolygon" => {
                for p in each(coords()?)? {
                    self.polygons.push(rings(&p)?);
                }
            }
            "GeometryCollection" if depth < 8 => {
                let parts = v
                    .get("geometries")
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad("a GeometryCollection needs geometries"))?;
                for p in parts {
                    self.add(p, depth + 1)?;
                }
            }
            other => return Err(bad(&format!("unsupported geometry type {other:?}"))),
        }
        Ok(())
    }

    fn vertices(&self) -> impl Iterator<Item = &Pt> {
        self.points
            .iter()
            .chain(self.lines.iter().flatten())
            .chain(self.polygons.iter().flatten().flatten())
    }

    /// The lon/lat envelope W,S,E,N.
    pub fn envelope(&self) -> [f64; 4] {
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for [x, y] in self.vertices() {
            b = [b[0].min(*x), b[1].min(*y), b[2].max(*x), b[3].max(*y)];
        }
        b
    }

    /// Whether the geometry meets the closed box W,S,E,N (touching counts, as in GeoJSON/OGC).
    pub fn intersects_box(&self, [w, s, e, n]: [f64; 4]) -> bool {
        let inside = |[x, y]: &Pt| *x >= w && *x <= e && *y >= s && *y <= n;
        if self.vertices().any(inside) {
            return true;
        }
        let corners = [[w, s], [e, s], [e, n], [w, n]];
        let edges: Vec<(Pt, Pt)> = (0..4).map(|i| (corners[i], corners[(i + 1) % 4])).collect();
        let lines = self.lines.iter().chain(self.polygons.iter().flatten());
        for l in lines {
            for seg in l.windows(2) {
                if edges
                    .iter()
                    .any(|&(a, b)| segments_meet(seg[0], seg[1], a, b))
                {
                    return true;
                }
            }
        }
        // No vertex inside and no edge crossing: the box is inside a polygon or apart from it.
        self.polygons.iter().any(|rings| {
            let c = corners[0];
            contains(&rings[0], c) && !rings[1..].iter().any(|hole| contains(hole, c))
        })
    }
}

fn orient(a: Pt, b: Pt, c: Pt) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

fn on_segment(a: Pt, b: Pt, p: Pt) -> bool {
    p[0] >= a[0].min(b[0])
        && p[0] <= a[0].max(b[0])
        && p[1] >= a[1].min(b[1])
        && p[1] <= a[1].max(b[1])
}

/// Whether closed segments ab and cd share a point.
fn segments_meet(a: Pt, b: Pt, c: Pt, d: Pt) -> bool {
    let (d1, d2) = (orient(c, d, a), orient(c, d, b));
    let (d3, d4) = (orient(a, b, c), orient(a, b, d));
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    (d1 == 0.0 && on_segment(c, d, a))
        || (d2 == 0.0 && on_segment(c, d, b))
        || (d3 == 0.0 && on_segment(a, b, c))
        || (d4 == 0.0 && on_segment(a, b, d))
}

/// Even-odd point-in-ring test.
fn contains(ring: &[Pt], [x, y]: Pt) -> bool {
    let mut inside = false;
    for w in ring.windows(2) {
        let ([x0, y0], [x1, y1]) = (w[0], w[1]);
        if (y0 > y) != (y1 > y) && x < x0 + (y - y0) * (x1 - x0) / (y1 - y0) {
            inside = !inside;
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn geometries_meet_boxes() {
        let b = [0.0, 0.0, 1.0, 1.0];
        let g = |v: Value| Geometry::parse(&v).unwrap();
        assert!(g(json!({"type": "Point", "coordinates": [1.0, 0.5]})).intersects_box(b));
        assert!(!g(json!({"type": "Point", "coordinates": [1.5, 0.5]})).intersects_box(b));
        // A line crossing the box with no vertex inside.
        assert!(
            g(json!({"type": "LineString", "coordinates": [[-1, 0.5], [2, 0.5]]}))
                .intersects_box(b)
        );
        assert!(
            !g(json!({"type": "LineString", "coordinates": [[-1, 2], [2, 3]]})).intersects_box(b)
        );
        // A polygon holding the whole box, and one with a hole holding it.
        let big = json!([[-5, -5], [5, -5], [5, 5], [-5, 5], [-5, -5]]);
        let hole = json!([[-2, -2], [2, -2], [2, 2], [-2, 2], [-2, -2]]);
        assert!(g(json!({"type": "Polygon", "coordinates": [big]})).intersects_box(b));
        assert!(!g(json!({"type": "Polygon", "coordinates": [big, hole]})).intersects_box(b));
        let gc = g(json!({"type": "GeometryCollection", "geometries": [
            {"type": "Point", "coordinates": [9, 9]},
            {"type": "MultiPoint", "coordinates": [[0.5, 0.5]]}]}));
        assert!(gc.intersects_box(b));
        assert_eq!(gc.envelope(), [0.5, 0.5, 9.0, 9.0]);
        for bad in [
            json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}),
            json!({"type": "Circle", "coordinates": [0, 0]}),
            json!({"coordinates": [0, 0]}),
            json!({"type": "Point", "coordinates": ["a", 0]}),
        ] {
            assert!(Geometry::parse(&bad).is_err(), "{bad}");
        }
    }
}
