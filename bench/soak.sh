#!/bin/sh
# SPDX-License-Identifier: MIT
# Soak: 8 looping sources (files and RTSP) in one `framepipe run` for 30 minutes (--quick: 3, --minutes N),
# /metrics scraped every second, RSS/fds/threads every 10 s; writes the "soak" section of bench/RESULTS.md
# and bench/soak_rss.png. Needs a release build (build/release, or --build DIR) and Debian's python3-matplotlib.
# Exit 1 when framepipe died, a scrape failed or the SIGTERM exit code was not 0. Options: bench/soak.py --help.
exec /usr/bin/python3 "$(dirname "$0")/soak.py" "$@"
