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
 *   migbench put HOST PORT FILE...        the FILEs (relative paths) over one
 *                                         TCP connection, sendfile(2) from
 *                                         the page cache; ends as send does
 *   migbench get PORT                     one put's FILEs, written under the
 *                                         current directory (one level of
 *                                         directories is created)
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
#include <fcntl.h>
#include <stdint.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 20];

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

static int read_all(int fd, void *p, size_t n)
{
	char *c = p;

	while (n) {
		ssize_t r = read(fd, c, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= r;
	}
	return 0;
}

/* Per file: u32 name length, name, u64 size, bytes; a zero length ends. */
static int put(const char *host, const char *port, int n, char **files)
{
	int fd = connect_to(host, port), i;
	uint32_t end = 0;

	if (fd < 0)
		return die("connect");
	for (i = 0; i < n; i++) {
		int f = open(files[i], O_RDONLY);
		struct stat st;
		uint32_t len = strlen(files[i]);
		uint64_t size;
		off_t off = 0;

		if (f < 0 || fstat(f, &st))
			return die(files[i]);
		size = st.st_size;
		if (write_all(fd, (char *)&len, 4) || write_all(fd, files[i], len) ||
		    write_all(fd, (char *)&size, 8))
			return die("send");
		while ((uint64_t)off < size) {
			ssize_t w = sendfile(fd, f, &off, size - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return die("sendfile");
		}
		close(f);
	}
	if (write_all(fd, (char *)&end, 4))
		return die("send");
	shutdown(fd, SHUT_WR);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return 0;
}

static int get(const char *port)
{
	int l = listen_on(port), fd;
	char name[4096];

	if (l < 0)
		return die("listen");
	fd = accept(l, NULL, NULL);
	if (fd < 0)
		return die("accept");
	close(l);
	for (;;) {
		uint32_t len;
		uint64_t size;
		char *slash;
		int f;

		if (read_all(fd, &len, 4))
			return die("recv");
		if (!len)
			break;
		if (len >= sizeof(name) || read_all(fd, name, len) || read_all(fd, &size, 8))
			return die("recv");
		name[len] = 0;
		slash = strchr(name, '/');
		if (slash) {
			*slash = 0;
			mkdir(name, 0755);
			*slash = '/';
		}
		f = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (f < 0)
			return die(name);
		while (size) {
			ssize_t r = read(fd, buf, size < sizeof(buf) ? size : sizeof(buf));

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0 || write_all(f, buf, r))
				return die("recv");
			size -= r;
		}
		close(f);
	}
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
	if (!strcmp(c, "put") && argc >= 5)
		return put(argv[2], argv[3], argc - 4, argv + 4);
	if (!strcmp(c, "get") && argc == 3)
		return get(argv[2]);
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
			"       send HOST PORT | recv PORT | put HOST PORT FILE... | get PORT |\n"
			"       notify HOST PORT | stamps MS PORT...\n");
	return 2;
}
