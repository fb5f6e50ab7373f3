#!/usr/bin/env bash
# `make demo`: a generated sample lake (MODIS HDF-EOS2, CHIRPS, gridMET, soil grids, Landsat C2 scenes)
# served from an S3 endpoint on loopback, indexed into the embedded ODC index, searched, stacked, run
# through VegET (outputs indexed back), with quicklooks; then the notebook reads it all with datacube
# when the Python venv of `make test` exists. Re-running finds everything unchanged.
# ETLAKE_DEMO_CHECK=1 (CI) also checks the results: dataset counts, images, balance, notebook.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
etlake="$root/${1:-target/release/etlake}"
sample_lake="$root/target/release/examples/sample_lake"
moto_venv="${ETLAKE_MOTO_VENV:-$root/.venv-moto}"
venv="${ETLAKE_VENV:-$root/.venv}"
check="${ETLAKE_DEMO_CHECK:-0}"
# The demo always uses the embedded cluster, whatever the shell's datacube settings say.
unset ODC_ENVIRONMENT DATACUBE_DB_URL DATACUBE_CONFIG_PATH ODC_CONFIG_PATH DB_HOSTNAME DB_DATABASE
for v in $(env | grep -o '^ODC_[A-Z0-9_]*_DB_[A-Z]*' || true); do unset "$v"; done

# The demo's files live beside etlake's embedded cluster (see `etlake db status`).
if [ -n "${ETLAKE_HOME:-}" ]; then home="$ETLAKE_HOME"
elif [ "$(id -u)" -eq 0 ]; then home=/var/lib/etlake
else home="${XDG_DATA_HOME:-$HOME/.local/share}/etlake"; fi
demo="${ETLAKE_DEMO_DIR:-$home/demo}"
lake="$demo/lake"
mkdir -p "$demo"
# The demo's index is a cluster of its own ($demo/pg), so datasets of other work (or of an older demo
# whose files are gone) never reach its searches, stacks and counts. Lake and index are rebuilt
# together when the code that shapes them changes (sample lake, product definitions, indexer, schema).
export ETLAKE_PG_DIR="$demo/pg"
stamp=$(find sample-lake product-defs indexer/src catalog-schema/src -type f -print0 | sort -z \
  | xargs -0 sha256sum | sha256sum | cut -c1-16)
if [ "$(cat "$lake/.complete" 2>/dev/null)" != "$stamp" ]; then
  "$etlake" db stop >/dev/null 2>&1 || true
  rm -rf "$lake" "$ETLAKE_PG_DIR"
fi

was_running=no
"$etlake" db status | grep -q "running" && was_running=yes
moto_pid=""
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null && wait "$moto_pid" 2>/dev/null || true
  if [ "$was_running" = no ]; then "$etlake" db stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
step() { echo; echo "==> $*"; }

if [ ! -f "$lake/.complete" ]; then
  step "generating the sample lake in $lake (one water year)"
  "$sample_lake" "$lake" 366
  echo "$stamp" >"$lake/.complete"
fi

step "serving the lake from an S3 endpoint on loopback (moto)"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$moto_venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$demo/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=us-east-1
"$moto_venv/bin/python" - "$lake" <<'EOF'
import os, sys, boto3
from concurrent.futures import ThreadPoolExecutor
root = sys.argv[1]
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3.create_bucket(Bucket="etlake-demo")
files = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if not f.startswith(".")]
with ThreadPoolExecutor(16) as pool:
    list(pool.map(lambda p: s3.upload_file(p, "etlake-demo", os.path.relpath(p, root)), files))
print(f"{len(files)} objects in s3://etlake-demo at {os.environ['AWS_ENDPOINT_URL']}")
EOF

step "etlake db init"
"$etlake" db init
step "etlake product add product-defs/products"
"$etlake" product add product-defs/products
step "etlake index 's3://etlake-demo/**' (USGS Landsat SR/ST items routed by product-defs rules; USGS hrefs mapped onto the bucket)"
"$etlake" index 's3://etlake-demo/**' --endpoint-url "$AWS_ENDPOINT_URL" \
  --href-rewrite "https://landsatlook.usgs.gov/data/=s3://etlake-demo/"
step "etlake product list"
"$etlake" product list
step "etlake search --product chirps_v2_daily_p05 --time 2020-05-01/2020-05-03 --bbox=-105.5,39,-104.5,40"
"$etlake" search --product chirps_v2_daily_p05 --time 2020-05-01/2020-05-03 --bbox=-105.5,39,-104.5,40
step "etlake search --product mod13q1_061 --time 2020-06"
"$etlake" search --product mod13q1_061 --time 2020-06-01/2020-06-30
step "etlake stack: June NDVI (MODIS HDF-EOS2 staged from S3) on the MODIS grid, with a quicklook"
"$etlake" stack --product mod13q1_061 --measurements ndvi --time 2020-06-01/2020-06-30 \
  --bbox=-105.5,39,-104.5,40 --out "$demo/ndvi-2020-06.nc" --png "$demo/ndvi-2020-06.png"
step "etlake stack: Landsat red and NIR COGs over /vsis3/, on a 30 m UTM grid"
"$etlake" stack --product ls8_c2l2_sr --measurements red,nir08 --time 2020-06-01/2020-07-31 \
  --bbox=-105.33,39.68,-105.26,39.74 --crs EPSG:32613 --resolution 30 --group-by solar_day \
  --out "$demo/landsat-2020-summer.nc"
step "etlake veget run (2020 water year, every input from the index, outputs indexed back)"
sed "s|dir: veget-demo-out|dir: $demo/veget|" examples/veget-demo.yaml >"$demo/veget-demo.yaml"
"$etlake" veget run "$demo/veget-demo.yaml" | tee "$demo/veget-run.txt"
python_url=$("$etlake" db status | sed -n "s/^  Python:  ODC_DEFAULT_DB_URL='\(.*\)'$/\1/p")
if [ -x "$venv/bin/jupyter" ]; then
  step "examples/read-with-datacube.ipynb: datacube reads the same index (executed → $demo/read-with-datacube.ipynb)"
  ODC_DEFAULT_DB_URL="$python_url" "$venv/bin/jupyter" nbconvert --to notebook --execute \
    --ExecutePreprocessor.timeout=600 examples/read-with-datacube.ipynb --output-dir "$demo"
elif [ "$check" = 1 ]; then
  echo "the notebook needs $venv (make test creates it)" >&2; exit 1
fi
if [ "$check" = 1 ]; then
  step "checking the demo's results"
  "$etlake" product list --format json | python3 scripts/check-demo.py "$demo"
fi
step "etlake db check"
"$etlake" db check
echo
"$etlake" db status
cat <<EOF

Everything is in $demo:
  lake (also served at s3://etlake-demo while the demo ran)  $lake
  NDVI stack and quicklook        $demo/ndvi-2020-06.nc, $demo/ndvi-2020-06.png
  VegET outputs and quicklook     $demo/veget/ (daily/, monthly/, annual/, state/), $demo/veget/eta_20191001_20200930.png
Python users read the same index with:
  $("$etlake" db status | sed -n "s/^  Python:  /export /p")
  python -c "import datacube; print(datacube.Datacube().list_products())"
EOF
if [ "$was_running" = no ] && [ "${ETLAKE_DEMO_SERVE:-0}" != 1 ]; then
  echo
  echo "The demo stops the cluster it started; \`ETLAKE_PG_DIR=$ETLAKE_PG_DIR $etlake db start\` starts it again for Python users."
  echo "The lake's rasters are s3:// objects of the demo's endpoint: ETLAKE_DEMO_SERVE=1 make demo keeps it up."
fi
if [ "${ETLAKE_DEMO_SERVE:-0}" = 1 ]; then
  cat <<EOS

ETLAKE_DEMO_SERVE=1: the S3 endpoint and the index stay up until Ctrl-C. In another shell:
  export ETLAKE_PG_DIR=$ETLAKE_PG_DIR
  export AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=us-east-1
  export AWS_S3_ENDPOINT=${AWS_ENDPOINT_URL#http://} AWS_HTTPS=NO AWS_VIRTUAL_HOSTING=FALSE   # for GDAL in Python
  cargo run --release --example stack_and_kernel
EOS
  wait "$moto_pid"
fi
