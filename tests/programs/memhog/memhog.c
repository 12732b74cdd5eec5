// SPDX-License-Identifier: GPL-2.0-only
/*
 * memhog MB [DELAY_MS]: a process that holds MB MiB of resident anonymous
 * memory, for the global scheduler's memory pressure relief. It fills the
 * buffer with a pattern, prints "ready", then keeps touching it: each
 * round writes one word of every page (a page that is not written is
 * still resident; one that is written must move with the process), then
 * sleeps DELAY_MS (default 100). It keeps a running sum of every word as
 * it writes them.
 *
 * SIGUSR1: at the end of the round, it sums the whole buffer again and
 * prints "memhog: rounds R sum S intact" (or "CORRUPT" if the buffer's
 * sum is not the running one), then goes on. SIGUSR2: the same, then it
 * exits (0 if intact, 1 if not). `memhog MB ref R` prints the sum after
 * R rounds without sleeping: what the tests compare with.
 *
 * Single-threaded, no pipe or socket of its own: it can migrate.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE_WORDS 512 /* 64-bit words in a 4 KiB page */

static volatile sig_atomic_t report, quit;

static void on_signal(int sig)
{
	report = 1;
	if (sig == SIGUSR2)
		quit = 1;
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	long mb = argc > 1 ? atol(argv[1]) : 64;
	int ref = argc > 3 && !strcmp(argv[2], "ref");
	long delay = argc > 2 && !ref ? atol(argv[2]) : 100;
	long want = ref ? atol(argv[3]) : -1;
	size_t words, pages, i, p;
	uint64_t *w, sum = 0, check;
	struct sigaction sa;
	long r;

	if (mb <= 0 || delay < 0 || (ref && want < 0))
		return 2;
	words = (size_t)mb << 17;
	pages = words / PAGE_WORDS;
	w = mmap(NULL, words * 8, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED) {
		perror("memhog: mmap");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	if (!ref) {
		printf("memhog pid %d: %ld MiB\n", getpid(), mb);
		fflush(stdout);
	}
	for (i = 0; i < words; i++) {
		w[i] = mix(i);
		sum += w[i];
	}
	if (!ref) {
		printf("ready\n");
		fflush(stdout);
	}
	for (r = 1; want < 0 || r <= want; r++) {
		for (p = 0; p < pages; p++) {
			uint64_t *x = &w[p * PAGE_WORDS + (size_t)r % PAGE_WORDS];
			uint64_t old = *x;

			*x = old * 6364136223846793005ULL + (uint64_t)r;
			sum += *x - old;
		}
		if (report) {
			report = 0;
			check = 0;
			for (i = 0; i < words; i++)
				check += w[i];
			printf("memhog: rounds %ld sum %016llx %s\n", r,
			       (unsigned long long)check,
			       check == sum ? "intact" : "CORRUPT");
			fflush(stdout);
			if (quit)
				return check == sum ? 0 : 1;
		}
		if (!ref)
			nap(delay);
	}
	printf("memhog: rounds %ld sum %016llx\n", want,
	       (unsigned long long)sum);
	return 0;
}
