#!/usr/bin/env bash
# Installs what `make test` and `make demo` need when it is missing: Debian packages (GDAL, pkg-config,
# the Postgres 15 server) and a Python venv with the real datacube library. Safe to re-run: it only
# installs what is absent. Usage: scripts/setup-deps.sh [--python]  (--python: the datacube and moto venvs)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
dpkg -s libgdal-dev >/dev/null 2>&1 || need+=(libgdal-dev)
dpkg -s gdal-bin >/dev/null 2>&1 || need+=(gdal-bin)
# HDF-EOS2 library: the sample-lake crate writes genuine MODIS-style grid files with it.
dpkg -s libhdfeos-dev >/dev/null 2>&1 || need+=(libhdfeos-dev)
# libnetcdf: the sample-lake crate writes gridMET's NetCDF-4 (packed uint16) files with it.
dpkg -s libnetcdf-dev >/dev/null 2>&1 || need+=(libnetcdf-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need+=(postgresql-15)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ "${1:-}" = "--python" ]; then
  venv="${ETLAKE_VENV:-.venv}"
  # Exact pins: datacube 1.9.20 is the newest for Python 3.11; SQLAlchemy 2.1 needs postgresql+psycopg2:// URLs.
  # dask and distributed pinned together: datacube leaves them free, and when a dask release comes out
  # before its distributed (dask 2026.11.0, 2026-12) pip backtracks distributed to 2021.4.1, which
  # cannot import from that dask.
  pins="datacube==1.9.20 odc-apps-dc-tools==1.9.9 psycopg2-binary==2.9.13 dask==2026.8.0 distributed==2026.8.0"
  if [ ! -x "$venv/bin/datacube" ] || [ "$(cat "$venv/.etlake-pins" 2>/dev/null)" != "$pins" ]; then
    echo "==> creating Python venv $venv with $pins"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check $pins
    echo "$pins" > "$venv/.etlake-pins"
  fi
  # Reading etlake's NetCDF and Zarr outputs with xarray (netCDF4, zarr), the notebook (nbconvert, ipykernel,
  # matplotlib), and building and testing the Python package (maturin, pytest): installed after datacube
  # so its pins stay as resolved.
  extras="netCDF4==1.7.2 matplotlib==3.9.4 nbconvert==7.16.6 ipykernel==6.29.5 zarr==3.1.6 maturin==1.16.0 pytest==9.2.0"
  if [ "$(cat "$venv/.etlake-extras" 2>/dev/null)" != "$extras" ]; then
    echo "==> adding to $venv: $extras"
    "$venv/bin/pip" install -q --disable-pip-version-check $extras
    echo "$extras" > "$venv/.etlake-extras"
  fi
  # A real S3-protocol server for the tests, in its own venv (mixing it with datacube sends pip into
  # minutes of backtracking).
  moto="${ETLAKE_MOTO_VENV:-.venv-moto}"
  moto_pins="moto[server]==5.2.5"
  if [ ! -x "$moto/bin/moto_server" ] || [ "$(cat "$moto/.etlake-pins" 2>/dev/null)" != "$moto_pins" ]; then
    echo "==> creating Python venv $moto with $moto_pins"
    python3 -m venv "$moto"
    "$moto/bin/pip" install -q --disable-pip-version-check "$moto_pins"
    echo "$moto_pins" > "$moto/.etlake-pins"
  fi
  # stac-api-validator, which tests/stac_serve runs against `etlake serve`, in its own venv (its pins of
  # pystac and stac-validator differ from what datacube's venv resolved).
  stac="${ETLAKE_STAC_VENV:-.venv-stac}"
  stac_pins="stac-api-validator==0.6.8"
  if [ ! -x "$stac/bin/stac-api-validator" ] || [ "$(cat "$stac/.etlake-pins" 2>/dev/null)" != "$stac_pins" ]; then
    echo "==> creating Python venv $stac with $stac_pins"
    python3 -m venv "$stac"
    "$stac/bin/pip" install -q --disable-pip-version-check "$stac_pins"
    echo "$stac_pins" > "$stac/.etlake-pins"
  fi
fi
