#!/bin/bash
# setup.sh — install isbc's Debian packages, build it, and run the examples.
#
#   ./setup.sh                 install (apt-get, as root or through sudo), build into build/,
#                              then compile the shipped ISBNet with isbc and classify 8 test
#                              images with per-instance branch skipping (examples/isbnet), and
#                              export squeezenet1_1, compile it, link and run it (torchvision)
#   ./setup.sh --no-example    install and build only
#   ./setup.sh --no-install    skip apt-get (packages already there)
#   BUILD_DIR=dir ./setup.sh   build somewhere else (default: build/ in the repo)
#
# Every dependency comes from Debian 12 (bookworm) packages; nothing else is downloaded.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  cmake gcc make pkg-config
  llvm-19-dev llvm-19-tools          # LLVM-C, ORC JIT; lit and FileCheck for golden tests
  zlib1g-dev libzstd-dev             # named by LLVMSupport's link interface (static LLVM libs)
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev libopenblas-dev libcjson-dev
  libonnx-testdata python3-torch python3-torchvision python3-onnx python3-numpy
  python3-pip python3-setuptools    # pip install ./python (the Python package, offline)
  dataset-fashion-mnist
)
BUILD_DIR=${BUILD_DIR:-build}
install=1 example=1
for arg in "$@"; do
  case $arg in
    --no-install) install=0 ;;
    --no-example) example=0 ;;
    -h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

if [ "$install" = 1 ]; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    SUDO=()
    [ "$(id -u)" = 0 ] || SUDO=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" apt-get install -y --no-install-recommends "${PACKAGES[@]}"
  else
    echo "setup: all Debian packages present"
  fi
fi

# lit has no Debian 12 package of its own: llvm-19-tools ships it as
# /usr/lib/llvm-19/build/utils/lit/lit.py, which tests/lit finds (with FileCheck) by itself.
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD_DIR" -j2

if [ "$example" = 1 ]; then
  make -C examples/isbnet run BUILD="$(cd "$BUILD_DIR" && pwd)"
  make -C examples/torchvision run BUILD="$(cd "$BUILD_DIR" && pwd)"
fi
