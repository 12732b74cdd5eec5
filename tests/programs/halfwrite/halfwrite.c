// SPDX-License-Identifier: GPL-2.0-only
/*
 * halfwrite FILE LINES DELAY_MS: writes "line K" for K = 1..LINES to FILE
 * through one descriptor, pausing DELAY_MS after each line, so that it can
 * be migrated half-way: the file must end up whole, each line once, in
 * order. Prints "halfwrite pid P" first and "done" last on stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	int lines = argc > 2 ? atoi(argv[2]) : 20;
	long delay = argc > 3 ? atol(argv[3]) : 200;
	char buf[64];
	int fd, k, n;

	if (argc < 2)
		return 2;
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	printf("halfwrite pid %d\n", getpid());
	fflush(stdout);
	for (k = 1; k <= lines; k++) {
		n = snprintf(buf, sizeof(buf), "line %d\n", k);
		if (write(fd, buf, n) != n) {
			perror("write");
			return 1;
		}
		nap(delay);
	}
	if (close(fd)) {
		perror("close");
		return 1;
	}
	printf("done\n");
	return 0;
}
