#!/usr/bin/env bash
# mutants.sh: run the verification layers against each seeded fault of the
# reactor. A fault is a patch, scripts/faults/<name>.patch: a few lines of
# prose (what it changes, which property it breaks), then a unified diff
# against the production files, which carry no trace of it. git apply skips
# the prose, as it skips anything before a patch's first "diff --git" line.
#
# Usage:
#   bash scripts/mutants.sh [fault ...]         every layer against each fault
#                                               (default: every fault)
#   bash scripts/mutants.sh -check [fault ...]  only check that each patch
#                                               applies and the patched tree
#                                               passes go vet (make lint)
#
# A run first runs every layer with no patch, which must pass (else the table
# would mean nothing), then each fault against every layer, printing the
# layers that caught it:
#
#   notify-before-push: caught by trace-replay, porcupine, load
#
# and a table of them all at the end, with the time the whole run took, and
# the score: how many faults a failing check caught, how many only a hang
# (a layer that ran out of go test's time), how many none. It fails unless
# a failing check caught every fault, or if a patch no longer applies.
# Before each layer run it prints "[k/N] fault / layer", the time elapsed and
# an estimate of the time left.
#
# Each layer run is bounded by LAYER_TIMEOUT (default 90s): a fault that
# strands a connection (P4) makes the layer wait for it until its own
# deadline or this one, and either counts as caught. MUTANTS_LOGS=<dir>
# keeps each layer run's output there, as <fault>.<layer> (the runs with no
# patch as baseline.<layer>), and porcupine's visualizations.
#
# The scratch copy. A patch is never applied to the tree itself. At start the
# tree is packed once into a tar of the files git sees in the work tree (git
# ls-files --cached --others --exclude-standard: tracked files as they are on
# disk, uncommitted edits included, and new files that are not ignored; the
# whole directory but .git when it is not a git work tree). Before each fault
# one scratch directory is emptied, the tar unpacked into it and the patch
# applied there, so every fault starts from the same tree and edits made
# while the script runs do not reach it half way. The layers' temporary
# files go to a directory beside it (TMPDIR): the sockets of a test a fault
# cut short, and porcupine's visualizations of the histories it refused, a
# few megabytes each. Both are removed on exit, however the script ends. The
# go commands run with -trimpath, which keeps the scratch directory's name
# out of the build cache's keys, so each run reuses the packages a patch does
# not touch, from earlier faults and earlier runs of this script alike.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

GO=${GO:-go}
# -trimpath leaves a test binary no GOROOT of its own; the tests that
# type-check the package's sources (TestFilesReadDown) need it.
GOROOT=${GOROOT:-$($GO env GOROOT)}
export GOROOT
LAYER_TIMEOUT=${LAYER_TIMEOUT:-90s}
LOGS=${MUTANTS_LOGS:-}
PATCHES=scripts/faults
FAULTS=(notify-before-push coalesced-clear-after-drain drop-on-full-pipe racy-rr
	unlocked-pop eventfd-pop-one fd-closed-before-onclose balancer-skips-worker registered-twice
	newest-first-pop fd-leaked queued-left-open stale-task-runs stale-event-delivered
	close-drops-output read-not-paused halfclose-drops-held task-kick-lost held-input-aliased
	flush-offset-reset write-jumps-queue slot-kept-on-error addrs-asked-after-close
	cache-append-drops-ttl cache-stored-under-noreply cache-expired-at-its-second
	cache-touch-bumps-cas cache-mg-quiet-miss-answered cache-incr-saturates
	cache-busy-tail-skipped cache-free-in-draining-page cache-lru-not-bumped cache-touch-not-reaped
	cache-bin-quiet-error-withheld cache-bin-getk-miss-keyless cache-detail-miss-is-hit cache-conns-closed-kept
	cache-watch-closed-kept cache-watch-buffer-unbounded cache-noevict-evicts cache-nocas-compares
	cache-reused-chunk-fetched cache-mg-win-twice cache-steal-ties-lowest
	uring-tail-unpublished uring-head-not-returned uring-bufring-unpublished uring-buffer-id-unshifted
	ring-multishot-not-rearmed ring-partial-send-dropped ring-recv-not-paused ring-dispatch-traced-at-submit
	ring-shutdown-resends ring-close-lost-at-stop
	daemon-ignores-R daemon-idle-in-minutes daemon-vv-is-v)

# The reactor's faults run against LAYERS; the cache's and the daemon's
# (named cache-... and daemon-...) against CACHE_LAYERS, with Debian's
# memcached started for the run as the differential fuzzer's oracle
# (MEMCACHED_ADDR, as make compat sets it).
#
# layer name, then the go test arguments that run it.
LAYERS=(
	"trace-replay|-run ^TestTraceReplay$ ./impl/reactor/"
	"porcupine|-run ^TestSuite$ ./linearizability/"
	"load|-run ^TestHandoffUnderLoad$ ./impl/reactor/"
	"rapid|-run ^TestRapid ./impl/reactor/"
	"fuzz-seeds|-run ^Fuzz ./fuzz/ ./impl/reactor/"
	"shutdown|-run ^TestShutdownUnderLoad$ ./impl/reactor/"
	"p6-guards|-run ^TestP6 ./impl/reactor/"
	"sim|-run ^TestSimulation$ ./impl/reactor/"
)
CACHE_LAYERS=(
	"cache|./impl/memcache/"
	"difffuzz|-run ^TestDifferential$ ./impl/memcache/"
	"daemon|./impl/cmd/handoffd/"
)
# The io_uring ring's faults (named uring-...) against its own tests.
URING_LAYERS=(
	"uring|./internal/uring/"
)
# The reactor's io_uring backend's faults (named ring-...) against the
# reactor's tests and the reliability daemons on that backend. A layer's
# spec may begin with VAR=value words, set for its go test.
RING_LAYERS=(
	"reactor-uring|HANDOFF_IO=uring ./impl/reactor/"
	"reliability-uring|HANDOFF_IO=uring ./reliability/"
)
MEMCACHED_PORT=${MUTANTS_MEMCACHED_PORT:-21298}

# layers FAULT prints the layer specs FAULT runs against, one per line.
layers() {
	case $1 in
	cache-* | daemon-*) printf '%s\n' "${CACHE_LAYERS[@]}" ;;
	uring-*) printf '%s\n' "${URING_LAYERS[@]}" ;;
	ring-*) printf '%s\n' "${RING_LAYERS[@]}" ;;
	*) printf '%s\n' "${LAYERS[@]}" ;;
	esac
}

check=false
if [ "${1:-}" = -check ]; then
	check=true
	shift
fi
case "${1:-}" in -h | -help | --help)
	sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
esac

# Every patch in the directory must be one of FAULTS, and every fault asked
# for must have its patch.
rc=0
for f in "$PATCHES"/*.patch; do
	[ -e "$f" ] || continue
	name=$(basename "$f" .patch)
	case " ${FAULTS[*]} " in *" $name "*) ;; *)
		echo "mutants: $f is not in mutants.sh's FAULTS"
		rc=1
		;;
	esac
done
if [ $# -gt 0 ]; then FAULTS=("$@"); fi
for fault in "${FAULTS[@]}"; do
	if [ ! -f "$PATCHES/$fault.patch" ]; then
		echo "mutants: no fault $fault ($PATCHES/$fault.patch)"
		rc=1
	fi
done
[ $rc -eq 0 ] || exit 1

work=$(mktemp -d "${TMPDIR:-/tmp}/handoff-mutants.XXXXXX") || exit 1
mcpid=
cleanup() {
	[ -z "$mcpid" ] || kill "$mcpid" 2>/dev/null
	if [ -n "$LOGS" ] && [ -n "$(ls -A "$work/log" 2>/dev/null)" ]; then
		mkdir -p "$LOGS" && cp -p "$work/log"/* "$LOGS"/
		find "$work/tmp" -maxdepth 1 -name 'lincheck-*.html' -exec cp -p {} "$LOGS"/ \;
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
src=$work/src
mkdir "$work/log" "$work/tmp"

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			# A tracked file deleted from the work tree is not in the copy.
			if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
		done | tar --null -T - -cf "$work/tree.tar"
else
	tar --exclude=./.git -cf "$work/tree.tar" .
fi || {
	echo "mutants: cannot pack the tree"
	exit 1
}

# apply ARGS...: git apply in the scratch copy, which is no git repository:
# none above it is looked for, and none the caller's environment names.
apply() {
	(
		cd "$src" || exit 1
		unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE
		GIT_CEILING_DIRECTORIES=$work git apply "$@"
	)
}

# scratch [FAULT]: a fresh copy of the tree in $src, with FAULT's patch
# applied; fails, saying so, if the patch does not apply. With undo set (by
# -check, which only runs go vet there, so nothing but the patch changes the
# copy) the last patch is reversed instead, when it can be, which is quicker
# than unpacking the tree again.
undo=false
applied=
scratch() {
	if ! $undo || [ -z "$applied" ] ||
		! apply -R "$PATCHES/$applied.patch" >/dev/null 2>&1; then
		rm -rf "$src" && mkdir "$src" && tar -C "$src" -xf "$work/tree.tar" || return 1
	fi
	applied=
	[ -n "${1:-}" ] || return 0
	if ! apply "$PATCHES/$1.patch" >"$work/log/$1.apply" 2>&1; then
		echo "mutants: $PATCHES/$1.patch does not apply to the tree:"
		sed 's/^/  /' "$work/log/$1.apply"
		return 1
	fi
	applied=$1
}

if $check; then
	undo=true
	scratch || exit 1
	if ! (cd "$src" && $GO vet -trimpath ./...) >"$work/log/vet" 2>&1; then
		echo "mutants -check: the tree fails go vet with no patch applied:"
		tail -20 "$work/log/vet"
		exit 1
	fi
	bad=()
	for fault in "${FAULTS[@]}"; do
		if ! scratch "$fault"; then
			bad+=("$fault")
		elif ! (cd "$src" && $GO vet -trimpath ./...) >"$work/log/$fault.vet" 2>&1; then
			echo "mutants: $fault: the patched tree fails go vet:"
			head -20 "$work/log/$fault.vet" | sed 's/^/  /'
			bad+=("$fault")
		fi
	done
	if [ ${#bad[@]} -gt 0 ]; then
		echo "mutants -check: ${#bad[@]} of ${#FAULTS[@]} patches do not apply or do not build: ${bad[*]}"
		exit 1
	fi
	echo "mutants -check: all ${#FAULTS[@]} patches apply and build"
	exit 0
fi

# Every patch must apply before the first of many minutes is spent.
for fault in "${FAULTS[@]}"; do
	scratch "$fault" || exit 1
done

# Progress. The runs with no patch are quick; with a fault, a layer that
# waits for a stranded connection takes up to LAYER_TIMEOUT, so the two kinds
# are timed apart. What is left is estimated run by run from the mean of the
# runs so far of the same kind and layer, else of the same kind, else of any
# kind. So the estimate is low while only runs with no patch are measured
# (it says so), and high while the P4 faults, which come first and are the
# slowest, are most of what is measured: in a full run it peaks near twice
# the time left, then falls.
# The plan: every run, in order, as "kind|fault|layer spec": the baseline's
# runs (every layer a selected fault needs, with no patch), then each
# fault's.
plan=()
declare -A needed
for fault in "${FAULTS[@]}"; do
	while IFS= read -r spec; do needed[$spec]=1; done < <(layers "$fault")
done
for spec in "${LAYERS[@]}" "${CACHE_LAYERS[@]}" "${URING_LAYERS[@]}" "${RING_LAYERS[@]}"; do
	if [ -n "${needed[$spec]:-}" ]; then plan+=("b|baseline|$spec"); fi
done
needCache=false
for fault in "${FAULTS[@]}"; do
	case $fault in cache-* | daemon-*) needCache=true ;; esac
done
nbase=${#plan[@]}
for fault in "${FAULTS[@]}"; do
	while IFS= read -r spec; do plan+=("f|$fault|$spec"); done < <(layers "$fault")
done
total=${#plan[@]}
runs=0
declare -A tsum tcount
start=$(date +%s)

# mmss SECONDS prints 12m05s.
mmss() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# mean KEY...: the mean duration of the runs under the first KEY that has any.
mean() {
	local key
	for key in "$@"; do
		if [ "${tcount[$key]:-0}" -gt 0 ]; then
			echo $((tsum[$key] / tcount[$key]))
			return
		fi
	done
	echo 0
}

# progress K FAULT LAYER prints the line before run K (1-based) of total.
progress() {
	local k=$1 eta j kind name left=0
	if [ $runs -eq 0 ]; then
		eta="no estimate before the first run"
	else
		for ((j = k - 1; j < total; j++)); do
			kind=${plan[j]%%|*}
			name=${plan[j]#*|*|}
			name=${name%%|*}
			left=$((left + $(mean "$kind.$name" "$kind" all)))
		done
		left=$(((left + 30) / 60))
		eta="about $((left > 0 ? left : 1))m left"
		if [ "${tcount[f]:-0}" -eq 0 ]; then
			eta="$eta if the runs with a fault are as quick"
		fi
	fi
	echo "[$k/$total] $2 / $3 ($(mmss $(($(date +%s) - start))) elapsed, $eta)"
}

# run_layer K FAULT SPEC: 0 if the layer passed; its output is in
# $work/log/FAULT.LAYER.
run_layer() {
	local k=$1 fault=$2 name=${3%%|*} args=${3#*|} t0 d rc key kind=f env=()
	[ "$fault" = baseline ] && kind=b
	while [[ $args =~ ^[A-Z_]+=[^\ ]*\  ]]; do
		env+=("${args%% *}")
		args=${args#* }
	done
	progress "$k" "$fault" "$name"
	t0=$(date +%s)
	# A seeded fault makes rapid fail on purpose: RAPID_NOFAILFILE keeps
	# those failures out of testdata/rapid, which is for real ones.
	# shellcheck disable=SC2086
	(cd "$src" && env "${env[@]}" TMPDIR=$work/tmp RAPID_NOFAILFILE=true $GO test -trimpath -count=1 -failfast -timeout "$LAYER_TIMEOUT" $args) \
		</dev/null >"$work/log/$fault.$name" 2>&1
	rc=$?
	d=$(($(date +%s) - t0))
	runs=$((runs + 1))
	for key in "$kind.$name" "$kind" all; do
		tsum[$key]=$((${tsum[$key]:-0} + d))
		tcount[$key]=$((${tcount[$key]:-0} + 1))
	done
	return $rc
}

# hung LOG: 0 if the layer failed by hanging, not by a check: go test's own
# timeout fired (or this script's), so no wait of the test's own said what
# it was waiting for.
hung() {
	grep -q -E '^panic: test timed out|^\*\*\* Test killed' "$1"
}

# why prints the first line of a failed layer's output that says what broke.
why() {
	{
		grep -v 'as it must be' "$1" |
			grep -m1 -E 'FAIL: want|refused|P([1-9]|10)[:/ ]|DATA RACE|panic:|timed out|record [0-9]|differs|handoff(d)? replied|got:' ||
			grep -m1 -E 'FAIL' "$1"
	} | sed 's/^[[:space:]]*//' | cut -c1-200
}

if $needCache; then
	# The differential fuzzer's oracle, on loopback, for the whole run.
	memcached -U 0 -l 127.0.0.1 -p "$MEMCACHED_PORT" $(test "$(id -u)" = 0 && echo -u nobody) &
	mcpid=$!
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$MEMCACHED_PORT") 2>/dev/null && break; sleep 0.1; done
	export MEMCACHED_ADDR=127.0.0.1:$MEMCACHED_PORT
fi

echo "mutants: $total runs of at most $LAYER_TIMEOUT each: the $nbase layers with no patch, then each of ${#FAULTS[@]} faults against its layers"
k=0
scratch || exit 1
for ((j = 0; j < nbase; j++)); do
	spec=${plan[j]#*|*|}
	k=$((k + 1))
	if ! run_layer $k baseline "$spec"; then
		echo "mutants: layer ${spec%%|*} fails with no patch applied:"
		tail -20 "$work/log/baseline.${spec%%|*}"
		exit 1
	fi
done

# A fault is caught by a check when a layer's own check failed on it (a
# wait of the test's own that ends with what it waited for is a check); by
# a hang when the only layers that failed did so by running out of go test's
# time. The score counts the faults of each kind, and the missed ones.
uncaught=0 byHang=0
declare -A caughtBy
for fault in "${FAULTS[@]}"; do
	scratch "$fault" || exit 1
	caught=() checked=0
	while IFS= read -r spec; do
		k=$((k + 1))
		name=${spec%%|*}
		if ! run_layer $k "$fault" "$spec"; then
			if hung "$work/log/$fault.$name"; then
				caught+=("$name (hang)")
			else
				caught+=("$name")
				checked=1
			fi
			echo "  $fault / $name: $(why "$work/log/$fault.$name")"
		fi
	done < <(layers "$fault")
	if [ ${#caught[@]} -eq 0 ]; then
		caughtBy[$fault]=none
		uncaught=$((uncaught + 1))
	else
		caughtBy[$fault]=$(IFS=,; echo "${caught[*]}" | sed 's/,/, /g')
		[ $checked -eq 1 ] || byHang=$((byHang + 1))
	fi
	echo "$fault: caught by ${caughtBy[$fault]}"
done

echo
echo "mutants: $total runs in $(mmss $(($(date +%s) - start)))"
for fault in "${FAULTS[@]}"; do
	printf '  %-28s caught by %s\n' "$fault" "${caughtBy[$fault]}"
done
nf=${#FAULTS[@]}
echo "mutants: score $((nf - uncaught - byHang))/$nf caught by a failing check, $byHang only by a hang, $uncaught missed"
if [ $uncaught -gt 0 ] || [ $byHang -gt 0 ]; then
	echo "mutants: $((uncaught + byHang)) fault(s) not caught by a failing check"
	exit 1
fi
echo "mutants: every fault caught by a failing check"
