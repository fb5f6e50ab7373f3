#!/usr/bin/env bash
# Issue 18's sync benchmark: N daily CHIRPS files (default 500) from a loopback imitation of CHC's
# server, fetched side by side in one run by
#   (a) a sequential `wget -c` loop (one wget process per URL, as download scripts do) — the anchor;
#   (b) `wget -c -i LIST` (one sequential process reusing its connection: the stronger sequential baseline);
#   (c) earthaccess's download() (its default 8 threads), given the plain URLs;
#   (d) `etlake sync chirps` (release build) with its default --connections-per-host 8, and with 4;
#   (e) re-runs with nothing changed: etlake (HEADs only, expect 0 file bodies), the wget loop, earthaccess.
# Prints wall time, MB/s (10^6 bytes), the requests the server saw and the ratios to the wget loop,
# and checks that every tool's files are byte-identical (SHA-256) to the served ones.
#
# The server (scripts/bench-sync-server.py, threaded Python http.server) serves Apache-style listings
# and files with Last-Modified, ETag, Content-Length and Range, and behaves like a remote server:
# ETLAKE_BENCH_LATENCY seconds before every response (default 0.04: a 40 ms round trip, a US
# coast-to-coast path), the same again when a connection opens (the TCP handshake; CHC serves https,
# whose TLS handshake would add one or two more round trips per new connection: not imitated, which
# favours the loop that opens a connection per file), ETLAKE_BENCH_RATE_MIB MiB/s per connection
# (default 10: one TCP flow over a 40 ms path) and ETLAKE_BENCH_TOTAL_MIB MiB/s over all connections
# (default 100: a gigabit link). Its own capacity without those limits is measured first (parallel
# curl), so it is shown not to be the bottleneck.
#
# File sizes: uniform in 1.0–2.0 MB (seeded), the ~1–2 MB of a gzipped daily p05 GeoTIFF the issue
# names (global 7200×2000 float32 is 57.6 MB raw; gzip leaves little of the ocean nodata and the dry
# zeros). Bodies are random bytes: incompressible, as gzip output is.
#
# earthaccess: download() takes plain HTTP links and fetches them with a requests session, but only
# after earthaccess.login() has made its Store, which asks the Earthdata Login host for /profile over
# https. The run logs in with strategy="environment" (EARTHDATA_TOKEN, accepted without a network
# call) and a System whose EDL host is a TLS stand-in on loopback (a self-signed certificate given
# to requests by REQUESTS_CA_BUNDLE); the downloads themselves go to the imitation as for any URL.
# earthaccess is pinned (0.17.0, the newest for the machine's Python 3.11; 0.18+ need 3.12) in a venv
# under ~/.cache/etlake-bench-sync. Its time is of the download() call alone (not its ~2 s import).
#
# Usage: scripts/bench-sync.sh [N]     ETLAKE_BENCH_KEEP=1 keeps the work folder; ETLAKE_BIN=PATH
# measures another etlake binary than target/release/etlake.
# Not part of `make test`: a benchmark is a script, never a timed test.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
n="${1:-500}"
latency="${ETLAKE_BENCH_LATENCY:-0.04}"
rate_mib="${ETLAKE_BENCH_RATE_MIB:-10}"
total_mib="${ETLAKE_BENCH_TOTAL_MIB:-100}"
cache="${HOME}/.cache/etlake-bench-sync"
ea_version=0.17.0

sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
command -v wget >/dev/null || { $sudo apt-get update -qq && $sudo apt-get install -y -qq wget >/dev/null; }
command -v openssl >/dev/null || { $sudo apt-get update -qq && $sudo apt-get install -y -qq openssl >/dev/null; }
# ETLAKE_BIN: another etlake binary (default: the release build, built when missing).
etlake="${ETLAKE_BIN:-$root/target/release/etlake}"
[ -n "${ETLAKE_BIN:-}" ] || [ -x "$etlake" ] || nice -n 10 cargo build --release -q --bin etlake

ea_python="$cache/venv/bin/python"
ea_why=""
if ! "$ea_python" -c "import earthaccess, sys; sys.exit(earthaccess.__version__ != '$ea_version')" 2>/dev/null; then
  mkdir -p "$cache"
  { python3 -m venv "$cache/venv" && "$cache/venv/bin/pip" install -q "earthaccess==$ea_version"; } >"$cache/pip.log" 2>&1 \
    || ea_why="earthaccess $ea_version could not be installed (see $cache/pip.log)"
fi

work=$(mktemp -d /tmp/etlake-bench-sync-XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  if [ -n "${ETLAKE_BENCH_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# The served tree, its URL list and checksums. Days from 2022-01-01 (two year folders, as CHC has).
python3 - "$work" "$n" <<'PY'
import datetime as dt, hashlib, os, random, sys, calendar
work, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(18)
first = dt.date(2022, 1, 1)
with open(f"{work}/paths", "w") as paths, open(f"{work}/sums", "w") as sums:
    for i in range(n):
        d = first + dt.timedelta(days=i)
        rel = f"products/CHIRPS-2.0/global_daily/tifs/p05/{d.year}/chirps-v2.0.{d:%Y.%m.%d}.tif.gz"
        p = f"{work}/served/{rel}"
        os.makedirs(os.path.dirname(p), exist_ok=True)
        body = rng.randbytes(1_000_000 + rng.randrange(1_000_000))
        with open(p, "wb") as f:
            f.write(body)
        # Published some weeks after the day, as CHC's final files are.
        t = calendar.timegm((d + dt.timedelta(days=35)).timetuple()) + 10 * 3600 + 60
        os.utime(p, (t, t))
        paths.write(rel + "\n")
        sums.write(f"{hashlib.sha256(body).hexdigest()}  {os.path.basename(rel)}\n")
PY
last_day=$(python3 -c "import datetime as d,sys; print(d.date(2022,1,1)+d.timedelta(days=int(sys.argv[1])-1))" "$n")
total_bytes=$(find "$work/served" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1
rate=$(python3 -c "print(float('$rate_mib') * 1048576)")
total_rate=$(python3 -c "print(float('$total_mib') * 1048576)")
python3 scripts/bench-sync-server.py "$work/served" --port-file "$work/port" --latency "$latency" \
  --connect-latency "$latency" --rate "$rate" --total-rate "$total_rate" \
  --tls-port-file "$work/tls-port" --cert "$work/cert.pem" --key "$work/key.pem" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 100); do [ -f "$work/port" ] && [ -f "$work/tls-port" ] && break; sleep 0.1; done
[ -f "$work/port" ] || { cat "$work/server.err"; exit 1; }
port=$(cat "$work/port")
tls_port=$(cat "$work/tls-port")
base="http://127.0.0.1:$port"
sed "s|^|$base/|" "$work/paths" >"$work/urls"
ctl() { curl -sf "$base/__bench/$1"; }
now() { date +%s.%N; }

# The server's counts since the last reset: "bodies bodiless heads listings other" — file GETs
# answered with a body (200/206), file GETs answered without one (416: wget -c's "already fully
# retrieved"), file HEADs, listing pages, the rest (404s of absent folders, the login stand-in).
counts() {
  ctl stats | python3 -c '
import json, sys
r = json.load(sys.stdin)["requests"]
def n(f): return sum(v for k, v in r.items() if f(k.split()))
body = n(lambda k: k[:2] == ["GET", "file"] and k[2] in ("200", "206"))
bodiless = n(lambda k: k[:2] == ["GET", "file"] and k[2] not in ("200", "206"))
head = n(lambda k: k[:2] == ["HEAD", "file"])
listing = n(lambda k: k[1] == "listing")
print(body, bodiless, head, listing, sum(r.values()) - body - bodiless - head - listing)'
}
# Compares the *.tif.gz under a folder with the served ones: prints "ok" or what differs.
verify() {
  python3 - "$1" "$work/sums" <<'PY'
import hashlib, os, sys
want = dict(l.split()[::-1] for l in open(sys.argv[2]))
got = {}
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        if f.endswith(".tif.gz"):
            with open(os.path.join(d, f), "rb") as h:
                got[f] = hashlib.sha256(h.read()).hexdigest()
missing = sorted(set(want) - set(got)); extra = sorted(set(got) - set(want))
bad = sorted(f for f in set(want) & set(got) if want[f] != got[f])
print("ok" if not (missing or extra or bad) else
      f"MISMATCH: {len(missing)} missing, {len(bad)} different, {len(extra)} unexpected")
PY
}
declare -A secs
row() {  # key label anchor-key: one line from secs[key], the ratio to secs[anchor] and the server's counts
  local c v
  read -r -a c <<<"$(counts)"
  v=$(verify "$work/$1")
  python3 - "$2" "${secs[$1]}" "$total_bytes" "${secs[$3]}" "$v" "${c[@]}" <<'PY'
import sys
label, s, total, anchor, verified = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
body, bodiless, head, listing, other = map(int, sys.argv[6:11])
rate = f"{total / s / 1e6:6.1f} MB/s" if body else "       -    "  # nothing moved: no rate
print(f"  {label:<44} {s:7.2f} s {rate} {anchor / s:6.1f}x | GETs {body:3d} with body, "
      f"{bodiless:3d} without; HEADs {head:3d}; listings {listing}; other {other} | files: {verified}")
PY
}
timed() {  # key command…: runs it with a clean count, sets secs[key]
  local key=$1 t0; shift
  ctl reset >/dev/null
  t0=$(now)
  "$@" >"$work/$key.out" 2>&1 || { echo "$key failed:"; tail -20 "$work/$key.out"; exit 1; }
  secs[$key]=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$t0" "$(now)")
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (shared with other work), $(date -u +%FT%TZ)"
echo "$n CHIRPS daily .tif.gz, $(python3 -c "print(f'{$total_bytes/1e6:.0f}')") MB in all ($(python3 -c "print(f'{$total_bytes/$n/1e6:.2f}')") MB each on average)"

# The server's own capacity, without latency or caps: 8 curl processes at once, each fetching its
# eighth of the URLs over one connection (a curl config file per process: url + output pairs).
ctl "config?latency=0&connect_latency=0&rate=0&total_rate=0" >/dev/null
split -n r/8 "$work/urls" "$work/shard."
for f in "$work"/shard.??; do sed 's|.*|url = "&"\noutput = "/dev/null"|' "$f" >"$f.curl"; done
capacity() {  # extra curl flags…: seconds for all the URLs
  local t0 pids=() f
  t0=$(now)
  for f in "$work"/shard.??.curl; do curl -sf "$@" -K "$f" & pids+=($!); done
  for f in "${pids[@]}"; do wait "$f"; done
  python3 -c "import sys,time; print(time.time() - float(sys.argv[1]))" "$t0"
}
cap_get=$(capacity)
cap_head=$(capacity -I)
python3 -c "import sys; g, h = map(float, sys.argv[1:3]); print(f'server capacity without latency or caps (8 curl at once): {$total_bytes / g / 1e6:.0f} MB/s of GETs, {$n / h:.0f} HEADs/s')" "$cap_get" "$cap_head"
ctl "config?latency=$latency&connect_latency=$latency&rate=$rate&total_rate=$total_rate" >/dev/null
echo "as benchmarked: ${latency} s before each response and on each new connection, ${rate_mib} MiB/s per connection, ${total_mib} MiB/s in all"

echo "First sync, into empty folders:"
wget_loop() {  # the anchor: one `wget -c` per URL, in turn
  mkdir -p "$work/wget-loop"
  while read -r u; do wget -c -q -P "$work/wget-loop" "$u"; done <"$work/urls"
}
timed wget-loop wget_loop
row wget-loop "sequential wget -c loop (anchor)" wget-loop
timed wget-list wget -c -q -P "$work/wget-list" -i "$work/urls"
row wget-list "wget -c -i LIST (one process, keep-alive)" wget-loop
cat >"$work/ea.py" <<'PY'
import os, sys, time
import earthaccess
from earthaccess.system import System
urls, out, tls_port = open(sys.argv[1]).read().split(), sys.argv[2], sys.argv[3]
loopback = f"127.0.0.1:{tls_port}"
system = System(f"https://{loopback}/cmr", f"https://{loopback}/status", f"https://{loopback}/status",
                loopback)
earthaccess.login(strategy="environment", system=system)
t0 = time.time()
files = earthaccess.download(urls, local_path=out)
secs = time.time() - t0
with open(sys.argv[4], "w") as f:
    f.write(f"{secs}\n")
print(f"{len(files)} files in {secs:.2f} s")
PY
run_ea() {  # key: earthaccess.download of all URLs into $work/earthaccess; secs[key] = the call's time
  timed "$1" env EARTHDATA_TOKEN=bench-token REQUESTS_CA_BUNDLE="$work/cert.pem" \
    "$ea_python" "$work/ea.py" "$work/urls" "$work/earthaccess" "$tls_port" "$work/ea-secs"
  secs[$1]=$(cat "$work/ea-secs")
}
if [ -z "$ea_why" ]; then
  run_ea earthaccess
  row earthaccess "earthaccess $ea_version download() (8 threads)" wget-loop
else
  echo "  earthaccess: not run: $ea_why"
fi
etlake_sync() {  # folder [extra flags]
  local to=$1; shift
  ETLAKE_CHIRPS_URL="$base/products/CHIRPS-2.0" "$etlake" sync chirps --time "2022-01-01/$last_day" \
    --to "$work/$to" --report "$work/$to.jsonl" "$@"
}
timed etlake etlake_sync etlake
row etlake "etlake sync chirps (8 connections per host, default)" wget-loop
timed etlake4 etlake_sync etlake4 --connections-per-host 4
row etlake4 "etlake sync chirps --connections-per-host 4" wget-loop

echo "Again, nothing changed (the same folders):"
# row verifies the folder named by its key: links to the folders re-run into.
ln -s "$work/wget-loop" "$work/wget-loop-again"
ln -s "$work/etlake" "$work/etlake-again"
ln -s "$work/earthaccess" "$work/earthaccess-again"
timed wget-loop-again wget_loop
row wget-loop-again "sequential wget -c loop (anchor)" wget-loop-again
timed etlake-again etlake_sync etlake
row etlake-again "etlake sync chirps (8 connections, default)" wget-loop-again
skipped=$(grep -c '"event":"skipped"' "$work/etlake.jsonl" || true)
[ "$skipped" = "$n" ] || { echo "the re-sync skipped $skipped files of $n"; exit 1; }
if [ -z "$ea_why" ]; then
  run_ea earthaccess-again
  row earthaccess-again "earthaccess download() (skips by file name)" wget-loop-again
fi
python3 - "${secs[wget-loop]}" "${secs[etlake4]}" "${secs[etlake]}" "${secs[etlake-again]}" "${secs[earthaccess]:-}" <<'PY'
import sys
loop, e4, e8, again = map(float, sys.argv[1:5])
ea = float(sys.argv[5]) if sys.argv[5] else None
print(f"ratio to the wget -c loop: etlake {loop / e4:.1f}x (4 connections), {loop / e8:.1f}x (8); goal 5x: "
      f"{'met' if loop / e8 >= 5 else 'not met'} with the default 8, {'met' if loop / e4 >= 5 else 'not met'} with 4")
if ea:
    print(f"ratio to earthaccess (8 threads): etlake {ea / e4:.2f}x (4 connections), {ea / e8:.2f}x (8)")
print(f"re-sync with nothing changed: {again:.2f} s (goal: seconds)")
PY
