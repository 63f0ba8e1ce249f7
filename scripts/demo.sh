#!/usr/bin/env bash
# The CPU demo (make demo): real MNIST digits -> cluttered MNIST -> RA-CNN
# trained with the paper's schedule, beside a single-scale baseline (same
# backbone, input size and budget) and the same RA-CNN with the ranking phases
# switched off; then the side-by-side evaluation and attention pictures.
# Everything lands in runs/demo-*; the data in data/.
set -euo pipefail
cd "$(dirname "$0")/.."
racnn=bin/racnn
cfg=configs/cluttered-mnist.yaml
start=$(date +%s)

scripts/fetch-mnist.sh >/dev/null
if [[ ! -s data/cluttered-mnist/test/boxes.txt ]]; then
  $racnn data cluttered-mnist --source data/mnist --out data/cluttered-mnist --force
fi

train() { # name, extra flags...
  local name=$1; shift
  if [[ -s runs/$name/test_metrics.json ]]; then
    echo "== $name: already trained (rm -r runs/$name to train again)"
    return
  fi
  rm -rf "runs/$name"
  echo "== training $name"
  if [[ -t 2 ]]; then
    # A terminal gets everything the trainer shows as it happens: its
    # progress bar (rate, ETA) and its phase and validation lines.
    $racnn train --config "$cfg" --out "runs/$name" "$@" >/dev/null
  else
    # A log gets the phase and validation lines, each as it is written
    # (without --line-buffered grep holds them back in a block buffer).
    $racnn train --config "$cfg" --out "runs/$name" "$@" \
      2> >(grep --line-buffered -E "^(phase|validation|new best|warning|rank#)" >&2) >/dev/null
  fi
}

train demo-racnn
# The ranking-off run is the full run until the first ranking phase: it
# starts from the full run's end of cls#1 (train.keep_phase_ends) and ends
# as it would from scratch, minutes sooner.
train demo-norank --train.rank_epochs 0 --from runs/demo-racnn/checkpoints/end-cls1.safetensors
train demo-baseline --model.scales 1

echo
$racnn eval --run runs/demo-baseline --run runs/demo-norank --run runs/demo-racnn
echo
mkdir -p runs/demo-racnn/predict
for d in 0 3 7; do
  imgs=(data/cluttered-mnist/test/$d/*.png) # a glob, not ls | head: with pipefail, head's early exit fails ls (SIGPIPE)
  img=${imgs[0]}
  $racnn predict "$img" --run runs/demo-racnn --topk 3 --viz "runs/demo-racnn/predict/digit-$d.png"
done
echo "curves: runs/demo-racnn/curves.png; demo took $(( $(date +%s) - start )) s"
