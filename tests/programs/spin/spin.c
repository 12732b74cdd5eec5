// SPDX-License-Identifier: GPL-2.0-only
/*
 * spin N: a CPU-bound job for the global scheduler's tests and benchmark.
 * Runs N million rounds of a 64-bit xorshift mix, each depending on the
 * last, and prints its PID at the start and a result that depends on every
 * round: the same on every run, wherever (and on however many nodes) it
 * ran. SIGUSR1 ends it after the current million: the result then names the
 * rounds it ran and equals that of `spin` with that many. `spin N every`
 * prints the result after every million (what tests compare stopped runs
 * with). Single-threaded, no pipe or socket of its own: it can migrate.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_usr1(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100;
	uint64_t x = 0x9e3779b97f4a7c15ULL, sum = 0;
	struct sigaction sa;
	int every = argc > 2 && !strcmp(argv[2], "every");
	long i, j;

	if (n <= 0)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	printf("spin pid %d: %ld million rounds\n", getpid(), n);
	fflush(stdout);
	for (i = 0; i < n && !stop; i++) {
		for (j = 0; j < 1000000; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			sum += x >> 32;
		}
		if (every && i + 1 < n)
			printf("result: n=%ld x=%016llx sum=%016llx\n", i + 1,
			       (unsigned long long)x, (unsigned long long)sum);
	}
	printf("result: n=%ld x=%016llx sum=%016llx\n", i, (unsigned long long)x,
	       (unsigned long long)sum);
	return 0;
}
