// SPDX-License-Identifier: GPL-2.0-only
/*
 * pipecheck: pipes whose ends migrate (tests/scenarios/100-dynstreams-pipe).
 *
 * pipecheck pair TOTAL CHUNK DELAY_MS [STOP_AFTER] [nb]
 *   makes a pipe and forks a reader and a writer; prints "writer W reader
 *   R", reaps both (they may migrate: it stays) and prints how each ended
 *   ("reader exit N", "writer signal N"); exits 0 if both exited 0. The
 *   writer writes TOTAL bytes of a known pattern in writes of CHUNK bytes,
 *   pausing DELAY_MS after each ("writer wrote N"; SIGUSR2 ends its pauses:
 *   it writes the rest at once). The reader checks
 *   every byte and at end of file prints "reader read N ok" (N == TOTAL,
 *   exit 0) or "reader read N short" / "reader bad at OFFSET" (exit 1).
 *   With STOP_AFTER > 0 the reader exits after that many bytes ("reader
 *   stops at N"): the writer then dies of SIGPIPE. With "nb" the reader's end is
 *   O_NONBLOCK: it naps 1 ms on EAGAIN and prints "eagain N" at the end.
 * pipecheck fifo PATH TOTAL CHUNK DELAY_MS
 *   the same through a FIFO made at PATH, which each end opens by path.
 * pipecheck atomic RECORDS
 *   forks two writers that each write RECORDS records of PIPE_BUF bytes
 *   into one pipe (prints "atomic W1 W2"); the parent reads them and
 *   checks each record is whole and each writer's are in order: "atomic
 *   N records ok" or "atomic bad ...".
 * pipecheck both SECONDS
 *   holds both ends of a pipe (fds 3 and 4) for SECONDS.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned char pattern(unsigned long i)
{
	return (unsigned char)(i * 7 + i / 251);
}

static volatile sig_atomic_t hurry;

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

static int reader(int fd, unsigned long total, unsigned long stop, int nb)
{
	static unsigned char buf[65536];
	unsigned long got = 0, eagain = 0, i;
	size_t want = 1;

	if (nb)
		fcntl(fd, F_SETFL, O_NONBLOCK);
	for (;;) {
		/* Reads of varied sizes: 1 byte to 64 KiB. */
		want = want * 3 % sizeof(buf) + 1;
		ssize_t n = read(fd, buf, want);

		if (n < 0 && errno == EAGAIN) {
			eagain++;
			nap(1);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			printf("reader error %s at %lu\n", strerror(errno), got);
			return 1;
		}
		if (n == 0)
			break;
		for (i = 0; i < (unsigned long)n; i++)
			if (buf[i] != pattern(got + i)) {
				printf("reader bad at %lu\n", got + i);
				return 1;
			}
		got += n;
		if (stop && got >= stop) {
			printf("reader stops at %lu\n", got);
			fflush(stdout);
			return 0;
		}
	}
	if (nb)
		printf("eagain %lu\n", eagain);
	printf("reader read %lu %s\n", got, got == total ? "ok" : "short");
	return got == total ? 0 : 1;
}

static int writer(int fd, unsigned long total, size_t chunk, long delay)
{
	unsigned char *buf = malloc(chunk);
	unsigned long off = 0;

	if (!buf)
		return 2;
	while (off < total) {
		size_t n = total - off < chunk ? total - off : chunk, i;
		ssize_t w;

		for (i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		for (i = 0; i < n; i += w) {
			w = write(fd, buf + i, n - i);
			if (w < 0 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0) {
				printf("writer error %s at %lu\n", strerror(errno), off + i);
				return 3;
			}
		}
		off += n;
		if (delay)
			nap(delay);
	}
	printf("writer wrote %lu\n", off);
	return 0;
}

/* "NAME exit N" or "NAME signal N"; 0 if it exited 0. */
static int reap(pid_t p, const char *name)
{
	int st;

	while (waitpid(p, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFSIGNALED(st)) {
		printf("%s signal %d\n", name, WTERMSIG(st));
		return 1;
	}
	printf("%s exit %d\n", name, WEXITSTATUS(st));
	return WEXITSTATUS(st) != 0;
}

/*
 * The launcher stays where it starts and reaps both ends' processes; the
 * pipe is made here, or is the FIFO at fifo (each end opens it).
 */
static int launch(const char *fifo, unsigned long total, size_t chunk, long delay,
		  unsigned long stop, int nb)
{
	int p[2] = { -1, -1 }, bad;
	pid_t w, r;

	if (!chunk)
		return 2;
	if (fifo) {
		unlink(fifo);
		if (mkfifo(fifo, 0600))
			return 2;
	} else if (pipe(p)) {
		return 2;
	}
	r = fork();
	if (r == 0) {
		close(p[1]);
		if (fifo)
			p[0] = open(fifo, O_RDONLY);
		exit(p[0] < 0 ? 2 : reader(p[0], total, stop, nb));
	}
	/* Before the fork: the writer has it from its first instruction. */
	signal(SIGUSR2, on_usr2);
	w = fork();
	if (w == 0) {
		close(p[0]);
		if (fifo)
			p[1] = open(fifo, O_WRONLY);
		exit(p[1] < 0 ? 2 : writer(p[1], total, chunk, delay));
	}
	close(p[0]);
	close(p[1]);
	printf("writer %d reader %d\n", w, r);
	bad = reap(r, "reader");
	bad |= reap(w, "writer");
	return bad;
}

static void record(unsigned char *b, unsigned int who, unsigned int seq)
{
	memcpy(b, &who, 4);
	memcpy(b + 4, &seq, 4);
	memset(b + 8, (int)(who * 31 + seq) & 0xff, PIPE_BUF - 8);
}

static int atomic(char **argv)
{
	unsigned int records = strtoul(argv[2], 0, 0), next[2] = { 0, 0 }, n = 0;
	static unsigned char b[PIPE_BUF], want[PIPE_BUF];
	pid_t w[2];
	int p[2], k;

	if (pipe(p))
		return 2;
	for (k = 0; k < 2; k++) {
		w[k] = fork();
		if (w[k] == 0) {
			unsigned int s;

			close(p[0]);
			for (s = 0; s < records; s++) {
				record(b, k, s);
				if (write(p[1], b, PIPE_BUF) != PIPE_BUF)
					exit(1);
				nap(2);
			}
			exit(0);
		}
	}
	close(p[1]);
	printf("atomic %d %d\n", w[0], w[1]);
	fflush(stdout);
	for (;;) {
		size_t got = 0;
		unsigned int who, seq;

		while (got < PIPE_BUF) {
			ssize_t r = read(p[0], b + got, PIPE_BUF - got);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += r;
		}
		if (got == 0)
			break;
		memcpy(&who, b, 4);
		memcpy(&seq, b + 4, 4);
		if (got != PIPE_BUF || who > 1 || seq != next[who]) {
			printf("atomic bad at record %u: %zu bytes, writer %u seq %u\n", n, got, who, seq);
			return 1;
		}
		record(want, who, seq);
		if (memcmp(b, want, PIPE_BUF)) {
			printf("atomic bad at record %u: torn\n", n);
			return 1;
		}
		next[who]++;
		n++;
	}
	for (k = 0; k < 2; k++)
		waitpid(w[k], 0, 0);
	printf("atomic %u records %s\n", n, n == 2 * records ? "ok" : "short");
	return n == 2 * records ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, 0, _IOLBF, 0);
	if (argc >= 5 && !strcmp(argv[1], "pair"))
		return launch(0, strtoul(argv[2], 0, 0), strtoul(argv[3], 0, 0), atol(argv[4]),
			      argc > 5 ? strtoul(argv[5], 0, 0) : 0, argc > 6 && !strcmp(argv[6], "nb"));
	if (argc >= 6 && !strcmp(argv[1], "fifo"))
		return launch(argv[2], strtoul(argv[3], 0, 0), strtoul(argv[4], 0, 0), atol(argv[5]),
			      0, 0);
	if (argc >= 3 && !strcmp(argv[1], "atomic"))
		return atomic(argv);
	if (argc >= 3 && !strcmp(argv[1], "both")) {
		int p[2];

		if (pipe(p))
			return 2;
		printf("both %d %d\n", p[0], p[1]);
		nap(atol(argv[2]) * 1000);
		return 0;
	}
	fprintf(stderr, "usage: pipecheck pair TOTAL CHUNK DELAY_MS [STOP_AFTER] [nb] | "
		"fifo PATH TOTAL CHUNK DELAY_MS | atomic RECORDS | both SECONDS\n");
	return 2;
}
