// SPDX-License-Identifier: GPL-2.0-only
/*
 * credprobe [OPTION]...: sets up its credentials as its options say, prints
 * the credential lines of /proc/self/status ("before"), migrates itself
 * with the MIGRATE ioctl of /dev/ssi/ghost if asked, prints them again
 * ("after", or why the migration was refused), then waits for signals if
 * asked, printing them again on each SIGUSR1.
 *
 *   --groups G,G,...   setgroups()
 *   --gids R,E,S       setresgid()
 *   --bset HEX         drop every bounding capability not in HEX
 *   --secbits HEX      PR_SET_SECUREBITS
 *   --uids R,E,S       setresuid()
 *   --caps P,E,I       capset(): permitted, effective, inheritable (hex)
 *   --ambient HEX      PR_CAP_AMBIENT_RAISE of each bit of HEX
 *   --nnp              PR_SET_NO_NEW_PRIVS
 *   --userns           unshare(CLONE_NEWUSER)
 *   --seccomp filter   a filter that allows everything
 *   --seccomp strict   strict mode, then block reading a terminal's
 *                      master for ever (nothing else is allowed)
 *   --migrate NODE     migrate itself to NODE
 *   --mode eager|on-demand
 *   --pause            wait for signals (SIGUSR1: print the lines again)
 *
 * The steps run in the order of this list, whatever the order given.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#define SSI_IOC_MIGRATE _IOWR('S', 0x42, uint8_t[24])

static volatile sig_atomic_t usr1;

static void on_usr1(int sig)
{
	(void)sig;
	usr1 = 1;
}

static const char *node(void)
{
	static struct utsname u;

	return uname(&u) ? "?" : u.nodename;
}

/* The credential lines of /proc/self/status, each prefixed with @tag. */
static void status(const char *tag)
{
	static const char *const keys[] = {
		"Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:",
		"CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:",
	};
	char line[512];
	FILE *f = fopen("/proc/self/status", "r");
	size_t i;

	if (!f) {
		printf("%s: /proc/self/status: %s\n", tag, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strncmp(line, keys[i], strlen(keys[i])))
				printf("%s %s", tag, line);
	fclose(f);
	printf("%s node %s\n", tag, node());
	fflush(stdout);
}

static void die(const char *what)
{
	printf("credprobe: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static int ids3(const char *s, unsigned int v[3])
{
	return sscanf(s, "%u,%u,%u", &v[0], &v[1], &v[2]) == 3 ? 0 : -1;
}

static int capset3(uint64_t p, uint64_t e, uint64_t i)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)e, (uint32_t)p, (uint32_t)i },
		{ (uint32_t)(e >> 32), (uint32_t)(p >> 32), (uint32_t)(i >> 32) },
	};

	return syscall(SYS_capset, &h, d);
}

static void allow_all_filter(void)
{
	struct sock_filter insn = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = 1, .filter = &insn };

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0))
		die("seccomp filter");
}

int main(int argc, char **argv)
{
	const char *groups = NULL, *gids = NULL, *uids = NULL, *caps = NULL;
	const char *bset = NULL, *secbits = NULL, *ambient = NULL;
	const char *seccomp = NULL, *mode = NULL;
	int nnp = 0, userns = 0, pause_ = 0, i;
	uint32_t to = 0, flags = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--nnp")) {
			nnp = 1;
			continue;
		}
		if (!strcmp(a, "--userns")) {
			userns = 1;
			continue;
		}
		if (!strcmp(a, "--pause")) {
			pause_ = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "credprobe: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--groups"))
			groups = v;
		else if (!strcmp(a, "--gids"))
			gids = v;
		else if (!strcmp(a, "--uids"))
			uids = v;
		else if (!strcmp(a, "--caps"))
			caps = v;
		else if (!strcmp(a, "--bset"))
			bset = v;
		else if (!strcmp(a, "--secbits"))
			secbits = v;
		else if (!strcmp(a, "--ambient"))
			ambient = v;
		else if (!strcmp(a, "--seccomp"))
			seccomp = v;
		else if (!strcmp(a, "--migrate"))
			to = (uint32_t)atoi(v);
		else if (!strcmp(a, "--mode"))
			mode = v;
		else {
			fprintf(stderr, "credprobe: unknown option %s\n", a);
			return 2;
		}
	}
	if (mode)
		flags = !strcmp(mode, "eager") ? 1 : !strcmp(mode, "on-demand") ? 2 : 0;
	signal(SIGUSR1, on_usr1);

	if (groups) {
		gid_t g[64];
		int n = 0;
		char *s = strdup(groups), *t, *save = NULL;

		for (t = strtok_r(s, ",", &save); t && n < 64; t = strtok_r(NULL, ",", &save))
			g[n++] = (gid_t)strtoul(t, NULL, 10);
		if (setgroups(n, g))
			die("setgroups");
		free(s);
	}
	if (gids) {
		unsigned int v[3];

		if (ids3(gids, v) || setresgid(v[0], v[1], v[2]))
			die("setresgid");
	}
	if (bset) {
		uint64_t keep = strtoull(bset, NULL, 16);
		int c;

		for (c = 0; c <= CAP_LAST_CAP; c++)
			if (!(keep & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0))
				die("PR_CAPBSET_DROP");
	}
	if (secbits && prctl(PR_SET_SECUREBITS, strtoul(secbits, NULL, 16), 0, 0, 0))
		die("PR_SET_SECUREBITS");
	if (uids) {
		unsigned int v[3];

		if (ids3(uids, v) || setresuid(v[0], v[1], v[2]))
			die("setresuid");
	}
	if (caps) {
		unsigned long long p, e, in;

		if (sscanf(caps, "%llx,%llx,%llx", &p, &e, &in) != 3 || capset3(p, e, in))
			die("capset");
	}
	if (ambient) {
		uint64_t m = strtoull(ambient, NULL, 16);
		int c;

		for (c = 0; c <= CAP_LAST_CAP; c++)
			if (m & (1ULL << c) &&
			    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0))
				die("PR_CAP_AMBIENT_RAISE");
	}
	if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die("PR_SET_NO_NEW_PRIVS");
	if (userns && unshare(CLONE_NEWUSER))
		die("unshare(CLONE_NEWUSER)");
	if (seccomp && !strcmp(seccomp, "filter"))
		allow_all_filter();
	printf("credprobe pid %d\n", getpid());
	status("before");
	if (seccomp && !strcmp(seccomp, "strict")) {
		/* A terminal's master (a character device, which could be
		 * carried) whose slave never writes.
		 */
		int m = posix_openpt(O_RDWR | O_NOCTTY);
		char c;

		if (m < 0)
			die("posix_openpt");
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0))
			die("seccomp strict");
		/* Only read, write, exit and sigreturn from here. */
		syscall(SYS_read, m, &c, 1);
		syscall(SYS_exit, 0);
	}
	if (to) {
		uint8_t arg[24] = { 0 };
		int fd = open("/dev/ssi/ghost", O_RDWR | O_CLOEXEC);
		uint32_t reason;
		uint64_t detail;

		if (fd < 0)
			die("/dev/ssi/ghost");
		memcpy(arg + 4, &to, 4);
		memcpy(arg + 8, &flags, 4);
		if (ioctl(fd, SSI_IOC_MIGRATE, arg)) {
			memcpy(&reason, arg + 12, 4);
			memcpy(&detail, arg + 16, 8);
			printf("migrate: refused: %s (reason %u detail %llu); still on %s\n",
			       strerror(errno), reason, (unsigned long long)detail, node());
			fflush(stdout);
		} else {
			close(fd);
			status("after");
		}
	}
	while (pause_) {
		pause();
		if (usr1) {
			usr1 = 0;
			status("signal");
		}
	}
	return 0;
}
