#!/usr/bin/env bash
# `make demo`: the embedded private Postgres, an ODC index, etlake's product definitions, a generated
# sample lake (CHIRPS, gridMET, MODIS) indexed and searched, and the lines a Python user needs.
# Stops the cluster at the end if the demo started it. Re-running finds everything unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
etlake="${1:-target/release/etlake}"
# The demo always uses the embedded cluster, whatever the shell's datacube settings say.
unset ODC_ENVIRONMENT DATACUBE_DB_URL DATACUBE_CONFIG_PATH ODC_CONFIG_PATH DB_HOSTNAME DB_DATABASE
for v in $(env | grep -o '^ODC_[A-Z0-9_]*_DB_[A-Z]*' || true); do unset "$v"; done



was_running=no
"$etlake" db status | grep -q "running" && was_running=yes

echo "==> etlake db init"
"$etlake" db init
echo
echo "==> etlake product add product-defs/products"
"$etlake" product add product-defs/products
echo
lake="${ETLAKE_DEMO_LAKE:-$PWD/.demo-lake}"
if [ ! -d "$lake" ]; then
  echo "==> generating the sample lake in $lake"
  target/release/examples/sample_lake "$lake" 64
  echo
fi
echo "==> etlake index $lake"
"$etlake" index "$lake"
echo
echo "==> etlake product list"
"$etlake" product list
echo
echo "==> etlake search --product chirps_v2_daily_p05 --time 2020-02-01/2020-02-03 --bbox -105.5,39.5,-105,40"
"$etlake" search --product chirps_v2_daily_p05 --time 2020-02-01/2020-02-03 --bbox=-105.5,39.5,-105,40
echo
echo "==> etlake search --product mod13q1_061 --time 2020-02-10"
"$etlake" search --product mod13q1_061 --time 2020-02-10
echo
echo "==> etlake db check"
"$etlake" db check
echo
"$etlake" db status
if [ "$was_running" = no ]; then
  "$etlake" db stop >/dev/null
  echo
  echo "The demo stopped the cluster it started; \`$etlake db start\` starts it again for Python users."
fi
