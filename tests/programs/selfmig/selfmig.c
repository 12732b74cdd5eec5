// SPDX-License-Identifier: GPL-2.0-only
/*
 * selfmig NODE: migrates itself to node NODE with the MIGRATE ioctl of
 * /dev/ssi/ghost (pid 0: the caller), then prints the ioctl's result and
 * the name of the node it runs on (uname), before and after.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#define SSI_IOC_MIGRATE _IOWR('S', 0x42, uint8_t[24])

static const char *node(void)
{
	static struct utsname u;

	return uname(&u) ? "?" : u.nodename;
}

int main(int argc, char **argv)
{
	uint8_t arg[24] = { 0 };
	uint32_t to = argc > 1 ? (uint32_t)atoi(argv[1]) : 0;
	int fd = open("/dev/ssi/ghost", O_RDWR | O_CLOEXEC);
	int ret;

	if (fd < 0) {
		perror("/dev/ssi/ghost");
		return 1;
	}
	printf("selfmig pid %d on %s\n", getpid(), node());
	fflush(stdout);
	memcpy(arg + 4, &to, 4);
	ret = ioctl(fd, SSI_IOC_MIGRATE, arg);
	printf("migrate: %s; now on %s\n", ret ? strerror(errno) : "ok", node());
	return ret ? 1 : 0;
}
