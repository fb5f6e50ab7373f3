#!/usr/bin/env bash
# Benchmark of `etlake index` on raw files from a local S3-protocol server (moto): objects per second
# and peak memory at 1,000 and 20,000 CHIRPS-style GeoTIFF objects. Prints the figures (the README's
# performance section quotes the latest). Usage: scripts/bench-index.sh [SMALL] [LARGE]
set -euo pipefail
cd "$(dirname "$0")/.."
small="${1:-1000}"; large="${2:-20000}"
. scripts/bench-env.sh

# One small float32 GeoTIFF (0.05°, 40 x 20, nodata -9999) uploaded under many real CHIRPS daily names.
gdal_create -q -of GTiff -ot Float32 -outsize 40 20 -a_srs EPSG:4326 -a_ullr -105 41 -103 40 -a_nodata -9999 -burn 1 "$work/day.tif"
.venv-moto/bin/python - "$endpoint" "$work/day.tif" "$small" "$large" <<'PY'
import sys, datetime, boto3, concurrent.futures as cf
endpoint, path, small, large = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
s3.create_bucket(Bucket="bench")
body = open(path, "rb").read()
def keys(prefix, n):
    d = datetime.date(1981, 1, 1)
    for _ in range(n):
        yield f"{prefix}/global_daily/tifs/p05/{d.year}/chirps-v2.0.{d.year}.{d.month:02d}.{d.day:02d}.tif"
        d += datetime.timedelta(days=1)
jobs = list(keys("small", small)) + list(keys("large", large))
with cf.ThreadPoolExecutor(16) as ex:
    list(ex.map(lambda k: s3.put_object(Bucket="bench", Key=k, Body=body), jobs))
print(f"uploaded {len(jobs)} objects", file=sys.stderr)
PY
"$etlake" db init >/dev/null
"$etlake" product add product-defs/products >/dev/null

run() {
  local prefix=$1 n=$2
  /usr/bin/time -f "%e %M" -o "$work/time" "$etlake" index "s3://bench/$prefix/" --endpoint-url "$endpoint" --product chirps_v2_daily_p05 >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }
  read -r secs kb < "$work/time"
  python3 -c "import sys; n,s,kb=int(sys.argv[1]),float(sys.argv[2]),int(sys.argv[3]); print(f'{n:>6} objects: {s:6.1f} s, {n/s:7.1f} objects/s, peak RSS {kb/1024:6.1f} MiB')" "$n" "$secs" "$kb"
  grep -q "$n indexed" "$work/out" || { echo "expected $n indexed:"; cat "$work/out"; exit 1; }
}
echo "etlake index, raw GeoTIFFs over S3 (moto on loopback), $(nproc) cores:"
run small "$small"
run large "$large"
