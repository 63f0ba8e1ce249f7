# racnn: build, test and demo. Every target runs the set-up first, so a fresh
# Debian 12 machine needs only `make demo` or `make test`.
#
# LIBTORCH=/path/to/libtorch   build the shim against another libtorch (a
#                              CUDA one); only the shim is rebuilt.

SHELL := /bin/bash
LIBTORCH ?=
SHIM_DIR := build/shim
SHIM := $(SHIM_DIR)/libracnn_torch.so
GO ?= go
# The CLI package's end-to-end runs take minutes on 2 loaded cores: past go
# test's default 10-minute limit per package, a slow machine fails for time.
GOTESTFLAGS ?= -count=1 -timeout 30m

.PHONY: all setup shim build test bench demo clean

all: build

setup:
	@scripts/setup.sh

# The shim is rebuilt from scratch when LIBTORCH changes, so a CUDA build
# never mixes with a cached CPU configuration, and a failed configure or build
# fails the target rather than leaving the previous library in place.
# flock serialises concurrent builds. NO_SETUP=1 skips scripts/setup.sh (a
# GPU machine that is not Debian 12 brings its own cmake, g++ and libtorch).
shim: $(if $(NO_SETUP),,setup)
	@mkdir -p $(SHIM_DIR)
	@flock $(SHIM_DIR)/.lock bash -c '\
	  want="$(LIBTORCH)"; have=$$(cat $(SHIM_DIR)/.libtorch 2>/dev/null || echo none); \
	  if [ "$$want" != "$$have" ] || [ ! -f $(SHIM_DIR)/CMakeCache.txt ]; then \
	    rm -rf $(SHIM_DIR)/CMakeCache.txt $(SHIM_DIR)/CMakeFiles $(SHIM_DIR)/.libtorch $(SHIM); \
	    cmake -S internal/torch/csrc -B $(SHIM_DIR) -DCMAKE_BUILD_TYPE=Release \
	      $${want:+-DCMAKE_PREFIX_PATH=$$want} >/dev/null || exit 1; \
	    echo "$$want" > $(SHIM_DIR)/.libtorch; \
	  fi; \
	  out=$$(cmake --build $(SHIM_DIR) -j$$(nproc) -- --no-print-directory 2>&1); rc=$$?; \
	  grep -vE "^\[|^Consolidate|^-- " <<<"$$out" || true; \
	  [ $$rc -eq 0 ] && test -f $(SHIM)'

build: shim
	$(GO) build -o bin/racnn ./cmd/racnn

test: shim
	$(GO) vet ./...
	$(GO) test $(GOTESTFLAGS) ./...
	scripts/fuzz-smoke.sh

bench: shim
	scripts/bench-binding.sh

demo: build
	scripts/demo.sh

clean:
	rm -rf build bin
