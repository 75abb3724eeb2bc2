#!/usr/bin/env bash
# citygrid beside what its peers do in the database, on the same tables of
# the generated city, interleaved (citygrid, peer, citygrid, peer …) for
# ROUNDS rounds; prints each round and then the median of every figure and
# the ratios.
#
#   bench/compare.sh                      # 3 rounds of 10 s runs
#   ROUNDS=5 DURATION=20 bench/compare.sh
#
# What is compared (the peer is what pg_featureserv, pg_tileserv, a
# point-in-polygon service or ogr2ogr runs in PostgreSQL, so the ratios can
# be rerun anywhere without those servers):
#   locate   wrk -c64, random points, full answer   vs pgbench -M prepared -c64: ST_Covers of the live grid (locate.sql)
#   locate   the same with fields=grid,owners        (a client asking for less)
#   locate   engine=db at 16 connections             (target: 2,000 req/s; no peer)
#   ogc      1,000-grid pages of new random windows  vs pgbench: the same page by key with ST_AsGeoJSON (ogc.sql), at 1 and 4 connections
#   tiles    uncached grids tiles z13–z16, 1 conn   vs pgbench: the bare ST_AsMVT(ST_AsMVTGeom(…)) of the same tile (tiles-grids.sql)
#   export   all objects as GeoJSON over HTTP        vs ogr2ogr -f GeoJSON of the objects table
#
# It builds bin/citygrid if missing, starts its own durable cluster in DATA
# (default .data/bench, port DB_PORT 54381), loads the 20,000-grid generated
# city once (about 1.5 min), and runs the server with its default settings
# (log level info, the access log to DATA/serve.log). Needs wrk, pgbench,
# psql and ogr2ogr; installs them with apt-get when it may.
#
# With FEATURESERV and TILESERV set to pg_featureserv and pg_tileserv
# binaries (built from their repositories; they are not in the package
# registries), each round also asks them for the same pages and tiles, on
# the grids table's own columns (pg_featureserv: code, name,
# community_code, area_m2, version, valid_from, valid_to; pg_tileserv: code,
# name, community_code, area_m2, buffer 64), and the summary adds the
# ratios against them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
rounds=${ROUNDS:-3}
dur=${DURATION:-10}
data=${DATA:-$root/.data/bench}
dbport=${DB_PORT:-54381}
port=${PORT:-8099}
ngrids=${GRIDS:-20000}
token=compare-admin-token
base=http://127.0.0.1:$port
export BENCH_DIR=$root/bench TOKEN=$token
out=$data/compare
mkdir -p "$out"

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v pgbench >/dev/null || need+=(postgresql-client)
command -v ogr2ogr >/dev/null || need+=(gdal-bin)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  echo "installing ${need[*]}"
  $sudo apt-get install -y -q "${need[@]}" >/dev/null
fi
[ -x bin/citygrid ] || make build

url=$(bin/citygrid db start --data "$data" --db-port "$dbport" | tail -1)
q() { psql "$url" -Atqc "$1"; }
bin/citygrid migrate up --database-url "$url" >/dev/null
if [ "$(q 'SELECT count(*) FROM grids WHERE valid_to IS NULL')" = 0 ]; then
  echo "loading the generated city ($ngrids grids)"
  bin/citygrid demo generated --database-url "$url" --grids "$ngrids" --seed 1
fi
read -r MINX MINY MAXX MAXY < <(q "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT ST_Extent(geom) b FROM grids WHERE valid_to IS NULL) x" | tr '|' ' ')
export MINX MINY MAXX MAXY
# A window a quarter of the city's width and height holds about 1/16 of its
# grids: more than a page of 1,000 in the 20,000-grid city.
W=$(awk -v a="$MINX" -v b="$MAXX" 'BEGIN {printf "%.7f", (b - a) / 4}')
H=$(awk -v a="$MINY" -v b="$MAXY" 'BEGIN {printf "%.7f", (b - a) / 4}')
export W H
echo "city: $(q 'SELECT count(*) FROM grids WHERE valid_to IS NULL') grids, $(q 'SELECT count(*) FROM objects') objects, box $MINX,$MINY,$MAXX,$MAXY"

CITYGRID_ADMIN_TOKEN=$token bin/citygrid serve --database-url "$url" --addr 127.0.0.1:$port --demo none >"$data/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 600); do curl -sf $base/readyz >/dev/null && break; sleep 0.2; done
curl -sf $base/readyz >/dev/null || { echo "server did not become ready; see $data/serve.log"; exit 1; }

peers=()
if [ -n "${FEATURESERV:-}" ]; then
  fsbase=http://127.0.0.1:$((port + 1))
  DATABASE_URL=$url PGFS_SERVER_HTTPPORT=$((port + 1)) PGFS_PAGING_LIMITMAX=1000 "$FEATURESERV" >"$data/featureserv.log" 2>&1 &
  peers+=($!)
fi
if [ -n "${TILESERV:-}" ]; then
  tsbase=http://127.0.0.1:$((port + 2))
  DATABASE_URL=$url TS_HTTPPORT=$((port + 2)) "$TILESERV" >"$data/tileserv.log" 2>&1 &
  peers+=($!)
fi
trap 'kill $server "${peers[@]}" 2>/dev/null || true' EXIT
sleep 2

results=$out/results.txt
: >"$results"
record() { echo "$1 $2" >>"$results"; printf '  %-34s %s\n' "$1" "$2"; }

# wrkrun NAME CONNS SCRIPT [ENV=…]…: records NAME.rps, .p50, .p95, .p99.
wrkrun() {
  local name=$1 c=$2 script=$3; shift 3
  local line
  line=$(env "$@" wrk -t"$((c < 2 ? 1 : 2))" -c"$c" -d"${dur}s" -s "bench/$script" "${target:-$base}" | grep '^RESULT')
  case $line in *"errors=0"*) ;; *) echo "  $name: errors: $line" ;; esac
  for k in rps p50 p95 p99; do record "$name.$k" "$(echo "$line" | sed "s/.* $k=\([0-9.]*\).*/\1/")"; done
}

# pgbrun NAME CONNS SCRIPT -D…: records NAME.rps (transactions/s) and the
# latency percentiles from pgbench's per-transaction log.
pgbrun() {
  local name=$1 c=$2 script=$3; shift 3
  rm -f "$out"/pgb.*
  if ! (cd "$out" && pgbench -n -M prepared -c"$c" -j"$((c < 2 ? 1 : 2))" -T"$dur" -l --log-prefix=pgb \
    -D minx="$MINX" -D miny="$MINY" -D maxx="$MAXX" -D maxy="$MAXY" "$@" -f "$root/bench/$script" "$url" >"$out/pgbench.out" 2>&1); then
    echo "pgbench $script failed:"; grep -i error "$out/pgbench.out" | head -3; exit 1
  fi
  record "$name.rps" "$(awk '/^tps/ {print $3}' "$out/pgbench.out")"
  local pcts
  pcts=$(cat "$out"/pgb.* | awk '{print $3 / 1000}' | sort -n |
    awk '{a[NR] = $1} END {printf "%.3f %.3f %.3f", a[int(NR * 0.5 + 0.5)], a[int(NR * 0.95 + 0.5)], a[int(NR * 0.99 + 0.5)]}')
  read -r p50 p95 p99 <<<"$pcts"
  record "$name.p50" "$p50"; record "$name.p95" "$p95"; record "$name.p99" "$p99"
  rm -f "$out"/pgb.*
}

# The tiles of zoom z covering the city's box.
tilerange() {
  awk -v z="$1" -v a="$MINX" -v b="$MINY" -v c="$MAXX" -v d="$MAXY" 'function tx(lon) {return int((lon + 180) / 360 * 2^z)}
    function ty(lat,  r) {r = lat * 3.14159265358979 / 180; return int((1 - log(sin(r) / cos(r) + 1 / cos(r)) / 3.14159265358979) / 2 * 2^z)}
    BEGIN {print tx(a), tx(c), ty(d), ty(b)}'
}

# GDAL takes libpq's key=value form, not a URI with a query.
[[ $url =~ ^postgres(ql)?://([^:@]*)(:([^@]*))?@([^:/]*)(:([0-9]+))?/([^?]*) ]] ||
  { echo "cannot read the database URL $url"; exit 1; }
pgconn="user=${BASH_REMATCH[2]} password=${BASH_REMATCH[4]} host=${BASH_REMATCH[5]} port=${BASH_REMATCH[7]:-5432} dbname=${BASH_REMATCH[8]}"
for r in $(seq "$rounds"); do
  echo "round $r (load $(cut -d' ' -f1-3 /proc/loadavg))"
  wrkrun "locate.citygrid.c64" 64 locate.lua
  pgbrun "locate.pgbench.c64" 64 locate.sql
  wrkrun "locate_fields.citygrid.c64" 64 locate.lua FIELDS=grid,owners
  wrkrun "locate_db.citygrid.c16" 16 locate.lua ENGINE=db
  for c in 1 4; do
    wrkrun "ogc.citygrid.c$c" "$c" ogc.lua
    pgbrun "ogc.pgbench.c$c" "$c" ogc.sql -D w="$W" -D h="$H"
    if [ -n "${fsbase:-}" ]; then
      target=$fsbase wrkrun "ogc.featureserv.c$c" "$c" ogc.lua ITEMS=/collections/public.grids/items.json \
        EXTRA='&properties=code,name,community_code,area_m2,version,valid_from,valid_to'
    fi
  done
  for z in 13 14 15 16; do
    read -r x0 x1 y0 y1 < <(tilerange $z)
    wrkrun "tiles_z$z.citygrid" 1 tiles.lua Z=$z X0=$x0 X1=$x1 Y0=$y0 Y1=$y1
    pgbrun "tiles_z$z.pgbench" 1 tiles-grids.sql -D z=$z -D x0=$x0 -D x1=$x1 -D y0=$y0 -D y1=$y1
    if [ -n "${tsbase:-}" ]; then
      target=$tsbase wrkrun "tiles_z$z.tileserv" 1 tiles.lua TILE='/public.grids/%d/%d/%d.pbf?buffer=64&properties=code,name,community_code,area_m2' \
        Z=$z X0="$x0" X1="$x1" Y0="$y0" Y1="$y1"
    fi
  done
  t=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" -H 'Accept-Encoding: gzip' "$base/api/v1/export/objects.geojson")
  record "export.citygrid.s" "$t"
  t=$( { TIMEFORMAT=%R; time ogr2ogr -f GeoJSON /vsistdout/ PG:"$pgconn" objects >/dev/null 2>"$out/ogr2ogr.err"; } 2>&1)
  record "export.ogr2ogr.s" "$t"
done

median() { awk -v k="$1" '$1 == k {print $2}' "$results" | sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]; else print "nan"}'; }
m() { awk -v v="$(median "$1")" -v d="${2:-1}" 'BEGIN {printf "%.*f", d, v}'; }
ratio() { awk -v a="$(median "$1")" -v b="$(median "$2")" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "nan"}'; }

echo
echo "medians of $rounds rounds ($(date -u +%FT%TZ), $(nproc) cores, $(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -1), citygrid $(bin/citygrid version 2>/dev/null | head -1))"
printf '%-22s %-40s %-40s %s\n' work citygrid peer ratio
printf '%-22s %-40s %-40s %s\n' "locate c64" \
  "$(m locate.citygrid.c64.rps 0) req/s, p99 $(m locate.citygrid.c64.p99 1) ms" \
  "$(m locate.pgbench.c64.rps 0) q/s, p99 $(m locate.pgbench.c64.p99 1) ms" \
  "$(ratio locate.citygrid.c64.rps locate.pgbench.c64.rps)× the queries/s (target ≥ 1.5; p99 < 10 ms)"
printf '%-22s %-40s %-40s %s\n' "locate fields=grid,owners" \
  "$(m locate_fields.citygrid.c64.rps 0) req/s, p99 $(m locate_fields.citygrid.c64.p99 1) ms" "" \
  "$(ratio locate_fields.citygrid.c64.rps locate.pgbench.c64.rps)× the queries/s"
printf '%-22s %-40s %-40s %s\n' "locate engine=db c16" \
  "$(m locate_db.citygrid.c16.rps 0) req/s, p99 $(m locate_db.citygrid.c16.p99 1) ms" "-" "(target ≥ 2,000 req/s)"
for c in 1 4; do
  printf '%-22s %-40s %-40s %s\n' "ogc pages c$c" \
    "$(m ogc.citygrid.c$c.rps 0) req/s, p50 $(m ogc.citygrid.c$c.p50 1) ms" \
    "$(m ogc.pgbench.c$c.rps 0) q/s, p50 $(m ogc.pgbench.c$c.p50 1) ms" \
    "$(ratio ogc.citygrid.c$c.rps ogc.pgbench.c$c.rps)× the requests/s"
done
for z in 13 14 15 16; do
  printf '%-22s %-40s %-40s %s\n' "tiles z$z uncached" \
    "p50 $(m tiles_z$z.citygrid.p50 1), p95 $(m tiles_z$z.citygrid.p95 1) ms" \
    "p50 $(m tiles_z$z.pgbench.p50 1), p95 $(m tiles_z$z.pgbench.p95 1) ms" \
    "$(ratio tiles_z$z.citygrid.p50 tiles_z$z.pgbench.p50) and $(ratio tiles_z$z.citygrid.p95 tiles_z$z.pgbench.p95) of the time"
done
if [ -n "${fsbase:-}" ]; then
  for c in 1 4; do
    printf '%-22s %-40s %-40s %s\n' "ogc pages c$c" "" \
      "pg_featureserv $(m ogc.featureserv.c$c.rps 0) req/s, p50 $(m ogc.featureserv.c$c.p50 1) ms" \
      "$(ratio ogc.citygrid.c$c.rps ogc.featureserv.c$c.rps)× pg_featureserv's requests/s (target ≥ 1.5)"
  done
fi
if [ -n "${tsbase:-}" ]; then
  for z in 13 14 15 16; do
    printf '%-22s %-40s %-40s %s\n' "tiles z$z uncached" "" \
      "pg_tileserv p50 $(m tiles_z$z.tileserv.p50 1), p95 $(m tiles_z$z.tileserv.p95 1) ms" \
      "$(ratio tiles_z$z.citygrid.p50 tiles_z$z.tileserv.p50) and $(ratio tiles_z$z.citygrid.p95 tiles_z$z.tileserv.p95) of pg_tileserv's time (target ≤ 0.7)"
  done
fi
printf '%-22s %-40s %-40s %s\n' "export objects" "$(m export.citygrid.s 2) s" "ogr2ogr $(m export.ogr2ogr.s 2) s" \
  "$(ratio export.citygrid.s export.ogr2ogr.s) of the time"
echo "every figure: $results"
