#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds tests/api/layout.c as C11 and as C++17 and fails when the two programs disagree on any size, alignment or offset.
# Usage: check_layout.sh SOURCE_ROOT WORK_DIR   (compilers: $FP_CC, $FP_CXX)
set -euo pipefail
root=$1 work=$2
mkdir -p "$work"
read -r -a cc <<<"${FP_CC:-cc}"
read -r -a cxx <<<"${FP_CXX:-c++}"
"${cc[@]}" -std=c11 -Wall -Wextra -Werror -I "$root/include" -x c "$root/tests/api/layout.c" -o "$work/layout-c"
"${cxx[@]}" -std=c++17 -Wall -Wextra -Werror -I "$root/include" -x c++ "$root/tests/api/layout.c" -o "$work/layout-cxx"
"$work/layout-c" >"$work/layout-c.txt"
"$work/layout-cxx" >"$work/layout-cxx.txt"
if ! diff -u --label C11 --label C++17 "$work/layout-c.txt" "$work/layout-cxx.txt"; then
  echo "FAIL: C and C++ see different layouts of the public structs"
  exit 1
fi
cat "$work/layout-c.txt"
echo "ok: $(wc -l <"$work/layout-c.txt") sizes and offsets agree between C11 and C++17"
