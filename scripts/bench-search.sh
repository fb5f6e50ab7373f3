#!/usr/bin/env bash
# Search latency at scale: an index with N synthetic eo3 datasets (default 1,000,000: 1° tiles over
# 40° × 25°, one per tile and day of 2020) generated in SQL, then the same 100 product + one month +
# 0.3° box queries through etlake's search and datacube's dc.find_datasets, p50/p90 side by side, plus
# the plan (no sequential scan of agdc.dataset). Each side runs the queries twice on one connection
# and times the second pass (a long-lived client of a served index). Usage: scripts/bench-search.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"
. scripts/bench-env.sh
cargo build --release --example bench_search -q
"$etlake" db init >/dev/null
"$etlake" product add product-defs/products/chirps_v2_daily_p05.odc-product.yaml >/dev/null
url=$("$etlake" db status | sed -n "s/.*etlake:  --db '\(.*\)'/\1/p")
echo "generating $n datasets…"
/usr/bin/time -f "  %e s" psql "$url" -q <<SQL
INSERT INTO agdc.dataset (id, metadata_type_ref, dataset_type_ref, metadata)
SELECT md5('bench' || i)::uuid, 1, p.id, jsonb_build_object(
  '\$schema', 'https://schemas.opendatacube.org/dataset',
  'id', md5('bench' || i)::uuid::text,
  'product', jsonb_build_object('name', p.name),
  'crs', 'EPSG:4326',
  'grids', jsonb_build_object('default', jsonb_build_object('shape', jsonb_build_array(20, 20),
     'transform', jsonb_build_array(0.05, 0, lon, 0, -0.05, lat + 1, 0, 0, 1))),
  'measurements', jsonb_build_object('precip', jsonb_build_object('path', 'tile.tif')),
  'properties', jsonb_build_object('datetime', to_char(day, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
     'dtr:start_datetime', to_char(day, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
     'dtr:end_datetime', to_char(day + interval '1 day' - interval '1 microsecond', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
     'odc:file_format', 'GeoTIFF', 'odc:processing_datetime', '2021-01-01T00:00:00Z'),
  'extent', jsonb_build_object('lat', jsonb_build_object('begin', lat, 'end', lat + 1),
                               'lon', jsonb_build_object('begin', lon, 'end', lon + 1)),
  'grid_spatial', jsonb_build_object('projection', jsonb_build_object('spatial_reference', 'EPSG:4326',
     'geo_ref_points', jsonb_build_object('ll', jsonb_build_object('x', lon, 'y', lat),
       'lr', jsonb_build_object('x', lon + 1, 'y', lat), 'ul', jsonb_build_object('x', lon, 'y', lat + 1),
       'ur', jsonb_build_object('x', lon + 1, 'y', lat + 1)))),
  'lineage', '{}'::jsonb)
FROM agdc.dataset_type p,
     LATERAL (SELECT i, (-120 + i % 40)::float8 AS lon, (30 + (i / 40) % 25)::float8 AS lat,
                     timestamptz '2020-01-01 00:00:00+00' + ((i / 1000) % 366) * interval '1 day' AS day
              FROM generate_series(0, $n - 1) AS i) AS g
WHERE p.name = 'chirps_v2_daily_p05';
INSERT INTO agdc.dataset_location (dataset_ref, uri_scheme, uri_body)
SELECT id, 'file', '///bench/' || id || '.tif' FROM agdc.dataset;
SQL
# A settled index, as a served one is: vacuumed (hint bits and visibility map set) and checkpointed,
# so neither side pays for the bulk load's aftermath.
psql "$url" -q -c "VACUUM ANALYZE agdc.dataset" -c "VACUUM ANALYZE agdc.dataset_location" -c "CHECKPOINT"
echo "plan of one query (etlake search --explain):"
"$etlake" search --product chirps_v2_daily_p05 --time 2020-03-01/2020-03-31 --bbox=-100.65,40.35,-100.35,40.65 --explain | grep -E "Scan|cost" | head -6 | sed 's/^/  /'
"$etlake" search --product chirps_v2_daily_p05 --time 2020-03-01/2020-03-31 --bbox=-100.65,40.35,-100.35,40.65 --explain | grep -q "Seq Scan on dataset " && { echo "  sequential scan of agdc.dataset!"; exit 1; }
target/release/examples/bench_search chirps_v2_daily_p05 100 >/dev/null  # warm-up: caches for both sides
read -r _ e50 e90 efound < <(target/release/examples/bench_search chirps_v2_daily_p05 100)
pyurl=$("$etlake" db status | sed -n "s/.*Python:  ODC_DEFAULT_DB_URL='\(.*\)'/\1/p")
read -r _ p50 p90 pfound < <(ODC_DEFAULT_DB_URL="$pyurl" .venv/bin/python - <<'PY'
import time, datacube
dc = datacube.Datacube()
for _pass in range(2):  # as etlake's side: the same queries twice on one connection, the second timed
    times, found = [], 0
    for k in range(100):
        month = k % 12 + 1
        end = "2021-01-01" if month == 12 else f"2020-{month + 1:02d}-01"
        w, s = -120 + (k * 7 % 40) + 0.35, 30 + (k * 3 % 25) + 0.35
        start = time.perf_counter()
        found += len(dc.find_datasets(product="chirps_v2_daily_p05", time=(f"2020-{month:02d}-01", end),
                                      x=(w, w + 0.3), y=(s, s + 0.3)))
        times.append((time.perf_counter() - start) * 1000)
times.sort()
print(f"datacube {times[50]:.2f} {times[90]:.2f} {found}")
PY
)
echo
printf "%-22s %10s %10s %10s\n" "" "p50 ms" "p90 ms" "found"
printf "%-22s %10s %10s %10s\n" "etlake search" "$e50" "$e90" "$efound"
printf "%-22s %10s %10s %10s\n" "dc.find_datasets" "$p50" "$p90" "$pfound"
python3 -c "print(f'ratio (p50): {float(\"$p50\") / float(\"$e50\"):.1f}×')"
