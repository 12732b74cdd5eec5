// SPDX-License-Identifier: GPL-2.0-only
/*
 * vecsum N [STEPS] [DELAY_MS]: the seed's vector sum. Adds two vectors of
 * N bytes in STEPS steps (a[i] += b[i]), pausing DELAY_MS between steps so
 * that it can be checkpointed or migrated mid-computation, and prints its
 * progress and a result that depends on every byte of memory, the FPU and
 * the TLS: the same on every run, wherever it ran. Prints "SIGUSR1
 * handled" after a SIGUSR1 (a handler: the signal state must survive).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static __thread uint64_t steps_done; /* lives at the fs base */
static volatile sig_atomic_t usr1;

static void on_usr1(int sig)
{
	(void)sig;
	usr1 = 1;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 16384;
	int steps = argc > 2 ? atoi(argv[2]) : 20;
	long delay = argc > 3 ? atol(argv[3]) : 300;
	unsigned char *a = malloc(n), *b = malloc(n);
	volatile double avg = 0;
	uint64_t sum = 0, fnv = 0xcbf29ce484222325ULL;
	size_t i, chunk = (n + steps - 1) / steps;
	int k;

	if (!a || !b || n == 0 || steps <= 0)
		return 2;
	signal(SIGUSR1, on_usr1);
	printf("vecsum pid %d: 2 x %zu bytes in %d steps\n", getpid(), n, steps);
	fflush(stdout);
	for (i = 0; i < n; i++) {
		a[i] = (unsigned char)(i * 7 + 1);
		b[i] = (unsigned char)(i * 13 + 5);
	}
	for (k = 0; k < steps; k++) {
		size_t lo = k * chunk, hi = lo + chunk > n ? n : lo + chunk;
		struct timespec ts = { delay / 1000, (delay % 1000) * 1000000L };

		for (i = lo; i < hi; i++) {
			sum += (uint64_t)a[i] + b[i];
			a[i] = (unsigned char)(a[i] + b[i]);
		}
		avg += (double)sum / (double)(hi ? hi : 1);
		steps_done++;
		if (usr1) {
			usr1 = 0;
			printf("SIGUSR1 handled\n");
		}
		printf("step %d/%d\n", k + 1, steps);
		fflush(stdout);
		nanosleep(&ts, NULL);
	}
	for (i = 0; i < n; i++)
		fnv = (fnv ^ a[i]) * 0x100000001b3ULL;
	printf("result: n=%zu sum=%llu fnv=%016llx avg=%.6f steps=%llu\n", n,
	       (unsigned long long)sum, (unsigned long long)fnv, avg,
	       (unsigned long long)steps_done);
	return 0;
}
