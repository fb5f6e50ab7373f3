"""Checks what `make demo` produced (CI: ETLAKE_DEMO_CHECK=1). Reads `etlake product list --format json`
on stdin and the demo folder from argv: datasets per product, VegET outputs indexed, valid PNG images of
the expected size, the water balance closed, the notebook executed. Exits 1 naming every failure."""
import json
import struct
import sys
from pathlib import Path

demo = Path(sys.argv[1])
counts = {p["name"]: p["datasets"] for p in json.load(sys.stdin)}
failures = []

# One water year (2019-10-01 .. 2020-09-30): gridMET yearly files hold every day of 2019 and 2020.
expected = {
    "chirps_v2_daily_p05": 366,
    "gridmet_pr": 731, "gridmet_pet": 731, "gridmet_tmmn": 731, "gridmet_tmmx": 731,
    "mod13q1_061": 25,
    "soil_whc": 1,
    "ls8_c2l2_sr": 2, "ls8_c2l2_st": 2,
    "veget_daily": 366, "veget_monthly": 12, "veget_annual": 2,
}
for product, n in expected.items():
    if counts.get(product) != n:
        failures.append(f"{product}: {counts.get(product)} datasets, expected {n}")


def png_size(path):
    """Width and height from a PNG's IHDR chunk, after checking the signature."""
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    return struct.unpack(">II", head[16:24])


for name, min_w, min_h in [
    ("ndvi-2020-06.png", 400, 300),
    ("veget/eta_20191001_20200930.png", 400, 200),
    ("veget/eta_2020.png", 400, 200),
]:
    p = demo / name
    try:
        w, h = png_size(p)
        if w < min_w or h < min_h:
            failures.append(f"{p}: {w}×{h} pixels, expected at least {min_w}×{min_h}")
    except (OSError, ValueError) as e:
        failures.append(f"{p}: {e}")

run = (demo / "veget-run.txt").read_text() if (demo / "veget-run.txt").exists() else ""
balance = [line for line in run.splitlines() if line.startswith("water balance:")]
if not balance or " 0 failed" not in balance[0] or " 0 pixels checked" in balance[0]:
    failures.append(f"VegET water balance: {balance[0] if balance else 'no balance line'}")

nb = demo / "read-with-datacube.ipynb"
if not nb.exists():
    failures.append(f"{nb}: the notebook was not executed")
else:
    cells = json.loads(nb.read_text())["cells"]
    errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        failures.append(f"{nb}: {len(errors)} cell(s) failed")

if failures:
    print("demo check FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
    sys.exit(1)
print(f"demo check passed: {sum(expected.values())} datasets in {len(expected)} products, "
      "quicklooks valid, water balance closed, notebook executed")
