"""Bad input raises an `etlake.EtlakeError` subclass carrying the message the CLI prints for the same
mistake; nothing is silently empty."""

from __future__ import annotations

import pytest

import etlake
from conftest import PRODUCT, run_etlake


def cli_error(lake, *args: str, db: str | None = None) -> str:
    out = run_etlake(lake, "--db", db or lake.url, *args, check=False)
    assert out.returncode == 1, out.stdout + out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("etlake: error: "), out.stderr
    return line.removeprefix("etlake: error: ")


def test_unknown_product(lake):
    index = etlake.Index(lake.url)
    with pytest.raises(etlake.NotFoundError) as e:
        index.search("chirps_v3")
    assert str(e.value) == cli_error(lake, "search", "--product", "chirps_v3")
    assert "chirps_v3" in str(e.value)
    with pytest.raises(etlake.NotFoundError) as e:
        index.product("chirps_v3")
    assert str(e.value) == cli_error(lake, "product", "show", "chirps_v3")


def test_bad_time(lake):
    index = etlake.Index(lake.url)
    for bad in ["yesterday", "2023-13-01", ("2023-01-01", "soon")]:
        with pytest.raises(etlake.InvalidInputError) as e:
            index.search(PRODUCT, time=bad)
        text = bad if isinstance(bad, str) else "/".join(bad)
        assert str(e.value) == cli_error(lake, "search", "--product", PRODUCT, "--time", text)
    with pytest.raises(TypeError, match="time: expected"):
        index.search(PRODUCT, time=("2023-01-01", "2023-01-02", "2023-01-03"))


def test_empty_area(lake):
    index = etlake.Index(lake.url)
    cli = cli_error(lake, "search", "--product", PRODUCT, "--bbox", "-104,41,-103,40")
    rule = cli.split(": ", 1)[1]
    for kwargs, names in [
        ({"bbox": (-104, 41, -103, 40)}, "bbox=(-104.0, 41.0, -103.0, 40.0)"),
        ({"lon": (-103, -103), "lat": (40, 41)}, "lon=(-103.0, -103.0), lat=(40.0, 41.0)"),
    ]:
        with pytest.raises(etlake.InvalidInputError) as e:
            index.search(PRODUCT, **kwargs)
        assert str(e.value) == f"{names}: {rule}"
    with pytest.raises(TypeError, match="not both"):
        index.search(PRODUCT, bbox=(0, 0, 1, 1), lon=(0, 1), lat=(0, 1))
    with pytest.raises(TypeError, match="go together"):
        index.search(PRODUCT, lon=(0, 1))
    with pytest.raises(TypeError, match="bbox: expected"):
        index.search(PRODUCT, bbox=(0, 0, 1))


def test_database_without_index(lake):
    # The cluster's `postgres` database holds no agdc schema: refused as the CLI refuses it.
    url = lake.url.replace("/datacube?", "/postgres?")
    assert url != lake.url
    with pytest.raises(etlake.NotFoundError) as e:
        etlake.Index(url)
    assert str(e.value) == cli_error(lake, "search", "--product", PRODUCT, db=url)
    assert "etlake db init" in str(e.value)


def test_unreachable_database():
    with pytest.raises(etlake.ConfigError, match="cannot connect"):
        etlake.Index("postgresql://nobody@127.0.0.1:1/datacube")
    with pytest.raises(etlake.EtlakeError):
        etlake.Index("mysql://nobody@127.0.0.1/datacube")
