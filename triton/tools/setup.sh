#!/usr/bin/env bash
# Puts a Triton server and Triton's Python client where the tests and the load test use
# them, once (later runs reuse them):
#
#   <dir>/server/   the nvidia-pytriton wheel, unpacked: pytriton/tritonserver/bin/tritonserver
#                   (Triton 2.51) and its libraries in nvidia_pytriton.libs/
#   <dir>/venv/     a Python virtual environment with tritonclient[http,grpc] and numpy
#
# Usage: triton/tools/setup.sh <dir>        (tests/triton.rs passes target/triton)
# The wheel comes from $TRITON_WHEEL if set, else from `pip download` (the venv's pip, so
# only python3 and its venv module are needed: Debian's python3-venv). Exit status 0:
# ready; 3: something could not be downloaded or installed (the message says what); the
# caller decides whether that skips or fails (tests/triton.rs: fails under CI=true).
set -euo pipefail
dir=${1:?usage: setup.sh <dir>}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
PYTRITON_VERSION=0.7.0
PYTHON=${PYTHON:-python3}

cannot() { echo "triton setup: $*" >&2; exit 3; }

if ! "$dir/venv/bin/python" -c 'import tritonclient.http, tritonclient.grpc, numpy' 2>/dev/null; then
  rm -rf "$dir/venv"
  "$PYTHON" -m venv "$dir/venv" || cannot "python3 -m venv failed (apt-get install python3-venv)"
  echo "triton setup: installing tritonclient[http,grpc] and numpy into $dir/venv" >&2
  "$dir/venv/bin/pip" install -q 'tritonclient[http,grpc]' numpy \
    || { rm -rf "$dir/venv"; cannot "pip could not install tritonclient[http,grpc] and numpy (no network?)"; }
fi
if [ ! -x "$dir/server/pytriton/tritonserver/bin/tritonserver" ]; then
  tmp=$(mktemp -d "$dir/server.tmp.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  wheel=${TRITON_WHEEL:-}
  if [ -z "$wheel" ]; then
    echo "triton setup: downloading nvidia-pytriton==$PYTRITON_VERSION (about 55 MB)" >&2
    "$dir/venv/bin/pip" download -q --no-deps --only-binary=:all: -d "$tmp/wheel" "nvidia-pytriton==$PYTRITON_VERSION" \
      || cannot "pip could not download nvidia-pytriton==$PYTRITON_VERSION (no network?); set TRITON_WHEEL to a downloaded wheel"
    wheel=$(ls "$tmp"/wheel/*.whl)
  fi
  [ -f "$wheel" ] || cannot "no wheel at $wheel"
  "$PYTHON" -m zipfile -e "$wheel" "$tmp/server" || cannot "could not unpack $wheel"
  chmod +x "$tmp/server/pytriton/tritonserver/bin/tritonserver" \
    "$tmp"/server/pytriton/tritonserver/python_backend_stubs/*/triton_python_backend_stub
  rm -rf "$dir/server"
  mv "$tmp/server" "$dir/server"
fi

echo "triton setup: server $dir/server, client $dir/venv"
