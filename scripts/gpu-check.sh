#!/usr/bin/env bash
# Checks racnn's binding on an NVIDIA GPU: rebuilds only the shim against a
# CUDA libtorch (into build/shim, as `make shim` does), runs the binding's
# tests on cuda, and times the benchmark's training step there.
#
#   scripts/gpu-check.sh                        # the libtorch of python3's torch
#   LIBTORCH=/opt/libtorch scripts/gpu-check.sh # an unzipped CUDA libtorch
#
# Prebuilt Go binaries (for a GPU machine without Go): on any machine,
#   go test -c -o bin/torch.test ./internal/torch
#   go build -o bin/bench-binding ./internal/torch/bench
# and carry bin/ over; the script uses them when present (or names them with
# TEST_BIN=..., BENCH_BIN=...) and builds them with go otherwise. They find the
# rebuilt shim through LD_LIBRARY_PATH=build/shim (their RUNPATH, which the
# script prints, is checked after LD_LIBRARY_PATH).
#
# Environment: LIBTORCH, PYTHON (interpreter whose torch to use), CUDA_HOME
# (CUDA toolkit for libtorch's CMake config), TEST_BIN, BENCH_BIN,
# TEST_RUN (a -test.run pattern), NO_SETUP (default 1: skip the Debian
# package set-up), BENCH_STEPS (default 20).
#
# Exits non-zero with a one-line reason when there is no GPU, no CUDA
# libtorch, the shim does not link libtorch_cuda, or a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

die() {
  echo "gpu-check: FAIL: $*" >&2
  exit 1
}
step() { echo; echo "== $*"; }

# ---- 1. the GPU ----
step "GPU"
command -v nvidia-smi >/dev/null 2>&1 ||
  die "no NVIDIA GPU here: nvidia-smi not found (run this on a machine with an NVIDIA GPU and its driver)"
nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.used,utilization.gpu,compute_cap \
  --format=csv 2>/dev/null || nvidia-smi -L || die "nvidia-smi sees no GPU"
nvidia-smi -L | grep -q '^GPU' || die "nvidia-smi lists no GPU"

# ---- 2. a CUDA libtorch ----
step "CUDA libtorch"
notes=()
if [ -z "${LIBTORCH:-}" ]; then
  for py in ${PYTHON:-} python3 /usr/bin/python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    if ! info=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path); print(torch.version.cuda or ""); print(torch.__version__)' 2>/dev/null); then
      notes+=("$py: no torch")
      continue
    fi
    prefix=$(sed -n 1p <<<"$info") cuda=$(sed -n 2p <<<"$info") ver=$(sed -n 3p <<<"$info")
    if [ -z "$cuda" ]; then
      notes+=("$py: torch $ver is CPU-only")
      continue
    fi
    LIBTORCH=$prefix
    PYTORCH=$py
    echo "torch $ver (CUDA $cuda) of $py: $LIBTORCH"
    break
  done
  [ -n "${LIBTORCH:-}" ] || die "no CUDA libtorch found ($(IFS=';'; echo "${notes[*]:-no python3}")); set LIBTORCH=/path/to/libtorch (a CUDA build of libtorch, unzipped) or PYTHON=/path/to/python with a CUDA torch"
fi
# LIBTORCH is a libtorch root (lib/, share/cmake/Torch) or a CMake prefix
# such as torch.utils.cmake_prefix_path (<torch>/share/cmake).
if [ -d "$LIBTORCH/share/cmake/Torch" ]; then
  torch_root=$LIBTORCH
elif [ -d "$LIBTORCH/Torch" ]; then
  torch_root=$(cd "$LIBTORCH/../.." && pwd)
else
  die "LIBTORCH=$LIBTORCH holds no share/cmake/Torch (nor Torch/): not a libtorch"
fi
# The libraries sit in <root>/lib (libtorch, pip) or next to cmake/ (Debian).
libdirs=("$torch_root/lib" "$(cd "$LIBTORCH/.." && pwd)")
cuda_lib=$(find "${libdirs[@]}" -maxdepth 1 -name 'libtorch_cuda*.so*' 2>/dev/null | head -1 || true)
[ -n "$cuda_lib" ] || die "LIBTORCH=$LIBTORCH is a CPU-only libtorch (no libtorch_cuda.so in ${libdirs[*]})"
echo "libtorch: $torch_root ($(basename "$cuda_lib"))"

# libtorch's CMake config for CUDA builds looks for the CUDA toolkit (nvcc).
if [ -n "${CUDA_HOME:-}" ]; then
  export PATH="$CUDA_HOME/bin:$PATH"
elif ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
command -v nvcc >/dev/null 2>&1 && echo "nvcc: $(command -v nvcc)" ||
  echo "gpu-check: warning: nvcc not found; if CMake cannot find CUDA, set CUDA_HOME to the CUDA toolkit" >&2
for tool in cmake make g++; do
  command -v $tool >/dev/null 2>&1 || die "$tool not found (needed to rebuild the shim)"
done

# ---- 3. rebuild only the shim ----
step "shim against $torch_root"
make shim LIBTORCH="$LIBTORCH" NO_SETUP="${NO_SETUP:-1}" ||
  die "building the shim against $LIBTORCH failed (see above)"
shim=$ROOT/build/shim/libracnn_torch.so
readelf -d "$shim" | grep -q 'NEEDED.*\(libtorch_cuda\|libc10_cuda\)' ||
  ldd "$shim" | grep -q 'libtorch_cuda' ||
  die "$shim does not load libtorch_cuda: it was not built against a CUDA libtorch"
ldd "$shim" | grep -E 'libtorch|libc10' | sed 's/^/  /'
if ldd "$shim" | grep -q 'not found'; then
  ldd "$shim" | grep 'not found' >&2
  die "the shim's dependencies are not all found"
fi
export LD_LIBRARY_PATH="$ROOT/build/shim${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# ---- 4. the binding's tests on cuda ----
step "binding tests on cuda"
TEST_BIN=${TEST_BIN:-bin/torch.test}
BENCH_BIN=${BENCH_BIN:-bin/bench-binding}
if [ ! -x "$TEST_BIN" ] || [ ! -x "$BENCH_BIN" ]; then
  command -v go >/dev/null 2>&1 ||
    die "no Go toolchain and no prebuilt $TEST_BIN/$BENCH_BIN (build them elsewhere: go test -c -o bin/torch.test ./internal/torch; go build -o bin/bench-binding ./internal/torch/bench)"
  mkdir -p bin
  [ -x "$TEST_BIN" ] || go test -c -o "$TEST_BIN" ./internal/torch
  [ -x "$BENCH_BIN" ] || go build -o "$BENCH_BIN" ./internal/torch/bench
fi
TEST_BIN=$(cd "$(dirname "$TEST_BIN")" && pwd)/$(basename "$TEST_BIN")
BENCH_BIN=$(cd "$(dirname "$BENCH_BIN")" && pwd)/$(basename "$BENCH_BIN")
echo "$TEST_BIN: $(readelf -d "$TEST_BIN" | sed -n 's/.*(\(RUNPATH\|RPATH\)).*: \[\(.*\)\]/\1 \2/p' | head -1)"
echo "  libracnn_torch.so resolves to: $(ldd "$TEST_BIN" | awk '/libracnn_torch/{print $3}')"
[ "$(ldd "$TEST_BIN" | awk '/libracnn_torch/{print $3}')" = "$shim" ] ||
  die "$TEST_BIN does not load the rebuilt $shim"
# Test binaries read testdata/ relative to the package directory.
log=$(mktemp /tmp/racnn-gpu-check.XXXXXX)
set +e
(cd internal/torch && RACNN_TEST_DEVICE=cuda "$TEST_BIN" -test.count=1 -test.v ${TEST_RUN:+-test.run "$TEST_RUN"}) 2>&1 |
  tee "$log" | grep --line-buffered -E '^(--- |ok|PASS|FAIL|panic)|internal/torch tests on|train_test'
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  tail -40 "$log" >&2
  die "binding tests on cuda failed (exit $status; full log in $log)"
fi
echo "binding tests on cuda: PASS"

# ---- 5. benchmark step on cuda ----
step "benchmark step on cuda (VGG-style CNN, batch 16, 3x64x64, fwd+bwd+SGD momentum)"
steps=${BENCH_STEPS:-20}
"$BENCH_BIN" -device cuda -steps "$steps" -warmup 5
"$BENCH_BIN" -device cuda -channels-last -steps "$steps" -warmup 5
if [ -n "${PYTORCH:-}" ]; then
  "$PYTORCH" scripts/bench_binding.py --device cuda --steps "$steps" --warmup 5 || true
  "$PYTORCH" scripts/bench_binding.py --device cuda --channels-last --steps "$steps" --warmup 5 || true
fi
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
echo
echo "gpu-check: OK"
