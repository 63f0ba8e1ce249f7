#!/usr/bin/env bash
# Images per second of the RA-CNN model, racnn (Go, internal/model's
# BenchmarkModel) against the same model in PyTorch (scripts/bench_model.py,
# Debian's python3-torch on the same libtorch), one step at a time, on this
# machine, with the same intra-op thread count on both sides.
#
#   scripts/bench-model.sh [demo|paper|all] (default all)
#
#   RACNN_THREADS=2        intra-op threads, both sides
#   RACNN_CHANNELS_LAST=0  NCHW instead of the configs' channels-last
#   OMP_WAIT_POLICY=PASSIVE (default here, both sides): libgomp's default
#                          spin-waiting turns any other load on the machine
#                          into slowdowns of up to 4x that differ between
#                          the two sides; passive waiting keeps them fair
#   ITERS_DEMO=10 ITERS_PAPER=2  timed steps after one warm-up step
#   ROUNDS_DEMO=3 ROUNDS_PAPER=1 each side runs this many times, alternating,
#                          and the best rate counts (other processes on a
#                          shared machine only ever slow a run down)
#
# demo:  small VGG-style net [32,M,64,M,128], 128-px source, 48-px scales, batch 64, 10 classes
# paper: VGG-19, 448 -> 224 -> 224, batch 2, 200 classes (~120 GFLOPs per image forward)
# forward: eval mode, no grad. train: forward (train mode) + cross-entropy of
# every classifier + backward through every parameter (no optimiser step).
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
threads=${RACNN_THREADS:-2}
cl=${RACNN_CHANNELS_LAST:-1}
export RACNN_THREADS=$threads RACNN_CHANNELS_LAST=$cl OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
py=/usr/bin/python3

make -s shim >/dev/null
mkdir -p build
go test -c -o build/model.test ./internal/model

cases=(demo paper)
[ "$which" = all ] || cases=("$which")

echo "threads $threads, channels-last $cl, OMP_WAIT_POLICY $OMP_WAIT_POLICY, load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
printf '%-6s %-8s %12s %14s %9s\n' config step "racnn img/s" "pytorch img/s" ratio
best() { awk -v a="$1" -v b="$2" 'BEGIN {print (a > b) ? a : b}'; }
for c in "${cases[@]}"; do
  iters=${ITERS_DEMO:-10} rounds=${ROUNDS_DEMO:-3}
  [ "$c" = paper ] && iters=${ITERS_PAPER:-2} rounds=${ROUNDS_PAPER:-1}
  for w in forward train; do
    g=0 p=0
    for ((r = 0; r < rounds; r++)); do
      # -benchtime Nx: Go runs the benchmark once with N=1, then with N; the
      # benchmark does its own warm-up step first.
      gr=$(cd internal/model && ../../build/model.test -test.run '^$' -test.bench "^BenchmarkModel/$c/$w\$" \
            -test.benchtime "${iters}x" | awk '/img\/s/ {for (i = 1; i < NF; i++) if ($(i+1) == "img/s") v = $i} END {print v}')
      pr=$($py scripts/bench_model.py "$c" "$w" --threads "$threads" --iters "$iters" --channels-last "$cl" | awk '{print $3}')
      g=$(best "$g" "$gr") p=$(best "$p" "$pr")
    done
    printf '%-6s %-8s %12.2f %14.2f %9.2f\n' "$c" "$w" "$g" "$p" "$(awk -v a="$g" -v b="$p" 'BEGIN {print a / b}')"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
