#!/bin/sh
# Debian packages internal/data needs.
#
#   build:    libjpeg62-turbo-dev  jpeglib.h and libjpeg.so for the cgo JPEG
#                                  decoder (internal/data/jpegturbo); the
#                                  binary then links libjpeg62-turbo.
#   fixtures: python3-scipy python3-pil python3-numpy python3-skimage, used
#             only to regenerate committed test fixtures with /usr/bin/python3
#             (scripts/make_mat_fixtures.py, scripts/make_image_fixtures.py)
#             and to run scripts/bench_decode_pil.py. Not needed to build or
#             test.
#
# Usage: scripts/setup-data-deps.sh [--fixtures]   (as root, or via sudo)
set -eu
pkgs="libjpeg62-turbo-dev"
if [ "${1:-}" = "--fixtures" ]; then
	pkgs="$pkgs python3-scipy python3-pil python3-numpy python3-skimage"
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends $pkgs
