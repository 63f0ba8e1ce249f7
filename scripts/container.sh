#!/usr/bin/env bash
# Builds racnn's CPU container image (the Dockerfile's cpu target) on a
# machine that can pull no base image, then runs it: `racnn version` and a
# tiny training run on generated cluttered-MNIST canvases. Not part of
# `make test` (it installs podman and builds an image: minutes, ~3 GB disk).
#
#   scripts/container.sh          # as root (apt-get, debootstrap, podman)
#   KEEP=1 scripts/container.sh   # keep the work folder (rootfs, data, run)
#
# 1. apt-get installs podman, buildah, debootstrap and runc when missing.
# 2. A Debian 12 root filesystem from `debootstrap --variant=minbase
#    bookworm`, from the mirror apt already uses, becomes the local image
#    localhost/debian:12 (skipped when that image exists).
# 3. `podman build --build-arg BASE=localhost/debian:12` builds the image
#    (localhost/racnn:cpu); the Dockerfile's FROM stays debian:12 for
#    everyone who can pull it.
# 4. Inside the image: racnn version; racnn data cluttered-mnist from 60
#    generated IDX digits; racnn train with every phase for 2 steps each.
# 5. Prints the image's size.
#
# podman runs with the runc runtime (crun refuses cgroup v1 hybrid hosts)
# and ulimits within the host's hard limits, set in a containers.conf of
# its own (CONTAINERS_CONF) rather than in /etc.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
IMAGE=${IMAGE:-localhost/racnn:cpu}
BASE_IMAGE=localhost/debian:12
WORK=$(mktemp -d /var/tmp/racnn-container.XXXXXX)
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "container: kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
say() { echo "container: $*"; }

[ "$(id -u)" -eq 0 ] || { echo "container: run as root (apt-get, debootstrap and podman need it)" >&2; exit 1; }

need=()
for p in podman buildah debootstrap runc; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

nofile=$(ulimit -Hn) nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nproc" = unlimited ] && nproc=32768
((nofile > 20000)) && nofile=20000
((nproc > 32768)) && nproc=32768
cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF=$WORK/containers.conf

if ! podman image exists "$BASE_IMAGE"; then
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)
  [ -n "$mirror" ] || mirror=$(sed -n 's/^deb \(http[^ ]*\) bookworm .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -1)
  mirror=${MIRROR:-$mirror}
  [ -n "$mirror" ] || { echo "container: no Debian mirror in /etc/apt/sources.list*; set MIRROR=<mirror URL>" >&2; exit 1; }
  say "debootstrap bookworm from $mirror"
  t0=$SECONDS
  debootstrap --variant=minbase bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
  chroot "$WORK/rootfs" apt-get clean
  rm -rf "$WORK/rootfs/var/lib/apt/lists/"*
  tar -C "$WORK/rootfs" -c . | podman import - "$BASE_IMAGE" >/dev/null
  rm -rf "$WORK/rootfs"
  say "$BASE_IMAGE from debootstrap in $((SECONDS - t0)) s"
fi

rev=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo dev)
git -C "$ROOT" diff --quiet HEAD 2>/dev/null || rev+="+dirty"
say "podman build $IMAGE (racnn $rev)"
t0=$SECONDS
# The host's CA bundle, as a build secret: it includes a TLS-intercepting
# proxy's CA where the host has one (the image keeps none of it).
secret=()
[ -s /etc/ssl/certs/ca-certificates.crt ] && secret=(--secret id=cacert,src=/etc/ssl/certs/ca-certificates.crt)
podman build --layers --target cpu --build-arg BASE="$BASE_IMAGE" --build-arg RACNN_VERSION="$rev" \
  --build-arg GOPROXY="$(go env GOPROXY)" "${secret[@]}" \
  -t "$IMAGE" -f Dockerfile . >"$WORK/build.log" 2>&1 && podman image exists "$IMAGE" ||
  { tail -30 "$WORK/build.log" >&2; exit 1; }
say "built in $((SECONDS - t0)) s"

mkdir -p "$WORK/w"
run() { podman run --rm --network none -v "$WORK/w:/w" "$IMAGE" "$@"; }

say "racnn version inside the image:"
run version | sed 's/^/  /'

# 60 fake 28x28 digits (a bar whose place and length follow the label), the
# IDX layout racnn data cluttered-mnist reads.
mkdir -p "$WORK/w/mnist"
python3 - "$WORK/w/mnist" <<'EOF'
import struct, sys
d = sys.argv[1]
for stem, n in (("train", 48), ("t10k", 12)):
    img = bytearray(struct.pack(">4I", 0x803, n, 28, 28))
    lab = bytearray(struct.pack(">2I", 0x801, n))
    for i in range(n):
        c, px = i % 3, bytearray(28 * 28)
        for y in range(4, 12 + 6 * c):
            px[y * 28 + 6 + 6 * c] = px[y * 28 + 7 + 6 * c] = 220
        img += px
        lab.append(c)
    open(f"{d}/{stem}-images-idx3-ubyte", "wb").write(img)
    open(f"{d}/{stem}-labels-idx1-ubyte", "wb").write(lab)
EOF
chmod -R a+rwX "$WORK/w"
say "tiny training run inside the image:"
run data cluttered-mnist --source /w/mnist --out /w/cm --canvas 64 --seed 1 | sed 's/^/  /'
t0=$SECONDS
run train --config /opt/racnn/configs/cluttered-mnist.yaml --data.root /w/cm --data.source_size 64 \
  --data.batch_size 8 --data.val_fraction 0.25 --train.max_steps_per_epoch 2 --train.scale_epochs 1 \
  --train.pretrain_epochs 1 --train.alternations 1 --train.cls_epochs 1 --train.rank_epochs 1 \
  --train.fusion_epochs 1 --train.eval_every 1 --runtime.threads 2 --out /w/run >"$WORK/train.log" 2>&1 ||
  { tail -30 "$WORK/train.log" >&2; exit 1; }
grep -E '^phase |^kept model|^ *(scale|fused)|^run:' "$WORK/train.log" | sed 's/^/  /'
say "trained in $((SECONDS - t0)) s; checkpoints: $(ls "$WORK/w/run/checkpoints" | tr '\n' ' ')"

say "image $IMAGE: $(podman image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"
podman images --filter reference="$IMAGE" --filter reference="$BASE_IMAGE" --format '  {{.Repository}}:{{.Tag}} {{.Size}}'
