#!/usr/bin/env bash
# The anchors' benchmark: N Landsat-style STAC sidecars (default 2,000) indexed by odc-apps-dc-tools
# 1.9.9 and by etlake into empty indexes (product already added), from a local S3-protocol server
# (s3-to-dc --stac) and from a local folder (fs-to-dc --stac). Prints wall time, rate, peak RSS and the
# ratio, measured side by side in one run. Usage: scripts/bench-stac.sh [N]
# Above 20,000 items only etlake runs (dc-tools would take hours), and its S3 leg reads a key list
# (as from S3 Inventory): s3s-fs walks its whole folder for every LIST page, so listing 100,000 keys
# from it takes minutes, which would measure s3s-fs.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-2000}"
. scripts/bench-env.sh
cargo build --release -p sample-lake --example landsat_items -q
target/release/examples/landsat_items "$work/lake" "$n" >/dev/null
mkdir -p "$work/s3root/usgs-landsat"
# The S3 leg runs against s3s-fs (a Rust S3-protocol server over a folder): moto answers only ~460 GETs
# per second whatever the client, which would measure moto. ETLAKE_BENCH_S3=moto uses moto instead.
if [ "${ETLAKE_BENCH_S3:-s3s-fs}" = s3s-fs ]; then
  s3s="$PWD/target/tools/bin/s3s-fs"
  [ -x "$s3s" ] || cargo install -q s3s-fs --version 0.14.1 --features binary --locked --root "$PWD/target/tools"
  s3port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$s3s" --host 127.0.0.1 --port "$s3port" --access-key bench --secret-key bench "$work/s3root" >/dev/null 2>&1 &
  s3s_pid=$!
  trap 'kill $s3s_pid 2>/dev/null || true; cleanup' EXIT
  endpoint="http://127.0.0.1:$s3port"
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$s3port") 2>/dev/null && break; sleep 0.1; done
  server="s3s-fs 0.14.1"
else
  server="moto"
fi
# Objects are written into the server's folder (s3s-fs serves a folder; moto gets PUTs), with their
# self links pointing at s3://.
python3 - "$work/lake" "$work/s3root/usgs-landsat" "$work/keys.txt" <<'PY'
import sys, os, json
root, dst, keys = sys.argv[1:]
with open(keys, "w") as out:
    for d, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(d, f); key = os.path.relpath(p, root)
            doc = json.load(open(p)); doc["links"][0]["href"] = f"s3://usgs-landsat/{key}"
            q = os.path.join(dst, key); os.makedirs(os.path.dirname(q), exist_ok=True)
            open(q, "w").write(json.dumps(doc)); out.write(f"s3://usgs-landsat/{key}\n")
PY
if [ "$server" = moto ]; then
  .venv-moto/bin/python - "$endpoint" "$work/s3root/usgs-landsat" <<'PY'
import sys, os, boto3, concurrent.futures as cf
endpoint, root = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
s3.create_bucket(Bucket="usgs-landsat")
paths = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]
with cf.ThreadPoolExecutor(16) as ex:
    list(ex.map(lambda p: s3.upload_file(p, "usgs-landsat", os.path.relpath(p, root)), paths))
PY
fi
"$etlake" db start >/dev/null
url=$("$etlake" db status | sed -n "s/.*Python:  ODC_DEFAULT_DB_URL='\(.*\)'/\1/p")
fresh() {  # an empty index with the benchmark product in database $1
  psql "$(echo "$url" | sed 's/+psycopg2//; s/datacube?/postgres?/')" -qc "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
  local u=${url/\/datacube?//$1?}
  "$etlake" --db "$u" db init >/dev/null
  "$etlake" --db "$u" product add tests/fixtures/bench-ls8_c2l2_sr.odc-product.yaml >/dev/null
  echo "$u"
}
measure() {  # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }
  read -r secs kb < "$work/time"
  echo "$label $secs $kb"
}
report() {  # label secs kb
  python3 -c "import sys; l,s,kb,n=sys.argv[1],float(sys.argv[2]),int(sys.argv[3]),int(sys.argv[4]); print(f'  {l:<28} {s:7.2f} s  {n/s:8.1f} datasets/s  peak RSS {kb/1024:6.1f} MiB')" "$@" "$n"
}
echo "STAC sidecars → ODC index, $n items, $(nproc) cores, S3 from $server (odc-apps-dc-tools 1.9.9 + datacube 1.9.20 vs etlake):"
if [ "$n" -gt 20000 ]; then
  u=$(fresh bench_et_s3); r=($(measure x "$etlake" --db "$u" index --from-file "$work/keys.txt" --endpoint-url "$endpoint"))
  grep -q "$n indexed" "$work/out" || { cat "$work/out"; exit 1; }
  report "etlake index (S3 key list)" "${r[1]}" "${r[2]}"
  u=$(fresh bench_et_fs); e=($(measure x "$etlake" --db "$u" index "$work/lake"))
  grep -q "$n indexed" "$work/out" || { cat "$work/out"; exit 1; }
  report "etlake index DIR" "${e[1]}" "${e[2]}"
  echo "  (dc-tools not run above 20,000 items)"
  exit 0
fi
u_dc=$(fresh bench_dc_s3); u=$u_dc; read -r _ dc_s secs_kb <<<"$(ODC_DEFAULT_DB_URL=$u AWS_ENDPOINT_URL=$endpoint measure x .venv/bin/s3-to-dc --stac 's3://usgs-landsat/collection02/**/*_SR_stac.json' ls8_c2l2_sr)"
dc_s3=($(echo "$dc_s $secs_kb")); report "s3-to-dc --stac" "${dc_s3[0]}" "${dc_s3[1]}"
u=$(fresh bench_et_s3); r=($(measure x "$etlake" --db "$u" index s3://usgs-landsat/collection02/ --endpoint-url "$endpoint"))
grep -q "$n indexed" "$work/out" || { cat "$work/out"; exit 1; }
report "etlake index s3://" "${r[1]}" "${r[2]}"
python3 -c "import sys; print(f'  ratio (S3): etlake is {float(sys.argv[1])/float(sys.argv[2]):.1f}x faster')" "${dc_s3[0]}" "${r[1]}"
# The same delivery again, nothing changed: dc-tools reads every item again; etlake compares ETags.
read -r _ dcr_s dcr_kb <<<"$(ODC_DEFAULT_DB_URL=$u_dc AWS_ENDPOINT_URL=$endpoint measure x .venv/bin/s3-to-dc --stac 's3://usgs-landsat/collection02/**/*_SR_stac.json' ls8_c2l2_sr)"
report "s3-to-dc re-run (no change)" "$dcr_s" "$dcr_kb"
rr=($(measure x "$etlake" --db "$u" index s3://usgs-landsat/collection02/ --endpoint-url "$endpoint"))
grep -q "not read again $n" "$work/out" || { cat "$work/out"; exit 1; }
report "etlake re-run (no change)" "${rr[1]}" "${rr[2]}"
python3 -c "import sys; print(f'  ratio (re-run): etlake is {float(sys.argv[1])/float(sys.argv[2]):.1f}x faster')" "$dcr_s" "${rr[1]}"
u=$(fresh bench_dc_fs); f=($(ODC_DEFAULT_DB_URL=$u measure x .venv/bin/fs-to-dc --stac --glob '**/*_SR_stac.json' "$work/lake"))
report "fs-to-dc --stac" "${f[1]}" "${f[2]}"
u=$(fresh bench_et_fs); e=($(measure x "$etlake" --db "$u" index "$work/lake"))
grep -q "$n indexed" "$work/out" || { cat "$work/out"; exit 1; }
report "etlake index DIR" "${e[1]}" "${e[2]}"
python3 -c "import sys; print(f'  ratio (local): etlake is {float(sys.argv[1])/float(sys.argv[2]):.1f}x faster')" "${f[1]}" "${e[1]}"
