#!/usr/bin/env bash
# Images per second of the RA-CNN model, racnn (Go, internal/model's
# BenchmarkModel) against the same model in PyTorch (scripts/bench_model.py,
# Debian's python3-torch on the same libtorch), one step at a time, with the
# same intra-op thread count on both sides, per configuration and precision.
#
#   scripts/bench-model.sh [demo|paper|all] (default all)
#
#   PRECISIONS="fp32 bf16"  (cpu default; cuda default "fp32 tf32 bf16 fp16"):
#                          fp32 without TF32, tf32, and autocast to bf16/fp16
#                          (racnn's runtime.precision; bench_model.py --precision)
#   DEVICE=cpu|cuda        where both sides run (cuda: each step synchronises)
#   PEAK_TFLOPS=N          the device's dense peak for the fraction column
#                          (cuda: taken from a table of known GPUs by name)
#   RACNN_THREADS=2        intra-op threads, both sides
#   RACNN_CHANNELS_LAST=0  NCHW instead of the configs' channels-last
#   BATCH=N                batch size override (both sides)
#   MODEL_TEST=path        a prebuilt internal/model test binary (no rebuild)
#   BASE_TEST=path         the internal/model test binary of another commit,
#                          run in the same rounds, alternating (fp32 only:
#                          older commits have no precision setting); adds a
#                          base img/s column and racnn's ratio to it. Build it
#                          in a worktree of that commit: make shim &&
#                          go test -c -o /tmp/base-model.test ./internal/model
#   OMP_WAIT_POLICY=PASSIVE (default here, both sides): libgomp's spin-waiting
#                          turns other load on the machine into slowdowns
#   ITERS_DEMO=10 ITERS_PAPER=2  timed steps after one warm-up step
#   ROUNDS_DEMO=3 ROUNDS_PAPER=1 each side runs this many times, alternating,
#                          and the best rate counts
#
# Columns: racnn img/s; PyTorch as installed; PyTorch with the glibc malloc
# settings racnn applies to itself at start-up (rt_tune_malloc:
# MALLOC_MMAP_THRESHOLD_=32 MiB, MALLOC_TRIM_THRESHOLD_=1 GiB; CPU only, the
# GPU allocators are the caching ones on both sides) and racnn's ratio to
# each; the FLOPs of one image (forward: 2 x the multiply-adds of every
# convolution and linear layer, from the layer shapes, bench_model.py flops;
# train: 3 x forward, the usual count for forward + backward); racnn's
# achieved TFLOP/s and its fraction of the peak; peak memory of each
# process (CPU: maximum RSS; cuda: PyTorch's max_memory_allocated, and for
# both the most nvidia-smi showed in use while the process ran).
#
# demo:  small VGG-style net [32,M,64,M,128], 128-px source, 48-px scales, batch 64, 10 classes
# paper: VGG-19, 448 -> 224 -> 224, batch 2 on cpu (8 on cuda), 200 classes
# forward: eval mode, no grad. train: forward (train mode) + cross-entropy of
# every classifier + backward through every parameter (no optimiser step).
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
threads=${RACNN_THREADS:-2}
cl=${RACNN_CHANNELS_LAST:-1}
dev=${DEVICE:-cpu}
precisions=${PRECISIONS:-fp32 bf16}
[ "$dev" = cpu ] || precisions=${PRECISIONS:-fp32 tf32 bf16 fp16}
export RACNN_THREADS=$threads RACNN_CHANNELS_LAST=$cl OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} RACNN_BENCH_DEVICE=$dev
py=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d /tmp/racnn-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# MODEL_TEST=path: a prebuilt internal/model test binary, nothing rebuilt
# (scripts/gpu-check.sh, after it rebuilt the shim against a CUDA libtorch).
if [ -n "${MODEL_TEST:-}" ]; then
  modeltest=$(cd "$(dirname "$MODEL_TEST")" && pwd)/$(basename "$MODEL_TEST")
else
  make -s shim >/dev/null
  mkdir -p build
  go test -c -o build/model.test ./internal/model
  modeltest=$(cd build && pwd)/model.test
fi

# peak: dense TFLOP/s of the device for a precision (fp32 tf32 bf16 fp16).
peak() {
  if [ -n "${PEAK_TFLOPS:-}" ]; then echo "$PEAK_TFLOPS"; return; fi
  [ "$dev" = cpu ] && { echo n/a; return; }
  local name
  name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
  # Dense (no sparsity) tensor-core peaks from NVIDIA's data sheets: fp32 tf32 bf16 fp16.
  local row
  case "$name" in
    *H200*) row="66.9 494.7 989.4 989.4" ;;
    *H100*PCIe*) row="51.2 378 756 756" ;;
    *H100*) row="66.9 494.7 989.4 989.4" ;;
    *A100*) row="19.5 156 312 312" ;;
    *L40S*) row="91.6 183 362 362" ;;
    *L4*) row="30.3 60 121 121" ;;
    *A10*) row="31.2 62.5 125 125" ;;
    *) echo n/a; return ;;
  esac
  local i
  case "$1" in fp32) i=1 ;; tf32) i=2 ;; bf16) i=3 ;; fp16) i=4 ;; esac
  cut -d' ' -f$i <<<"$row"
}

# gpu_used: MiB in use on GPU 0 now.
gpu_used() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1; }

# measure OUTFILE CMD...: runs CMD; its stdout to OUTFILE; prints the peak
# memory: max RSS in MB (cpu) or the most nvidia-smi saw in use above what
# was in use before, in MB (cuda).
measure() {
  local out=$1
  shift
  if [ "$dev" = cpu ]; then
    /usr/bin/time -f %M -o "$tmp/rss" "$@" >"$out"
    awk '{printf "%.0f", $1 / 1024}' "$tmp/rss"
    return
  fi
  local base f=$tmp/mem
  base=$(gpu_used)
  : >"$f"
  (while :; do gpu_used >>"$f"; sleep 0.2; done) &
  local sampler=$!
  "$@" >"$out"
  kill $sampler 2>/dev/null
  wait $sampler 2>/dev/null || true
  sort -n "$f" | tail -1 | awk -v b="$base" '{printf "%.0f", ($1 - b) * 1.048576}'
}

cases=(demo paper)
[ "$which" = all ] || cases=("$which")
best() { awk -v a="$1" -v b="$2" 'BEGIN {print (a > b) ? a : b}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }

echo "device $dev, threads $threads, channels-last $cl, OMP_WAIT_POLICY $OMP_WAIT_POLICY, load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
[ "$dev" = cpu ] && echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); native bf16: $(grep -o 'avx512_bf16\|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ' || true)"
[ "$dev" = cpu ] || nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
basetest=
[ -n "${BASE_TEST:-}" ] && basetest=$(cd "$(dirname "$BASE_TEST")" && pwd)/$(basename "$BASE_TEST")
printf '%-5s %-7s %-4s %6s %9s %9s %6s %9s %6s %8s %7s %6s %8s %8s %9s' config step prec batch "racnn/s" "torch/s" ratio "torch+m/s" ratio "GFLOP/im" TFLOP/s "%peak" "racnnMB" "torchMB" "torch+mMB"
[ -n "$basetest" ] && printf ' %8s %6s' "base/s" ratio
echo
for c in "${cases[@]}"; do
  iters=${ITERS_DEMO:-10} rounds=${ROUNDS_DEMO:-3} batch=${BATCH:-64}
  if [ "$c" = paper ]; then
    iters=${ITERS_PAPER:-2} rounds=${ROUNDS_PAPER:-1} batch=${BATCH:-2}
    [ "$dev" = cpu ] || batch=${BATCH:-8}
  fi
  fwd=$($py scripts/bench_model.py "$c" flops | awk '{print $3}')
  for prec in $precisions; do
    for w in forward train; do
      g=0 p=0 pm=0 gm=0 ptm=0 pmm=0 b=0
      for ((r = 0; r < rounds; r++)); do
        if [ -n "$basetest" ] && [ "$prec" = fp32 ]; then
          (cd internal/model && RACNN_BENCH_BATCH=$batch "$basetest" -test.run '^$' \
            -test.bench "^BenchmarkModel/$c/$w\$" -test.benchtime "${iters}x") >"$tmp/base"
          b=$(best "$b" "$(awk '/img\/s/ {for (i = 1; i < NF; i++) if ($(i+1) == "img/s") v = $i} END {print v + 0}' "$tmp/base")")
        fi
        # -benchtime Nx: Go runs the benchmark once with N=1, then with N; the
        # benchmark does its own warm-up step first.
        m=$(cd internal/model && RACNN_PRECISION=$prec RACNN_BENCH_BATCH=$batch measure "$tmp/go" "$modeltest" -test.run '^$' \
          -test.bench "^BenchmarkModel/$c/$w\$" -test.benchtime "${iters}x")
        gr=$(awk '/img\/s/ {for (i = 1; i < NF; i++) if ($(i+1) == "img/s") v = $i} END {print v + 0}' "$tmp/go")
        g=$(best "$g" "$gr") gm=$(best "$gm" "$m")
        args=("$c" "$w" --threads "$threads" --iters "$iters" --channels-last "$cl" --device "$dev" --batch "$batch" --precision "$prec")
        m=$(measure "$tmp/py" env -u MALLOC_MMAP_THRESHOLD_ -u MALLOC_TRIM_THRESHOLD_ $py scripts/bench_model.py "${args[@]}")
        p=$(best "$p" "$(awk '{print $3}' "$tmp/py")") ptm=$(best "$ptm" "$m")
        [ "$dev" = cpu ] || ptm="$m/$(awk '{print $5}' "$tmp/py")"
        if [ "$dev" = cpu ]; then
          m=$(measure "$tmp/py" env MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 $py scripts/bench_model.py "${args[@]}")
          pm=$(best "$pm" "$(awk '{print $3}' "$tmp/py")") pmm=$(best "$pmm" "$m")
        fi
      done
      flops=$fwd
      [ "$w" = train ] && flops=$(awk -v f="$fwd" 'BEGIN {print 3 * f}')
      tf=$(awk -v r="$g" -v f="$flops" 'BEGIN {printf "%.3f", r * f / 1e12}')
      pk=$(peak "$prec")
      frac=n/a
      [ "$pk" = n/a ] || frac=$(awk -v t="$tf" -v p="$pk" 'BEGIN {printf "%.1f", 100 * t / p}')
      pmr=n/a pmmr=n/a
      [ "$dev" = cpu ] && pmr=$pm pmmr=$pmm
      printf '%-5s %-7s %-4s %6d %9.2f %9.2f %6s %9s %6s %8s %7s %6s %8s %8s %9s\n' "$c" "$w" "$prec" "$batch" "$g" "$p" "$(div "$g" "$p")" \
        "$pmr" "$(div "$g" "$pm")" "$(awk -v f="$flops" 'BEGIN {printf "%.2f", f / 1e9}')" "$tf" "$frac" "$gm" "$ptm" "$pmmr" | tr -d '\n'
      if [ -n "$basetest" ]; then
        if [ "$prec" = fp32 ]; then printf ' %8.2f %6s' "$b" "$(div "$g" "$b")"; else printf ' %8s %6s' - -; fi
      fi
      echo
    done
  done
done
echo "ratio: racnn / PyTorch as installed; the second: racnn / PyTorch with racnn's malloc settings (cpu)."
[ -n "$basetest" ] && echo "base: $BASE_TEST (fp32 only); its ratio: racnn / base."
[ "$dev" = cpu ] || echo "memory (MB): the most nvidia-smi showed in use while each process ran; torch: that / torch.cuda.max_memory_allocated."
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
