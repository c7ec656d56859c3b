#!/usr/bin/env bash
# bench.sh: handoff side by side with its peers on loopback, in one run
# (issue 7). Builds everything, installs memcached from Debian's packages when
# missing, runs the reactor's dispatch-latency benchmark, then starts every
# server and has handoff-bench measure them round after round (the order
# rotated each round: A B C, B C A, ...), and prints the medians as ratios to
# the floor and to memcached. Writes docs/bench.svg (the README's chart).
#
#   bash scripts/bench.sh                 # full run, 7 rounds: about 6 minutes on 2 cores
#   BENCH_QUICK=1 bash scripts/bench.sh   # fewer rounds, shorter runs: under 2 minutes
#
# Every server gets two threads of work, one per core of the machine this was
# written on: memcached -t 2 and handoffd -t 2 (both default to 4 worker
# threads; the reactor's own default is one Worker per core), gnet with 2
# event loops, Go's net package with GOMAXPROCS = cores, the hand-off floor
# with 2 worker threads. The floor is single-threaded by definition. Each
# server runs on loopback at a free port.
# Environment: BENCH_ROUNDS, BENCH_OUT (chart path), BENCH_JSON (results).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
quick=${BENCH_QUICK:-0}
out=${BENCH_OUT:-docs/bench.svg}
work=$(mktemp -d /tmp/handoff-bench.XXXXXX)
json=${BENCH_JSON:-$work/bench.json}
trap 'rm -rf "$work"' EXIT
bin=$work/bin
mkdir -p "$bin" "$(dirname "$out")"

if [ "$quick" = 1 ]; then
	rounds=${BENCH_ROUNDS:-3} dur=1s idle=2000 dispatch=1000x count=1
else
	rounds=${BENCH_ROUNDS:-7} dur=2s idle=4000 dispatch=5000x count=3
fi

echo "bench: building" >&2
$GO build -o "$bin/handoff-bench" ./bench
(cd bench/gnet && $GO build -o "$bin/handoff-gnet" .)
# handoffd is the server the table is about; until it exists the echo
# server stands in for the modes an echo can answer (conn and idle).
if [ -f impl/cmd/handoffd/main.go ]; then
	$GO build -o "$bin/handoffd" ./impl/cmd/handoffd
	hname=handoffd hmodes="" hbin=$bin/handoffd
else
	echo "bench: impl/cmd/handoffd is missing: handoff-echo stands in, for conn and idle only" >&2
	$GO build -o "$bin/handoff-echo" ./impl/cmd/handoff-echo
	hname=handoff-echo hmodes="@conn+idle" hbin=$bin/handoff-echo
fi
bash scripts/need.sh memcached memcached
memcached_user=()
[ "$(id -u)" -eq 0 ] && memcached_user=(-u root) # memcached refuses root without -u

echo "bench: dispatch latency (go test -bench DispatchLatency)" >&2
$GO test -run '^$' -bench DispatchLatency -benchtime "$dispatch" -count "$count" ./impl/reactor/ | tee "$work/dispatch.txt" >&2

servers=(
	-server "floor=$bin/handoff-bench floor -p {port}"
	-server "handoff-floor=$bin/handoff-bench handoff-floor -t 2 -p {port}"
	-server "net=$bin/handoff-bench netserver -p {port}"
	-server "memcached=memcached ${memcached_user[*]} -l 127.0.0.1 -p {port} -U 0 -t 2 -c 10000"
	-server "gnet=$bin/handoff-gnet -p {port} -loops 2"
)
for n in pipe eventfd; do
	for w in per-conn coalesced; do
		servers+=(-server "$hname/$n+$w$hmodes=$hbin -l 127.0.0.1 -p {port} -t 2 -c 10000 -notify $n -wakeup $w")
	done
done

echo "bench: $rounds rounds, servers side by side" >&2
"$bin/handoff-bench" suite "${servers[@]}" -rounds "$rounds" \
	-conn-d "$dur" -req-d "$dur" -idle-c "$idle" \
	-gobench "$work/dispatch.txt" -json "$json" -svg "$out" -logs "$work"
echo "bench: chart written to $out" >&2
