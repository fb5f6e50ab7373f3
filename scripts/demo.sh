#!/usr/bin/env bash
# `make demo`: the embedded private Postgres, an ODC index, etlake's product definitions, the product list,
# and the lines a Python user needs. Stops the cluster at the end if the demo started it.
set -euo pipefail
cd "$(dirname "$0")/.."
etlake="${1:-target/release/etlake}"
# The demo always uses the embedded cluster, whatever the shell's datacube settings say.
unset ODC_ENVIRONMENT DATACUBE_DB_URL DATACUBE_CONFIG_PATH ODC_CONFIG_PATH DB_HOSTNAME DB_DATABASE
for v in $(env | grep -o '^ODC_[A-Z0-9_]*_DB_[A-Z]*' || true); do unset "$v"; done
cd_tmp=$(mktemp -d)
trap 'rm -rf "$cd_tmp"' EXIT

was_running=no
"$etlake" db status | grep -q "running" && was_running=yes

echo "==> etlake db init"
"$etlake" db init
echo
echo "==> etlake product add product-defs/products"
"$etlake" product add product-defs/products
echo
echo "==> etlake product list"
"$etlake" product list
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
