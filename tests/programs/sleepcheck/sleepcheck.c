// SPDX-License-Identifier: GPL-2.0-only
/*
 * sleepcheck MODE MS: a program without signal handlers that sleeps MS
 * milliseconds in one system call, to be migrated while it sleeps
 * (tests/scenarios/115-ghost-sleep-restart). MODE: nanosleep (with a
 * remainder), nanosleep-norem, clock (clock_nanosleep relative,
 * CLOCK_MONOTONIC), realtime-abs (clock_nanosleep TIMER_ABSTIME on
 * CLOCK_REALTIME), poll (poll() of no descriptor). Prints "sleeping
 * PID", then "MODE ret R errno E elapsed MS" (elapsed on CLOCK_REALTIME,
 * the clock nodes share) and exits 0 if the call returned 0 (a program
 * without handlers never sees EINTR from these calls).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	long ms = argc > 2 ? atol(argv[2]) : 5000;
	struct timespec req = { ms / 1000, (ms % 1000) * 1000000L }, rem;
	const char *mode = argc > 1 ? argv[1] : "nanosleep";
	long long t0;
	long ret;
	int err;

	printf("sleeping %d\n", (int)getpid());
	fflush(stdout);
	t0 = now_ms();
	errno = 0;
	if (!strcmp(mode, "nanosleep")) {
		ret = syscall(SYS_nanosleep, &req, &rem);
	} else if (!strcmp(mode, "nanosleep-norem")) {
		ret = syscall(SYS_nanosleep, &req, NULL);
	} else if (!strcmp(mode, "clock")) {
		ret = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, &rem);
	} else if (!strcmp(mode, "realtime-abs")) {
		struct timespec at;

		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_sec += req.tv_sec;
		at.tv_nsec += req.tv_nsec;
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		ret = syscall(SYS_clock_nanosleep, CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL);
	} else if (!strcmp(mode, "poll")) {
		ret = syscall(SYS_poll, NULL, 0, (int)ms);
	} else {
		fprintf(stderr, "usage: sleepcheck nanosleep|nanosleep-norem|clock|realtime-abs|poll MS\n");
		return 2;
	}
	err = ret < 0 ? errno : 0;
	printf("%s ret %ld errno %d elapsed %lld\n", mode, ret, err, now_ms() - t0);
	return ret == 0 ? 0 : 1;
}
