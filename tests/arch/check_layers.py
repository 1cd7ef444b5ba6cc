#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The module graph check: every #include in include/, src/ and apps/ must go down the layers of docs/ARCHITECTURE.md.
"""Reads the layer table between the markers `<!-- layers:begin -->` and
`<!-- layers:end -->` in docs/ARCHITECTURE.md (columns: layer, folder, public
headers), then checks every quoted #include of the library and the command:

- a file of module M may include its own headers, and public headers or
  plain headers of modules on strictly lower layers (modules on one layer
  are peers and do not include each other);
- no file includes another module's `*_internal.h` (or any `*_internal.h`
  outside src/);
- every public header in include/framepipe/ belongs to exactly one module
  of the table (so a new header cannot dodge the check), and every folder of
  src/ is in the table.

Prints one line per violation ("FILE:LINE: <module> (layer N) includes
<header> of <module> (layer K)") and a summary, and exits 1 when there is
any. Usage: check_layers.py [SOURCE_ROOT]  (default: the repository root).
"""
import os
import re
import sys

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..'))
arch = os.path.join(root, 'docs', 'ARCHITECTURE.md')
text = open(arch, encoding='utf-8').read()
m = re.search(r'<!-- layers:begin -->(.*?)<!-- layers:end -->', text, re.S)
if not m:
    print(f'{arch}: no layer table between <!-- layers:begin --> and <!-- layers:end -->')
    sys.exit(1)

layer_of = {}      # module folder name ("core", "apps") -> layer
header_owner = {}  # "framepipe/pool.h" -> module
for row in m.group(1).splitlines():
    cells = [c.strip() for c in row.strip().strip('|').split('|')]
    if len(cells) < 3 or not cells[0].isdigit():
        continue
    layer = int(cells[0])
    folder = cells[1].strip('`').rstrip('/')
    module = folder.split('/')[-1]
    layer_of[module] = layer
    for h in re.findall(r'`([a-z0-9_]+\.h)`', cells[2]):
        key = 'framepipe/' + h
        if key in header_owner:
            print(f'{arch}: {h} is listed under both {header_owner[key]} and {module}')
            sys.exit(1)
        header_owner[key] = module

problems = []
inc_re = re.compile(r'^\s*#\s*include\s+"([^"]+)"')

# Every public header and every src/ folder must be in the table.
pub_dir = os.path.join(root, 'include', 'framepipe')
for h in sorted(os.listdir(pub_dir)):
    if h.endswith('.h') and 'framepipe/' + h not in header_owner:
        problems.append(f'include/framepipe/{h}: not in the layer table of docs/ARCHITECTURE.md')
for d in sorted(os.listdir(os.path.join(root, 'src'))):
    if os.path.isdir(os.path.join(root, 'src', d)) and d not in layer_of:
        problems.append(f'src/{d}/: not in the layer table of docs/ARCHITECTURE.md')


def target_module(inc, src_module, src_dir):
    """The module an include names, or None for files outside the graph (generated fp_config.h)."""
    if inc in header_owner:
        return header_owner[inc]
    if inc.startswith('framepipe/'):
        return '?'  # an unknown public header: reported by the listing check above
    first = inc.split('/')[0]
    if '/' in inc and first in layer_of:
        return first
    if os.path.exists(os.path.join(src_dir, inc)):
        return src_module  # a header beside the file
    return None


checked = 0
for top in ('include/framepipe', 'src', 'apps'):
    for dirpath, _, files in os.walk(os.path.join(root, top)):
        for f in sorted(files):
            if not f.endswith(('.c', '.h')):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root)
            parts = rel.split(os.sep)
            if parts[0] == 'include':
                module = header_owner.get('framepipe/' + f)
                if module is None:
                    continue  # reported above
            elif parts[0] == 'src':
                module = parts[1]
            else:
                module = 'apps'
            if module not in layer_of:
                continue
            mine = layer_of[module]
            for n, line in enumerate(open(path, encoding='utf-8', errors='replace'), 1):
                mm = inc_re.match(line)
                if not mm:
                    continue
                checked += 1
                inc = mm.group(1)
                tm = target_module(inc, module, dirpath)
                if inc.endswith('_internal.h') and (tm != module or parts[0] != 'src'):
                    problems.append(f'{rel}:{n}: {module} includes {inc}, another module\'s private header')
                    continue
                if tm is None or tm == module or tm == '?':
                    continue
                theirs = layer_of.get(tm)
                if theirs is None:
                    continue
                if theirs >= mine:
                    kind = 'a peer on the same layer' if theirs == mine else 'a higher layer'
                    problems.append(f'{rel}:{n}: {module} (layer {mine}) includes {inc} of {tm} '
                                    f'(layer {theirs}): {kind}')

for p in problems:
    print(p)
print(f'check_layers: {checked} includes checked, {len(problems)} violations')
sys.exit(1 if problems else 0)
