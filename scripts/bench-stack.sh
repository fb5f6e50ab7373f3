#!/usr/bin/env bash
# Stack assembly: `etlake stack` against `dc.load` (datacube 1.9.20) on the same queries over the demo's
# sample lake indexed from a local folder, in one run: wall time of each, the ratio, and whether every
# pixel is identical. Usage: scripts/bench-stack.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-env.sh
cargo build --release -p sample-lake --example sample_lake -q
target/release/examples/sample_lake "$work/lake" 366 >/dev/null
"$etlake" db init >/dev/null
"$etlake" product add product-defs/products >/dev/null
"$etlake" index "$work/lake" >/dev/null 2>&1
url=$("$etlake" db status | sed -n "s/.*Python:  ODC_DEFAULT_DB_URL='\(.*\)'/\1/p")

# name | product | measurement | time | crs | resolution
queries=(
  "chirps-year-utm250|chirps_v2_daily_p05|precip|2019-10-01/2020-09-30|EPSG:32613|250"
  "gridmet-year-utm250|gridmet_pr|pr|2019-10-01/2020-09-30|EPSG:32613|250"
  "chirps-year-native|chirps_v2_daily_p05|precip|2019-10-01/2020-09-30|EPSG:4326|0.05"
)
bbox="-105.5,39,-104.5,40"
printf "%-22s %10s %10s %8s  %s\n" query "etlake s" "dc.load s" ratio pixels
for q in "${queries[@]}"; do
  IFS='|' read -r name product m time crs res <<<"$q"
  start=$(date +%s.%N)
  "$etlake" stack --product "$product" --measurements "$m" --time "$time" --bbox="$bbox" \
    --crs "$crs" --resolution "$res" --out "$work/$name.nc" >/dev/null
  secs=$(python3 -c "import time; print(f'{time.time() - $start:.2f}')")
  ODC_DEFAULT_DB_URL="$url" .venv/bin/python - "$product" "$m" "$time" "$crs" "$res" "$bbox" "$work/$name.nc" "$name" "$secs" <<'PY'
import sys, time
import numpy as np, xarray as xr, datacube
product, m, t, crs, res, bbox, path, name, esecs = sys.argv[1:]
res, (w, s, e, n) = float(res), map(float, bbox.split(","))
a, b = t.split("/")
dc = datacube.Datacube()
start = time.time()
d = dc.load(product=product, measurements=[m], time=(a, b), x=(w, e), y=(s, n), output_crs=crs,
            resolution=(-res, res), resampling="nearest")
secs = time.time() - start
x = d[m].values.astype("float64")
nod = d[m].attrs.get("nodata")
if nod is not None and not np.isnan(nod):
    x[x == nod] = np.nan
y = xr.open_dataset(path)[m].values.astype("float64")
same = x.shape == y.shape and bool(((x == y) | (np.isnan(x) & np.isnan(y))).all())
verdict = f"identical ({x.size:,} pixels)" if same else "DIFFER"
print(f"{name:<22} {float(esecs):>10.2f} {secs:>10.2f} {secs / float(esecs):>7.1f}×  {verdict}")
PY
done
