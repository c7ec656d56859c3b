#!/usr/bin/env bash
# mutants.sh: switch on each seeded fault of the reactor in turn (build tag
# "faults", environment variable HANDOFF_FAULT; impl/reactor/faults_on.go)
# and run the verification layers against it. Prints, per fault, the layers
# that caught it:
#
#   notify-before-push: caught by trace-replay, porcupine, load
#
# and fails if any fault is caught by none, or if a layer fails with no
# fault switched on (then the table would mean nothing).
#
# Usage: bash scripts/mutants.sh [fault ...]   (default: every fault)
# Each layer run is bounded by LAYER_TIMEOUT (default 90s): a fault that
# strands a connection (P4) makes the layer wait for it until its own
# deadline or this one, and either counts as caught.
set -u
cd "$(dirname "$0")/.."

GO=${GO:-go}
LAYER_TIMEOUT=${LAYER_TIMEOUT:-90s}
FAULTS=(notify-before-push coalesced-clear-after-drain drop-on-full-pipe racy-rr
	unlocked-pop eventfd-pop-one fd-closed-before-onclose balancer-skips-worker registered-twice
	newest-first-pop fd-leaked queued-left-open stale-task-runs stale-event-delivered)
if [ $# -gt 0 ]; then FAULTS=("$@"); fi

# layer name, then the go test arguments that run it.
LAYERS=(
	"trace-replay|-run ^TestTraceReplay$ ./impl/reactor/"
	"porcupine|-run ^TestSuite$ ./linearizability/"
	"load|-run ^TestHandoffUnderLoad$ ./impl/reactor/"
	"rapid|-run ^TestRapid ./impl/reactor/"
	"fuzz-seeds|-run ^Fuzz ./fuzz/ ./impl/reactor/"
	"shutdown|-run ^TestShutdownUnderLoad$ ./impl/reactor/"
	"p6-guards|-run ^TestP6 ./impl/reactor/"
)

log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# run_layer FAULT SPEC: 0 if the layer passed.
run_layer() {
	local fault=$1 name=${2%%|*} args=${2#*|}
	# A seeded fault makes rapid fail on purpose: RAPID_NOFAILFILE keeps those
	# failures out of testdata/rapid, which is for real ones.
	# shellcheck disable=SC2086
	HANDOFF_FAULT=$fault RAPID_NOFAILFILE=true $GO test -tags faults -count=1 -failfast -timeout "$LAYER_TIMEOUT" $args \
		>"$log/$fault.$name" 2>&1
}

# why prints the first line of a failed layer's output that says what broke.
why() {
	{
		grep -v 'as it must be' "$1" |
			grep -m1 -E 'FAIL: want|refused|P[1-7][: ]|DATA RACE|panic:|timed out|record [0-9]' ||
			grep -m1 -E 'FAIL' "$1"
	} | sed 's/^[[:space:]]*//' | cut -c1-200
}

$GO build -tags faults ./impl/reactor/ || exit 1
echo "mutants: baseline, -tags faults with no fault switched on"
for spec in "${LAYERS[@]}"; do
	if ! run_layer "" "$spec"; then
		echo "mutants: layer ${spec%%|*} fails with no fault on:"
		tail -20 "$log/.${spec%%|*}"
		exit 1
	fi
done

uncaught=0
for fault in "${FAULTS[@]}"; do
	caught=()
	for spec in "${LAYERS[@]}"; do
		name=${spec%%|*}
		if ! run_layer "$fault" "$spec"; then
			caught+=("$name")
			echo "  $fault / $name: $(why "$log/$fault.$name")"
		fi
	done
	if [ ${#caught[@]} -eq 0 ]; then
		echo "$fault: caught by none"
		uncaught=$((uncaught + 1))
	else
		echo "$fault: caught by $(IFS=,; echo "${caught[*]}" | sed 's/,/, /g')"
	fi
done
if [ $uncaught -gt 0 ]; then
	echo "mutants: $uncaught fault(s) caught by no layer"
	exit 1
fi
echo "mutants: every fault caught"
