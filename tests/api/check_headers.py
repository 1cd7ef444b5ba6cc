#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Compiles every public header on its own as C11 and as C++17 (warnings as errors) and checks the umbrella header lists them all.
"""Usage: check_headers.py SOURCE_ROOT

The headers are enumerated at run time (include/framepipe/*.h), so a new
header is covered without touching this test. Each one is compiled in a
translation unit of its own that includes it twice (its include guard must
hold) with

  $FP_CC  -std=c11   -Wall -Wextra -Wpedantic -Werror -fsyntax-only
  $FP_CXX -std=c++17 -Wall -Wextra -Wpedantic -Werror -fsyntax-only

and nothing but -I include: no feature-test macro, so a header that needs
POSIX declarations it does not include, or C-only syntax such as `_Atomic`
in a struct, fails. framepipe.h must include every other public header.
Prints one line per failure and exits 1 when there is any.
"""
import glob
import os
import re
import shlex
import subprocess
import sys

root = os.path.abspath(sys.argv[1])
inc = os.path.join(root, 'include')
cc = shlex.split(os.environ.get('FP_CC') or 'cc')
cxx = shlex.split(os.environ.get('FP_CXX') or 'c++')
headers = sorted(os.path.basename(h) for h in glob.glob(os.path.join(inc, 'framepipe', '*.h')))
if not headers:
    print(f'no headers in {inc}/framepipe')
    sys.exit(1)

flags = ['-Wall', '-Wextra', '-Wpedantic', '-Werror', '-fsyntax-only', '-I', inc]
langs = [('C11', cc + ['-std=c11', '-x', 'c'] + flags),
         ('C++17', cxx + ['-std=c++17', '-x', 'c++'] + flags)]
failures = 0
for h in headers:
    tu = (f'#include "framepipe/{h}"\n#include "framepipe/{h}"\n'
          'typedef int fp__header_check; /* an empty unit is not ISO C */\n')
    for name, cmd in langs:
        r = subprocess.run(cmd + ['-'], input=tu, capture_output=True, text=True)
        if r.returncode != 0:
            failures += 1
            first = [l for l in r.stderr.splitlines() if 'error' in l][:3]
            print(f'FAIL {name}: include/framepipe/{h}')
            for line in first or r.stderr.splitlines()[:3]:
                print(f'    {line}')
        else:
            print(f'ok   {name}: include/framepipe/{h}')

umbrella = os.path.join(inc, 'framepipe', 'framepipe.h')
if os.path.exists(umbrella):
    listed = set(re.findall(r'^\s*#\s*include\s+"framepipe/([^"]+)"', open(umbrella).read(), re.M))
    for h in headers:
        if h != 'framepipe.h' and h not in listed:
            failures += 1
            print(f'FAIL umbrella: include/framepipe/framepipe.h does not include framepipe/{h}')
else:
    failures += 1
    print('FAIL umbrella: include/framepipe/framepipe.h is missing')

print(f'{len(headers)} headers x 2 languages, {failures} failures')
sys.exit(1 if failures else 0)
