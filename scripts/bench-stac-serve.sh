#!/usr/bin/env bash
# STAC API serving, side by side in one run (issue 16): `etlake serve` (release build) against
# stac-fastapi-pgstac 7.2.0 on pypgstac 0.10.0 and datacube-explorer 3.1.7, all over the same N items
# (default 10,000 Landsat-style items from sample-lake's landsat_items, indexed by etlake into a private
# cluster). pgstac gets the very items etlake serves (exported through its /search, loaded with
# `pypgstac load`); explorer reads the same agdc index after `cubedash-gen --init --all`.
# Measures: p50/p95 of GET /search?collections&bbox&datetime&limit=100 at concurrency 1 and 4,
# items/s of an N-item paged search through pystac-client 0.9.1 (1,000 per page: explorer's cap),
# page 50 vs page 1 (limit 100, following next links) and /collections; prints etlake's ratio against
# the fastest peer. The peers' venvs live in $ETLAKE_BENCH_CACHE (default ~/.cache/etlake-bench-stac),
# made on first use; PostGIS (Debian postgresql-15-postgis-3, both peers need it) is installed with apt
# when missing. A peer that cannot be installed or started is reported as such and the others measured.
# Each Python server gets 2 worker processes (one per core here); etlake serve its defaults.
# Usage: scripts/bench-stac-serve.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
[ "$n" -ge 5000 ] || { echo "N must be at least 5,000 (page 50 of 100)" >&2; exit 2; }
. scripts/bench-env.sh
cargo build --release -p sample-lake --example landsat_items -q
cache="${ETLAKE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/etlake-bench-stac}"
mkdir -p "$cache"
py=.venv/bin/python  # the client side: pystac-client 0.9.1 and requests, from scripts/setup-deps.sh
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; cleanup' EXIT
wait_http() {  # url pid: until it answers 200 (60 s), or the process died
  for _ in $(seq 600); do
    curl -sf -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# --- the peers' software (before the clock: installs are not measured) ---
if ! dpkg -s postgresql-15-postgis-3 >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "installing postgresql-15-postgis-3 (PostGIS, both peers need it)…"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql-15-postgis-3 >/dev/null \
    || echo "  apt-get install postgresql-15-postgis-3 failed"
fi
have_postgis=no; dpkg -s postgresql-15-postgis-3 >/dev/null 2>&1 && have_postgis=yes
venv() {  # name pins...: a venv in the cache with exactly these pins; fails quietly (log in the cache)
  local dir="$cache/$1"; shift
  [ "$(cat "$dir/.pins" 2>/dev/null)" = "$*" ] && return 0
  echo "creating $dir ($*)…"
  rm -rf "$dir"; python3 -m venv "$dir" \
    && "$dir/bin/pip" install -q --disable-pip-version-check "$@" >"$cache/$(basename "$dir").log" 2>&1 \
    && echo "$*" >"$dir/.pins"
}
pgstac_why=""; explorer_why=""
[ "$have_postgis" = yes ] || { pgstac_why="PostGIS (postgresql-15-postgis-3) not installable"; explorer_why=$pgstac_why; }
[ -n "$pgstac_why" ] || venv pgstac "stac-fastapi-pgstac==7.2.0" "pypgstac[psycopg]==0.10.0" "uvicorn==0.55.0" \
  || pgstac_why="pip install stac-fastapi-pgstac==7.2.0 pypgstac==0.10.0 failed (see $cache/pgstac.log)"
[ -n "$explorer_why" ] || venv explorer "datacube-explorer[webserver]==3.1.7" "datacube==1.9.20" "gunicorn==27.0.1" \
  || explorer_why="pip install datacube-explorer==3.1.7 failed (see $cache/explorer.log)"

# --- the items, indexed by etlake ---
target/release/examples/landsat_items "$work/lake" "$n" >/dev/null
"$etlake" db start >/dev/null
"$etlake" db init >/dev/null
"$etlake" product add tests/fixtures/bench-ls8_c2l2_sr.odc-product.yaml >/dev/null
"$etlake" index "$work/lake" >"$work/index.out" 2>&1 || { cat "$work/index.out"; exit 1; }
grep -q "$n indexed" "$work/index.out" || { cat "$work/index.out"; exit 1; }
pyurl=$("$etlake" db status | sed -n "s/.*Python:  ODC_DEFAULT_DB_URL='\(.*\)'/\1/p")
# The superuser's TCP URL (peers connect over TCP; the password is in the cluster's folder).
tcp=$("$etlake" db status | sed -n "s/.*TCP:     \([^ ]*\) (password in \(.*\)\/password)/\1 \2/p")
read -r tcpurl pwdir <<<"$tcp"
pw=$(cat "$pwdir/password")
tcpurl=$(python3 -c "import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(p._replace(netloc=f'{p.username}:{u.quote(sys.argv[2],safe=\"\")}@{p.hostname}:{p.port}').geturl())" "$tcpurl" "$pw")
pgport=$(python3 -c "import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).port)" "$tcpurl")
pguser=$(python3 -c "import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).username)" "$tcpurl")
psql "$tcpurl" -q -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null

eport=$(free_port)
"$etlake" serve --bind "127.0.0.1:$eport" >"$work/serve.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$eport/" "${pids[-1]}" || { cat "$work/serve.log"; exit 1; }
stac_etlake="http://127.0.0.1:$eport"

# --- the measuring client ---
cat >"$work/client.py" <<'PY'
"""One server's figures, as a line of JSON: search latency (c=1, c=4), paged items/s, page 50 vs 1, /collections."""
import json, statistics, sys, threading, time
import requests
from pystac_client import Client

base, coll, query, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def get(s, url, **kw):
    r = s.get(url, timeout=120, **kw)
    r.raise_for_status()
    return r.json()

def pct(ts, q):
    ts = sorted(ts)
    return ts[min(len(ts) - 1, int(round(q * (len(ts) - 1))))]

def latency(url, conc, per_thread):
    times, errors = [], []
    def worker():
        s = requests.Session()
        get(s, url)  # this connection's warm-up
        for _ in range(per_thread):
            t = time.perf_counter()
            page = get(s, url)
            times.append((time.perf_counter() - t) * 1000)
            if len(page["features"]) != 100:
                errors.append(len(page["features"]))
    ths = [threading.Thread(target=worker) for _ in range(conc)]
    [t.start() for t in ths]; [t.join() for t in ths]
    if errors:
        raise SystemExit(f"{base}: a page of {errors[0]} items, not 100")
    return pct(times, 0.5), pct(times, 0.95)

def next_link(s, page):
    for link in page.get("links", []):
        if link.get("rel") == "next":
            if link.get("method", "GET").upper() == "POST":
                return ("POST", link["href"], link.get("body"))
            return ("GET", link["href"], None)
    return None

def fetch(s, req):
    method, href, body = req
    r = s.post(href, json=body, timeout=120) if method == "POST" else s.get(href, timeout=120)
    r.raise_for_status()
    return r.json()

s = requests.Session()
search = f"{base}/search?{query}"
out = {}
# Every match of the benchmark query, by next links: the servers must agree.
page, matched, req = get(s, search), 0, None
while True:
    matched += len(page["features"])
    req = next_link(s, page)
    if req is None:
        break
    page = fetch(s, req)
out["matched"] = matched
out["c1"] = latency(search, 1, 60)
out["c4"] = latency(search, 4, 25)
# A paged search of the whole collection through pystac-client, 1,000 items per page.
client = Client.open(base)
client.add_conforms_to("ITEM_SEARCH")
t = time.perf_counter()
got = sum(1 for _ in client.search(collections=[coll], limit=1000, max_items=n).items_as_dicts())
secs = time.perf_counter() - t
out["paged"] = [got, got / secs]
# Page 1 and page 50 (100 per page) of the collection: the page-50 request is found by next links.
first = ("GET", f"{base}/search?collections={coll}&limit=100", None)
req, page = first, None
for _ in range(49):
    page = fetch(s, req)
    req = next_link(s, page)
p50_ids = [f["id"] for f in fetch(s, req)["features"]]
if len(p50_ids) != 100:
    raise SystemExit(f"{base}: page 50 has {len(p50_ids)} items")
def median_ms(req, k=15):
    fetch(s, req)
    ts = []
    for _ in range(k):
        t = time.perf_counter(); fetch(s, req); ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)
out["page1"], out["page50"] = median_ms(first), median_ms(req)
out["collections"] = median_ms(("GET", f"{base}/collections", None))
print(json.dumps(out))
PY
coll=ls8_c2l2_sr
query="collections=$coll&bbox=-105,37,-104,37.5&datetime=2020-03-01T00:00:00Z/2020-03-31T23:59:59Z&limit=100"
declare -A res

measure() {  # label base
  echo "measuring $1…"
  if "$py" "$work/client.py" "$2" "$coll" "$query" "$n" >"$work/$1.json" 2>"$work/$1.err"; then
    res[$1]=$(cat "$work/$1.json")
  else
    echo "  $1 failed: $(tail -n 3 "$work/$1.err")"
  fi
}
measure etlake "$stac_etlake"

# --- stac-fastapi-pgstac over the items etlake serves ---
if [ -z "$pgstac_why" ]; then
  pgdsn="${tcpurl%/*}/pgstac"
  pgdsn="${pgdsn%%\?*}"
  psql "$tcpurl" -q -c "CREATE DATABASE pgstac" >/dev/null
  "$py" - "$stac_etlake" "$coll" "$work/items.ndjson" "$work/collection.json" <<'PY'
import json, sys, requests
base, coll, items, coll_out = sys.argv[1:]
s = requests.Session()
c = s.get(f"{base}/collections/{coll}").json()
c["links"] = []
json.dump(c, open(coll_out, "w"))
url, n = f"{base}/search?collections={coll}&limit=10000", 0
with open(items, "w") as out:
    while url:
        page = s.get(url).json()
        for f in page["features"]:
            f["links"] = []
            out.write(json.dumps(f) + "\n"); n += 1
        url = next((l["href"] for l in page["links"] if l["rel"] == "next"), None)
print(f"exported {n} items", file=sys.stderr)
PY
  if "$cache/pgstac/bin/pypgstac" migrate --dsn "$pgdsn" >"$work/pgstac.log" 2>&1 \
    && "$cache/pgstac/bin/pypgstac" load collections "$work/collection.json" --dsn "$pgdsn" --method insert >>"$work/pgstac.log" 2>&1 \
    && /usr/bin/time -f "%e" -o "$work/pgload.time" "$cache/pgstac/bin/pypgstac" load items "$work/items.ndjson" --dsn "$pgdsn" --method insert >>"$work/pgstac.log" 2>&1; then
    psql "$pgdsn" -q -c "VACUUM ANALYZE" >/dev/null
    pport=$(free_port)
    PGUSER=$pguser PGPASSWORD=$pw PGHOST=127.0.0.1 PGPORT=$pgport PGDATABASE=pgstac \
      "$cache/pgstac/bin/uvicorn" stac_fastapi.pgstac.app:create_app --factory --host 127.0.0.1 --port "$pport" --workers 2 \
      --log-level warning >"$work/pgstac-serve.log" 2>&1 &
    pids+=($!)
    if wait_http "http://127.0.0.1:$pport/" "${pids[-1]}"; then
      echo "pypgstac load items: $n items in $(cat "$work/pgload.time") s"
      measure pgstac "http://127.0.0.1:$pport"
    else
      pgstac_why="stac-fastapi-pgstac did not start: $(tail -n 2 "$work/pgstac-serve.log" | tr '\n' ' ')"
    fi
  else
    pgstac_why="pypgstac migrate/load failed: $(tail -n 2 "$work/pgstac.log" | tr '\n' ' ')"
  fi
fi

# --- datacube-explorer over the same agdc index ---
if [ -z "$explorer_why" ]; then
  psql "$tcpurl" -q -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
  if /usr/bin/time -f "%e" -o "$work/cubedash.time" env ODC_DEFAULT_DB_URL="$pyurl" "$cache/explorer/bin/cubedash-gen" --init --all >"$work/cubedash.log" 2>&1; then
    echo "cubedash-gen --init --all: $(cat "$work/cubedash.time") s"
    xport=$(free_port)
    ODC_DEFAULT_DB_URL="$pyurl" "$cache/explorer/bin/gunicorn" -w 2 -b "127.0.0.1:$xport" --timeout 120 \
      'cubedash.startup_utils:create_app()' >"$work/explorer-serve.log" 2>&1 &
    pids+=($!)
    if wait_http "http://127.0.0.1:$xport/stac" "${pids[-1]}"; then
      measure explorer "http://127.0.0.1:$xport/stac"
    else
      explorer_why="datacube-explorer did not start: $(tail -n 2 "$work/explorer-serve.log" | tr '\n' ' ')"
    fi
  else
    explorer_why="cubedash-gen --init --all failed: $(tail -n 2 "$work/cubedash.log" | tr '\n' ' ')"
  fi
fi

# --- the table ---
echo
echo "STAC API over $n Landsat items, $(nproc) cores (etlake serve vs stac-fastapi-pgstac 7.2.0 / pypgstac 0.10.0 vs datacube-explorer 3.1.7):"
echo "  query: GET /search?$query"
for k in etlake pgstac explorer; do echo "$k ${res[$k]:-}"; done >"$work/results"
python3 - "$work/results" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    k, _, j = line.strip().partition(" ")
    if j:
        rows[k] = json.loads(j)
head = ("server", "matched", "c1 p50", "c1 p95", "c4 p50", "c4 p95", "paged items/s", "page 1", "page 50", "/collections")
print("  %-10s %7s %8s %8s %8s %8s %14s %8s %8s %12s   (times in ms)" % head)
for k, r in rows.items():
    print("  %-10s %7d %8.1f %8.1f %8.1f %8.1f %14.0f %8.1f %8.1f %12.1f" % (
        k, r["matched"], *r["c1"], *r["c4"], r["paged"][1], r["page1"], r["page50"], r["collections"]))
for k, r in rows.items():
    print(f"  {k}: page 50 / page 1 = {r['page50'] / r['page1']:.2f}")
e = rows.get("etlake")
peers = {k: r for k, r in rows.items() if k != "etlake"}
if e and peers:
    for c in ("c1", "c4"):
        k = min(peers, key=lambda k: peers[k][c][0])
        print(f"  ratio (p50, concurrency {c[1]}): etlake is {peers[k][c][0] / e[c][0]:.1f}x faster than the fastest peer ({k})")
    k = max(peers, key=lambda k: peers[k]["paged"][1])
    print(f"  ratio (paged items/s): etlake {e['paged'][1] / peers[k]['paged'][1]:.1f}x the fastest peer ({k})")
    k = min(peers, key=lambda k: peers[k]["collections"])
    print(f"  ratio (/collections): etlake is {peers[k]['collections'] / e['collections']:.1f}x faster than the fastest peer ({k})")
    if any(r["matched"] != e["matched"] for r in peers.values()):
        print("  the servers found different numbers of items for the query!")
PY
[ -z "$pgstac_why" ] || echo "  stac-fastapi-pgstac not measured: $pgstac_why"
[ -z "$explorer_why" ] || echo "  datacube-explorer not measured: $explorer_why"
