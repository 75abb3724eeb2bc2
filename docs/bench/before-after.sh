#!/usr/bin/env bash
# Two citygrid binaries on one database, interleaved (A, B, A, B …), each
# round on a freshly started server: HTTP locate (wrk, 16 connections,
# random points over the city, theme=sanitation, default log level), the
# objects export as GeoJSON beside ogr2ogr on the same table, and z14 tiles
# rendered afresh (grids, gaps and unassigned for sanitation). For a change
# that must leave speed alone: build the old commit in a worktree, e.g.
#   git worktree add /tmp/old <commit> && (cd /tmp/old && go build -o /tmp/citygrid-old ./cmd/citygrid)
#   go build -o /tmp/citygrid-new ./cmd/citygrid
#   docs/bench/before-after.sh /tmp/citygrid-old /tmp/citygrid-new DATABASE_URL [rounds]
# The database is the 20,000-grid generated city (citygrid demo generated
# --grids 20000); both servers start with --migrate=false.
set -euo pipefail
old=$1; new=$2; url=$3; rounds=${4:-2}
cd "$(dirname "$0")/../.."
token=bench-admin-token
port=8097
base=http://127.0.0.1:$port
pg=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(f"host={p.hostname} port={p.port} dbname={p.path[1:]} user={p.username} password={p.password}")' "$url")
run() { # label binary
  CITYGRID_ADMIN_TOKEN=$token "$2" serve --addr 127.0.0.1:$port --database-url "$url" --migrate=false --demo none >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf $base/readyz >/dev/null && break; sleep 0.2; done
  local w
  w=$(TOKEN=$token wrk -t2 -c16 -d10s --latency -s docs/bench/locate.lua $base 2>&1)
  echo "$1 locate c16: $(echo "$w" | awk '/Requests\/sec/ {print $2 " req/s"}'), p50 $(echo "$w" | awk '$1=="50%" {print $2}'), p99 $(echo "$w" | awk '$1=="99%" {print $2}')"
  echo "$1 export objects.geojson: $(curl -s -o /dev/null -w '%{time_total} s, %{size_download} bytes' -H "Authorization: Bearer $token" $base/api/v1/export/objects.geojson)"
  for t in grids "gaps?theme=sanitation" "unassigned?theme=sanitation"; do
    l=${t%%\?*}; q=""; [ "$l" != "$t" ] && q="?${t#*\?}"
    TOKEN=$token docs/bench/tiles-firstpass.sh "$l" "$q" $base | grep uncached | sed "s/^/$1 tiles /"
  done
  kill $pid; wait $pid 2>/dev/null || true
}
for r in $(seq "$rounds"); do
  echo "round $r (load $(cut -d' ' -f1-3 /proc/loadavg))"
  run before "$old"
  run after "$new"
  echo "ogr2ogr objects: $( { /usr/bin/time -f '%e s' ogr2ogr -f GeoJSON /vsistdout/ PG:"$pg" objects >/dev/null; } 2>&1 | tail -1)"
done
