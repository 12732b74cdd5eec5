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

nodes() { $CLUSTER status | awk '{print $2}' | wc -l; }
