#!/usr/bin/env bash
# End-to-end check of the prebuilt path (takes minutes; not part of npm test):
#   npm pack (its prepack builds dist/ and the CPU prebuilt, or reuses an up-to-date one) -> `npm i <tarball>` in a
#   temp folder -> checks the install used the prebuilt without compiling, the package loads it, the installed
#   size, and `sdpo demo --quick`.
# Usage: bash bench/pack-install.sh   (KEEP=1 keeps the temp folder, WORK=/some/dir uses that folder; SOURCE=1 also
# checks the source-build fallback: a second install with SDPO_BUILD_FROM_SOURCE=1 must compile, load build/Release
# and leave nothing else in build/)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
if [[ -n "${WORK:-}" ]]; then
  work=$WORK
  mkdir -p "$work"
else
  work=$(mktemp -d /tmp/sdpo-pack-install.XXXXXX)
  [[ "${KEEP:-0}" == 1 ]] || trap 'rm -rf "$work"' EXIT
fi
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
fail() { echo "pack-install: FAIL: $*" >&2; exit 1; }

t=$(now)
tarball=$(npm pack --pack-destination "$work" | tail -1)
echo "pack-install: npm pack (with prepack) $(elapsed "$t") s -> $tarball ($(du -h "$work/$tarball" | cut -f1))"
listing=$(tar -tzf "$work/$tarball")
grep "prebuilds/" <<<"$listing" | sed 's/^/pack-install:   /'
grep -q "prebuilds/linux-x64/.*\.cpu\.node" <<<"$listing" || fail "the tarball holds no CPU prebuilt"

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
echo "pack-install: node_modules/softmax-dpo $(du -sh node_modules/softmax-dpo | cut -f1), node_modules $(du -sh node_modules | cut -f1)"
t=$(now)
npx --no-install sdpo demo --quick --out "$work/demo" >"$work/demo.log" 2>&1 || { tail -20 "$work/demo.log"; fail "sdpo demo --quick failed"; }
echo "pack-install: sdpo demo --quick $(elapsed "$t") s"

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
  left=$(cd node_modules/softmax-dpo && find build -type f)
  [[ "$left" == "build/Release/softmax_dpo.node" ]] || fail "the source build left more than its .node in build/: $left"
  echo "pack-install: node_modules/softmax-dpo after the source build $(du -sh node_modules/softmax-dpo | cut -f1)"
fi
echo "pack-install: OK (repo $repo)"
