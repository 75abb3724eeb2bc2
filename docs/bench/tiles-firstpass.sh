#!/usr/bin/env bash
# Every z14 tile of the 20,000-grid generated city, first request after a
# server start (the server's cache is empty) and then a second pass (cached).
# Prints p50/p95/p99/max in ms over the 72 tiles.
#   docs/bench/tiles-firstpass.sh LAYER [QUERY] [BASE]
#   e.g. docs/bench/tiles-firstpass.sh gaps '?theme=sanitation' http://127.0.0.1:8092
set -euo pipefail
layer=$1; q=${2:-}; base=${3:-http://127.0.0.1:8092}
H="Authorization: Bearer ${TOKEN:-bench-admin-token}"
pct() { sort -n | awk '{a[NR]=$1} END {printf "n=%d p50=%.1f p95=%.1f p99=%.1f max=%.1f ms\n", NR, a[int(NR*0.5+0.5)]*1000, a[int(NR*0.95+0.5)]*1000, a[int(NR*0.99+0.5)]*1000, a[NR]*1000}'; }
for pass in uncached cached; do
  for x in $(seq 13512 13520); do for y in $(seq 6393 6400); do
    curl -s -o /dev/null -w "%{time_total}\n" -H "$H" -H 'Accept-Encoding: gzip' "$base/tiles/$layer/14/$x/$y.mvt$q"
  done; done | pct | sed "s/^/$layer $pass: /"
done
