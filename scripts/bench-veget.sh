#!/usr/bin/env bash
# VegET kernel throughput: etlake's Rust kernel vs a vectorised numpy implementation of the same
# equations on the same arrays, in one run; and the Rust rate against a memory-bandwidth bound
# (a streaming copy of the same bytes), with f64 inputs and with f32 inputs (an index-driven run's).
# Usage: scripts/bench-veget.sh [PIXELS] [DAYS]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-200000}"; days="${2:-30}"
scripts/setup-deps.sh --python >/dev/null
cargo build --release -p model --example bench_veget -q
read -r _ _ _ rust_secs rust_rate rust_gbs day_rate rate32 gbs32 < <(target/release/examples/bench_veget "$n" "$days")
.venv/bin/python - "$n" "$days" "$rust_rate" "$rust_gbs" "$day_rate" "$rate32" "$gbs32" <<'PY'
import sys, time, numpy as np
n, days, rust_rate, rust_gbs, day_rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
rate32, gbs32 = float(sys.argv[6]), float(sys.argv[7])
i = np.arange(n, dtype=np.int64)
f = lambda k, a, b: a + (b - a) * (((i + k) * 2654435761 % 1000) / 1000.0)
whc = f(0, 30.0, 200.0); fc = np.full(n, 150.0); sat = np.full(n, 220.0); icpt = np.full(n, 5.0); water = np.zeros(n)
p = f(1, 0.0, 12.0); eto = f(2, 1.0, 7.0); ndvi = f(3, 0.0, 0.9); tavg = f(4, -5.0, 25.0); tmin = tavg - 5; tmax = tavg + 5
swf = np.zeros(n); pack = np.zeros(n)
def day(swf, pack, day0):
    peff = p * (1 - icpt / 100.0)
    fr = np.where(tavg <= 0, 0.0, np.where(tavg >= 6, 1.0, 0.167 * tavg))
    rain = fr * peff
    if day0:
        snow = np.zeros(n); melt = np.zeros(n); newpack = np.zeros(n); swi = 0.5 * whc + peff
    else:
        snow = (1 - fr) * peff
        mpot = np.where(tavg > 0, 0.06 * tmax * (tmax - np.maximum(tmin, 0)), 0.0)
        melt = np.minimum(mpot, snow + pack)
        newpack = np.maximum(pack + snow - melt, 0)
        swi = swf + rain + melt
    r = np.maximum(swi - whc, 0); d = sat - fc
    srf = np.where(r <= d, 0.35 * r, (r - d) + 0.35 * d); dd = r - srf
    etobc = 0.85 * eto
    kcp = np.where(ndvi > 0.4, 1.25 * ndvi + 0.2, 1.25 * ndvi)
    ks = np.where(swi > 0.5 * whc, 1.0, swi / (0.5 * whc))
    e5 = np.minimum(np.minimum(ks * kcp * etobc, swi), whc)
    eta = np.where((water == 1) | (ndvi < 0), 0.74375 * eto, e5)
    etc = (1.25 * ndvi + 0.2) * etobc; netet = np.maximum(etc - eta, 0)
    newswf = np.where(swi > whc, whc - eta, np.maximum(swi - eta, 0))
    return newswf, newpack
day(swf, pack, True)  # warm-up, as on the Rust side
t = time.perf_counter()
for k in range(days):
    swf, pack = day(swf, pack, k == 0)
secs = time.perf_counter() - t
np_rate = n * days / secs
buf = np.ones(n * 6 * days // 2); buf2 = np.zeros_like(buf); np.copyto(buf2, buf)
t = time.perf_counter()
for _ in range(3):
    np.copyto(buf2, buf)
copy_secs = (time.perf_counter() - t) / 3
bw = 2 * buf.nbytes / copy_secs / 1e9
print(f"VegET kernel, {n} pixels x {days} days:")
print(f"  numpy (vectorised): {np_rate/1e6:8.1f} M pixel-days/s")
import os
print(f"  etlake, day at a time over all pixels: {day_rate/1e6:8.1f} M pixel-days/s -> {day_rate/np_rate:.1f}x numpy")
print(f"  etlake, tiled run (rayon, {os.cpu_count()} cores):   {rust_rate/1e6:8.1f} M pixel-days/s -> {rust_rate/np_rate:.1f}x numpy")
print(f"  the tiled run reads its inputs at {rust_gbs:.2f} GB/s; a streaming copy here moves {bw:.2f} GB/s -> {rust_gbs/bw:.2f} of the memory-bandwidth bound")
print(f"  etlake, tiled run with f32 inputs:  {rate32/1e6:8.1f} M pixel-days/s -> {rate32/np_rate:.1f}x numpy; reads {gbs32:.2f} GB/s -> {gbs32/bw:.2f} of the bound"
      f" (the bound at 24 bytes a pixel-day: {bw * 1e9 / 24 / 1e6:.0f} M pixel-days/s)")
PY
