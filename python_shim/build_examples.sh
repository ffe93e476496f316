#!/bin/sh
# Builds the shared objects the README's Python snippet reads, into $1 (default: ./build-py):
#   liborch.so, libkernel_add.so          host_build_graph example (cmake/example/hbg): out = a + 2 b
#   libtrb_vector_orch.so,                tensormap_and_ringbuffer vector example (examples/trb_vector):
#   libtrb_kernel_{add,add_scalar,mul}.so   f = (a+b+1)*(a+b+2) + (a+b)
# Needs a C and a C++ compiler (CC, CXX); run from anywhere inside the repository.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
out=${1:-build-py}
mkdir -p "$out"
CC=${CC:-cc}
CXX=${CXX:-c++}
cflags="-std=c11 -Wall -Wextra -Werror -O2 -fPIC -shared"
"$CC" $cflags "$repo/cmake/example/hbg/orch.c" -o "$out/liborch.so"
"$CC" $cflags "$repo/cmake/example/hbg/kernel_add.c" -o "$out/libkernel_add.so"
"$CXX" -std=c++17 -Wall -Wextra -Werror -O2 -fPIC -shared -I"$repo/include" \
  "$repo/examples/trb_vector/orchestration.cpp" -o "$out/libtrb_vector_orch.so"
for k in add add_scalar mul; do
  "$CC" $cflags -I"$repo/include" -I"$repo/examples/kernels" "$repo/examples/kernels/kernel_$k.c" \
    -o "$out/libtrb_kernel_$k.so"
done
echo "built the example shared objects in $out"
