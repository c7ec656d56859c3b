#!/usr/bin/env bash
# check.sh: run spin over every design of spec/dispatch.pml and fail on any
# result other than the expected one (spec/SPEC.md explains each property).
#
# For each row of the table below, in a temporary directory:
#   safety:   spin -a -D<DESIGN> [-DLEMMAS] <bounds> dispatch.pml
#             cc -O0 -DBFS -DSAFETY -DNOFAIR -o pan pan.c; ./pan -m100000 -w20
#             (-O1 where the state space is larger)
#             (breadth-first, so a counterexample is a shortest one; it is
#             replayed with spin -t to count its steps)
#   liveness: spin -a -D<DESIGN> -DLTL_P4 <bounds> dispatch.pml
#             cc -O0 -DNFAIR=3 -o pan pan.c; ./pan -a -f -A -m100000 -w20
#             (P4 as an LTL formula under weak fairness; -A leaves the
#             assertions to the safety run); for the lifecycle's correct
#             design and its two P8 bugs, -DLTL_P8 (every task accepted is
#             run or dropped), and for its other bugs no liveness run
# pan exits 0 whether or not it found an error, so its output is read.
#
# Usage: bash spec/check.sh [-v] [-large]
#   -v      print every counterexample, step by step
#   -large  also check the correct designs at A=2 W=2 C=5 K=2 (about 300,000
#           states for coalesced; a minute on a loaded machine)
# Environment: JOBS (default 2) rows at once; CC (default cc).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/../scripts/need.sh" spin spin
bash "$here/../scripts/need.sh" cc gcc

verbose=0 want_large=0
for arg in "$@"; do
	case $arg in
	-v) verbose=1 ;;
	-large) want_large=1 ;;
	*)
		echo "usage: bash spec/check.sh [-v] [-large]" >&2
		exit 2
		;;
	esac
done
jobs=${JOBS:-2}
cc=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/handoff-spec.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# name | macro | bounds | expected safety (holds or the property violated) |
# expected liveness (holds, violated, or - for none) | cc optimisation | the
# LTL formula (P4 or P8). The first thirteen rows are the hand-off model's
# small bounds (model.Design.DefaultBounds for the seeded bugs), where pan
# runs in milliseconds and -O0 compiles fastest; the next four add a second
# Acceptor and a fourth connection (two Acceptors racing, a full pipe with a
# second token behind it); the next reads one token at a time; the next two
# fill msgring's CQ; -large adds four more. Then the lifecycle: the correct design at the five bounds of
# model's lifecycle table (model.LifeDesign.TableBounds), and each seeded
# bug at its own.
small="-DNW=2 -DNC=3 -DPIPECAP=1"
medium="-DNA=2 -DNW=2 -DNC=4 -DPIPECAP=1"
# A read shorter than the tokens pending (memcached reads 32 of a pipe's
# 65536 bytes): the rest stay pending and wake the Worker again.
short="-DNA=1 -DNW=2 -DNC=4 -DPIPECAP=2 -DREADMAX=1"
large="-DNA=2 -DNW=2 -DNC=5 -DPIPECAP=2"
# msgring where its CQ fills: model.Design.DefaultBounds (a CQ of one, an
# overflow list of one, three connections for worker 0, so a post lands in
# the CQ, one is held back and one fails with EOVERFLOW); and a kernel that
# holds nothing back, where every post to a full CQ fails and is retried.
ring="-DNA=2 -DNW=2 -DNC=5 -DPIPECAP=1 -DOVERFLOW=1"
nodrop0="-DNA=2 -DNW=2 -DNC=4 -DPIPECAP=1 -DOVERFLOW=0"
# The lifecycle's bounds: peers, fd numbers, units sent, calls of the other
# goroutine, send buffer, MaxOutput, echo, units per request, MaxConns,
# then the switches (model.LifeBounds).
life() { echo "-DNC=$1 -DNF=$2 -DNS=$3 -DNT=$4 -DSNDBUF=$5 -DMAXOUT=$6 -DECHO=$7 -DREQLEN=$8 -DMAXCONNS=$9 ${*:10}"; }
reuse=$(life 2 1 1 1 1 1 1 1 0 -DRESET -DSHUTDOWN)
stale=$(life 3 2 0 1 1 1 1 1 0 -DRESET)
flow=$(life 1 1 2 2 1 1 2 1 0 -DWAKE -DQUIT -DSHUTDOWN)
partial=$(life 1 1 3 1 1 2 2 2 0 -DWAKE -DQUIT -DSHUTDOWN)
closes=$(life 2 2 1 0 1 1 2 1 1 -DIDLE -DCTLFAIL -DSHUTDOWN)
rows=(
	"memcached|DESIGN_MEMCACHED|$small -DNA=1|holds|holds|-O0|P4"
	"eventfd|DESIGN_EVENTFD|$small -DNA=1|holds|holds|-O0|P4"
	"drain|DESIGN_DRAIN|$small -DNA=1|holds|holds|-O0|P4"
	"coalesced|DESIGN_COALESCED|$small -DNA=1|holds|holds|-O0|P4"
	"bug-notify-before-push|BUG_NOTIFY_BEFORE_PUSH|$small -DNA=1|P4|violated|-O0|P4"
	"bug-coalesced-clear-after-drain|BUG_COALESCED_CLEAR_AFTER_DRAIN|$small -DNA=1|P4|violated|-O0|P4"
	"bug-drop-on-full-pipe|BUG_DROP_ON_FULL_PIPE|$small -DNA=1|P4|violated|-O0|P4"
	"bug-racy-rr|BUG_RACY_RR|$small -DNA=2|P2|holds|-O0|P4"
	"bug-unlocked-pop|BUG_UNLOCKED_POP|$small -DNA=1|P1|violated|-O0|P4"
	"bug-eventfd-pop-one|BUG_EVENTFD_POP_ONE|$small -DNA=1|P4|violated|-O0|P4"
	"msgring|DESIGN_MSGRING|$small -DNA=1|holds|holds|-O0|P4"
	"bug-msgring-ignore-full|BUG_MSGRING_IGNORE_FULL|$small -DNA=1|P1|violated|-O0|P4"
	"bug-multishot-not-rearmed|BUG_MULTISHOT_NOT_REARMED|$small -DNA=1|P4|violated|-O0|P4"
	"memcached|DESIGN_MEMCACHED|$medium|holds|holds|-O0|P4"
	"eventfd|DESIGN_EVENTFD|$medium|holds|holds|-O0|P4"
	"drain|DESIGN_DRAIN|$medium|holds|holds|-O0|P4"
	"coalesced|DESIGN_COALESCED|$medium|holds|holds|-O1|P4"
	"memcached|DESIGN_MEMCACHED|$short|holds|holds|-O0|P4"
	"msgring|DESIGN_MSGRING|$ring|holds|holds|-O1|P4"
	"msgring|DESIGN_MSGRING|$nodrop0|holds|holds|-O0|P4"
	"life|DESIGN_LIFE|$reuse|holds|holds|-O1|P8"
	"life|DESIGN_LIFE|$stale|holds|holds|-O1|P8"
	"life|DESIGN_LIFE|$flow|holds|holds|-O0|P8"
	"life|DESIGN_LIFE|$partial|holds|holds|-O0|P8"
	"life|DESIGN_LIFE|$closes|holds|holds|-O0|P8"
	"bug-task-clear-after-run|BUG_TASK_CLEAR_AFTER_RUN|$(life 1 1 0 2 1 1 1 1 0)|P8|violated|-O0|P8"
	"bug-task-reset-after-swap|BUG_TASK_RESET_AFTER_SWAP|$(life 1 1 0 2 1 1 1 1 0)|P8|violated|-O0|P8"
	"bug-close-before-onclose|BUG_CLOSE_BEFORE_ONCLOSE|$(life 1 1 0 0 1 1 1 1 0)|P6|-|-O0|-"
	"bug-stale-event|BUG_STALE_EVENT|$(life 3 2 0 1 1 1 1 1 0 -DRESET)|P6|-|-O0|-"
	"bug-stale-task|BUG_STALE_TASK|$(life 2 1 0 1 1 1 1 1 0)|P6|-|-O0|-"
	"bug-shutdown-early|BUG_SHUTDOWN_EARLY|$(life 1 1 0 0 1 1 1 1 0 -DSHUTDOWN)|P7|-|-O0|-"
	"bug-shutdown-forgets-queued|BUG_SHUTDOWN_FORGETS_QUEUED|$(life 2 2 0 0 1 1 1 1 0 -DSHUTDOWN)|P7|-|-O0|-"
	"bug-add-fail-leaks|BUG_ADD_FAIL_LEAKS|$(life 1 1 0 0 1 1 1 1 0 -DCTLFAIL)|P5|-|-O0|-"
	"bug-close-drops-output|BUG_CLOSE_DROPS_OUTPUT|$(life 1 1 2 0 1 2 2 1 0 -DQUIT)|P9|-|-O0|-"
	"bug-read-over-bound|BUG_READ_OVER_BOUND|$(life 1 1 2 0 1 1 2 1 0)|P9|-|-O0|-"
	"bug-halfclose-drops-input|BUG_HALFCLOSE_DROPS_INPUT|$(life 1 1 2 0 1 2 2 1 0)|P10|-|-O0|-"
)
if [ "$want_large" = 1 ]; then
	rows+=(
		"memcached|DESIGN_MEMCACHED|$large|holds|holds|-O1|P4"
		"eventfd|DESIGN_EVENTFD|$large|holds|holds|-O1|P4"
		"drain|DESIGN_DRAIN|$large|holds|holds|-O1|P4"
		"coalesced|DESIGN_COALESCED|$large|holds|holds|-O1|P4"
	)
fi

# bounds_text "-DNW=2 -DNC=3 ..." prints "W=2 C=3 ..."; a lifecycle's
# "-DNC=2 -DNF=1 ... -DRESET" prints as model's LifeBounds do,
# "C2 F1 S1 T1 K1 B1 E1 +reset".
bounds_text() {
	local out="" on="" kv
	case " $1 " in
	*" -DNF="*)
		for kv in $1; do
			kv=${kv#-D}
			case $kv in
			NC=*) out+="C${kv#NC=} " ;;
			NF=*) out+="F${kv#NF=} " ;;
			NS=*) out+="S${kv#NS=} " ;;
			NT=*) out+="T${kv#NT=} " ;;
			SNDBUF=*) out+="K${kv#SNDBUF=} " ;;
			MAXOUT=*) out+="B${kv#MAXOUT=} " ;;
			ECHO=*) out+="E${kv#ECHO=} " ;;
			REQLEN=2) out+="R2 " ;;
			MAXCONNS=0 | REQLEN=*) ;;
			MAXCONNS=*) out+="M${kv#MAXCONNS=} " ;;
			WAKE | RESET | QUIT | IDLE | SHUTDOWN) on+="+$(echo "$kv" | tr 'A-Z' 'a-z')" ;;
			CTLFAIL) on+="+ctl" ;;
			esac
		done
		on=${on//+shutdown/+shut}
		printf '%s' "${out}${on}"
		return
		;;
	esac
	for kv in $1; do
		kv=${kv#-D}
		case $kv in
		NW=*) out+="W=${kv#NW=} " ;;
		NC=*) out+="C=${kv#NC=} " ;;
		NA=*) out+="A=${kv#NA=} " ;;
		PIPECAP=*) out+="K=${kv#PIPECAP=} " ;;
		READMAX=*) out+="R=${kv#READMAX=} " ;;
		OVERFLOW=*) out+="O=${kv#OVERFLOW=} " ;;
		esac
	done
	printf '%s' "${out% }"
}

now_ms() { date +%s%3N; }

# verdict OUT prints "holds" or the violated property as pan reported it
# (P1..P10, "lemma", "acceptance" for the LTL formula, "end-state"), or
# "incomplete" when pan could not finish.
verdict() {
	local out=$1 errors
	if grep -q "max search depth too small\|out of memory\|too many processes" "$out"; then
		echo incomplete
		return
	fi
	errors=$(grep -oE 'errors: [0-9]+' "$out" | head -1 | awk '{print $2}')
	if [ -z "$errors" ]; then
		echo incomplete
	elif [ "$errors" = 0 ]; then
		echo holds
	elif grep -q "assertion violated P[0-9]" "$out"; then
		grep -oE "assertion violated P[0-9]+" "$out" | head -1 | awk '{print $3}'
	elif grep -q "assertion violated lemma" "$out"; then
		echo lemma
	elif grep -q "acceptance cycle" "$out"; then
		echo violated
	elif grep -q "invalid end state" "$out"; then
		echo end-state
	else
		echo error
	fi
}

stored() { grep -oE '[0-9.e+]+ states, stored' "$1" | head -1 | awk '{print $1}'; }

# run_row I NAME MACRO BOUNDS WANT_SAFETY WANT_LIVENESS OPT LTL writes row
# I's table line to $tmp/row.I and its counterexample to $tmp/cex.I.
run_row() {
	# A failing grep or tool must not end the row early: results are read
	# from the files, and a missing one is reported as the row's failure.
	set +e
	local i=$1 name=$2 macro=$3 bounds=$4 want_s=$5 want_l=$6 opt=$7 ltl=$8
	local dir="$tmp/$i" t0 t1 lemmas="" got_s got_l states_s states_l trail="-" ok=ok
	mkdir -p "$dir/safety" "$dir/ltl"
	cp "$here/dispatch.pml" "$dir/safety/"
	cp "$here/dispatch.pml" "$dir/ltl/"
	[ "$want_s" = holds ] && lemmas="-DLEMMAS"
	t0=$(now_ms)
	# shellcheck disable=SC2086 # bounds and lemmas are word lists
	(
		cd "$dir/safety"
		spin -a "-D$macro" $lemmas $bounds dispatch.pml >spin.out 2>&1 &&
			$cc -w $opt -DBFS -DSAFETY -DNOFAIR -o pan pan.c >cc.out 2>&1 &&
			./pan -m100000 -w20 >pan.out 2>&1
	) || echo "tool failure" >>"$dir/safety/pan.out"
	got_s=$(verdict "$dir/safety/pan.out")
	states_s=$(stored "$dir/safety/pan.out")
	if [ -f "$dir/safety/dispatch.pml.trail" ]; then
		# shellcheck disable=SC2086
		(cd "$dir/safety" && spin -t "-D$macro" $lemmas $bounds dispatch.pml >replay.out 2>&1)
		local events steps
		events=$(grep -cE '^ +[A-Z][A-Za-z.]* ' "$dir/safety/replay.out")
		steps=$(grep -oE 'trail ends after [0-9]+ steps' "$dir/safety/replay.out" | awk '{print $4}')
		trail="$events/${steps:-?}"
		{
			echo "== $name ($(bounds_text "$bounds")): $got_s violated after $events steps"
			grep -E '^ +[A-Z][A-Za-z.]* ' "$dir/safety/replay.out" | sed 's/^ *//' | nl -w3 -s'  '
			grep -E 'text of failed assertion' "$dir/safety/replay.out" | sed 's/^spin: //'
		} >"$tmp/cex.$i"
	fi
	# Bugs again without the Monitor: refuted by the quiescence check alone,
	# the form model/ checks, so the trail lengths compare with modelcheck's.
	local quiet="-"
	if [ "$want_s" != holds ] && [ "$ltl" = P4 ]; then
		mkdir -p "$dir/quiet"
		cp "$here/dispatch.pml" "$dir/quiet/"
		# shellcheck disable=SC2086
		(
			cd "$dir/quiet"
			spin -a "-D$macro" -DNO_MONITOR $bounds dispatch.pml >spin.out 2>&1 &&
				$cc -w $opt -DBFS -DSAFETY -DNOFAIR -o pan pan.c >cc.out 2>&1 &&
				./pan -m100000 -w20 >pan.out 2>&1 &&
				{ [ ! -f dispatch.pml.trail ] || spin -t "-D$macro" -DNO_MONITOR $bounds dispatch.pml >replay.out 2>&1; }
		) || echo "tool failure" >>"$dir/quiet/pan.out"
		local got_q
		got_q=$(verdict "$dir/quiet/pan.out")
		quiet="$got_q/$(grep -cE '^ +[A-Z][A-Za-z.]* ' "$dir/quiet/replay.out" 2>/dev/null)"
		[ "$got_q" = "$want_s" ] || ok=UNEXPECTED
	fi
	got_l="-" states_l="-"
	if [ "$ltl" != - ]; then
		# shellcheck disable=SC2086
		(
			cd "$dir/ltl"
			spin -a "-D$macro" "-DLTL_$ltl" $bounds dispatch.pml >spin.out 2>&1 &&
				$cc -w $opt -DNFAIR=3 -o pan pan.c >cc.out 2>&1 &&
				./pan -a -f -A -m100000 -w20 >pan.out 2>&1
		) || echo "tool failure" >>"$dir/ltl/pan.out"
		got_l=$(verdict "$dir/ltl/pan.out")
		states_l=$(stored "$dir/ltl/pan.out")
		local depth
		depth=$(grep -oE 'acceptance cycle \(at depth [0-9]+\)' "$dir/ltl/pan.out" | grep -oE '[0-9]+')
		[ -n "$depth" ] && got_l="violated@$depth"
		got_l="$ltl:$got_l"
		want_l="$ltl:$want_l"
	fi
	t1=$(now_ms)
	[ "$got_s" = "$want_s" ] || ok=UNEXPECTED
	[ "${got_l%@*}" = "$want_l" ] || ok=UNEXPECTED
	local want_text=$want_s
	[ "$want_s" != holds ] && want_text="$want_s violated"
	local got_text=$got_s
	case $got_s in P[0-9]*) got_text="$got_s violated" ;; esac
	printf '%-32s %-40s %-13s %-13s %8s %8s %8s %-16s %9s %6.1fs  %s\n' \
		"$name" "$(bounds_text "$bounds")" "$want_text" "$got_text" "${states_s:-?}" "$trail" "$quiet" \
		"$got_l" "${states_l:-?}" "$(awk "BEGIN{print ($t1-$t0)/1000}")" "$ok" >"$tmp/row.$i"
	if [ "$ok" != ok ]; then
		{
			echo "---- $name: safety run"
			tail -n 30 "$dir/safety/spin.out" "$dir/safety/cc.out" "$dir/safety/pan.out" 2>/dev/null
			echo "---- $name: liveness run"
			tail -n 30 "$dir/ltl/spin.out" "$dir/ltl/cc.out" "$dir/ltl/pan.out" 2>/dev/null
			[ -d "$dir/quiet" ] && echo "---- $name: quiescence run" &&
				tail -n 30 "$dir/quiet/spin.out" "$dir/quiet/cc.out" "$dir/quiet/pan.out" 2>/dev/null
		} >"$tmp/fail.$i"
	fi
}

start=$(now_ms)
i=0
for row in "${rows[@]}"; do
	IFS='|' read -r name macro bounds want_s want_l opt ltl <<<"$row"
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n || true
	done
	run_row "$i" "$name" "$macro" "$bounds" "$want_s" "$want_l" "$opt" "$ltl" &
	i=$((i + 1))
done
wait

printf '%-32s %-40s %-13s %-13s %8s %8s %8s %-16s %9s %7s  %s\n' \
	design bounds expected safety states trail quiesc. "LTL" states time verdict
status=0
for ((j = 0; j < i; j++)); do
	if [ ! -s "$tmp/row.$j" ]; then
		echo "row $j: no result (${rows[$j]})"
		status=1
		continue
	fi
	cat "$tmp/row.$j"
	if grep -q 'UNEXPECTED$' "$tmp/row.$j"; then
		status=1
	fi
done
echo
echo "bounds: W workers, C connections, A acceptors, K pipe capacity (msgring: CQ entries), R tokens per pipe read (32 if absent), O completions the kernel holds back (msgring);"
echo "  lifecycle: C peers, F fd numbers, S units sent, T calls, K send buffer, B MaxOutput,"
echo "  E echo, R units per request, M MaxConns, then the switches (model.LifeBounds)."
echo "safety: breadth-first, assertions + Monitor + quiescence (+ LEMMAS on correct designs);"
echo "  trail = steps of the shortest counterexample / spin's transitions in it."
echo "quiesc.: the bug refuted again without the Monitor, by the quiescence check"
echo "  (model/'s form of P4): property / steps, each Wait a step model/ folds; hand-off bugs only."
echo "LTL: P4, <> (every connection registered); P8, [] (a task listed -> <> run or dropped);"
echo "  pan -a -f (weak fairness); - when the row has none;"
echo "  violated@N = acceptance cycle found at depth N."
if [ "$verbose" = 1 ]; then
	echo
	cat "$tmp"/cex.* 2>/dev/null || true
fi
for f in "$tmp"/fail.*; do
	[ -f "$f" ] && cat "$f"
done
echo "spin: $(ls "$tmp"/row.* | wc -l) runs in $(awk "BEGIN{print ($(now_ms)-$start)/1000}")s"
if [ "$status" != 0 ]; then
	echo "spec/check.sh: a design did not give its expected result" >&2
fi
exit "$status"
