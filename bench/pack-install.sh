#!/usr/bin/env bash
# End-to-end check of the prebuilt path (takes minutes; not part of npm test):
#   npm run prebuild -> npm pack -> `npm i <tarball>` in a temp folder (offline-capable)
# and verifies the install used the prebuilt binary without compiling, and that the package loads it.
# Usage: bash bench/pack-install.sh   (KEEP=1 keeps the temp folder; SOURCE=1 also checks the source-build
# fallback: a second install with SDPO_BUILD_FROM_SOURCE=1 must compile and load build/Release)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d /tmp/sdpo-pack-install.XXXXXX)
[[ "${KEEP:-0}" == 1 ]] || trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
fail() { echo "pack-install: FAIL: $*" >&2; exit 1; }

t=$(now)
# dist/ goes into the tarball (the loader and the install script's checks live there).
npx tsc -p tsconfig.build.json || echo "pack-install: warning: tsc reported errors (dist/ was still emitted)"
[[ -f dist/src/native-loader.js ]] || fail "dist/src/native-loader.js was not built"
echo "pack-install: build:ts $(elapsed "$t") s"

t=$(now)
npm run prebuild
echo "pack-install: prebuild $(elapsed "$t") s"

npm pack --dry-run 2>&1 | grep -q "prebuilds/linux-x64/.*\.node" || fail "npm pack --dry-run does not list prebuilds/"
t=$(now)
tarball=$(npm pack --pack-destination "$work" 2>/dev/null | tail -1)
echo "pack-install: pack $(elapsed "$t") s -> $tarball ($(du -h "$work/$tarball" | cut -f1))"
tar -tzf "$work/$tarball" | grep "prebuilds/" | sed 's/^/pack-install:   /'

mkdir -p "$work/app"
cd "$work/app"
npm init -y >/dev/null
t=$(now)
# --foreground-scripts: the install script's output goes to the log (npm hides it otherwise).
if ! npm i --prefer-offline --no-audit --no-fund --foreground-scripts "$work/$tarball" >"$work/install.log" 2>&1; then
  cat "$work/install.log"
  fail "npm i failed"
fi
echo "pack-install: npm i $(elapsed "$t") s"
grep "softmax-dpo:" "$work/install.log" | sed 's/^/pack-install:   /'
if grep -Eq "cmake-js|Building CXX|Configuring done|Linking CXX" "$work/install.log"; then
  fail "the install compiled the addon (cmake output in the install log)"
fi
grep -q "using the prebuilt binary" "$work/install.log" || fail "the install did not report a prebuilt binary"
[[ ! -e node_modules/softmax-dpo/build/Release/softmax_dpo.node ]] || fail "a build/Release appeared in the installed package"

t=$(now)
report=$(SDPO_BINARY= node -e 'process.stdout.write(JSON.stringify(require("softmax-dpo").nativeLoadReport()))')
echo "pack-install: first load (with child test-load) $(elapsed "$t") s"
echo "pack-install: nativeLoadReport() = $report"
echo "$report" | grep -q '"binary":"[^"]*/node_modules/softmax-dpo/prebuilds/linux-x64/softmax_dpo\.torch' \
  || fail "the package did not load its prebuilt binary"
npx --no-install sdpo inspect | sed 's/^/pack-install:   /'

if [[ "${SOURCE:-0}" == 1 ]]; then
  mkdir -p "$work/app-source"
  cd "$work/app-source"
  npm init -y >/dev/null
  t=$(now)
  if ! SDPO_BUILD_FROM_SOURCE=1 SDPO_BUILD_JOBS=${SDPO_BUILD_JOBS:-1} npm i --prefer-offline --no-audit --no-fund \
      --foreground-scripts "$work/$tarball" >"$work/install-source.log" 2>&1; then
    tail -40 "$work/install-source.log"
    fail "npm i with SDPO_BUILD_FROM_SOURCE=1 failed"
  fi
  echo "pack-install: npm i (source build) $(elapsed "$t") s"
  grep "softmax-dpo:" "$work/install-source.log" | sed 's/^/pack-install:   /'
  grep -q "Linking CXX" "$work/install-source.log" || fail "SDPO_BUILD_FROM_SOURCE=1 did not compile"
  report=$(SDPO_BINARY= node -e 'process.stdout.write(JSON.stringify(require("softmax-dpo").nativeLoadReport()))')
  echo "pack-install: nativeLoadReport() = $report"
  echo "$report" | grep -q '"binary":"[^"]*/build/Release/softmax_dpo\.node"' || fail "the source build was not loaded"
fi
echo "pack-install: OK (repo $repo)"
