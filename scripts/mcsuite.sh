#!/usr/bin/env bash
# mcsuite.sh MCSRC HANDOFFD: memcached's own test suite (MCSRC/t/*.t, from a
# checkout of memcached's repository at 1.6.18) against Debian's memcached and
# against handoffd, one file at a time, in the same run; prints a table of
# file, memcached, handoffd. Used by `make mcsuite MCSRC=DIR`.
#
# The suite runs from a build directory of memcached's: it starts
# ./memcached-debug under ./timedrun. Each server gets a scratch copy of that
# directory holding the checkout's t/, timedrun built from the checkout's
# timedrun.c, and a stand-in memcached-debug:
#   - for memcached, it execs Debian's memcached with the suite's arguments
#     less "-o relaxed_privileges", which only memcached's debug build knows;
#   - for handoffd, it execs handoffd with them, less any "-U PORT": UDP is
#     not served, and -U is the one flag handoffd refuses that the suite's
#     helper adds to every TCP server.
# Nothing of memcached's is written into this repository; the copies live in
# a temporary directory removed on exit.
#
# Two files bind every interface as written, and are rewritten to loopback
# in the copy: stats-conns.t (-l 0.0.0.0) and issue_67.t (no -l at all, and a
# probe bind to INADDR_ANY). Every file runs under its own bound (FILE_TIMEOUT
# seconds, default 240) in its own process group, which is killed afterwards,
# so a server the file left behind does not outlive it.
#
# Exit status: 0 when every file that passes on memcached passes on handoffd
# or is listed in EXPECTED (a file of "name.t reason" lines); 1 otherwise.
set -uo pipefail

usage() { echo "usage: mcsuite.sh MCSRC HANDOFFD [EXPECTED]" >&2; exit 2; }
[ $# -ge 2 ] || usage
src=$(cd "$1" && pwd) || usage
handoffd=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
expected=${3:-}
bound=${FILE_TIMEOUT:-240}
only=${MCSUITE_FILES:-}

[ -f "$src/t/lib/MemcachedTest.pm" ] && [ -f "$src/timedrun.c" ] || {
	echo "mcsuite.sh: $src is not a checkout of memcached's repository (no t/lib/MemcachedTest.pm or timedrun.c)" >&2
	exit 2
}
[ -x "$handoffd" ] || { echo "mcsuite.sh: $handoffd is not an executable" >&2; exit 2; }
memcached=$(command -v memcached) || { echo "mcsuite.sh: memcached is not on PATH (make deps)" >&2; exit 2; }
version=$(git -C "$src" describe --tags --exact-match 2>/dev/null || echo unknown)
[ "$version" = 1.6.18 ] || echo "mcsuite.sh: warning: $src is at '$version', not the tag 1.6.18 handoffd speaks" >&2

work=$(mktemp -d)
# MCSUITE_LOGS=DIR keeps each file's output there as SERVER.FILE.log.
logs=${MCSUITE_LOGS:-}
trap '[ -n "$logs" ] && mkdir -p "$logs" && cp "$work"/*.log "$logs"/ 2>/dev/null; rm -rf "$work"' EXIT

# builddir NAME EXEC-LINE: a scratch build directory whose memcached-debug
# runs EXEC-LINE with the suite's arguments in "$@".
builddir() {
	local dir=$work/$1
	mkdir -p "$dir"
	cp -R "$src/t" "$dir/t"
	# line-lengths.t reads memcached's own protocol.txt.
	cp -R "$src/doc" "$dir/doc"
	gcc -O2 -o "$dir/timedrun" "$src/timedrun.c" || { echo "mcsuite.sh: cannot build timedrun" >&2; exit 2; }
	printf '#!/usr/bin/env bash\n%s\n' "$2" >"$dir/memcached-debug"
	chmod +x "$dir/memcached-debug"
	# Loopback only: the two files that would bind every interface.
	sed -i 's/-l 0\.0\.0\.0/-l 127.0.0.1/; s/\(tcp\|udp\):0\.0\.0\.0:/\1:127.0.0.1:/g' "$dir/t/stats-conns.t"
	sed -i 's/INADDR_ANY/INADDR_LOOPBACK/g; s/\$args \.= " -o relaxed_privileges";/$args .= " -l 127.0.0.1 -o relaxed_privileges";/' "$dir/t/issue_67.t"
	grep -q 'INADDR_LOOPBACK' "$dir/t/issue_67.t" && grep -q -- '-l 127.0.0.1 -o relaxed' "$dir/t/issue_67.t" &&
		! grep -q '0\.0\.0\.0' "$dir/t/stats-conns.t" || {
		echo "mcsuite.sh: the loopback rewrite of issue_67.t or stats-conns.t no longer matches; not running" >&2
		exit 2
	}
}

# standin EXEC PATTERN: a memcached-debug body that execs EXEC with the
# suite's arguments less each flag-and-value pair the case PATTERN matches.
standin() {
	printf 'args=()\nwhile [ $# -gt 0 ]; do\n\tcase "$1 ${2:-}" in\n\t%s) shift 2; continue ;;\n\tesac\n\targs+=("$1"); shift\ndone\nexec %q "${args[@]}"\n' "$2" "$1"
}
builddir memcached "$(standin "$memcached" '"-o relaxed_privileges"')"
builddir handoffd "$(standin "$handoffd" '"-U "*')"

# runfile SERVER FILE: prints pass, skip or fail for FILE against SERVER,
# leaving its output in $work/SERVER.FILE.log.
runfile() {
	local dir=$work/$1 f=$2 log=$work/$1.$2.log rc
	(cd "$dir" && exec setsid timeout -k 5 "$bound" prove "t/$f") >"$log" 2>&1 &
	local pid=$!
	wait $pid
	rc=$?
	# setsid made timeout's pid the group's id: kill what the file left.
	pkill -KILL -g "$pid" 2>/dev/null
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		echo timeout
	elif [ $rc -ne 0 ]; then
		echo fail
	elif grep -q 'skipped:' "$log"; then
		echo skip
	else
		echo pass
	fi
}

files=$(cd "$src/t" && ls *.t)
[ -n "$only" ] && files=$only
printf '%-28s %-9s %-9s %s\n' file memcached handoffd reason
bad=0 npass_m=0 npass_h=0 n=0
for f in $files; do
	m=$(runfile memcached "$f")
	h=$(runfile handoffd "$f")
	n=$((n + 1))
	[ "$m" = pass ] && npass_m=$((npass_m + 1))
	[ "$h" = pass ] && npass_h=$((npass_h + 1))
	reason=
	[ -n "$expected" ] && reason=$(awk -v f="$f" '$1 == f { $1 = ""; sub(/^ /, ""); print; exit }' "$expected")
	if [ "$m" = pass ] && [ "$h" != pass ]; then
		if [ -z "$reason" ]; then
			reason="UNEXPECTED: see below"
			bad=1
		fi
	elif [ -n "$reason" ] && [ "$h" = pass ]; then
		reason="(listed in $(basename "$expected"), but passes)"
	elif [ "$m" = "$h" ]; then
		reason=
	fi
	printf '%-28s %-9s %-9s %s\n' "$f" "$m" "$h" "$reason"
	if [ "$reason" = "UNEXPECTED: see below" ]; then
		grep -E '^(not ok|#|Failed|Dubious)' "$work/handoffd.$f.log" | head -20 | sed 's/^/    | /'
	fi
done
echo "passed: memcached $npass_m of $n, handoffd $npass_h of $n"
exit $bad
