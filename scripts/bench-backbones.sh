#!/usr/bin/env bash
# RA-CNN on ResNet-50 against RA-CNN on VGG-19 at the paper's sizes
# (448 -> 224 -> 224, 200 classes, batch 2), racnn (internal/model's
# BenchmarkModel) and the same model in PyTorch (scripts/bench_model.py, on
# the same libtorch), side by side in one run: training-step images per
# second (forward in train mode, the cross-entropy of every classifier,
# backward through every parameter) and the peak resident memory of the
# process that ran it. Each measurement is its own process, niced.
#
#   scripts/bench-backbones.sh
#
#   RACNN_THREADS=2   intra-op threads, both sides
#   ITERS=2           timed steps after one warm-up step
#   SIZES=448,224,224 the three scales' input sides (the first also the
#                     source's); smaller only to check that the script runs
#   BATCH=2           images per step
#   ROUNDS=1          runs per side and case, alternating; the best rate and
#                     the lowest peak count (other load only slows a run down)
#   RACNN_BENCH_DEVICE=cuda  on a GPU (peaks: torch.cuda.max_memory_allocated
#                     for PyTorch; for both, host RSS as on the CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${RACNN_THREADS:-2} iters=${ITERS:-2} rounds=${ROUNDS:-1} dev=${RACNN_BENCH_DEVICE:-cpu}
sizes=${SIZES:-448,224,224} batch=${BATCH:-2}
export RACNN_THREADS=$threads OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} RACNN_BENCH_DEVICE=$dev
export RACNN_BENCH_SIZES=$sizes RACNN_BENCH_BATCH=$batch
py=/usr/bin/python3

make -s shim >/dev/null
mkdir -p build
go test -c -o build/model.test ./internal/model

# peak CMD...: runs CMD niced, prints its stdout, then "peak_rss_MiB N".
peak() {
  $py -c 'import resource, subprocess, sys
r = subprocess.run(["nice", "-n", "10"] + sys.argv[1:], stdout=subprocess.PIPE, text=True)
sys.stdout.write(r.stdout)
print("peak_rss_MiB %.0f" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))
sys.exit(r.returncode)' "$@"
}

echo "inputs $sizes px, batch $batch, device $dev, threads $threads, $iters timed steps, $rounds round(s), load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
printf '%-22s %12s %12s %14s %14s %7s\n' model "racnn img/s" "racnn MiB" "pytorch img/s" "pytorch MiB" ratio
for c in paper resnet50; do
  g=0 p=0 gm=0 pm=0
  for ((r = 0; r < rounds; r++)); do
    out=$(cd internal/model && peak ../../build/model.test -test.run '^$' -test.bench "^BenchmarkModel/$c/train\$" -test.benchtime "${iters}x")
    gr=$(awk '/img\/s/ {for (i = 1; i < NF; i++) if ($(i+1) == "img/s") v = $i} END {print v}' <<<"$out")
    grm=$(awk '/peak_rss_MiB/ {print $2}' <<<"$out")
    out=$(peak $py scripts/bench_model.py "$c" train --threads "$threads" --iters "$iters" --device "$dev" --batch "$batch" --sizes "$sizes")
    pr=$(awk 'NR == 1 {print $3}' <<<"$out")
    prm=$(awk '/peak_rss_MiB/ {print $2}' <<<"$out")
    g=$(awk -v a="$g" -v b="$gr" 'BEGIN {print (a > b) ? a : b}') p=$(awk -v a="$p" -v b="$pr" 'BEGIN {print (a > b) ? a : b}')
    gm=$(awk -v a="$gm" -v b="$grm" 'BEGIN {print (a == 0 || b < a) ? b : a}') pm=$(awk -v a="$pm" -v b="$prm" 'BEGIN {print (a == 0 || b < a) ? b : a}')
  done
  name=$([ "$c" = paper ] && echo "RA-CNN VGG-19" || echo "RA-CNN ResNet-50")
  printf '%-22s %12.3f %12s %14.3f %14s %7.2f\n' "$name" "$g" "$gm" "$p" "$pm" "$(awk -v a="$g" -v b="$p" 'BEGIN {print a / b}')"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
