#!/usr/bin/env bash
# Issue 17 on a GPU machine (from the repo root, node and node_modules packed in .carry/, dist/ built): CUDA build,
# the CUDA test files plus the chunking test, then the timings of bench/RESULTS.md "GPU, issue 17": token log-probs
# with the CPU chunk rule against the device rule (bench/gpu-ops.ts), DPO's kernel against S-DPO with K = 1, and a
# training step at a 152k vocabulary with the previous binary (main's prebuilt, kept as /tmp/before.node) and this one.
set -uo pipefail
T0=$(date +%s)
step() { echo "== $1 at +$(( $(date +%s) - T0 ))s"; }
step setup
xz -d < .carry/node.xz > /usr/local/bin/node && chmod +x /usr/local/bin/node
tar -xJf .carry/node_modules.tar.xz
cp prebuilds/linux-x64/softmax_dpo.torch2.11.cu130.node /tmp/before.node
export LIBTORCH=$(python3 -c "import torch, os; print(os.path.dirname(torch.__file__))")
export SDPO_BUILD_JOBS=16 SDPO_CUDA_ARCH="80;90"
step build
rm -rf build
timeout 330 node native/tools/prebuild.js > $OUT/build.log 2>&1; echo "prebuild rc $?" | tee -a $OUT/build.log
grep -iE "error|warning" $OUT/build.log | head -20
cp prebuilds/linux-x64/softmax_dpo.torch2.11.cu130.* $OUT/ 2>/dev/null
export SDPO_BINARY=$PWD/build/Release/softmax_dpo.node
step cuda-tests
timeout 200 node node_modules/.bin/jest --maxWorkers=8 test/ops/cuda.test.ts test/ops/token-chunking.test.ts test/trainers/cuda-step.test.ts > $OUT/jest-cuda.log 2>&1; echo "jest cuda rc $?" | tee -a $OUT/jest-cuda.log
grep -E "Tests:|✕|●" $OUT/jest-cuda.log | head -30
step ops-bench
timeout 200 node dist/bench/gpu-ops.js --device cuda 2>&1 | tee $OUT/gpu-ops.log
step step-bench
SHAPE="--device cuda --vocab 151936 --dim 896 --layers 4 --heads 14 --kv-heads 2 --ffn 4864 --batch-size 8 --negatives 15 --steps 10 --warmup 3 --matmul-size 0"
for round in 1 2; do
  for binary in /tmp/before.node $SDPO_BINARY; do
    echo "$binary $(SDPO_BINARY=$binary timeout 120 node dist/src/cli/main.js bench $SHAPE 2>&1 | tail -1)" | tee -a $OUT/step-bench.log
  done
done
step done
