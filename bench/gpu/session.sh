#!/usr/bin/env bash
# One GPU session's checklist in one call (repo root on the GPU machine; node and node_modules packed in .carry/,
# dist/ built): CUDA build against python3's torch 2.x with the prebuilt and its manifest, the CUDA test files, NCCL
# at world size 1 through the addon, inspect, then the side-by-side benchmarks of bench/RESULTS.md "GPU" while time
# is left. Each step is time-boxed and logs under $OUT, so the call returns its logs whatever happens.
# The previous prebuilt (the committed one) is kept as /tmp/before.node for issue 17's step timing.
set -uo pipefail
T0=$(date +%s)
BUDGET=${BUDGET:-580}
step() { echo "== $1 at +$(( $(date +%s) - T0 ))s"; }
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
step setup
xz -d < .carry/node.xz > /usr/local/bin/node && chmod +x /usr/local/bin/node
tar -xJf .carry/node_modules.tar.xz
cp prebuilds/linux-x64/softmax_dpo.torch2.11.cu130.node /tmp/before.node 2>/dev/null
{ nvidia-smi; python3 -c "import torch,sys;print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0), sys.executable)"; nvcc --version; cmake --version; } > $OUT/env.log 2>&1
export LIBTORCH=$(python3 -c "import torch, os; print(os.path.dirname(torch.__file__))")
export SDPO_BUILD_JOBS=16 SDPO_CUDA_ARCH="80;90"
if [[ ! -f build/Release/softmax_dpo.node || "${REBUILD:-1}" == 1 ]]; then
  step build
  rm -rf build
  timeout 330 node native/tools/prebuild.js > $OUT/build.log 2>&1; echo "prebuild rc $?" | tee -a $OUT/build.log
  grep -iE "error|warning" $OUT/build.log | head -20
  tail -5 $OUT/build.log
  cp prebuilds/linux-x64/softmax_dpo.torch2.11.cu130.* $OUT/ 2>/dev/null
fi
export SDPO_BINARY=$PWD/build/Release/softmax_dpo.node
step cuda-tests
timeout 150 node node_modules/.bin/jest --maxWorkers=8 test/ops/cuda.test.ts test/ops/token-chunking.test.ts test/trainers/cuda-step.test.ts > $OUT/jest-cuda.log 2>&1; echo "jest cuda rc $?" | tee -a $OUT/jest-cuda.log
grep -E "Tests:|✕|●" $OUT/jest-cuda.log | head -30
step nccl
OUT=$OUT/nccl timeout 120 bash bench/gpu/nccl-check.sh; echo "nccl rc $?"
step inspect
timeout 30 node dist/src/cli/main.js inspect > $OUT/inspect.log 2>&1; head -20 $OUT/inspect.log
step ops-bench
timeout 90 node dist/bench/gpu-ops.js --device cuda > $OUT/gpu-ops.log 2>&1; tail -12 $OUT/gpu-ops.log
step step-bench
SHAPE="--device cuda --vocab 151936 --dim 896 --layers 4 --heads 14 --kv-heads 2 --ffn 4864 --batch-size 8 --negatives 15 --steps 10 --warmup 3 --matmul-size 0"
for round in 1 2; do
  for binary in /tmp/before.node $SDPO_BINARY; do
    [[ $(left) -lt 60 ]] && break
    echo "$binary $(SDPO_BINARY=$binary timeout 60 node dist/src/cli/main.js bench $SHAPE 2>&1 | tail -1)" | tee -a $OUT/step-bench.log
  done
done
step compare
l=$(left); echo "compare budget ${l}s"
if [[ $l -gt 40 ]]; then
  (ROUNDS=2 KS="3 15" THREADS=8 PYTHON=python3 STEPS=20 WARMUP=3 bench/compare.sh -- --device cuda > $OUT/bench-small.log 2>&1
   ROUNDS=1 KS="3 15" THREADS=8 PYTHON=python3 STEPS=10 WARMUP=3 bench/compare.sh -- --device cuda --vocab 32000 --dim 1024 --layers 8 --heads 16 --kv-heads 4 --ffn 2816 --batch-size 8 > $OUT/bench-medium.log 2>&1) &
  bp=$!; ( sleep $(( l - 10 )); kill -- -$bp 2>/dev/null; pkill -f compare.sh; pkill -f reference_sdpo; pkill -f "main.js bench" ) & wp=$!
  wait $bp; pkill -P $wp 2>/dev/null; kill $wp 2>/dev/null
  tail -n 4 $OUT/bench-small.log $OUT/bench-medium.log
fi
step done
