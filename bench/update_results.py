#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Replaces one benchmark's section of bench/RESULTS.md (between its begin/end markers) with a new Markdown body.
"""usage: update_results.py NAME BODY_FILE [RESULTS_MD]

Each benchmark owns one section:
    <!-- bench:NAME begin -->
    ...
    <!-- bench:NAME end -->
The section is replaced in place, or appended when absent; other sections are
left alone, so benchmarks can be re-run one at a time.
"""
import os
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    name, body_path = sys.argv[1], sys.argv[2]
    here = os.path.dirname(os.path.abspath(__file__))
    results = sys.argv[3] if len(sys.argv) > 3 else os.path.join(here, "RESULTS.md")
    body = open(body_path).read().rstrip() + "\n"
    begin, end = f"<!-- bench:{name} begin -->", f"<!-- bench:{name} end -->"
    try:
        text = open(results).read()
    except FileNotFoundError:
        text = ("# Benchmark results\n\nWritten by the programs in `bench/` (see bench/README.md); "
                "each section is replaced when its benchmark runs again.\n")
    block = f"{begin}\n{body}{end}\n"
    i, j = text.find(begin), text.find(end)
    if i >= 0 and j > i:
        text = text[:i] + block + text[j + len(end) + 1:]
    else:
        text = text.rstrip() + "\n\n" + block
    with open(results, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
