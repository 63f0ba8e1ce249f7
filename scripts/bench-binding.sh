#!/usr/bin/env bash
# Times the same training step through racnn's binding and through PyTorch,
# side by side, on this machine, and prints a table.
#
# Step: a VGG-style CNN (conv64-conv64-pool-conv128-conv128-pool-conv256-pool-
# gap-fc10, 3x3 convs with ReLU), batch 16 of 3x64x64, cross-entropy,
# forward + backward + SGD momentum 0.9 (set_to_none zero_grad, foreach=False),
# loss.item() at the end of each step. Same initial weights on both sides
# (manual_seed 0; the losses printed agree). The thread count is set
# explicitly on both sides (Debian's torch starts at 1): torch.set_num_threads
# in Python, SetNumThreads on the locked OS thread that runs the steps in Go
# (torch.OnThread). Figures are medians over STEPS timed steps after WARMUP.
#
#   scripts/bench-binding.sh               # or: make bench
#   THREADS="1 2" STEPS=10 WARMUP=3 ROUNDS=2 DEVICE=cpu scripts/bench-binding.sh
#
# ROUNDS > 1 repeats each pair (racnn, then PyTorch) and keeps each side's
# best median: on a shared machine that filters out interference.
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-"1 2"}
STEPS=${STEPS:-10}
WARMUP=${WARMUP:-3}
ROUNDS=${ROUNDS:-1}
DEVICE=${DEVICE:-cpu}
PY=${PY:-/usr/bin/python3}

"$PY" -c 'import torch' 2>/dev/null || { echo "bench: $PY cannot import torch (apt-get install python3-torch)" >&2; exit 1; }
mkdir -p bin
go build -o bin/bench-binding ./internal/torch/bench

field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
best() { # best median of several key=value lines on stdin
  field median_ms | sort -g | head -1
}

echo "racnn binding vs PyTorch $("$PY" -c 'import torch;print(torch.__version__)') on $DEVICE"
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "step: VGG-style CNN, batch 16, 3x64x64, fwd+bwd+SGD momentum; median of $STEPS steps after $WARMUP, best of $ROUNDS round(s)"
echo
printf "%-8s %-14s %14s %16s %14s\n" threads layout "racnn ms/step" "PyTorch ms/step" racnn/PyTorch
for th in $THREADS; do
  for cl in false true; do
    goflags=(-threads "$th" -steps "$STEPS" -warmup "$WARMUP" -device "$DEVICE")
    pyflags=(--threads "$th" --steps "$STEPS" --warmup "$WARMUP" --device "$DEVICE")
    if [ "$cl" = true ]; then goflags+=(-channels-last); pyflags+=(--channels-last); fi
    rg="" rp=""
    for ((r = 0; r < ROUNDS; r++)); do
      rg+="$(bin/bench-binding "${goflags[@]}")"$'\n'
      rp+="$("$PY" scripts/bench_binding.py "${pyflags[@]}")"$'\n'
    done
    g=$(best <<<"$rg") p=$(best <<<"$rp")
    lg=$(head -1 <<<"$rg" | field loss) lp=$(head -1 <<<"$rp" | field loss)
    [ "$lg" = "$lp" ] || echo "bench: warning: first-run losses differ (racnn $lg, PyTorch $lp)" >&2
    layout=NCHW; [ "$cl" = true ] && layout=channels-last
    printf "%-8s %-14s %14.1f %16.1f %14.2f\n" "$th" "$layout" "$g" "$p" "$(awk "BEGIN{print $g/$p}")"
  done
done

echo
c=$(bin/bench-binding -calls)
pc=$("$PY" scripts/bench_binding.py --calls)
echo "one call through the binding (1 thread, 1-element float32 tensor):"
printf "  %-44s %8.0f ns\n" "cgo no-op call (racnn CgoNoop)" "$(field cgo_noop_ns <<<"$c")"
printf "  %-44s %8.0f ns\n" "Numel (cgo + metadata read)" "$(field numel_ns <<<"$c")"
printf "  %-44s %8.0f ns\n" "AddScalar + Free (new handle each call)" "$(field add_scalar_free_ns <<<"$c")"
printf "  %-44s %8.0f ns\n" "AddScalar, freed by its Scope (100 per scope)" "$(field add_scalar_scope_ns <<<"$c")"
printf "  %-44s %8.0f ns\n" "PyTorch x.add(1.0)" "$(field add_scalar_ns <<<"$pc")"
printf "  %-44s %8.0f ns\n" "PyTorch x.numel()" "$(field numel_ns <<<"$pc")"
printf "  %-44s %8.0f ns\n" "Python no-op call" "$(field noop_call_ns <<<"$pc")"
