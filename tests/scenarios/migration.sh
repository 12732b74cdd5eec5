# SPDX-License-Identifier: GPL-2.0-only
# Helpers for the migration scenarios (sourced after lib.sh).
VEC=/usr/libexec/ssi/vecsum
KNOB=/sys/kernel/ssi/ghost

# alive, start, wait_line, status, result: lib.sh.
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
