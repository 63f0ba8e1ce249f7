#!/usr/bin/env bash
# Data-parallel training step, side by side in one run: racnn with 2
# processes over Gloo (internal/torch's process group, gradients in one flat
# bucket) against PyTorch DDP over Gloo (Debian's python3-torch), and each
# against 1 process; same model (a small CNN), same per-process batch, same
# intra-op threads. Loopback, so the all-reduce costs what this machine's
# memory and scheduler make it cost.
#   scripts/bench-dist.sh            BATCH=16 SIDE=64 STEPS=30 THREADS=1 to change
set -euo pipefail
cd "$(dirname "$0")/.."
BATCH=${BATCH:-16} SIDE=${SIDE:-64} STEPS=${STEPS:-30} THREADS=${THREADS:-1}
PY=${PYTHON:-/usr/bin/python3}
make -s shim >/dev/null
bin=$(mktemp -d)/torch.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./internal/torch/
export RACNN_DIST_BENCH=1 BENCH_BATCH=$BATCH BENCH_SIDE=$SIDE BENCH_STEPS=$STEPS BENCH_THREADS=$THREADS
port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ms() { grep -o 'BENCH step_ms [0-9.]*' | awk '{print $3}'; }

racnn() { # world
  if [ "$1" = 1 ]; then "$bin" -test.run '^TestDistBenchWorker$' | ms; return; fi
  local p; p=$(port); local pids=()
  for r in $(seq 1 $(($1 - 1))); do
    RANK=$r WORLD_SIZE=$1 MASTER_ADDR=127.0.0.1 MASTER_PORT=$p "$bin" -test.run '^TestDistBenchWorker$' >/dev/null & pids+=($!)
  done
  RANK=0 WORLD_SIZE=$1 MASTER_ADDR=127.0.0.1 MASTER_PORT=$p "$bin" -test.run '^TestDistBenchWorker$' | ms
  wait "${pids[@]}"
}
pytorch() { "$PY" scripts/bench_dist.py "$1" "$(port)" "$BATCH" "$SIDE" "$STEPS" "$THREADS" | ms; }

r1=$(racnn 1); r2=$(racnn 2); p1=$(pytorch 1); p2=$(pytorch 2)
echo "small CNN, batch $BATCH per process, ${SIDE}x${SIDE}, $THREADS thread(s) per process, $STEPS timed steps, Gloo on 127.0.0.1 ($(nproc) cores)"
printf '%-28s %12s %12s %10s\n' "" racnn PyTorch racnn/PyTorch
printf '%-28s %9s ms %9s ms %10.2f\n' "1 process, step" "$r1" "$p1" "$(echo "$r1 / $p1" | bc -l)"
printf '%-28s %9s ms %9s ms %10.2f\n' "2 processes (DDP), step" "$r2" "$p2" "$(echo "$r2 / $p2" | bc -l)"
printf '%-28s %12.2f %12.2f\n' "2 processes / 1 process" "$(echo "$r2 / $r1" | bc -l)" "$(echo "$p2 / $p1" | bc -l)"
