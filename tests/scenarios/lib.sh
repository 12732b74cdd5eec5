# SPDX-License-Identifier: GPL-2.0-only
# Helpers for cluster scenarios; tests/run sets $CLUSTER and $SSI_CLUSTER.
set -euo pipefail
: "${CLUSTER:?run through tests/run}"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	[[ "$2" == "$3" ]] || fail "$1: expected [$2], got [$3]"
	echo "ok: $1"
}

on() { # on K CMD...: run on node K
	local k=$1
	shift
	$CLUSTER exec "$k" -- "$@"
}

nodes() { grep -c ready <<<"$($CLUSTER status)"; }

# members K: the ids node K lists as up, space-separated, ascending.
members() {
	on "$1" cat /sys/kernel/ssi/nodes | awk '$3 == "up" { print $1 }' | sort -n | tr '\n' ' ' | sed 's/ $//'
}

# wait_members "K..." "IDS" [SECONDS]: every node K lists exactly IDS up.
wait_members() {
	local nodes=$1 want=$2 limit=${3:-30} k all
	local end=$((SECONDS + limit))
	while ((SECONDS < end)); do
		all=1
		for k in $nodes; do
			[[ "$(members "$k")" == "$want" ]] || { all=0; break; }
		done
		((all)) && return 0
		sleep 0.2
	done
	for k in $nodes; do echo "node $k: $(on "$k" cat /sys/kernel/ssi/nodes | tr '\n' ';')" >&2; done
	fail "nodes [$nodes] do not all list [$want] up after ${limit}s"
}

# now_ms: host monotonic-enough clock in ms.
now_ms() { date +%s%3N; }

# restore N: boots any of nodes 1..N that a failed scenario left down, and
# waits for the full view.
restore() {
	local n=$1 k ids
	for k in $(seq 1 "$n"); do
		grep -q "^node $k\s.*ready" <<<"$($CLUSTER status)" || $CLUSTER start "$k" >/dev/null
	done
	ids=$(seq -s ' ' 1 "$n")
	wait_members "$ids" "$ids"
}
