"""A small CHIRPS lake indexed by the etlake CLI into a private embedded Postgres cluster.

The files follow CHIRPS v2.0's published layout (https://data.chc.ucsb.edu/products/CHIRPS-2.0/
global_daily/tifs/p05/<year>/chirps-v2.0.<year>.<month>.<day>.tif, 0.05 degree float32 with
nodata -9999; see product-defs/recognition/chirps_v2_daily_p05.yaml), as tests/search.rs writes
them: three places (B touches A's east edge at -103 degrees) by three days, one dataset archived.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

WORKSPACE = Path(__file__).resolve().parents[2]
PRODUCT = "chirps_v2_daily_p05"
# (place, west, north) of each 40 x 20 pixel tile at 0.05 degrees.
PLACES = [("a", -105.0, 41.0), ("b", -103.0, 41.0), ("c", 10.0, -4.0)]


def etlake_bin() -> Path:
    path = Path(os.environ.get("ETLAKE_BIN", WORKSPACE / "target/debug/etlake"))
    if not path.is_file():
        pytest.fail(f"the etlake CLI is missing at {path}: build it (cargo build) or set ETLAKE_BIN")
    return path


def clean_env(home: Path) -> dict[str, str]:
    """The process environment without any database configuration, HOME and the embedded cluster
    directory set to the test's own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ODC_", "DATACUBE_", "DB_", "PG", "ETLAKE_PG", "ETLAKE_HOME"))
    }
    env.update(HOME=str(home), ETLAKE_PG_DIR=str(home / "pg"))
    return env


def run_etlake(lake: "Lake", *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [str(etlake_bin()), *args],
        env=lake.env,
        cwd=lake.home,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and out.returncode != 0:
        pytest.fail(f"etlake {' '.join(args)} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return out


class Lake:
    """The indexed lake: `env` resolves to its embedded cluster, `url` is datacube's URL for it."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = clean_env(home)
        self.url = ""
        self.archived = ""

    def python(self, code: str) -> str:
        """Runs code in a fresh interpreter of this venv with datacube configured for the lake."""
        env = dict(self.env, ODC_DEFAULT_DB_URL=self.url)
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=self.home, capture_output=True, text=True,
            timeout=300,
        )
        assert out.returncode == 0, f"python failed ({out.returncode}):\n{out.stdout}{out.stderr}"
        return out.stdout


def write_lake(root: Path) -> None:
    import numpy as np
    import rasterio
    from affine import Affine

    for place, west, north in PLACES:
        for day in (1, 2, 3):
            path = root / place / f"global_daily/tifs/p05/2023/chirps-v2.0.2023.01.{day:02}.tif"
            path.parent.mkdir(parents=True, exist_ok=True)
            data = np.full((20, 40), float(day), dtype="float32")
            with rasterio.open(
                path, "w", driver="GTiff", width=40, height=20, count=1, dtype="float32",
                crs="EPSG:4326", transform=Affine(0.05, 0.0, west, 0.0, -0.05, north), nodata=-9999.0,
            ) as dst:
                dst.write(data, 1)


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("etlake-py")
    # The cluster runs as the postgres account when the tests run as root: it must reach the folder.
    for p in [home, *home.parents]:
        if p == Path("/"):
            break
        os.chmod(p, os.stat(p).st_mode | 0o055)
    lake = Lake(home)
    write_lake(home / "lake")
    run_etlake(lake, "db", "init")
    run_etlake(lake, "product", "add", str(WORKSPACE / f"product-defs/products/{PRODUCT}.odc-product.yaml"))
    indexed = run_etlake(lake, "index", str(home / "lake"))
    assert "9 indexed" in indexed.stdout + indexed.stderr, indexed.stdout + indexed.stderr
    status = run_etlake(lake, "db", "status").stdout
    match = re.search(r"ODC_DEFAULT_DB_URL='([^']+)'", status)
    assert match, status
    lake.url = match.group(1)
    found = json.loads(
        run_etlake(lake, "search", "--product", PRODUCT, "--time", "2023-01-03",
                   "--bbox", "9,-6,13,-3", "--format", "json").stdout
    )
    assert len(found) == 1, found
    lake.archived = found[0]["id"]
    run_etlake(lake, "dataset", "archive", lake.archived)
    yield lake
    run_etlake(lake, "db", "stop", check=False)
