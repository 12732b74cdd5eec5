// SPDX-License-Identifier: GPL-2.0-only
/*
 * vecsum N [STEPS] [DELAY_MS] [PAUSE_MS] [POINT]: the seed's vector sum. Adds two
 * vectors of N bytes in STEPS steps (a[i] += b[i]), pausing DELAY_MS between
 * steps so that it can be checkpointed or migrated mid-computation, and
 * prints its progress and a result that depends on every byte of memory, the
 * FPU and the TLS: the same on every run, wherever it ran. Prints "SIGUSR1
 * handled" after a SIGUSR1 (a handler: the signal state must survive).
 *
 * With PAUSE_MS > 0 it also stops PAUSE_MS at each of the seed study's four
 * migration points, after printing "point: NAME": before-init (vectors
 * allocated, not written), after-init, mid (after step STEPS/2), after-compute
 * (every step done, result not computed); with POINT, only at that one (the
 * others are printed, not paused at). A pause or delay interrupted by a
 * checkpoint or a signal sleeps what remains of it (nanosleep's remainder),
 * so the program's own run time does not depend on where it was frozen.
 * SIGUSR2 ends the pause or delay under way and skips every later one (the
 * result is the same): a scenario done with it ends it without waiting.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static __thread uint64_t steps_done; /* lives at the fs base */
static volatile sig_atomic_t usr1, hurry;

static void on_usr1(int sig)
{
	(void)sig;
	usr1 = 1;
}

static void on_usr2(int sig)
{
	(void)sig;
	hurry = 1;
}

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (!hurry && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static const char *only;

static void point(long pause, const char *name)
{
	if (pause <= 0)
		return;
	printf("point: %s\n", name);
	fflush(stdout);
	if (!only || !strcmp(only, name))
		nap(pause);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 16384;
	int steps = argc > 2 ? atoi(argv[2]) : 20;
	long delay = argc > 3 ? atol(argv[3]) : 300;
	long pause = argc > 4 ? atol(argv[4]) : 0;
	unsigned char *a = malloc(n), *b = malloc(n);
	volatile double avg = 0;
	uint64_t sum = 0, fnv = 0xcbf29ce484222325ULL;
	size_t i, chunk = (n + steps - 1) / steps;
	int k;

	if (!a || !b || n == 0 || steps <= 0)
		return 2;
	only = argc > 5 ? argv[5] : NULL;
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	printf("vecsum pid %d: 2 x %zu bytes in %d steps\n", getpid(), n, steps);
	fflush(stdout);
	point(pause, "before-init");
	for (i = 0; i < n; i++) {
		a[i] = (unsigned char)(i * 7 + 1);
		b[i] = (unsigned char)(i * 13 + 5);
	}
	point(pause, "after-init");
	for (k = 0; k < steps; k++) {
		size_t lo = k * chunk, hi = lo + chunk > n ? n : lo + chunk;
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
		if (k + 1 == steps / 2)
			point(pause, "mid");
		nap(delay);
	}
	point(pause, "after-compute");
	for (i = 0; i < n; i++)
		fnv = (fnv ^ a[i]) * 0x100000001b3ULL;
	printf("result: n=%zu sum=%llu fnv=%016llx avg=%.6f steps=%llu\n", n,
	       (unsigned long long)sum, (unsigned long long)fnv, avg,
	       (unsigned long long)steps_done);
	return 0;
}
