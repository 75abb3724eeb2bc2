#!/usr/bin/env bash
# First-load size of the map app: the JavaScript and CSS that a page of the
# build references (its script, module preloads and style sheets; chunks it
# loads later on demand are not first load), raw and gzipped at level 9 as
# the server sends them (web/web.go). The issue's budget for the desk is
# 600 kB compressed. MapLibre (imported apart, so that the panels draw while
# it is parsed) and its worker script are not referenced by the page but
# fetched as soon as the page starts, so a second total includes them.
#   docs/bench/web-size.sh            the desk (web/dist/index.html)
#   docs/bench/web-size.sh m          the phone page (web/dist/m/index.html)
# Build first: make web.
set -euo pipefail
cd "$(dirname "$0")/../../web/dist"
page=index.html
[ "${1:-}" = m ] && page=m/index.html
[ -f "$page" ] || { echo "web/dist/$page is missing: run make web" >&2; exit 1; }
files=$(grep -oE '(src|href)="/assets/[^"]+\.(js|css)"' "$page" | sed -E 's/^(src|href)="\///; s/"$//' | sort -u)
[ -n "$files" ] || { echo "web/dist/$page references no JS or CSS under /assets/" >&2; exit 1; }
total=0; gz=0
for f in $files; do
  r=$(wc -c < "$f"); z=$(gzip -9 -c "$f" | wc -c)
  printf '%-48s %9d B  gzip %8d B\n' "$f" "$r" "$z"
  total=$((total + r)); gz=$((gz + z))
done
report() { awk -v p="$1" -v r="$2" -v z="$3" 'BEGIN { printf "%-48s %9d B  gzip %8d B  (%.1f kB of 600 kB)\n", p, r, z, z / 1000 }'; }
report "first load of $page" "$total" "$gz"
workers=$(ls assets/ 2>/dev/null | grep -E '^maplibre-gl.*\.m?js$' | sed 's#^#assets/#' || true)
[ -n "$workers" ] || exit 0
for f in $workers; do
  r=$(wc -c < "$f"); z=$(gzip -9 -c "$f" | wc -c)
  printf '%-48s %9d B  gzip %8d B\n' "$f" "$r" "$z"
  total=$((total + r)); gz=$((gz + z))
done
report "with MapLibre and its worker" "$total" "$gz"
