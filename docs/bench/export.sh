#!/usr/bin/env bash
# Export benchmark: citygrid's streamed GeoJSON export against ogr2ogr on the
# same table, alternating, in one run; then the server's peak memory.
#   docs/bench/export.sh DATABASE_URL [runs]
# Starts its own server on 127.0.0.1:8095 with the binary in bin/.
set -euo pipefail
url=$1; runs=${2:-5}
token=bench-export-token
cd "$(dirname "$0")/../.."
CITYGRID_ADMIN_TOKEN=$token CITYGRID_LOG_LEVEL=warn ./bin/citygrid serve --addr 127.0.0.1:8095 --database-url "$url" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:8095/readyz >/dev/null && break; sleep 0.2; done
pg=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(f"host={p.hostname} port={p.port} dbname={p.path[1:]} user={p.username} password={p.password}")' "$url")
n=$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:8095/ogc/collections/objects/items?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["numberMatched"])')
echo "objects: $n features; VmHWM before: $(grep VmHWM /proc/$pid/status)"
for i in $(seq "$runs"); do
  c=$(curl -s -o /dev/null -w '%{time_starttransfer} %{time_total} %{size_download}' -H "Authorization: Bearer $token" http://127.0.0.1:8095/api/v1/export/objects.geojson)
  set -- $c
  o=$( { /usr/bin/time -f '%e' ogr2ogr -f GeoJSON /vsistdout/ PG:"$pg" objects >/dev/null; } 2>&1 | tail -1)
  python3 - "$n" "$1" "$2" "$3" "$o" <<'PY'
import sys
n, first, total, size, ogr = int(sys.argv[1]), *map(float, sys.argv[2:])
print(f"citygrid: first byte {first*1000:.0f} ms, {total:.2f} s, {size/1e6:.0f} MB, {n/total:,.0f} features/s | ogr2ogr: {ogr:.2f} s, {n/ogr:,.0f} features/s")
PY
done
echo "server after the exports: $(grep -E 'VmHWM|VmRSS' /proc/$pid/status | tr -s ' \n' ' ')"
