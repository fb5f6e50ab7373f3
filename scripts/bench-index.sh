#!/usr/bin/env bash
# Benchmark of `etlake index` on raw files from a local S3-protocol server (moto): objects per second
# and peak memory at 1,000 and 20,000 CHIRPS-style GeoTIFF objects. Prints the figures (the README's
# performance section quotes the latest). Usage: scripts/bench-index.sh [SMALL] [LARGE]
set -euo pipefail
cd "$(dirname "$0")/.."
small="${1:-1000}"; large="${2:-20000}"
scripts/setup-deps.sh --python >/dev/null
command -v /usr/bin/time >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq time >/dev/null; }
cargo build --release --bin etlake -q
etlake="$PWD/target/release/etlake"
work=$(mktemp -d /tmp/etlake-bench-XXXXXX); chmod 755 "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
.venv-moto/bin/moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
export ETLAKE_HOME="$work/home"
cleanup() { "$etlake" db stop >/dev/null 2>&1 || true; kill "$moto" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
endpoint="http://127.0.0.1:$port"
sleep 2

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
