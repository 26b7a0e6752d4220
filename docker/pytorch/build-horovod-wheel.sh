#!/usr/bin/env bash
# Builds a Horovod 0.28.1 wheel that works with torch 2.13, into a wheelhouse.
#
#   docker/pytorch/build-horovod-wheel.sh [WHEELHOUSE]    (default: build/wheels)
#
# Horovod 0.28.1 as released hard-codes C++14 in two CMakeLists; torch 2.13's headers need
# C++17, so the sdist is patched to 17 and built against the torch already installed in
# $PYTHON's environment (no build isolation: the wheel must match that torch). Gloo only:
# no MPI, no TensorFlow, no MXNet. About 2 minutes and 2.3 GB of memory on 2 cores.
set -euo pipefail

wheelhouse=$(realpath -m "${1:-build/wheels}")
python=${PYTHON:-.venv/bin/python}
version=0.28.1

if compgen -G "$wheelhouse/horovod-$version-*.whl" >/dev/null; then
  echo "horovod $version: already in $wheelhouse"
  exit 0
fi
"$python" -c 'import torch' || { echo "build-horovod-wheel: $python has no torch" >&2; exit 1; }
command -v cmake >/dev/null || { echo "build-horovod-wheel: cmake is needed (apt-get install cmake)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" -m pip download --quiet --no-deps --no-binary :all: "horovod==$version" -d "$work"
tar -xzf "$work/horovod-$version.tar.gz" -C "$work"
src="$work/horovod-$version"
for file in "$src/CMakeLists.txt" "$src/horovod/torch/CMakeLists.txt"; do
  grep -q 'set(CMAKE_CXX_STANDARD 14)' "$file" || { echo "build-horovod-wheel: $file changed upstream: no C++14 line to patch" >&2; exit 1; }
  sed -i 's/set(CMAKE_CXX_STANDARD 14)/set(CMAKE_CXX_STANDARD 17)/' "$file"
done

mkdir -p "$wheelhouse"
HOROVOD_WITH_PYTORCH=1 HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 \
HOROVOD_WITHOUT_TENSORFLOW=1 HOROVOD_WITHOUT_MXNET=1 MAKEFLAGS=${MAKEFLAGS:--j2} \
  "$python" -m pip wheel --no-build-isolation --no-deps --wheel-dir "$wheelhouse" "$src"
