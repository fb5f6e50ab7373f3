//! The `intersects` parameter: a GeoJSON geometry (any of the seven types) reduced to points,
//! segments and polygon rings, its envelope, and the SQL (values bound) of whether it meets an item's
//! lon/lat box (items' footprints are their boxes), for `intersects` and CQL2 `S_INTERSECTS`.
use crate::bind::Params;
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

    /// Whether it is a single point or an axis-aligned rectangle: then meeting a box is meeting
    /// its envelope.
    fn is_box(&self) -> bool {
        match (
            self.points.as_slice(),
            self.lines.is_empty(),
            self.polygons.as_slice(),
        ) {
            ([_], true, []) => true,
            ([], true, [rings]) if rings.len() == 1 && rings[0].len() == 5 => {
                let [w, s, e, n] = self.envelope();
                rings[0]
                    .iter()
                    .all(|[x, y]| (*x == w || *x == e) && (*y == s || *y == n))
                    && rings[0]
                        .windows(2)
                        .all(|p| p[0][0] == p[1][0] || p[0][1] == p[1][1])
            }
            _ => false,
        }
    }

    /// SQL: whether the geometry meets a closed box whose W,S,E,N are the SQL expressions `b`
    /// (touching counts, as in GeoJSON/OGC). The envelopes must overlap; then a segment of the
    /// geometry (a point is a segment of length 0) meets the box, or the box lies inside a polygon
    /// and outside its holes. Postgres' geometric operators decide with a tolerance of 1e-6 degrees.
    pub fn sql(&self, p: &mut Params, b: [&str; 4]) -> String {
        let [w, s, e, n] = self.envelope();
        let [bw, bs, be, bn] = b;
        let envelope = format!(
            "{be} >= {} AND {bw} <= {} AND {bn} >= {} AND {bs} <= {}",
            p.bind(w, "float8"),
            p.bind(e, "float8"),
            p.bind(s, "float8"),
            p.bind(n, "float8")
        );
        if self.is_box() {
            return format!("({envelope})");
        }
        let mut seg: [Vec<f64>; 4] = Default::default();
        let mut push = |a: &Pt, c: &Pt| {
            for (v, x) in seg.iter_mut().zip([a[0], a[1], c[0], c[1]]) {
                v.push(x);
            }
        };
        for pt in &self.points {
            push(pt, pt);
        }
        for l in self.lines.iter().chain(self.polygons.iter().flatten()) {
            for w in l.windows(2) {
                push(&w[0], &w[1]);
            }
        }
        let boxed = format!("box(point({bw}, {bs}), point({be}, {bn}))");
        let [x0, y0, x1, y1] = seg.map(|v| p.bind(v, "float8[]"));
        let mut exact = format!(
            "EXISTS (SELECT 1 FROM unnest({x0}, {y0}, {x1}, {y1}) g(x0, y0, x1, y1)              WHERE lseg(point(g.x0, g.y0), point(g.x1, g.y1)) ?# {boxed})"
        );
        if !self.polygons.is_empty() {
            let (mut rings, mut owner, mut hole) = (Vec::new(), Vec::new(), Vec::new());
            for (i, poly) in self.polygons.iter().enumerate() {
                for (j, ring) in poly.iter().enumerate() {
                    let pts: Vec<String> = ring.iter().map(|[x, y]| format!("({x},{y})")).collect();
                    rings.push(format!("({})", pts.join(",")));
                    owner.push(i as i32);
                    hole.push(j > 0);
                }
            }
            let (r, o, h) = (
                p.bind(rings, "text[]"),
                p.bind(owner, "int4[]"),
                p.bind(hole, "bool[]"),
            );
            let corner = format!("point({bw}, {bs})");
            exact.push_str(&format!(
                " OR EXISTS (SELECT 1 FROM unnest({r}, {o}, {h}) q(ring, poly, hole)                  WHERE NOT q.hole AND q.ring::polygon @> {corner} AND NOT EXISTS                  (SELECT 1 FROM unnest({r}, {o}, {h}) q2(ring, poly, hole)                  WHERE q2.hole AND q2.poly = q.poly AND q2.ring::polygon @> {corner}))"
            ));
        }
        format!("({envelope} AND ({exact}))")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn geometries_parse_with_envelopes() {
        let g = |v: Value| Geometry::parse(&v).unwrap();
        let gc = g(json!({"type": "GeometryCollection", "geometries": [
            {"type": "Point", "coordinates": [9, 9]},
            {"type": "MultiPoint", "coordinates": [[0.5, 0.5]]}]}));
        assert_eq!(gc.envelope(), [0.5, 0.5, 9.0, 9.0]);
        assert!(!gc.is_box());
        assert!(g(json!({"type": "Point", "coordinates": [1.0, 0.5]})).is_box());
        let rect = json!([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]);
        assert!(g(json!({"type": "Polygon", "coordinates": [rect]})).is_box());
        let tilted = json!([[0, 0], [1, 0.5], [1, 1], [0, 1], [0, 0]]);
        assert!(!g(json!({"type": "Polygon", "coordinates": [tilted]})).is_box());
        // The exact test binds every coordinate; the SQL holds none.
        let mut p = Params::default();
        let sql = g(json!({"type": "LineString", "coordinates": [[-1, 0.5], [2.25, 0.5]]}))
            .sql(&mut p, ["w", "s", "e", "n"]);
        assert!(!sql.contains("2.25") && sql.contains("?#"), "{sql}");
        assert_eq!(p.len(), 8);
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
