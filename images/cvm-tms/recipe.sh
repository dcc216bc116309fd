#!/usr/bin/env bash
# Builds the cvm-tms image: cvm-base (kernel, virtio modules, the agent as /init) plus the
# traffic manager's data plane, /bin/cvm-tms (a static release build of this package's
# cvm-tms product: the same TrafficManager code as `cvmctl tms run`). Reproducible like
# cvm-base; inputs.txt also records cvm-tms's sha256.
#
#   usage: recipe.sh OUT_DIR [REPO_ROOT]
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CVM_EXTRA_PRODUCTS=cvm-tms exec bash "$SCRIPT_DIR/../cvm-base/recipe.sh" "$@"
