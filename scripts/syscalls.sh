#!/usr/bin/env bash
# syscalls.sh: system calls per request and per short connection, for
# memcached and each handoffd backend, counted by perf's raw_syscalls
# tracepoint on the server process (every thread) while handoff-bench loads
# it on loopback. A run of its own, apart from make bench's CPU figures:
# perf's counting costs the server a little CPU, never a system call.
#
#   bash scripts/syscalls.sh              # about a minute
#   SYSCALLS_REQS=400000 bash scripts/syscalls.sh
#
# Per server: a request run (64 connections, 90% gets of 32-byte values,
# SYSCALLS_REQS requests; the 1,000 sets that preload the keys count too,
# a quarter of a percent) and a connection run (16 dialers, SYSCALLS_CONNS
# connections, each a connect, one request and a close). Prints one line
# per server: syscalls per request, per connection, and the counts.
# Every server gets two threads of work, as in make bench.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
reqs=${SYSCALLS_REQS:-200000}
conns=${SYSCALLS_CONNS:-20000}
work=$(mktemp -d /tmp/handoff-syscalls.XXXXXX)
server_pid=
cleanup() {
	[ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
bash scripts/need.sh memcached memcached
bash scripts/need.sh perf linux-perf
if ! perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
	echo "syscalls: perf cannot count the raw_syscalls tracepoint here (perf_event_paranoid, tracefs)" >&2
	exit 1
fi
$GO build -o "$work/handoff-bench" ./bench
$GO build -o "$work/handoffd" ./impl/cmd/handoffd
user=()
[ "$(id -u)" -eq 0 ] && user=(-u nobody)

# free_port prints a TCP port nothing listens on.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port PORT waits up to 10 s for a listener on 127.0.0.1:PORT.
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "syscalls: nothing listens on port $1 after 10 s" >&2
	return 1
}

# counted PID MODE ARGS...: runs handoff-bench MODE against the server PID
# under perf, and prints "SYSCALLS OPS".
counted() {
	local pid=$1 mode=$2 out=$work/perf.$2
	shift 2
	perf stat -e raw_syscalls:sys_enter -x, -o "$out" -p "$pid" &
	local perf_pid=$!
	sleep 0.3 # perf attached to every thread
	local ops
	ops=$("$work/handoff-bench" "$mode" "$@" -q -json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["Ops"] if not r["Errors"] else -1)')
	kill -INT "$perf_pid"
	wait "$perf_pid" || true
	local n
	n=$(awk -F, '/raw_syscalls:sys_enter/ {print $1}' "$out")
	echo "${n:-0} $ops"
}

printf '%-26s %12s %12s %14s %14s\n' server "per request" "per conn" "syscalls/reqs" "syscalls/conns"
while IFS='|' read -r name cmd; do
	port=$(free_port)
	# shellcheck disable=SC2086 # cmd is a word list
	log=$work/${name//\//_}.log
	${cmd//\{port\}/$port} >"$log" 2>&1 &
	server_pid=$!
	wait_port "$port"
	read -r rs rops < <(counted "$server_pid" req -addr "127.0.0.1:$port" -c 64 -n "$reqs" -d 60s -get 0.9 -value 32)
	read -r cs cops < <(counted "$server_pid" conn -addr "127.0.0.1:$port" -c 16 -n "$conns" -d 60s)
	kill "$server_pid"
	wait "$server_pid" 2>/dev/null || true
	server_pid=
	if [ "$rops" -le 0 ] || [ "$cops" -le 0 ]; then
		echo "syscalls: $name: a load run failed:" >&2
		tail -5 "$log" >&2
		exit 1
	fi
	awk -v n="$name" -v rs="$rs" -v ro="$rops" -v cs="$cs" -v co="$cops" \
		'BEGIN { printf "%-26s %12.3f %12.2f %14s %14s\n", n, rs/ro, cs/co, rs "/" ro, cs "/" co }'
done <<EOF
memcached|memcached ${user[*]} -l 127.0.0.1 -p {port} -U 0 -t 2 -c 10000
handoffd/pipe+per-conn|$work/handoffd ${user[*]} -l 127.0.0.1 -p {port} -t 2 -c 10000 --io epoll
handoffd/eventfd+coalesced|$work/handoffd ${user[*]} -l 127.0.0.1 -p {port} -t 2 -c 10000 --io epoll --notify eventfd --wakeup coalesced
handoffd/uring|$work/handoffd ${user[*]} -l 127.0.0.1 -p {port} -t 2 -c 10000 --io uring
EOF
