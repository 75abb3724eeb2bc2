#!/bin/bash
# Runs one wrk load of SCRIPT (default docs/bench/cases-lists.lua, with its
# FILTER, default geojson; C connections, default 8) for SECONDS against a running server, and prints
# wrk's line and the CPU time each request cost: the whole machine's busy
# time from /proc/stat, and the server's and the PostgreSQL backends' own.
#   SERVER_PID=$(pgrep -f 'citygrid serve') bash bench/cpu-per-request.sh 20
set -euo pipefail
secs=${1:-20}
url=${URL:-http://127.0.0.1:8090}
pid=${SERVER_PID:?the server process id}
cd "$(dirname "$0")/.."
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() { local s=0 p; for p in $(pgrep -f 'postgres: .* citygrid' || true); do s=$((s + $(proc_ticks "$p"))); done; echo "$s"; }
read -r _ u n s i w irq sirq st _ < /proc/stat
s0=$(proc_ticks "$pid"); g0=$(pg_ticks)
out=$(FILTER=${FILTER:-geojson} wrk -t2 -c"${C:-8}" -d"${secs}s" -s "${SCRIPT:-docs/bench/cases-lists.lua}" "$url" | tail -1)
s1=$(proc_ticks "$pid"); g1=$(pg_ticks)
read -r _ u2 n2 s2 i2 w2 irq2 sirq2 st2 _ < /proc/stat
echo "$out"
req=$(echo "$out" | sed -E 's/.*requests ([0-9]+) in.*/\1/')
busy=$(( (u2-u) + (n2-n) + (s2-s) + (irq2-irq) + (sirq2-sirq) ))
steal=$(( st2-st )); total=$(( busy + steal + (i2-i) + (w2-w) ))
hz=$(getconf CLK_TCK)
awk -v b="$busy" -v r="$req" -v st="$steal" -v t="$total" -v sv=$((s1-s0)) -v pg=$((g1-g0)) -v hz="$hz" \
  'BEGIN { printf "  cpu %.2f ms/request: server %.2f, postgres %.2f; steal %.0f%%\n", b*1000/hz/r, sv*1000/hz/r, pg*1000/hz/r, 100*st/t }'
