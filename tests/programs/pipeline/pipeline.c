// SPDX-License-Identifier: GPL-2.0-only
/*
 * pipeline: the members of a shell pipeline, and a process that holds
 * both ends of a pipe (tests/scenarios/104-dynstreams-pipeline).
 *
 * pipeline produce TOTAL CHUNK DELAY_MS
 *   writes TOTAL bytes of a known pattern to stdout in writes of CHUNK
 *   bytes, pausing DELAY_MS after each (SIGUSR2 ends the pauses: it writes
 *   the rest at once); prints "producer PID" and at the end "producer
 *   wrote N" on stderr.
 * pipeline filter
 *   copies stdin to stdout, each byte i xored with (i * 13) & 0xff;
 *   prints "filter PID" and "filter N" on stderr.
 * pipeline consume TOTAL
 *   checks that stdin is the filtered pattern, byte for byte, and prints
 *   "consumer read N ok" (N == TOTAL, exit 0), "consumer read N short" or
 *   "consumer bad at OFFSET" (exit 1) on stdout.
 * pipeline self TOTAL CHUNK DELAY_MS
 *   holds both ends of one pipe and keeps CHUNK to 2 * CHUNK bytes in it:
 *   writes the pattern in chunks one ahead of what it reads back and
 *   checks; prints "self PID", then "self N ok" or "self bad at OFFSET".
 * pipeline shared SECONDS
 *   makes a pipe and forks: parent and child both hold both ends (the
 *   same open files) for SECONDS; prints "shared CHILD".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static unsigned char pattern(unsigned long i)
{
	return (unsigned char)(i * 7 + i / 251);
}

static unsigned char mask(unsigned long i)
{
	return (unsigned char)((i * 13) & 0xff);
}

static volatile sig_atomic_t hurry;

static void on_usr2(int sig)
{
	(void)sig;
	hurry = 1;
}

static void nap(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	while (!hurry && nanosleep(&t, &t) && errno == EINTR)
		;
}

static int put(int fd, const unsigned char *b, size_t n)
{
	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= w;
	}
	return 0;
}

static ssize_t get(int fd, unsigned char *b, size_t n)
{
	for (;;) {
		ssize_t r = read(fd, b, n);

		if (r < 0 && errno == EINTR)
			continue;
		return r;
	}
}

static int produce(unsigned long total, size_t chunk, long delay)
{
	unsigned char *b = malloc(chunk);
	unsigned long i = 0;

	signal(SIGUSR2, on_usr2);
	fprintf(stderr, "producer %d\n", getpid());
	while (b && i < total) {
		size_t n = total - i < chunk ? total - i : chunk;

		for (size_t k = 0; k < n; k++)
			b[k] = pattern(i + k);
		if (put(1, b, n))
			return 1;
		i += n;
		if (delay)
			nap(delay);
	}
	fprintf(stderr, "producer wrote %lu\n", i);
	return 0;
}

static int filter(void)
{
	unsigned char b[8192];
	unsigned long i = 0;
	ssize_t r;

	fprintf(stderr, "filter %d\n", getpid());
	while ((r = get(0, b, sizeof(b))) > 0) {
		for (ssize_t k = 0; k < r; k++)
			b[k] ^= mask(i + k);
		if (put(1, b, r))
			return 1;
		i += r;
	}
	fprintf(stderr, "filter %lu\n", i);
	return r < 0;
}

static int consume(unsigned long total)
{
	unsigned char b[8192];
	unsigned long i = 0;
	ssize_t r;

	while ((r = get(0, b, sizeof(b))) > 0) {
		for (ssize_t k = 0; k < r; k++)
			if (b[k] != (unsigned char)(pattern(i + k) ^ mask(i + k))) {
				printf("consumer bad at %lu\n", i + k);
				return 1;
			}
		i += r;
	}
	printf("consumer read %lu %s\n", i, i == total ? "ok" : "short");
	return i != total;
}

static int self(unsigned long total, size_t chunk, long delay)
{
	unsigned char *b = malloc(chunk);
	unsigned long w = 0, r = 0;
	int p[2];

	if (!b || pipe(p))
		return 2;
	printf("self %d\n", getpid());
	while (r < total) {
		/* One chunk ahead: the pipe holds bytes whenever it migrates. */
		while (w < total && w - r < 2 * chunk) {
			size_t n = total - w < chunk ? total - w : chunk;

			for (size_t k = 0; k < n; k++)
				b[k] = pattern(w + k);
			if (put(p[1], b, n))
				return 1;
			w += n;
		}
		size_t want = w - r < chunk ? w - r : chunk;
		ssize_t got = get(p[0], b, want);

		if (got <= 0) {
			printf("self read failed at %lu\n", r);
			return 1;
		}
		for (ssize_t k = 0; k < got; k++)
			if (b[k] != pattern(r + k)) {
				printf("self bad at %lu\n", r + k);
				return 1;
			}
		r += got;
		if (delay)
			nap(delay);
	}
	printf("self %lu ok\n", r);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, 0, _IOLBF, 0);
	setvbuf(stderr, 0, _IOLBF, 0);
	if (argc >= 5 && !strcmp(argv[1], "produce"))
		return produce(strtoul(argv[2], 0, 0), strtoul(argv[3], 0, 0), atol(argv[4]));
	if (argc >= 2 && !strcmp(argv[1], "filter"))
		return filter();
	if (argc >= 3 && !strcmp(argv[1], "consume"))
		return consume(strtoul(argv[2], 0, 0));
	if (argc >= 5 && !strcmp(argv[1], "self"))
		return self(strtoul(argv[2], 0, 0), strtoul(argv[3], 0, 0), atol(argv[4]));
	if (argc >= 3 && !strcmp(argv[1], "shared")) {
		int p[2];
		pid_t c;

		if (pipe(p))
			return 2;
		c = fork();
		if (c < 0)
			return 2;
		if (c)
			printf("shared %d\n", c);
		nap(atol(argv[2]) * 1000);
		return 0;
	}
	fprintf(stderr, "usage: pipeline produce TOTAL CHUNK DELAY_MS | filter | consume TOTAL | "
		"self TOTAL CHUNK DELAY_MS | shared SECONDS\n");
	return 2;
}
