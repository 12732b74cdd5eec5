// SPDX-License-Identifier: GPL-2.0-only
/*
 * pollcheck: readiness of a pipe end that migrated, and what it sees when
 * the node that holds the pipe is lost (tests/scenarios/101-dynstreams-poll).
 *
 *   pollcheck reader          the reader is the one to migrate
 *   pollcheck writer          the writer is the one to migrate
 *   pollcheck lost-reader F   the reader migrates, then its pipe's node is
 *                             lost: it reports end of file into file F
 *   pollcheck lost-writer F   the same for the writer: EPIPE into file F
 *
 * The parent prints "writer W reader R"; the scenario migrates one of
 * them and sends both SIGUSR1 to start. Each check prints "ok: ..." or
 * "FAIL: ..."; the parent prints "reader exit N", "writer exit N" and
 * exits 0 only if both did.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t go;
static int failed;

static void on_usr1(int s)
{
	(void)s;
	go = 1;
}

static void wait_go(void)
{
	sigset_t none;

	sigemptyset(&none);
	while (!go)
		sigsuspend(&none);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf(ok ? "ok: " : "FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failed = 1;
}

static void fill(char *b, int n, int seed)
{
	for (int i = 0; i < n; i++)
		b[i] = (char)(seed + i * 7);
}

static int read_exact(int fd, char *b, int n)
{
	int got = 0;

	while (got < n) {
		int r = read(fd, b + got, n - got);

		if (r <= 0)
			return got;
		got += r;
	}
	return got;
}

/* The reader migrated: poll, select, epoll and FIONREAD on its end. */
static int reader(int fd)
{
	struct timespec t0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct epoll_event ev = { .events = EPOLLIN }, out;
	char b[128], want[128];
	fd_set rs;
	struct timeval tv = { 0, 300000 };
	int n, ep, r;
	long t;

	wait_go();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = poll(&p, 1, 400);
	check(r == 0, "reader: poll on an empty pipe waits (poll %d, revents %#x)", r, p.revents);
	FD_ZERO(&rs);
	FD_SET(fd, &rs);
	r = select(fd + 1, &rs, NULL, NULL, &tv);
	check(r == 0, "reader: select on an empty pipe waits (select %d)", r);
	ep = epoll_create1(0);
	r = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	check(r == 0, "reader: epoll takes the end (%s)", r ? strerror(errno) : "added");
	r = epoll_wait(ep, &out, 1, 20000);
	t = ms_since(&t0);
	check(r == 1 && (out.events & EPOLLIN) && t >= 1200,
	      "reader: epoll_wait ready with the data (%d, events %#x, after %ld ms; written at 1500)",
	      r, r == 1 ? out.events : 0, t);
	r = ioctl(fd, FIONREAD, &n);
	check(r == 0 && n == 100, "reader: FIONREAD %d (%s)", n, r ? strerror(errno) : "100 written");
	fill(want, 100, 1);
	check(read_exact(fd, b, 100) == 100 && !memcmp(b, want, 100), "reader: read the 100 bytes");
	r = poll(&p, 1, 300);
	check(r == 0, "reader: empty again: poll waits (poll %d, revents %#x)", r, p.revents);
	r = ioctl(fd, FIONREAD, &n);
	check(r == 0 && n == 0, "reader: FIONREAD %d on the empty pipe", n);
	FD_ZERO(&rs);
	FD_SET(fd, &rs);
	r = select(fd + 1, &rs, NULL, NULL, NULL);
	t = ms_since(&t0);
	check(r == 1 && t >= 3500, "reader: select ready with the next write (after %ld ms; written at 4500)", t);
	fill(want, 50, 2);
	check(read_exact(fd, b, 50) == 50 && !memcmp(b, want, 50), "reader: read the 50 bytes");
	p.revents = 0;
	r = poll(&p, 1, 20000);
	t = ms_since(&t0);
	check(r == 1 && (p.revents & POLLHUP), "reader: writer gone: poll says POLLHUP (%d, revents %#x, after %ld ms)",
	      r, p.revents, t);
	r = read(fd, b, sizeof(b));
	check(r == 0, "reader: then read gives end of file (%d)", r);
	return failed;
}

static int writer_for_reader(int fd)
{
	char b[100];

	wait_go();
	usleep(1500000);
	fill(b, 100, 1);
	if (write(fd, b, 100) != 100)
		return 1;
	usleep(3000000);
	fill(b, 50, 2);
	if (write(fd, b, 50) != 50)
		return 1;
	usleep(1000000);
	return 0;
}

/* The writer migrated: a full pipe is not writable until the reader reads. */
static int writer(int fd)
{
	struct timespec t0;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	struct epoll_event ev = { .events = EPOLLOUT }, out;
	char b[4096];
	long total = 0, t;
	int ep, r;

	signal(SIGPIPE, SIG_IGN);
	wait_go();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	memset(b, 'w', sizeof(b));
	for (;;) {
		r = write(fd, b, sizeof(b));
		if (r < 0)
			break;
		total += r;
	}
	check(errno == EAGAIN && total >= 4096, "writer: filled the pipe with %ld bytes, then %s", total,
	      strerror(errno));
	r = poll(&p, 1, 400);
	check(r == 0, "writer: poll on a full pipe waits (poll %d, revents %#x)", r, p.revents);
	ep = epoll_create1(0);
	r = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	check(r == 0, "writer: epoll takes the end (%s)", r ? strerror(errno) : "added");
	r = epoll_wait(ep, &out, 1, 20000);
	t = ms_since(&t0);
	check(r == 1 && (out.events & EPOLLOUT) && t >= 1200,
	      "writer: epoll_wait writable once the reader read (%d, events %#x, after %ld ms; read at 1500)",
	      r, r == 1 ? out.events : 0, t);
	fcntl(fd, F_SETFL, 0);
	/* The reader ends at 3000 ms: writes fail with EPIPE then. */
	usleep(2500000);
	do
		r = write(fd, b, 1);
	while (r == 1 && ms_since(&t0) < 20000);
	check(r < 0 && errno == EPIPE, "writer: reader gone: EPIPE (%s)", r < 0 ? strerror(errno) : "written");
	return failed;
}

static int reader_for_writer(int fd)
{
	char b[4096];
	int r;

	wait_go();
	usleep(1500000);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	do
		r = read(fd, b, sizeof(b));
	while (r > 0);
	usleep(1500000);
	do
		r = read(fd, b, sizeof(b));
	while (r > 0);
	return 0;
}

static void report(const char *path, const char *fmt, ...)
{
	va_list ap;
	FILE *f = fopen(path, "w");

	if (!f)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

/* The pipe's node is lost: the reader (poll, then read) sees end of file. */
static int lost_reader(int fd, const char *path)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec t0;
	char b[4096];
	long total = 0;
	int r;

	wait_go();
	for (;;) {
		r = poll(&p, 1, -1);
		if (r < 0 && errno == EINTR)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = read(fd, b, sizeof(b));
		if (r <= 0)
			break;
		total += r;
	}
	report(path, "reader %s after %ld bytes (revents %#x, read %ld ms after poll)\n",
	       r == 0 ? "eof" : strerror(errno), total, p.revents, ms_since(&t0));
	return r != 0;
}

static int lost_writer(int fd, const char *path)
{
	char b[1000];
	long total = 0;
	int r;

	signal(SIGPIPE, SIG_IGN);
	memset(b, 'l', sizeof(b));
	wait_go();
	for (;;) {
		r = write(fd, b, sizeof(b));
		if (r < 0)
			break;
		total += r;
		usleep(10000);
	}
	report(path, "writer %s after %ld bytes\n", strerror(errno), total);
	return errno != EPIPE;
}

/* Feeds or drains the lost side until it is killed with its node. */
static int steady(int fd, int is_writer)
{
	char b[1000];

	memset(b, 's', sizeof(b));
	signal(SIGPIPE, SIG_IGN);
	wait_go();
	for (;;) {
		int r = is_writer ? write(fd, b, sizeof(b)) : read(fd, b, sizeof(b));

		if (r <= 0)
			return 0;
		usleep(10000);
	}
}

int main(int argc, char **argv)
{
	int p[2], st, rs = 1, ws = 1;
	pid_t w, r;
	const char *mode = argc > 1 ? argv[1] : "";
	const char *path = argc > 2 ? argv[2] : "/tmp/pollcheck.report";
	int lost = !strncmp(mode, "lost-", 5);

	if (strcmp(mode, "reader") && strcmp(mode, "writer") && strcmp(mode, "lost-reader") &&
	    strcmp(mode, "lost-writer")) {
		fprintf(stderr, "usage: pollcheck reader|writer|lost-reader F|lost-writer F\n");
		return 2;
	}
	signal(SIGUSR1, on_usr1);
	{
		sigset_t usr1;

		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
	}
	if (pipe(p))
		return 1;
	fflush(stdout);
	w = fork();
	if (w == 0) {
		close(p[0]);
		if (!strcmp(mode, "reader"))
			_exit(writer_for_reader(p[1]));
		if (!strcmp(mode, "writer"))
			_exit(writer(p[1]));
		if (!strcmp(mode, "lost-writer"))
			_exit(lost_writer(p[1], path));
		_exit(steady(p[1], 1));
	}
	r = fork();
	if (r == 0) {
		close(p[1]);
		if (!strcmp(mode, "reader"))
			_exit(reader(p[0]));
		if (!strcmp(mode, "writer"))
			_exit(reader_for_writer(p[0]));
		if (!strcmp(mode, "lost-reader"))
			_exit(lost_reader(p[0], path));
		_exit(steady(p[0], 0));
	}
	close(p[0]);
	close(p[1]);
	printf("writer %d reader %d\n", (int)w, (int)r);
	fflush(stdout);
	if (waitpid(w, &st, 0) == w)
		ws = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	printf("writer exit %d\n", ws);
	if (waitpid(r, &st, 0) == r)
		rs = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	printf("reader exit %d\n", rs);
	(void)lost;
	return rs || ws;
}
