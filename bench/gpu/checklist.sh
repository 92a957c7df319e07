#!/usr/bin/env bash
# GPU checklist (run from the repo root on the GPU machine, with node and node_modules packed in .carry/): CUDA build against python3's torch, inspect, CUDA tests + whole suite, prebuilt + manifest,
# a first side-by-side bench. Every step logs under $OUT; each is time-boxed so the call returns its logs.
set -uo pipefail
T0=$(date +%s)
step() { echo "== $1 at +$(( $(date +%s) - T0 ))s"; }
step setup
xz -d < .carry/node.xz > /usr/local/bin/node && chmod +x /usr/local/bin/node
tar -xJf .carry/node_modules.tar.xz
node -v
{ nvidia-smi; python3 -c "import torch,sys;print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0), sys.executable)"; nvcc --version; cmake --version; } > $OUT/env.log 2>&1
cat $OUT/env.log | head -30
export LIBTORCH=$(python3 -c "import torch, os; print(os.path.dirname(torch.__file__))")
export SDPO_BUILD_JOBS=16 SDPO_CUDA_ARCH="80;90"
rm -rf build
step build
timeout 330 node native/tools/prebuild.js > $OUT/build.log 2>&1; echo "prebuild rc $?" | tee -a $OUT/build.log
tail -25 $OUT/build.log
cp build/sdpo_cuda_target.txt $OUT/ 2>/dev/null; cat build/sdpo_cuda_target.txt
grep -o "arch=compute_[0-9]*,code=[a-z_0-9]*" build/build.ninja build/CMakeFiles/*/flags.make 2>/dev/null | sort | uniq -c | head >> $OUT/build.log
ls -la prebuilds/linux-x64/ && cp prebuilds/linux-x64/*cu* $OUT/ 2>/dev/null
step inspect
node dist/src/cli/main.js inspect 2>&1 | tee $OUT/inspect.log | head -40
step cuda-tests
timeout 200 node node_modules/.bin/jest --maxWorkers=8 test/ops/cuda.test.ts test/ops/token-chunking.test.ts test/trainers/cuda-step.test.ts > $OUT/jest-cuda.log 2>&1; echo "jest cuda rc $?" | tee -a $OUT/jest-cuda.log
tail -40 $OUT/jest-cuda.log
step full-suite
timeout 240 node node_modules/.bin/jest --maxWorkers=8 > $OUT/jest-all.log 2>&1; echo "jest all rc $?" | tee -a $OUT/jest-all.log
grep -E "Tests:|Test Suites:|✕|FAIL" $OUT/jest-all.log | head -40
step nccl
cat > /tmp/nccl1.py <<'PY'
import os, torch, torch.distributed as dist
dist.init_process_group("nccl", init_method="tcp://127.0.0.1:29531", rank=0, world_size=1)
x = torch.arange(4.0, device="cuda"); dist.all_reduce(x); torch.cuda.synchronize()
print("nccl world_size 1 all_reduce", x.tolist(), "nccl", torch.cuda.nccl.version())
dist.destroy_process_group()
PY
timeout 60 python3 /tmp/nccl1.py > $OUT/nccl.log 2>&1; echo "nccl rc $?" >> $OUT/nccl.log; tail -3 $OUT/nccl.log
ls $LIBTORCH/include/torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp >> $OUT/nccl.log 2>&1
step bench
left=$(( 575 - ($(date +%s) - T0) ))
echo "bench budget ${left}s"
(ROUNDS=2 KS="3 15" THREADS=8 PYTHON=python3 STEPS=20 WARMUP=3 bench/compare.sh -- --device cuda > $OUT/bench-small.log 2>&1
 ROUNDS=1 KS="3 15" THREADS=8 PYTHON=python3 STEPS=10 WARMUP=3 bench/compare.sh -- --device cuda --vocab 32000 --dim 1024 --layers 8 --heads 16 --kv-heads 4 --ffn 2816 --batch-size 8 > $OUT/bench-medium.log 2>&1) &
bp=$!; ( sleep $left; kill -- -$bp 2>/dev/null; pkill -f compare.sh; pkill -f reference_sdpo; pkill -f "main.js bench" ) & wp=$!
wait $bp; pkill -P $wp 2>/dev/null; kill $wp 2>/dev/null
tail -n 3 $OUT/bench-small.log $OUT/bench-medium.log
step done
