# racnn as a container image: a build stage (Debian 12's libtorch-dev, CMake,
# g++ and Go) and a slim runtime stage with bin/racnn, the shim and only
# libtorch's runtime libraries.
#
#   docker build -t racnn --build-arg GOPROXY="$(go env GOPROXY)" .   # CPU, Debian 12's libtorch 1.13
#   docker run --rm racnn version
#   docker run --rm -v $PWD/data:/data -v $PWD/runs:/runs racnn train \
#       --config /opt/racnn/configs/cub.yaml --data.root /data/CUB_200_2011 --out /runs/cub
#
# GPU nodes: the cuda target rebuilds only the shim against a CUDA libtorch
# (an unzipped libtorch from pytorch.org, which bundles its CUDA libraries;
# the driver comes from the host through the NVIDIA container toolkit), on
# a CUDA devel image because libtorch's CMake files look for the toolkit:
#
#   docker build --target cuda -t racnn:cuda --build-arg GOPROXY="$(go env GOPROXY)" \
#       --build-arg LIBTORCH_URL=https://download.pytorch.org/libtorch/cu126/libtorch-cxx11-abi-shared-with-deps-2.7.1%2Bcu126.zip \
#       --build-arg CUDA_DEVEL=nvidia/cuda:12.6.3-cudnn-devel-ubuntu22.04 .
#   docker run --rm --gpus all racnn:cuda version
#
# The CUDA devel image is Ubuntu 22.04, whose glibc (2.35) is older than
# Debian 12's, so the shim built there runs in the Debian runtime stage.
# scripts/container.sh builds and runs the CPU image on a machine that can
# pull no image (BASE=localhost/debian:12 from debootstrap); docs/container.md
# says what was built and run where.

# BASE is the Debian 12 image every Debian stage starts from.
ARG BASE=debian:12
ARG CUDA_DEVEL=nvidia/cuda:12.6.3-cudnn-devel-ubuntu22.04

# ---- build: Go toolchain, setup.sh's build packages, make build ----
FROM ${BASE} AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates curl unzip >/dev/null
# Debian 12's golang-go is Go 1.19, older than go.mod's go line. The Go
# toolchain is published as a module (golang.org/toolchain) on the Go module
# proxy, so the same source every Go build already uses provides it, pinned
# by version and checked by its SHA-256 (copying a host's Go tree into the
# context would make the image depend on whatever that host has installed).
# Behind a TLS-intercepting proxy, pass its CA bundle as a build secret
# (--secret id=cacert,src=/etc/ssl/certs/ca-certificates.crt): the two
# downloads use it, and it stays out of the image.
ARG GO_VERSION=1.26.8
ARG GO_SHA256=30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7
# GOPROXY: the Go module proxy to fetch from, as `go env GOPROXY` prints it
# on the host (scripts/container.sh passes it).
ARG GOPROXY
RUN --mount=type=secret,id=cacert \
    if [ -s /run/secrets/cacert ]; then export CURL_CA_BUNDLE=/run/secrets/cacert; fi \
 && test -n "${GOPROXY}" || { echo "pass --build-arg GOPROXY=\"\$(go env GOPROXY)\"" >&2; exit 1; } \
 && curl -fsSL -o /tmp/go.zip "${GOPROXY%%,*}/golang.org/toolchain/@v/v0.0.1-go${GO_VERSION}.linux-amd64.zip" \
 && echo "${GO_SHA256}  /tmp/go.zip" | sha256sum -c --quiet - \
 && unzip -q /tmp/go.zip -d /tmp/go \
 && mv "/tmp/go/golang.org/toolchain@v0.0.1-go${GO_VERSION}.linux-amd64" /usr/local/go \
 && chmod -R a+x /usr/local/go/bin /usr/local/go/pkg/tool \
 && rm -rf /tmp/go /tmp/go.zip
# Module zips carry no file modes: the chmod restores the executables' bit.
ENV PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local GOFLAGS=-buildvcs=false GOPROXY=${GOPROXY}
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN scripts/setup.sh --build
COPY go.mod go.sum ./
RUN --mount=type=secret,id=cacert \
    if [ -s /run/secrets/cacert ]; then export SSL_CERT_FILE=/run/secrets/cacert; fi \
 && go mod download
COPY . .
# RACNN_VERSION is what `racnn version` prints (scripts/container.sh passes
# the commit); the build stage has no .git to read it from.
ARG RACNN_VERSION=dev
RUN GOFLAGS="-buildvcs=false -ldflags=-X=main.version=${RACNN_VERSION}" make build NO_SETUP=1

# ---- shim-cuda: the shim alone, against a CUDA libtorch ----
FROM ${CUDA_DEVEL} AS shim-cuda
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates curl unzip cmake g++ make >/dev/null
ARG LIBTORCH_URL=""
RUN --mount=type=secret,id=cacert \
    if [ -s /run/secrets/cacert ]; then export CURL_CA_BUNDLE=/run/secrets/cacert; fi \
 && test -n "${LIBTORCH_URL}" || { echo "the cuda target needs --build-arg LIBTORCH_URL=<a CUDA libtorch zip>" >&2; exit 1; } \
 && curl -fsSL -o /tmp/libtorch.zip "${LIBTORCH_URL}" && unzip -q /tmp/libtorch.zip -d /opt && rm /tmp/libtorch.zip
WORKDIR /src
COPY Makefile ./
COPY internal/torch/csrc internal/torch/csrc
RUN make shim NO_SETUP=1 LIBTORCH=/opt/libtorch

# ---- cuda: runtime for GPU nodes ----
FROM ${BASE} AS cuda
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libjpeg62-turbo libgomp1 >/dev/null && rm -rf /var/lib/apt/lists/*
# The shim finds libtorch where it was built against it (its RPATH).
COPY --from=shim-cuda /opt/libtorch/lib /opt/libtorch/lib
COPY --from=shim-cuda /src/build/shim/libracnn_torch.so /opt/racnn/lib/
COPY --from=build /src/bin/racnn /opt/racnn/bin/racnn
COPY configs /opt/racnn/configs
ENV PATH=/opt/racnn/bin:$PATH
ENTRYPOINT ["racnn"]
CMD ["version"]

# ---- cpu (the default target): runtime with Debian's libtorch 1.13 ----
# libtorch1.13 is the runtime package of libtorch-dev (no headers, CMake
# files, Python or protobuf compiler); OpenBLAS, as setup.sh explains.
FROM ${BASE} AS cpu
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libtorch1.13 libopenblas0-pthread libjpeg62-turbo >/dev/null \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
# bin/racnn finds the shim through its $ORIGIN/../lib RPATH.
COPY --from=build /src/build/shim/libracnn_torch.so /opt/racnn/lib/
COPY --from=build /src/bin/racnn /opt/racnn/bin/racnn
COPY configs /opt/racnn/configs
ENV PATH=/opt/racnn/bin:$PATH
ENTRYPOINT ["racnn"]
CMD ["version"]
