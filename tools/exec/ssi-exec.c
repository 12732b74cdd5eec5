// SPDX-License-Identifier: GPL-2.0-only
/*
 * ssi-exec SOCKET CMD [ARGS...]: `tools/cluster exec` without starting
 * Python (the scenarios run thousands of commands): runs CMD on the node
 * whose exec multiplexer listens on SOCKET, gives it this process's stdin,
 * copies its stdout and stderr here, and exits with its status; 255 if the
 * node is down or goes down during the command, 127 if CMD cannot start.
 *
 * Frames, both ways: kind (1 byte), session (u32), payload length (u32),
 * little-endian, then the payload. To the node: O (argv, each NUL-ended),
 * I (stdin bytes), E (end of stdin). From it: 1 and 2 (stdout, stderr),
 * X (exit status, i32), F (could not start: a message).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define HDR 9
#define MAX_PAYLOAD (1u << 20)

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

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

static int send_frame(int s, char kind, const void *payload, uint32_t n)
{
	unsigned char h[HDR] = { (unsigned char)kind };

	h[5] = n & 0xff;
	h[6] = (n >> 8) & 0xff;
	h[7] = (n >> 16) & 0xff;
	h[8] = n >> 24;
	return write_all(s, h, HDR) || write_all(s, payload, n);
}

static uint32_t le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void node_down(void)
{
	fprintf(stderr, "cluster: node went down during the command\n");
	exit(255);
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	static unsigned char buf[HDR + MAX_PAYLOAD];
	static char in[65536];
	size_t have = 0, argl = 0;
	int s, i, stdin_open = 1;
	char *args;

	if (argc < 3) {
		fprintf(stderr, "usage: ssi-exec SOCKET CMD [ARGS...]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "cluster: socket path too long\n");
		return 255;
	}
	strcpy(addr.sun_path, argv[1]);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof(addr))) {
		fprintf(stderr, "cluster: %s: %s (is the node running?)\n", argv[1],
			strerror(errno));
		return 255;
	}
	for (i = 2; i < argc; i++)
		argl += strlen(argv[i]) + 1;
	args = malloc(argl ? argl : 1);
	if (!args || argl > MAX_PAYLOAD)
		return 2;
	argl = 0;
	for (i = 2; i < argc; i++) {
		size_t n = strlen(argv[i]) + 1;

		memcpy(args + argl, argv[i], n);
		argl += n;
	}
	if (send_frame(s, 'O', args, argl))
		node_down();
	for (;;) {
		struct pollfd p[2] = { { s, POLLIN, 0 }, { 0, POLLIN, 0 } };
		ssize_t r;

		if (poll(p, stdin_open ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 255;
		}
		if (stdin_open && p[1].revents) {
			r = read(0, in, sizeof(in));
			if (r < 0 && errno == EINTR)
				continue;
			/*
			 * A command that ended without reading all its input
			 * closed the session: its status is still to be read.
			 */
			if (r <= 0 || send_frame(s, 'I', in, r)) {
				stdin_open = 0;
				if (r <= 0)
					send_frame(s, 'E', "", 0);
			}
		}
		if (!p[0].revents)
			continue;
		r = read(s, buf + have, sizeof(buf) - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			node_down();
		have += r;
		while (have >= HDR) {
			uint32_t n = le32(buf + 5);
			unsigned char *data = buf + HDR;

			if (n > MAX_PAYLOAD)
				node_down();
			if (have < HDR + n)
				break;
			switch (buf[0]) {
			case 'X':
				return n >= 4 ? le32(data) & 0xff : 255;
			case 'F':
				fprintf(stderr, "cluster: %.*s\n", (int)n, data);
				return 127;
			case '1':
			case '2':
				if (write_all(buf[0] == '1' ? 1 : 2, data, n))
					return 141; /* the reader went away, as SIGPIPE */
				break;
			}
			have -= HDR + n;
			memmove(buf, buf + HDR + n, have);
		}
	}
}
