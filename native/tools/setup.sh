#!/usr/bin/env bash
# One-command set-up on Debian/Ubuntu: system packages (libtorch, OpenBLAS, build tools),
# npm dependencies, the native addon and the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/../.."

# libgloo-dev: the headers of the gloo that Debian's libtorch links, for data-parallel training on CPU.
# librsvg2-bin: rsvg-convert, with which the tests render the training plots to PNG.
# OpenBLAS matters: without it Debian's libtorch falls back to the reference BLAS (~30x slower matmuls).
packages=(libtorch-dev libgloo-dev libopenblas0-pthread python3-torch cmake g++ make ninja-build librsvg2-bin)
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    echo "softmax-dpo setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
else
  echo "softmax-dpo setup: not a Debian/Ubuntu system; install libtorch, cmake and a C++17 compiler yourself," >&2
  echo "or set LIBTORCH to an unpacked libtorch folder." >&2
fi

# npm install runs the package's install script, which builds the addon when no prebuilt binary fits.
# Not `npm ci`: npm 11 writes lock files without the other platforms' optional binaries (@swc/core,
# jest's resolver), and `npm ci` then refuses the lock as out of sync; install keeps the locked versions.
npm install --no-audit --no-fund
npm run build:ts
if [[ -f datasets/build.js ]]; then node datasets/build.js; fi
echo "softmax-dpo setup: done. Run the tests with: npm test"
