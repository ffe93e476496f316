#!/bin/sh
# Builds the example with pkg-config instead of CMake, into $1 (default: ./build-pkgconfig).
# Needs PKG_CONFIG_PATH to contain $PREFIX/lib/pkgconfig.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-build-pkgconfig}
mkdir -p "$out"
CC=${CC:-cc}
CXX=${CXX:-c++}
"$CC" -std=c11 -Wall -Wextra -Werror -fPIC -shared "$here/hbg/orch.c" -o "$out/liborch.so"
"$CC" -std=c11 -Wall -Wextra -Werror -fPIC -shared "$here/hbg/kernel_add.c" -o "$out/libkernel_add.so"
# shellcheck disable=SC2046  # word splitting of pkg-config output is intended
"$CXX" -std=c++17 -Wall -Wextra -Werror "$here/main.cpp" -o "$out/app" \
  $(pkg-config --cflags --libs simpler) -Wl,-rpath,"$(pkg-config --variable=libdir simpler)" -ldl
echo "built $out/app; run: $out/app $out/liborch.so $out/libkernel_add.so"
