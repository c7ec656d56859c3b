#!/usr/bin/env bash
# bench.sh: handoff side by side with its peers on loopback, in one run.
# Builds everything, installs memcached from Debian's packages when
# missing, runs the reactor's dispatch-latency benchmark, then starts every
# server and has handoff-bench measure them round after round (the order
# rotated each round: A B C, B C A, ...), and prints the medians as ratios to
# the floor and to memcached. Then the store suite: handoffd's cache beside
# memcached's, fills of -m 64 three times over (resident memory, items held)
# and saturation at 50, 400 and 2,000 connections, depth 1 and 8. Writes its
# figures and charts under results/ (BENCH_RESULTS), never over a tracked
# file: the README's charts in docs/ are copies of a run's.
#
#   bash scripts/bench.sh                 # full run, 7 rounds: about 6 minutes on 2 cores
#   BENCH_QUICK=1 bash scripts/bench.sh   # fewer rounds, shorter runs: under 2 minutes
#   BENCH_BASELINE=main bash scripts/bench.sh   # before/after: this tree against main
#   BENCH_STORE=0 bash scripts/bench.sh   # without the store suite (about 4 minutes more)
#   BENCH_STORE=only bash scripts/bench.sh   # the store suite alone
#   BENCH_SYSCALLS=0 bash scripts/bench.sh   # without the system-call counts
#
# Before/after: BENCH_BASELINE=<git revision> (a commit, tag or branch) also
# builds handoffd at that revision, in a temporary git worktree removed on
# exit, and runs it beside the current tree's handoffd in every notify x
# wake-up design, named handoffd@<short rev>/<notify>+<wake-up>, in the same
# rounds. The harness and every other server are built from the current
# tree, so both sides are measured the same way; the dispatch-latency
# benchmark runs at both revisions. The table then ends with each design's
# cost as a ratio to its baseline's, a median of per-round ratios, so drift
# in the machine's load moves both sides together.
#
# A quiet machine: around every run the suite reads /proc/stat, and a run
# during which other processes used more than 5% of the machine's CPU
# (BENCH_QUIET_MAX) is made again, up to 3 times; runs kept disturbed are
# counted at the end of the table.
#
# Every server gets two threads of work, one per core of the machine this was
# written on: memcached -t 2 and handoffd -t 2 (both default to 4 worker
# threads; the reactor's own default is one Worker per core), gnet with 2
# event loops, Go's net package with GOMAXPROCS = cores, the hand-off floor
# with 2 worker threads. The floor is single-threaded by definition. Each
# server runs on loopback at a free port.
# Environment: BENCH_ROUNDS, BENCH_RESULTS (the results folder), BENCH_OUT
# (chart path), BENCH_JSON (results), BENCH_BASELINE (a git revision to
# measure against), BENCH_STORE (1, 0 or only).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
quick=${BENCH_QUICK:-0}
results=${BENCH_RESULTS:-results}
out=${BENCH_OUT:-$results/bench.svg}
store=${BENCH_STORE:-1}
baseline=${BENCH_BASELINE:-}
work=$(mktemp -d /tmp/handoff-bench.XXXXXX)
json=${BENCH_JSON:-$results/bench.json}
basetree=$work/baseline
cleanup() {
	if [ -d "$basetree" ]; then
		git worktree remove --force "$basetree" ||
			echo "bench: could not remove the worktree $basetree; git worktree prune drops its record" >&2
	fi
	rm -rf "$work"
}
trap cleanup EXIT
bin=$work/bin
mkdir -p "$bin" "$results" "$(dirname "$out")" "$(dirname "$json")"

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
	hname=handoffd hmodes="" hbin=$bin/handoffd hdash=--
else
	echo "bench: impl/cmd/handoffd is missing: handoff-echo stands in, for conn and idle only" >&2
	$GO build -o "$bin/handoff-echo" ./impl/cmd/handoff-echo
	hname=handoff-echo hmodes="@conn+idle" hbin=$bin/handoff-echo hdash=-
fi
# The baseline's handoffd, built in a worktree of its own at that revision.
# Its DispatchLatency figures go with its servers (-gobench rev=file).
baserev=""
if [ -n "$baseline" ]; then
	full=$(git rev-parse --verify --quiet "$baseline^{commit}") ||
		{ echo "bench: BENCH_BASELINE=$baseline is not a revision of this repository" >&2; exit 2; }
	baserev=$(git rev-parse --short "$full")
	echo "bench: building the baseline handoffd at $baseline ($baserev)" >&2
	git worktree add --quiet --detach "$basetree" "$full"
	if [ ! -f "$basetree/impl/cmd/handoffd/main.go" ]; then
		echo "bench: $baseline has no impl/cmd/handoffd to measure against" >&2
		exit 2
	fi
	(cd "$basetree" && $GO build -o "$bin/handoffd@$baserev" ./impl/cmd/handoffd)
	usage=$("$bin/handoffd@$baserev" -h 2>&1 || true)
	if [[ $usage != *-notify* || $usage != *-wakeup* ]]; then
		echo "bench: handoffd at $baseline has no -notify/-wakeup flags to run each design with" >&2
		exit 2
	fi
	# Before handoffd took memcached's command line, its own flags had one
	# dash and it ran as root without -u.
	basedash=-
	baseuser=()
	if [[ $usage == *--notify* ]]; then
		basedash=--
		[ "$(id -u)" -eq 0 ] && baseuser=(-u root)
	fi
fi
bash scripts/need.sh memcached memcached
memcached_user=()
[ "$(id -u)" -eq 0 ] && memcached_user=(-u root) # memcached and handoffd refuse root without -u

if [ "$store" != only ]; then
echo "bench: dispatch latency (go test -bench DispatchLatency)" >&2
$GO test -run '^$' -bench DispatchLatency -benchtime "$dispatch" -count "$count" ./impl/reactor/ | tee "$work/dispatch.txt" >&2
gobench=(-gobench "$work/dispatch.txt")
if [ -n "$baserev" ]; then
	echo "bench: dispatch latency at $baserev" >&2
	if (cd "$basetree" && $GO test -run '^$' -bench DispatchLatency -benchtime "$dispatch" -count "$count" ./impl/reactor/) |
		tee "$work/dispatch-$baserev.txt" >&2; then
		gobench+=(-gobench "$baserev=$work/dispatch-$baserev.txt")
	else
		echo "bench: no dispatch latency at $baserev; its rows go without" >&2
	fi
fi

servers=(
	-server "floor=$bin/handoff-bench floor -p {port}"
	-server "handoff-floor=$bin/handoff-bench handoff-floor -t 2 -p {port}"
	-server "net=$bin/handoff-bench netserver -p {port}"
	-server "memcached=memcached ${memcached_user[*]} -l 127.0.0.1 -p {port} -U 0 -t 2 -c 10000"
	-server "gnet=$bin/handoff-gnet -p {port} -loops 2"
)
# Each design of handoffd, its baseline (if any) listed next to it.
huser=()
[ "$hdash" = -- ] && huser=("${memcached_user[@]}") # handoffd, as memcached, wants -u as root
for n in pipe eventfd; do
	for w in per-conn coalesced; do
		servers+=(-server "$hname/$n+$w$hmodes=$hbin ${huser[*]} -l 127.0.0.1 -p {port} -t 2 -c 10000 ${hdash}notify $n ${hdash}wakeup $w")
		if [ -n "$baserev" ]; then
			servers+=(-server "handoffd@$baserev/$n+$w=$bin/handoffd@$baserev ${baseuser[*]} -l 127.0.0.1 -p {port} -t 2 -c 10000 ${basedash}notify $n ${basedash}wakeup $w")
		fi
	done
done
# The io_uring backend, where the kernel has it (its notify and wake-up do
# not apply: the hand-off is MSG_RING).
if [ "$hdash" = -- ] && "$hbin" -h 2>&1 | grep -q -- '--io'; then
	servers+=(-server "$hname/uring=$hbin ${huser[*]} -l 127.0.0.1 -p {port} -t 2 -c 10000 --io uring")
fi

echo "bench: $rounds rounds, servers side by side" >&2
"$bin/handoff-bench" suite "${servers[@]}" -rounds "$rounds" \
	-conn-d "$dur" -req-d "$dur" -idle-c "$idle" -quiet-max "${BENCH_QUIET_MAX:-0.05}" \
	"${gobench[@]}" -json "$json" -svg "$out" -logs "$work"
echo "bench: chart written to $out, figures to $json" >&2

# System calls per request and per connection, in a run of their own so
# that perf's counting costs none of the figures above.
if [ "${BENCH_SYSCALLS:-1}" = 1 ]; then
	echo "bench: system calls (scripts/syscalls.sh)" >&2
	bash scripts/syscalls.sh | tee "$results/syscalls.txt"
fi
fi

# The store suite: both caches on two threads and -m 64, memcached first
# (the base of the ratios).
if [ "$store" != 0 ]; then
	srounds=${BENCH_STORE_ROUNDS:-3} sdur=2s
	[ "$quick" = 1 ] && srounds=${BENCH_STORE_ROUNDS:-1} sdur=1s
	echo "bench: store suite, $srounds rounds: fills, then saturation" >&2
	"$bin/handoff-bench" store -rounds "$srounds" -d "$sdur" -m 64 -quiet-max "${BENCH_QUIET_MAX:-0.05}" \
		-server "memcached=memcached ${memcached_user[*]} -l 127.0.0.1 -p {port} -U 0 -t 2 -m 64 -c 10000" \
		-server "handoffd=$bin/handoffd ${memcached_user[*]} -l 127.0.0.1 -p {port} -t 2 -m 64 -c 10000" \
		-json "$results/store.json" -svg "$results/store.svg" -logs "$work" | tee "$results/store.txt"
	echo "bench: store figures in $results/store.txt, .json and .svg" >&2
fi
