// SPDX-License-Identifier: GPL-2.0-only
/*
 * migbench: the guest side of bench/migration's clocks and transfers.
 * One static binary so that what is timed is not a shell loop.
 *
 *   migbench now                          CLOCK_MONOTONIC in ms (3 decimals)
 *   migbench waitline FILE PREFIX MS      until FILE has a line starting
 *                                         with PREFIX (polled every 1 ms)
 *   migbench waitcomm PID NAME MS         until /proc/PID/comm is NAME
 *   migbench send HOST PORT               stdin to HOST:PORT over TCP; ends
 *                                         when the receiver has read it all
 *                                         and closed (not when it is queued)
 *   migbench recv PORT                    one TCP connection to stdout
 *   migbench notify HOST PORT             connect and close
 *   migbench stamps MS PORT...            listen on every PORT at once, then
 *                                         print "PORT ms" when a connection
 *                                         arrives on it; ends when each came
 *
 * Exit status 0, or 1 on a timeout or an error (with a message on stderr).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 16];

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void nap_1ms(void)
{
	struct timespec t = { 0, 1000000 };

	nanosleep(&t, NULL);
}

static int die(const char *what)
{
	fprintf(stderr, "migbench: %s: %s\n", what, errno ? strerror(errno) : "timeout");
	return 1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

/* Reads FILE whole into buf (truncated to its size); returns the length. */
static ssize_t slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return n;
}

static int waitline(const char *path, const char *prefix, double ms)
{
	double end = now_ms() + ms;
	size_t pl = strlen(prefix);

	do {
		if (slurp(path) >= 0) {
			char *p = buf;

			while (p && *p) {
				if (!strncmp(p, prefix, pl))
					return 0;
				p = strchr(p, '\n');
				p = p ? p + 1 : NULL;
			}
		}
		nap_1ms();
	} while (now_ms() < end);
	errno = 0;
	return die(path);
}

static int waitcomm(const char *pid, const char *name, double ms)
{
	double end = now_ms() + ms;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%s/comm", pid);
	do {
		if (slurp(path) > 0) {
			buf[strcspn(buf, "\n")] = 0;
			if (!strcmp(buf, name))
				return 0;
		}
		nap_1ms();
	} while (now_ms() < end);
	errno = 0;
	return die(path);
}

static int connect_to(const char *host, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };
	double end = now_ms() + 30000;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	/* The listener may not be there yet: retry for 30 s. */
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

		if (fd < 0)
			return -1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (!connect(fd, (struct sockaddr *)&a, sizeof(a)))
			return fd;
		close(fd);
		if (errno != ECONNREFUSED || now_ms() > end)
			return -1;
		nap_1ms();
	}
}

static int listen_on(const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int copy(int from, int to)
{
	for (;;) {
		ssize_t n = read(from, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (write_all(to, buf, n))
			return -1;
	}
}

static int send_to(const char *host, const char *port)
{
	int fd = connect_to(host, port);

	if (fd < 0)
		return die("connect");
	if (copy(0, fd))
		return die("send");
	shutdown(fd, SHUT_WR);
	/* The receiver closes once it has read everything. */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return 0;
}

static int recv_from(const char *port)
{
	int l = listen_on(port), fd;

	if (l < 0)
		return die("listen");
	fd = accept(l, NULL, NULL);
	if (fd < 0)
		return die("accept");
	close(l);
	if (copy(fd, 1))
		return die("recv");
	close(fd);
	return 0;
}

static int stamps(double ms, int n, char **ports)
{
	struct pollfd p[8];
	double end = now_ms() + ms;
	int i, left = n;

	if (n > 8)
		n = 8;
	for (i = 0; i < n; i++) {
		p[i].fd = listen_on(ports[i]);
		p[i].events = POLLIN;
		if (p[i].fd < 0)
			return die("listen");
	}
	while (left) {
		int r = poll(p, n, (int)(end - now_ms()));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			errno = r ? errno : 0;
			return die("stamps");
		}
		for (i = 0; i < n; i++) {
			if (p[i].fd >= 0 && (p[i].revents & POLLIN)) {
				double t = now_ms();

				close(accept(p[i].fd, NULL, NULL));
				close(p[i].fd);
				p[i].fd = -1;
				printf("%s %.3f\n", ports[i], t);
				fflush(stdout);
				left--;
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";

	if (!strcmp(c, "now") && argc == 2) {
		printf("%.3f\n", now_ms());
		return 0;
	}
	if (!strcmp(c, "waitline") && argc == 5)
		return waitline(argv[2], argv[3], atof(argv[4]));
	if (!strcmp(c, "waitcomm") && argc == 5)
		return waitcomm(argv[2], argv[3], atof(argv[4]));
	if (!strcmp(c, "send") && argc == 4)
		return send_to(argv[2], argv[3]);
	if (!strcmp(c, "recv") && argc == 3)
		return recv_from(argv[2]);
	if (!strcmp(c, "notify") && argc == 4) {
		int fd = connect_to(argv[2], argv[3]);

		if (fd < 0)
			return die("connect");
		close(fd);
		return 0;
	}
	if (!strcmp(c, "stamps") && argc >= 4)
		return stamps(atof(argv[2]), argc - 3, argv + 3);
	fprintf(stderr, "usage: migbench now | waitline FILE PREFIX MS | waitcomm PID NAME MS |\n"
			"       send HOST PORT | recv PORT | notify HOST PORT | stamps MS PORT...\n");
	return 2;
}
