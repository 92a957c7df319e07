#!/usr/bin/env bash
# Ours (`sdpo bench`, full fine-tuning, frozen reference copy) against the paper's recipe
# (bench/reference_sdpo.py), alternating ours/ref ROUNDS times at each K, same shape, same thread
# count on both sides; prints every run, then the median ratios per K as JSON lines (camelCase keys, as every
# machine-readable output of sdpo; logs written before bench's keys were camelCase have snake_case ones).
#
#   bench/compare.sh                     # ROUNDS=3 KS="3 15" THREADS=1
#   ROUNDS=5 KS="3" THREADS=2 STEPS=6 bench/compare.sh -- --prompt-len 160
#
# Needs the built addon and dist/ (npx tsc -p tsconfig.build.json) and /usr/bin/python3 with torch.
# The machine is shared: every run line carries the 1-minute load average at its start.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
KS=${KS:-"3 15"}
ROUNDS_K15=${ROUNDS_K15:-$ROUNDS}  # the reference takes minutes a step at K=15 on 2 shared cores
# Intra-op (OpenMP) threads, the same on both sides; OpenBLAS runs the matrix products on its own pool of
# every core either way. 1 is the faster setting for BOTH sides on the 2-core machine (OpenBLAS's idle
# workers spin and fight OpenMP's for the cores): the reference runs 2x faster at K = 3 with 1 than with 2.
THREADS=${THREADS:-1}
STEPS=${STEPS:-5}
WARMUP=${WARMUP:-2}
PYTHON=${PYTHON:-/usr/bin/python3}
[[ "${1:-}" == "--" ]] && shift
EXTRA=("$@")
# Same intra-op thread count for both sides (torch 1.13 here starts with 1; our addon picks its own default);
# OpenBLAS keeps its own default pool (every core) on both sides.
export SDPO_NUM_THREADS=$THREADS
# glibc's malloc arenas are left at their default on both sides (every native call of ours runs on one
# thread, so one arena). ARENAS=<n> caps them on both sides, for comparison.
ARENAS=${ARENAS:-0}
[[ "$ARENAS" != 0 ]] && export MALLOC_ARENA_MAX=$ARENAS
LOG=$(mktemp)
load() { cut -d' ' -f1 /proc/loadavg; }
for K in $KS; do
  rounds=$ROUNDS
  [[ "$K" == 15 ]] && rounds=$ROUNDS_K15
  for ((i = 1; i <= rounds; i++)); do
    l=$(load)
    # shellcheck disable=SC2086
    ours=$(node dist/src/cli/main.js bench --negatives "$K" --threads "$THREADS" --steps "$STEPS" --warmup "$WARMUP" "${EXTRA[@]}")
    echo "{\"side\":\"ours\",\"K\":$K,\"round\":$i,\"load1\":$l,\"result\":$ours}" | tee -a "$LOG"
    l=$(load)
    ref=$("$PYTHON" bench/reference_sdpo.py --negatives "$K" --threads "$THREADS" --steps "$STEPS" --warmup "$WARMUP" "${EXTRA[@]}")
    echo "{\"side\":\"ref\",\"K\":$K,\"round\":$i,\"load1\":$l,\"result\":$ref}" | tee -a "$LOG"
  done
done
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
const median = (v) => { const s = [...v].sort((a, b) => a - b), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
// camelCase keys (sdpo bench and reference_sdpo.py now); the snake_case of logs written before them read too.
const get = (r, key, old) => r[key] ?? r[old];
for (const K of [...new Set(lines.map((l) => l.K))]) {
  const runs = (side) => lines.filter((l) => l.K === K && l.side === side).map((l) => l.result);
  const ours = runs("ours"), ref = runs("ref");
  const pairs = ours.map((o, i) => [o, ref[i]]);
  const eps = (r) => get(r, "examplesPerSecond", "examples_per_s");
  const rss = (r) => get(r, "peakRssMb", "peak_rss_mb");
  const flops = (r) => get(r, "modelFlopsPerSecond", "model_flops_per_s");
  console.log(JSON.stringify({
    K,
    rounds: pairs.length,
    examplesPerSecondOurs: median(ours.map(eps)),
    examplesPerSecondRef: median(ref.map(eps)),
    speedupMedianOfRounds: median(pairs.map(([o, r]) => eps(o) / eps(r))),
    peakRssMbOurs: median(ours.map(rss)),
    peakRssMbRef: median(ref.map(rss)),
    peakRssRatio: median(pairs.map(([o, r]) => rss(o) / rss(r))),
    modelGflopsOurs: median(ours.map(flops)) / 1e9,
    modelGflopsRef: median(ref.map(flops)) / 1e9,
    matmulGflops: median(ours.map((o) => get(o, "matmulFlopsPerSecond", "matmul_flops_per_s"))) / 1e9,
    oursFractionOfMatmul: median(ours.map((o) => get(o, "flopsFractionOfMatmul", "flops_fraction_of_matmul"))),
    load1: median(lines.filter((l) => l.K === K).map((l) => l.load1)),
  }));
}' "$LOG"
rm -f "$LOG"
