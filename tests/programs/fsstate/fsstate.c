// SPDX-License-Identifier: GPL-2.0-only
/*
 * fsstate [-r JAIL] DIR GOFILE: sets up the state a ghost stream carries
 * besides memory and registers, waits to be checkpointed or migrated,
 * then prints what it finds:
 *
 * - with -r, chroot()s to JAIL (DIR and GOFILE are then inside it);
 * - chdir()s to DIR;
 * - lowers its soft limits of open files (to 37) and of core size (to
 *   4096), the hard ones unchanged;
 * - blocks SIGUSR1 and SIGUSR2 and makes them pending: SIGUSR2 for
 *   itself (raise(): the task's own set), SIGUSR1 for its process
 *   (kill(): the shared set);
 * - prints "fsstate pid P" and "ready", then waits until GOFILE exists
 *   ("-": no wait; at most 10 minutes);
 * - prints its working directory, both limits, which signals are
 *   pending, then unblocks them and prints how many times each handler
 *   ran.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t handled[NSIG];

static void handler(int sig)
{
	handled[sig]++;
}

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void die(const char *what)
{
	printf("%s: %s\n", what, strerror(errno));
	exit(1);
}

static void lower(int res, rlim_t soft)
{
	struct rlimit r;

	if (getrlimit(res, &r) || (r.rlim_cur = soft, setrlimit(res, &r)))
		die("setrlimit");
}

static void show_limit(const char *name, int res)
{
	struct rlimit r;

	if (getrlimit(res, &r))
		die("getrlimit");
	printf("%s: %llu ", name, (unsigned long long)r.rlim_cur);
	if (r.rlim_max == RLIM_INFINITY)
		printf("unlimited\n");
	else
		printf("%llu\n", (unsigned long long)r.rlim_max);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = handler, .sa_flags = SA_RESTART };
	const char *jail = NULL;
	sigset_t set, pend;
	char cwd[4096];
	int i;

	if (argc > 2 && !strcmp(argv[1], "-r")) {
		jail = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: fsstate [-r JAIL] DIR GOFILE\n");
		return 2;
	}
	if (jail && (chdir(jail) || chroot(".")))
		die("chroot");
	if (chdir(argv[1]))
		die("chdir");
	lower(RLIMIT_NOFILE, 37);
	lower(RLIMIT_CORE, 4096);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) || sigaction(SIGUSR2, &sa, NULL))
		die("sigaction");
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		die("sigprocmask");
	if (raise(SIGUSR2) || kill(getpid(), SIGUSR1))
		die("raise");
	printf("fsstate pid %d\nready\n", getpid());
	fflush(stdout);
	for (i = 0; strcmp(argv[2], "-") && access(argv[2], F_OK); i++) {
		if (i == 10 * 60 * 20)
			die("no GOFILE");
		nap(50);
	}
	if (!getcwd(cwd, sizeof(cwd)))
		die("getcwd");
	printf("cwd: %s\n", cwd);
	show_limit("nofile", RLIMIT_NOFILE);
	show_limit("core", RLIMIT_CORE);
	if (sigpending(&pend))
		die("sigpending");
	printf("pending: SIGUSR1 %s, SIGUSR2 %s\n",
	       sigismember(&pend, SIGUSR1) ? "yes" : "no",
	       sigismember(&pend, SIGUSR2) ? "yes" : "no");
	printf("handled before unblocking: %d %d\n", (int)handled[SIGUSR1],
	       (int)handled[SIGUSR2]);
	if (sigprocmask(SIG_UNBLOCK, &set, NULL))
		die("sigprocmask");
	printf("handled: SIGUSR1 %d, SIGUSR2 %d\n", (int)handled[SIGUSR1],
	       (int)handled[SIGUSR2]);
	return 0;
}
