#!/usr/bin/env bash
# Cases at scale: intake with routing and filtered lists against the
# 20,000-grid generated city holding 1,000,000 generated cases, on a
# cluster with production durability (fsync and synchronous_commit on, as
# `make run` starts it; never --fast).
#
#   bin/citygrid db start --data /tmp/bench/pg --db-port 54371        # no --fast
#   export DATABASE_URL=$(bin/citygrid db url --data /tmp/bench/pg --db-port 54371)
#   bin/citygrid demo generated --grids 20000 --seed 1
#   bin/citygrid demo cases --n 1000000 --seed 1
#   docs/bench/cases-load.sh            # ROUNDS=2 DURATION=30s by default
#
# It serves on 127.0.0.1:8090, runs each wrk script ROUNDS times and
# prints one line per run; the lines go into docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${DATABASE_URL:?set DATABASE_URL to the bench cluster}"
BIN=${BIN:-bin/citygrid}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-30s}
ADDR=127.0.0.1:8090
export TOKEN=bench-admin-token
q() { psql "$DATABASE_URL" -Atc "$1"; }

echo "# $(date -u +%FT%TZ) $(uname -srm), $(nproc) cores, $(q 'select version()' | cut -d, -f1)"
echo "# fsync=$(q 'show fsync') synchronous_commit=$(q 'show synchronous_commit'); $(q 'select count(*) from cases') cases, $(q 'select count(*) from grids') grids"
echo "# load before: $(uptime | sed 's/.*load average: //')"

CITYGRID_ADMIN_TOKEN=$TOKEN "$BIN" serve --database-url "$DATABASE_URL" --addr "$ADDR" --log-level warn &
SERVER=$!
trap 'kill $SERVER' EXIT
for _ in $(seq 1 100); do curl -fsS "http://$ADDR/healthz" >/dev/null 2>&1 && break; sleep 0.3; done

# The filters' values: twenty units with an open queue of twenty cases or
# more (QUEUE_UNITS overrides: JJ, the city's one traffic police lead for
# parking, holds a quarter of all cases), every district, the span's months.
export UNITS=${QUEUE_UNITS:-$(q "select string_agg(code, ',') from (select u.code from cases c join units u on u.id = c.unit_id
  where c.status in ('dispatched', 'handling') group by 1 having count(*) >= 20 order by md5(u.code) limit 20) x")}
export DISTRICTS=$(q "select string_agg(code, ',') from regions where level = 'district'")
export MONTHS=$(q "select string_agg(to_char(m, 'YYYY-MM'), ',') from generate_series(date_trunc('month', now() - interval '11 months'), now(), interval '1 month') m")

for r in $(seq 1 "$ROUNDS"); do
  echo "## round $r, load $(uptime | sed 's/.*load average: //')"
  echo -n "intake: "; wrk -t2 -c32 -d"$DURATION" -s docs/bench/cases-intake.lua "http://$ADDR" | tail -1
  for f in queue overdue bbox month geojson; do
    FILTER=$f wrk -t2 -c8 -d"$DURATION" -s docs/bench/cases-lists.lua "http://$ADDR" | tail -1
  done
done
