// SPDX-License-Identifier: GPL-2.0-only
/*
 * ppid [MIB]: touches MIB MiB (8 by default: its resident size tells it
 * from a stub; more makes a migration freeze it longer),
 * prints "ppid N K" with getppid() at start and on each SIGUSR1 (K counts
 * them), and ends with status 0 on SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t asked, done;

static void on_usr1(int sig)
{
	(void)sig;
	asked++;
}

static void on_term(int sig)
{
	(void)sig;
	done = 1;
}

int main(int argc, char **argv)
{
	size_t size = (size_t)(argc > 1 ? atoi(argv[1]) : 8) << 20;
	char *mem = malloc(size);
	sigset_t block, wait_set;
	int told = 0;

	if (!size || !mem)
		return 1;
	memset(mem, 1, size);
	signal(SIGUSR1, on_usr1);
	signal(SIGTERM, on_term);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &wait_set);
	sigdelset(&wait_set, SIGUSR1);
	sigdelset(&wait_set, SIGTERM);
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("ppid %d 0\n", (int)getppid());
	while (!done) {
		/* Signals arrive only here: none is missed between checks. */
		sigsuspend(&wait_set);
		while (told < asked) {
			told++;
			printf("ppid %d %d\n", (int)getppid(), told);
		}
	}
	return mem[size - 1] == 1 ? 0 : 2;
}
