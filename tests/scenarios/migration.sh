# SPDX-License-Identifier: GPL-2.0-only
# Helpers for the migration scenarios (sourced after lib.sh).
VEC=/usr/libexec/ssi/vecsum
KNOB=/sys/kernel/ssi/ghost

alive() { on "$1" sh -c "test -d /proc/$2" 2>/dev/null; }
# start K OUT CMD...: CMD detached on node K under a shell that waits for
# it and writes its exit status to OUT.status; prints CMD's PID.
start() {
	local k=$1 out=$2
	shift 2
	on "$k" sh -c "rm -f $out $out.status $out.pid; setsid sh -c '$* >$out 2>&1 & echo \$! >$out.pid; wait \$!; echo \$? >$out.status' </dev/null >/dev/null 2>&1 &
		for i in \$(seq 50); do test -s $out.pid && break; sleep 0.1; done; cat $out.pid"
}
# wait_line K FILE REGEX [SECONDS]
wait_line() {
	local end=$((SECONDS + ${4:-60}))
	while ((SECONDS < end)); do
		on "$1" grep -Eq "$3" "$2" 2>/dev/null && return 0
		sleep 0.2
	done
	on "$1" cat "$2" >&2 || true
	fail "node $1: no line matching [$3] in $2"
}
# status K OUT [SECONDS]: the exit status the parent on node K reaped.
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
result() { on "$1" grep '^result:' "$2"; }
# mig K NAME: a row of node K's /sys/kernel/ssi/ghost/migration.
mig() { on "$1" cat $KNOB/migration | awk -v k="$2" '$1 == k { print $2 }'; }
# pages K NAME: a row of node K's /sys/kernel/ssi/ghost/pages.
pages() { on "$1" cat $KNOB/pages | awk -v k="$2" '$1 == k { print $2 }'; }
# until_eq WHAT SECONDS VALUE CMD...: waits until CMD prints VALUE.
until_eq() {
	local what=$1 end=$((SECONDS + $2)) want=$3 got
	shift 3
	while ((SECONDS < end)); do
		got=$("$@" 2>/dev/null) || true
		[[ "$got" == "$want" ]] && { echo "ok: $what"; return 0; }
		sleep 0.2
	done
	fail "$what: expected [$want], got [$got] after a wait"
}
