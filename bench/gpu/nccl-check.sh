#!/usr/bin/env bash
# NCCL check of data-parallel training, on a GPU machine, from the repo root, with node and node_modules there
# (bench/gpu/checklist.sh's set-up). Builds the addon against python3's CUDA torch (2.x) unless
# build/Release/softmax_dpo.node exists (REBUILD=1 forces it), shows which c10d backends the build carries,
# then runs the world-size-1 NCCL test: sdpo through ProcessGroupNCCL on cuda:0 == the same run alone.
# Loopback only (MASTER_ADDR 127.0.0.1); no network. Logs under $OUT (default /tmp/nccl-check).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/nccl-check}
mkdir -p "$OUT"
export LIBTORCH=${LIBTORCH:-$(python3 -c "import torch, os; print(os.path.dirname(torch.__file__))")}
if [[ ! -f build/Release/softmax_dpo.node || "${REBUILD:-0}" == 1 ]]; then
  rm -rf build
  SDPO_BUILD_JOBS=${SDPO_BUILD_JOBS:-16} timeout 500 node native/tools/build.js > "$OUT/build.log" 2>&1
  rc=$?
  echo "build rc $rc" | tee -a "$OUT/build.log"
  if [[ $rc -ne 0 ]]; then tail -40 "$OUT/build.log"; exit 1; fi
fi
grep -h "softmax-dpo:" "$OUT/build.log" 2>/dev/null | tee "$OUT/backends.log"
export SDPO_BINARY=$PWD/build/Release/softmax_dpo.node
node -e 'const a = require(process.env.SDPO_BINARY); console.log(JSON.stringify({ dist: a.distributedInfo(), build: a.buildInfo() }))' \
  | tee "$OUT/info.json"
SDPO_NCCL_TEST=1 timeout 300 node node_modules/.bin/jest test/distributed/data_parallel.test.ts -t "nccl" \
  > "$OUT/jest-nccl.log" 2>&1
rc=$?
echo "jest nccl rc $rc" | tee -a "$OUT/jest-nccl.log"
grep -E "✓|✕|Tests:|●" "$OUT/jest-nccl.log" | head -40
exit $rc
