// SPDX-License-Identifier: GPL-2.0-only
/*
 * lazyprobe WAITFILE: fills anonymous memory (mmap'ed areas, the heap, the
 * stack, a read-only area), prints "ready", waits until WAITFILE exists
 * (a migration happens meanwhile), then checks what a process whose pages
 * may still be on another node must see: the contents; an area moved by
 * mremap() keeps them; MADV_DONTNEED pages read as zero; an area unmapped
 * and mapped anew reads as zero; a child forked before touching the rest
 * sees it. Prints "lazyprobe: all ok" and exits 0, or "FAIL: ..." and 1.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096
#define N 64

static int failed;

static void fill(unsigned char *p, size_t pages, unsigned seed)
{
	for (size_t i = 0; i < pages; i++)
		memset(p + i * PG, (int)((seed + i) % 251 + 1), PG);
}

/* Whether pages [from, to) of p hold what fill(seed) wrote. */
static int same(const unsigned char *p, size_t from, size_t to, unsigned seed)
{
	for (size_t i = from; i < to; i++)
		for (size_t k = 0; k < PG; k += 512)
			if (p[i * PG + k] != (unsigned char)((seed + i) % 251 + 1))
				return 0;
	return 1;
}

static int zero(const unsigned char *p, size_t from, size_t to)
{
	for (size_t i = from * PG; i < to * PG; i++)
		if (p[i])
			return 0;
	return 1;
}

static void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "ok" : "FAIL");
	failed |= !ok;
}

static unsigned char *area(size_t pages)
{
	void *p = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

int main(int argc, char **argv)
{
	unsigned char stack[16 * PG];
	unsigned char *a, *b, *c, *e, *heap, *far;
	struct stat st;
	int status;
	pid_t child;

	if (argc != 2) {
		fprintf(stderr, "usage: lazyprobe WAITFILE\n");
		return 2;
	}
	a = area(N);
	b = area(N);
	c = area(32);
	e = area(16);
	heap = malloc(256 * PG);
	if (!heap)
		return 2;
	fill(a, N, 1);
	fill(b, N, 2);
	fill(c, 32, 3);
	fill(e, 16, 4);
	fill(heap, 256, 5);
	fill(stack, 16, 6);
	mprotect(e, 16 * PG, PROT_READ);
	printf("lazyprobe pid %d: ready\n", getpid());
	fflush(stdout);
	while (stat(argv[1], &st) != 0)
		usleep(50000);

	check(same(heap, 0, 256, 5) && same(stack, 0, 16, 6), "heap and stack");
	check(same(e, 0, 16, 4), "read-only area");
	/* Far away, so that the area moves. */
	far = mremap(b, N * PG, N * PG, MREMAP_MAYMOVE | MREMAP_FIXED,
		     (void *)((unsigned long)b + (1UL << 36)));
	check(far != MAP_FAILED && same(far, 0, N, 2), "mremap keeps the pages");
	madvise(c + 8 * PG, 8 * PG, MADV_DONTNEED);
	check(zero(c, 8, 16) && same(c, 0, 8, 3) && same(c, 16, 32, 3),
	      "MADV_DONTNEED reads zero, the rest kept");
	munmap(a, 16 * PG);
	check(mmap(a, 16 * PG, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == a &&
	      zero(a, 0, 16), "an area mapped anew reads zero");
	fflush(stdout);
	child = fork();
	if (child == 0)
		_exit(same(a, 16, N, 1) ? 0 : 1);
	check(child > 0 && waitpid(child, &status, 0) == child &&
	      WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "a child forked before the rest was touched sees it");
	check(same(a, 16, N, 1), "the parent too");
	printf("lazyprobe: %s\n", failed ? "FAILED" : "all ok");
	return failed;
}
