# SPDX-License-Identifier: GPL-2.0-only
# Helpers for cluster scenarios; tests/run sets $CLUSTER and $SSI_CLUSTER.
set -euo pipefail
: "${CLUSTER:?run through tests/run}"

# N: the cluster's node count (tests/run's SSI_TEST_NODES, default 4); the
# membership scenarios (7x) run on any N >= 4.
N=${SSI_TEST_NODES:-4}

# ids A B: "A A+1 ... B".
ids() { seq -s ' ' "$1" "$2"; }

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	[[ "$2" == "$3" ]] || fail "$1: expected [$2], got [$3]"
	echo "ok: $1"
}

# The exec client (tools/exec/ssi-exec.c, built by make) talks to the
# nodes' exec sockets without starting Python; tools/cluster exec if absent.
SSI_EXEC=${SSI_EXEC:-$(dirname "$0")/../../build/ssi-exec}
CLUSTER_DIR=$($CLUSTER dir 2>/dev/null) || CLUSTER_DIR=

on() { # on K CMD...: run on node K
	local k=$1
	shift
	if [[ -n $CLUSTER_DIR && -x $SSI_EXEC ]]; then
		"$SSI_EXEC" "$CLUSTER_DIR/node$k/exec.sock" "$@"
	else
		$CLUSTER exec "$k" -- "$@"
	fi
}

nodes() { grep -c ready <<<"$($CLUSTER status)"; }

# members K: the ids node K lists as up, space-separated, ascending.
members() {
	on "$1" cat /sys/kernel/ssi/nodes | awk '$3 == "up" { print $1 }' | sort -n | tr '\n' ' ' | sed 's/ $//'
}

# wait_members "K..." "IDS" [SECONDS]: every node K lists exactly IDS up.
# formed NODES WANT SECONDS: waits until every node of NODES lists WANT up.
formed() {
	local nodes=$1 want=$2 end=$((SECONDS + ${3:-30})) k all
	while ((SECONDS < end)); do
		all=1
		for k in $nodes; do
			[[ "$(members "$k")" == "$want" ]] || { all=0; break; }
		done
		((all)) && return 0
		sleep 0.2
	done
	return 1
}

wait_members() {
	local nodes=$1 want=$2 limit=${3:-30} k
	formed "$nodes" "$want" "$limit" && return 0
	for k in $nodes; do echo "node $k: $(on "$k" cat /sys/kernel/ssi/nodes | tr '\n' ';')" >&2; done
	fail "nodes [$nodes] do not all list [$want] up after ${limit}s"
}

# now_ms: host monotonic-enough clock in ms.
now_ms() { date +%s%3N; }

# restore N: boots any of nodes 1..N that a failed scenario left down (all
# together), and waits for the full view (a rebooted node that stays
# "joining" somewhere is a bug to see, not to boot again: it was TIPC's
# multicast method switch, cluster.rs sets replicast).
restore() {
	local n=$1 k ids st down=()
	ids=$(seq -s ' ' 1 "$n")
	st=$($CLUSTER status)
	for k in $ids; do
		grep -q "^node $k\s.*ready" <<<"$st" || down+=("$k")
	done
	# Once more for what did not come up: a boot right after a crash
	# stopped once (80, node 4: "stopped while booting"; not explained).
	if ((${#down[@]})) && ! $CLUSTER start "${down[@]}" >/dev/null; then
		sleep 2
		st=$($CLUSTER status)
		down=()
		for k in $ids; do
			grep -q "^node $k\s.*\(ready\|booting\|running\)" <<<"$st" || down+=("$k")
		done
		((${#down[@]} == 0)) || $CLUSTER start "${down[@]}" >/dev/null
	fi
	wait_members "$ids" "$ids"
}

# last_move K: the time (node K's ms) of the latest move in node K's sched
# moves log, 0 if none. moves_after K T ERE: the moves logged after T that
# match ERE. (The log keeps the latest 32: counting lines would slide.)
last_move() { on "$1" awk '{ t = $1 } END { print t + 0 }' /sys/kernel/ssi/sched/moves; }
moves_after() { on "$1" awk -v t="$2" -v re="$3" '$1 > t && $0 ~ re' /sys/kernel/ssi/sched/moves; }

# as UID K CMD...: CMD on node K as user UID (its own group, no
# supplementary groups, no capabilities), as an attack by a user runs.
as() {
	local who=$1 k=$2
	shift 2
	on "$k" setpriv --reuid="$who" --regid="$who" --clear-groups "$@"
}

# alive K PID: node K sees /proc/PID (it runs it, or lists it from another node).
alive() { on "$1" sh -c "test -d /proc/$2" 2>/dev/null; }

# restored K PID [SECONDS]: node K finished restoring PID (its kernel log
# says "pid PID restored"). A restart's process has its PID from the start
# but the restorer's credentials and name until the restore ends.
restored() {
	local end=$((SECONDS + ${3:-30}))
	while ((SECONDS < end)); do
		on "$1" sh -c "dmesg | grep -q 'pid $2 restored'" && return 0
		sleep 0.1
	done
	fail "node $1: pid $2 not restored"
}

# detach K OUT CMD...: CMD detached on node K (its own session, stdin
# /dev/null, stdout and stderr to OUT); prints its PID.
detach() {
	local k=$1 out=$2
	shift 2
	on "$k" sh -c "setsid $* </dev/null >$out 2>&1 & echo \$!"
}

# start K OUT CMD...: CMD detached on node K under a shell that waits for
# it and writes its exit status to OUT.status; prints CMD's PID.
start() {
	local k=$1 out=$2
	shift 2
	on "$k" sh -c "rm -f $out $out.status $out.pid; setsid sh -c '$* >$out 2>&1 & echo \$! >$out.pid; wait \$!; echo \$? >$out.status' </dev/null >/dev/null 2>&1 &
		for i in \$(seq 50); do test -s $out.pid && break; sleep 0.1; done; cat $out.pid"
}

# wait_line K FILE REGEX [SECONDS]: FILE on node K has a line matching REGEX.
wait_line() {
	local end=$((SECONDS + ${4:-60}))
	while ((SECONDS < end)); do
		on "$1" grep -Eq "$3" "$2" 2>/dev/null && return 0
		sleep 0.2
	done
	on "$1" cat "$2" >&2 || true
	fail "node $1: no line matching [$3] in $2"
}

# status K OUT [SECONDS]: the exit status that start's shell on node K reaped.
status() {
	local end=$((SECONDS + ${3:-120}))
	while ((SECONDS < end)); do
		on "$1" test -s "$2.status" 2>/dev/null && {
			on "$1" cat "$2.status"
			return 0
		}
		sleep 0.3
	done
	fail "node $1: no exit status in $2.status"
}

# result K FILE: the `result:` line a vecsum wrote to FILE on node K.
result() { on "$1" grep '^result:' "$2"; }

# spin_every MAX: the result lines of the host's `spin M every` for some M
# >= MAX. A run of 3000 takes seconds, and its lines are the same for every
# scenario: build/spin-every keeps them (made again if spin is newer).
spin_every() {
	local bin cache m
	bin="$(dirname "$0")/../programs/bin/spin"
	cache="$(dirname "$0")/../../build/spin-every"
	if [[ ! -s $cache || $cache -ot $bin ]] || (($(wc -l <"$cache") < $1)); then
		m=$(($1 * 5 / 4 > 3000 ? $1 * 5 / 4 : 3000))
		"$bin" "$m" every | grep '^result:' >"$cache.$$"
		(($(wc -l <"$cache.$$") == m)) || fail "spin $m every: $(wc -l <"$cache.$$") results"
		mv "$cache.$$" "$cache"
	fi
	cat "$cache"
}

# spun K OUT...: every spin that wrote an OUT on node K (ended by its
# work or by SIGUSR1) exited 0 with the result of an undisturbed run of as
# many rounds: one run of the host's spin gives every count's result.
spun() {
	local k=$1 f r n max=0 all
	local -A res
	shift
	for f in "$@"; do
		expect_eq "$f: exit status" 0 "$(status "$k" "$f" 120)"
		r=$(on "$k" grep '^result:' "$f")
		n=$(sed -n 's/^result: n=\([0-9]*\) .*/\1/p' <<<"$r")
		[[ $n =~ ^[1-9][0-9]*$ ]] || fail "$f: no result after a million rounds: [$r]"
		res[$f]=$r
		((n > max)) && max=$n
	done
	all=$(spin_every "$max")
	for f in "$@"; do
		grep -qxF "${res[$f]}" <<<"$all" || fail "$f: [${res[$f]}] is not an undisturbed run's result"
		echo "ok: $f: ${res[$f]}"
	done
}

# copy K FILE J: FILE of node K to the same path on node J (through the host).
copy() {
	local tmp rc=0
	tmp=$(mktemp)
	on "$1" cat "$2" >"$tmp" && on "$3" sh -c "cat >$2" <"$tmp" || rc=$?
	rm -f "$tmp"
	return "$rc"
}

# proc_state K PID: working and root directories, pending and blocked
# signal sets and two limits of PID, as /proc on node K shows them.
proc_state() {
	on "$1" sh -c "readlink /proc/$2/cwd; readlink /proc/$2/root; grep -E '^(SigPnd|ShdPnd|SigBlk):' /proc/$2/status; grep -E '^Max (open files|core file size)' /proc/$2/limits"
}
