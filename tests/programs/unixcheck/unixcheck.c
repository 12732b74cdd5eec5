// SPDX-License-Identifier: GPL-2.0-only
/*
 * unixcheck: connected UNIX stream sockets whose ends migrate
 * (tests/scenarios/106-dynstreams-unix).
 *
 * unixcheck pair ROUNDS DELAY_MS
 *   makes two socketpairs (AF_UNIX, SOCK_STREAM) and forks a child that
 *   keeps one end of each; prints "parent P child C". Each round, the
 *   child checks that its end is still a stream socket (fstat S_ISSOCK,
 *   getsockopt SO_TYPE, getsockname and getpeername give AF_UNIX), that a
 *   MSG_DONTWAIT recv finds nothing (EAGAIN) and that poll says writable,
 *   then sends a message of a size that varies from 1 byte to 24 KiB and
 *   a known pattern (send() on even rounds, write() on odd ones); the
 *   parent checks every byte and answers another one, which the child
 *   reads after poll(POLLIN) says it is there (recv(MSG_WAITALL) or
 *   read()), and checks; the child then naps DELAY_MS (no more once it got
 *   a SIGUSR2: the rest of the rounds at once). After the rounds:
 *   the parent shuts down its writing side: the child must read end of
 *   file; the child sends "E" and shuts down its own: the parent must
 *   read "E" then end of file; the parent closes the second pair's end:
 *   the child's send(MSG_NOSIGNAL) on it must fail with EPIPE (within
 *   10 s), and its write() with EPIPE and a SIGPIPE. Each side prints
 *   "child rounds N bytes B ok", "child eof ok", "parent eof ok", "child
 *   epipe ok sigpipe ok" or what went wrong ("child bad ..."); the parent
 *   prints "child exit N" and exits 0 if all went well.
 * unixcheck scm
 *   a socketpair and a child ("parent P child C"); on SIGUSR1 the parent
 *   sends "g"; the child then tries sendmsg() with SCM_RIGHTS (fd 0) and
 *   prints "scm errno N" (0 if it went), then sends "k"; the parent then
 *   sends "f" with SCM_RIGHTS (fd 0) ("parent scm errno N"), which the
 *   child takes with recvmsg() and a control buffer: "child got f ctrunc
 *   C fds N" (C: MSG_CTRUNC set, N: descriptors received); it exits 0.
 * unixcheck dgram SECONDS
 *   holds a datagram socketpair for SECONDS (prints "dgram P").
 * unixcheck both SECONDS
 *   holds both ends of a stream socketpair for SECONDS (prints "both P").
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXMSG 24576

static unsigned char pattern(unsigned long i, int dir)
{
	return (unsigned char)(i * 7 + i / 251 + dir * 101);
}

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static size_t size_of(int round, int dir)
{
	return 1 + ((unsigned long)round * 7919 + dir * 4093) % MAXMSG;
}

static void bad(const char *who, const char *what, long v)
{
	printf("%s bad %s %ld (errno %d)\n", who, what, v, errno);
	fflush(stdout);
	exit(1);
}

static void put_all(int fd, const unsigned char *b, size_t n, int use_send,
		    const char *who)
{
	while (n) {
		ssize_t r = use_send ? send(fd, b, n, 0) : write(fd, b, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			bad(who, "send", (long)r);
		b += r;
		n -= r;
	}
}

static void get_all(int fd, unsigned char *b, size_t n, int use_recv,
		    const char *who)
{
	while (n) {
		ssize_t r = use_recv ? recv(fd, b, n, MSG_WAITALL) : read(fd, b, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			bad(who, "recv", (long)r);
		b += r;
		n -= r;
	}
}

static void check_socket(int fd)
{
	struct stat st;
	struct sockaddr_un a;
	socklen_t len;
	int type = 0;

	if (fstat(fd, &st) || !S_ISSOCK(st.st_mode))
		bad("child", "fstat", (long)st.st_mode);
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_STREAM)
		bad("child", "SO_TYPE", type);
	len = sizeof(a);
	if (getsockname(fd, (struct sockaddr *)&a, &len) || a.sun_family != AF_UNIX)
		bad("child", "getsockname", (long)len);
	len = sizeof(a);
	if (getpeername(fd, (struct sockaddr *)&a, &len) || a.sun_family != AF_UNIX)
		bad("child", "getpeername", (long)len);
}

static volatile sig_atomic_t pipes, go, hurry;

static void on_usr2(int sig)
{
	(void)sig;
	hurry = 1;
}

static void on_pipe(int sig)
{
	(void)sig;
	pipes++;
}

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static int child(int fd, int fd2, int rounds, long delay)
{
	static unsigned char out[MAXMSG], in[MAXMSG];
	unsigned long bytes = 0;
	struct pollfd p;
	size_t n, i;
	char c;
	int round, k;

	for (round = 0; round < rounds; round++) {
		check_socket(fd);
		if (recv(fd, &c, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
			bad("child", "dontwait", round);
		/*
		 * A migration ends a poll() with EINTR (its restart block is
		 * not carried, Documentation/ssi/ghost.rst): poll again.
		 */
		p = (struct pollfd){ fd, POLLOUT, 0 };
		while ((k = poll(&p, 1, 10000)) < 0 && errno == EINTR)
			;
		if (k != 1 || !(p.revents & POLLOUT))
			bad("child", "pollout", p.revents);
		n = size_of(round, 0);
		for (i = 0; i < n; i++)
			out[i] = pattern(bytes + i, 0);
		put_all(fd, out, n, !(round & 1), "child");
		n = size_of(round, 1);
		p = (struct pollfd){ fd, POLLIN, 0 };
		while ((k = poll(&p, 1, 30000)) < 0 && errno == EINTR)
			;
		if (k != 1 || !(p.revents & POLLIN))
			bad("child", "pollin", p.revents);
		get_all(fd, in, n, !(round & 1), "child");
		for (i = 0; i < n; i++)
			if (in[i] != pattern(bytes + i, 1))
				bad("child", "byte at", (long)(bytes + i));
		bytes += n;
		if (!hurry)
			nap(delay);
	}
	printf("child rounds %d bytes %lu ok\n", rounds, bytes);
	fflush(stdout);
	/* The parent shut down its side: end of file. */
	if (recv(fd, &c, 1, 0) != 0)
		bad("child", "eof", 0);
	printf("child eof ok\n");
	fflush(stdout);
	put_all(fd, (const unsigned char *)"E", 1, 1, "child");
	if (shutdown(fd, SHUT_WR))
		bad("child", "shutdown", 0);
	/* The parent closes the second pair's end. */
	for (k = 0; k < 100; k++) {
		ssize_t r = send(fd2, "x", 1, MSG_NOSIGNAL);

		if (r < 0 && errno == EPIPE)
			break;
		if (r < 0)
			bad("child", "send before epipe", (long)r);
		nap(100);
	}
	if (k == 100)
		bad("child", "no epipe", 0);
	signal(SIGPIPE, on_pipe);
	if (write(fd2, "x", 1) != -1 || errno != EPIPE)
		bad("child", "write epipe", 0);
	if (pipes != 1)
		bad("child", "sigpipe", pipes);
	printf("child epipe ok sigpipe ok\n");
	fflush(stdout);
	return 0;
}

static int pair(int rounds, long delay)
{
	static unsigned char out[MAXMSG], in[MAXMSG];
	unsigned long bytes = 0;
	int sv[2], sv2[2], round, status, bad_ = 0;
	pid_t c;
	size_t n, i;
	char e;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv2))
		bad("parent", "socketpair", 0);
	/* Before the fork: the child has it from its first instruction. */
	signal(SIGUSR2, on_usr2);
	c = fork();
	if (c < 0)
		bad("parent", "fork", 0);
	if (c == 0) {
		close(sv[0]);
		close(sv2[0]);
		exit(child(sv[1], sv2[1], rounds, delay));
	}
	close(sv[1]);
	close(sv2[1]);
	printf("parent %d child %d\n", (int)getpid(), (int)c);
	fflush(stdout);
	for (round = 0; round < rounds; round++) {
		n = size_of(round, 0);
		get_all(sv[0], in, n, round & 1, "parent");
		for (i = 0; i < n; i++)
			if (in[i] != pattern(bytes + i, 0))
				bad("parent", "byte at", (long)(bytes + i));
		n = size_of(round, 1);
		for (i = 0; i < n; i++)
			out[i] = pattern(bytes + i, 1);
		put_all(sv[0], out, n, round & 1, "parent");
		bytes += n;
	}
	if (shutdown(sv[0], SHUT_WR))
		bad("parent", "shutdown", 0);
	if (read(sv[0], &e, 1) != 1 || e != 'E')
		bad("parent", "E", 0);
	if (read(sv[0], &e, 1) != 0)
		bad("parent", "eof", 0);
	printf("parent eof ok\n");
	fflush(stdout);
	close(sv2[0]);
	while (waitpid(c, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status)) {
		printf("child exit %d\n", WEXITSTATUS(status));
		bad_ = WEXITSTATUS(status) != 0;
	} else {
		printf("child signal %d\n", WTERMSIG(status));
		bad_ = 1;
	}
	return bad_;
}

/* sendmsg() of 1 byte S with SCM_RIGHTS (fd 0): 0 or the errno. */
static int send_scm(int s, const char *b)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { (void *)b, 1 };
	struct msghdr m = { 0 };
	struct cmsghdr *cm;
	int fd0 = 0;

	memset(cbuf, 0, sizeof(cbuf));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cbuf;
	m.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd0, sizeof(int));
	return sendmsg(s, &m, 0) < 0 ? errno : 0;
}

/* recvmsg() of 1 byte with room for a descriptor; prints what came. */
static void recv_scm(int s)
{
	char cbuf[CMSG_SPACE(sizeof(int))], b = 0;
	struct iovec iov = { &b, 1 };
	struct msghdr m = { 0 };
	struct cmsghdr *cm;
	int fds = 0;

	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cbuf;
	m.msg_controllen = sizeof(cbuf);
	if (recvmsg(s, &m, 0) != 1)
		bad("child", "recvmsg", 0);
	for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			fds += (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	printf("child got %c ctrunc %d fds %d\n", b, !!(m.msg_flags & MSG_CTRUNC), fds);
	fflush(stdout);
}

static int scm(void)
{
	int sv[2], status;
	pid_t c;
	char b;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		bad("parent", "socketpair", 0);
	signal(SIGUSR1, on_usr1);
	c = fork();
	if (c == 0) {
		close(sv[0]);
		if (read(sv[1], &b, 1) != 1)
			bad("child", "go", 0);
		printf("scm errno %d\n", send_scm(sv[1], "r"));
		fflush(stdout);
		if (write(sv[1], "k", 1) != 1)
			bad("child", "k", 0);
		recv_scm(sv[1]);
		exit(0);
	}
	close(sv[1]);
	printf("parent %d child %d\n", (int)getpid(), (int)c);
	fflush(stdout);
	while (!go)
		pause();
	if (write(sv[0], "g", 1) != 1)
		bad("parent", "g", 0);
	/* "k", or "r" then "k" if the descriptor went. */
	while (read(sv[0], &b, 1) == 1 && b != 'k')
		;
	printf("parent got %c\n", b);
	printf("parent scm errno %d\n", send_scm(sv[0], "f"));
	fflush(stdout);
	waitpid(c, &status, 0);
	printf("child exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "pair"))
		return pair(atoi(argv[2]), atol(argv[3]));
	if (argc == 2 && !strcmp(argv[1], "scm"))
		return scm();
	if (argc == 3 && (!strcmp(argv[1], "dgram") || !strcmp(argv[1], "both"))) {
		int dgram = !strcmp(argv[1], "dgram"), sv[2];

		if (socketpair(AF_UNIX, dgram ? SOCK_DGRAM : SOCK_STREAM, 0, sv))
			return 1;
		printf("%s %d\n", argv[1], (int)getpid());
		fflush(stdout);
		sleep(atoi(argv[2]));
		return 0;
	}
	fprintf(stderr, "usage: unixcheck pair ROUNDS DELAY_MS | scm | dgram|both SECONDS\n");
	return 2;
}
