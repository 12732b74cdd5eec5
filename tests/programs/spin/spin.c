// SPDX-License-Identifier: GPL-2.0-only
/*
 * spin N: a CPU-bound job for the global scheduler's tests and benchmark.
 * Runs N million rounds of a 64-bit xorshift mix, each depending on the
 * last, and prints its PID at the start and a result that depends on every
 * round: the same on every run, wherever (and on however many nodes) it
 * ran. Single-threaded, no pipe or socket of its own: it can migrate.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100;
	uint64_t x = 0x9e3779b97f4a7c15ULL, sum = 0;
	long i, j;

	if (n <= 0)
		return 2;
	printf("spin pid %d: %ld million rounds\n", getpid(), n);
	fflush(stdout);
	for (i = 0; i < n; i++) {
		for (j = 0; j < 1000000; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			sum += x >> 32;
		}
	}
	printf("result: n=%ld x=%016llx sum=%016llx\n", n, (unsigned long long)x,
	       (unsigned long long)sum);
	return 0;
}
