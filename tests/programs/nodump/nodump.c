// SPDX-License-Identifier: GPL-2.0-only
/*
 * nodump SECONDS: clears its dumpable flag, as a set-user-ID program's
 * process has it, then sleeps. ptrace's rules then keep even its owner from
 * reading its memory files (/proc/PID/environ) on its node.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		fprintf(stderr, "usage: nodump SECONDS\n");
		return 2;
	}
	sleep(atoi(argv[1]));
	return 0;
}
