// SPDX-License-Identifier: GPL-2.0-only
/*
 * execloop PLAIN SETUID: runs execve() for ever, alternating two copies of
 * itself. Run as its owner (real and effective uid equal) it executes
 * SETUID, a set-user-ID copy; run as set-user-ID (effective uid not the
 * real one) it drops back to the real uid and executes PLAIN. A user who
 * may checkpoint PLAIN must never get an image of SETUID (issue 11, hole
 * 4: the permission check and the dump are not one step).
 */
#define _GNU_SOURCE
#include <unistd.h>

int main(int argc, char **argv)
{
	uid_t r = getuid();

	if (argc < 3)
		return 2;
	if (geteuid() != r) {
		if (setresuid(r, r, r))
			return 1;
		execv(argv[1], argv);
	} else {
		execv(argv[2], argv);
	}
	return 1;
}
