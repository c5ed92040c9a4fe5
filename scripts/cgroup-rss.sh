#!/bin/sh
# Resident memory of the exporter at N cgroups: build the binary, generate a
# cgroup tree, run the exporter on it through the path flags, scrape it
# SCRAPES times and print VmRSS after the first, a tenth and the last
# scrape, plus the open fds. Fails when RSS exceeds 40 MiB or grows by more
# than 4 MiB between the tenth and the last scrape.
#
# Usage: scripts/cgroup-rss.sh [N] [v2|v1|hybrid] [SCRAPES] [extra exporter flags…]
set -eu
N=${1:-10000}
SHAPE=${2:-v2}
SCRAPES=${3:-50}
[ $# -ge 3 ] && shift 3 || shift $#
cd "$(dirname "$0")/.."
WORK=$(mktemp -d "${TMPDIR:-/tmp}/crashguard-rss.XXXXXX")
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
go build -o "$WORK/crashguard_exporter" ./cmd/crashguard_exporter
set -- $(go run ./scripts/cgroup-rss "$WORK/tree" "$N" "$SHAPE") "$@"
PROC=$1 SYS=$2 ROOT=$3
shift 3
PORT=$(( 20000 + $$ % 20000 ))
"$WORK/crashguard_exporter" --web.listen-address="127.0.0.1:$PORT" \
	--path.procfs="$PROC" --path.sysfs="$SYS" --path.rootfs="$ROOT" \
	--no-collector.kmsg --log.level=warn "$@" >"$WORK/log" 2>&1 &
PID=$!
i=0
until curl -fs "http://127.0.0.1:$PORT/metrics" >/dev/null; do
	i=$((i+1)); [ $i -gt 100 ] && { cat "$WORK/log"; echo "exporter did not start"; exit 1; }
	sleep 0.1
done
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
fds() { ls "/proc/$PID/fd" | wc -l; }
first=$(rss)
s=1
while [ $s -lt "$SCRAPES" ]; do
	curl -fs "http://127.0.0.1:$PORT/metrics" -o "$WORK/out"
	s=$((s+1))
	[ $s -eq 10 ] && tenth=$(rss) && tenthfd=$(fds)
done
last=$(rss)
series=$(grep -c '^crashguard_cgroup_' "$WORK/out" || true)
echo "cgroups=$N shape=$SHAPE scrapes=$SCRAPES per-cgroup-series=$series"
echo "VmRSS KiB: after 1 scrape $first, after 10 $tenth, after $SCRAPES $last; fds after 10 $tenthfd, after $SCRAPES $(fds)"
[ "$last" -lt $((40 * 1024)) ] || { echo "FAIL: RSS $last KiB >= 40 MiB"; exit 1; }
[ "$last" -le $((tenth + 4096)) ] || { echo "FAIL: RSS grew from $tenth to $last KiB"; exit 1; }
[ "$(fds)" -le "$tenthfd" ] || { echo "FAIL: fds grew"; exit 1; }
echo OK
