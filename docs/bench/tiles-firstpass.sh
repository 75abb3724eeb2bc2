#!/usr/bin/env bash
# Every z14 tile of the 20,000-grid generated city, one request each:
# first rendered afresh (Cache-Control: no-cache, so the figure is the
# uncached cost whatever the server's cache holds, and the pass can be
# repeated without restarting the server; the rendering is then cached), and
# then a second pass answered from the cache. Prints p50/p95/p99/max in ms
# over the 72 tiles, and the load average before the passes.
#   docs/bench/tiles-firstpass.sh LAYER [QUERY] [BASE]
#   e.g. docs/bench/tiles-firstpass.sh gaps '?theme=sanitation' http://127.0.0.1:8092
#   THEME=sanitation docs/bench/tiles-firstpass.sh unassigned   (the same as '?theme=sanitation')
#   RUNS=5 repeats both passes five times.
set -euo pipefail
layer=$1; q=${2:-}; base=${3:-http://127.0.0.1:8092}
if [ -z "$q" ] && [ -n "${THEME:-}" ]; then q="?theme=$THEME"; fi
H="Authorization: Bearer ${TOKEN:-bench-admin-token}"
pct() { sort -n | awk '{a[NR]=$1} END {printf "n=%d p50=%.1f p95=%.1f p99=%.1f max=%.1f ms\n", NR, a[int(NR*0.5+0.5)]*1000, a[int(NR*0.95+0.5)]*1000, a[int(NR*0.99+0.5)]*1000, a[NR]*1000}'; }
for run in $(seq "${RUNS:-1}"); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  for pass in uncached cached; do
    fresh=()
    if [ "$pass" = uncached ]; then fresh=(-H 'Cache-Control: no-cache'); fi
    for x in $(seq 13512 13520); do for y in $(seq 6393 6400); do
      curl -s -o /dev/null -w "%{http_code} %{time_total} $x/$y\n" -H "$H" -H 'Accept-Encoding: gzip' "${fresh[@]}" "$base/tiles/$layer/14/$x/$y.mvt$q"
    done; done | awk '$1 != 200 && $1 != 204 {print "status " $1 " for 14/" $3 > "/dev/stderr"} {print $2}' | pct | sed "s/^/$layer$q $pass: /; s/\$/ (load $load)/"
  done
done
