#!/usr/bin/env bash
# A few seconds of live fuzzing for every reader of outside files (make test
# runs it after the unit tests, which replay the committed corpora). A
# crash fails the run, and Go writes the failing input to the target's
# testdata/fuzz/FuzzX folder: commit it with the fix, as a regression case.
#
#   scripts/fuzz-smoke.sh                 # FUZZTIME=5s each
#   FUZZTIME=10m scripts/fuzz-smoke.sh    # the long run (about 80 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
t=${FUZZTIME:-5s}
targets=(
  "./internal/weights FuzzReadPyTorchZip"    # .pth, zip format
  "./internal/weights FuzzReadPyTorchLegacy" # .pth, legacy format
  "./internal/weights FuzzReadSafetensors"
  "./internal/data/matv5 FuzzDecode"         # the Dogs and Cars .mat lists
  "./internal/data FuzzDecode"               # JPEG and PNG images
  "./internal/data FuzzCheckHeader"          # the pre-training header check
  "./internal/config FuzzLoad"               # YAML configs
  "./internal/checkpoint FuzzReadInfo"       # checkpoint metadata
)
for tg in "${targets[@]}"; do
  read -r pkg name <<<"$tg"
  out=$(go test -run '^$' -fuzz "^$name\$" -fuzztime "$t" -parallel 2 "$pkg" 2>&1) ||
    { echo "$out" >&2; echo "fuzz: $pkg $name failed" >&2; exit 1; }
  execs=$(grep -o 'execs: [0-9]*' <<<"$out" | tail -1 | awk '{print $2}')
  echo "fuzz: $pkg $name: ${execs:-?} execs in $t, no crash"
done
