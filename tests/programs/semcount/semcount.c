// SPDX-License-Identifier: GPL-2.0-only
/*
 * semcount: SysV semaphore probes for the cluster scenarios.
 *
 *   semcount get KEY NSEMS [MODE]  semget(KEY, NSEMS, IPC_CREAT | MODE): prints the id
 *   semcount open KEY [NSEMS]      semget(KEY, NSEMS, 0): prints the id
 *   semcount count ID N            N times: P(sem 0), sem 1 += 1 by GETVAL and
 *                                  SETVAL, V(sem 0); prints "counted N"
 *   semcount op ID NUM OP [nowait|undo]   semop of one operation
 *   semcount timed ID NUM OP MS    semtimedop with a timeout of MS ms; prints
 *                                  "ok" or the error, then "after T ms"
 *   semcount getval ID NUM         prints the value
 *   semcount getpid|getncnt|getzcnt ID NUM   prints GETPID's, GETNCNT's, GETZCNT's answer
 *   semcount semstat INDEX         SEM_STAT: prints the id
 *   semcount setval ID NUM VAL
 *   semcount getall ID             prints the values, space-separated
 *   semcount setall ID V...
 *   semcount stat ID               "nsems N uid U mode M"
 *   semcount chmod ID MODE         IPC_SET of the mode
 *   semcount rmid ID
 * Errors: "error CALL ERRNO-NAME" and exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static int fail(const char *call)
{
	printf("error %s %s\n", call, strerror(errno));
	return 1;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static int op(int id, int num, int delta, int flg)
{
	struct sembuf b = { .sem_num = num, .sem_op = delta, .sem_flg = flg };

	return semop(id, &b, 1);
}

int main(int argc, char **argv)
{
	static unsigned short vals[4096];
	union semun u;
	struct semid_ds ds;
	int id, i, n, v;

	setvbuf(stdout, 0, _IOLBF, 0);
	if (argc < 3)
		return 2;
	if (!strcmp(argv[1], "get") && argc >= 4) {
		int mode = argc > 4 ? strtol(argv[4], 0, 8) : 0666;

		id = semget(strtol(argv[2], 0, 0), atoi(argv[3]), IPC_CREAT | mode);
		if (id < 0)
			return fail("semget");
		printf("%d\n", id);
		return 0;
	}
	if (!strcmp(argv[1], "open")) {
		id = semget(strtol(argv[2], 0, 0), argc > 3 ? atoi(argv[3]) : 0, 0);
		if (id < 0)
			return fail("semget");
		printf("%d\n", id);
		return 0;
	}
	id = atoi(argv[2]);
	if (!strcmp(argv[1], "count") && argc >= 4) {
		n = atoi(argv[3]);
		for (i = 0; i < n; i++) {
			if (op(id, 0, -1, 0))
				return fail("semop");
			v = semctl(id, 1, GETVAL);
			if (v < 0)
				return fail("semctl");
			u.val = v + 1;
			if (semctl(id, 1, SETVAL, u))
				return fail("semctl");
			if (op(id, 0, 1, 0))
				return fail("semop");
		}
		printf("counted %d\n", n);
		return 0;
	}
	if (!strcmp(argv[1], "op") && argc >= 5) {
		int flg = 0;

		if (argc > 5)
			flg = !strcmp(argv[5], "undo") ? SEM_UNDO : IPC_NOWAIT;
		if (op(id, atoi(argv[3]), atoi(argv[4]), flg))
			return fail("semop");
		printf("ok\n");
		return 0;
	}
	if (!strcmp(argv[1], "timed") && argc >= 6) {
		struct sembuf b = { .sem_num = atoi(argv[3]), .sem_op = atoi(argv[4]) };
		long ms = atol(argv[5]);
		struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 };
		long long t0 = now_ms();
		int r = semtimedop(id, &b, 1, &t);
		int e = errno;

		if (r)
			printf("error semtimedop %s after %lld ms\n", strerror(e), now_ms() - t0);
		else
			printf("ok after %lld ms\n", now_ms() - t0);
		return !!r;
	}
	if (!strcmp(argv[1], "getval") && argc >= 4) {
		v = semctl(id, atoi(argv[3]), GETVAL);
		if (v < 0)
			return fail("semctl");
		printf("%d\n", v);
		return 0;
	}
	if ((!strcmp(argv[1], "getpid") || !strcmp(argv[1], "getncnt") ||
	     !strcmp(argv[1], "getzcnt")) && argc >= 4) {
		int cmd = argv[1][3] == 'p' ? GETPID : argv[1][3] == 'n' ? GETNCNT : GETZCNT;

		v = semctl(id, atoi(argv[3]), cmd);
		if (v < 0)
			return fail("semctl");
		printf("%d\n", v);
		return 0;
	}
	if (!strcmp(argv[1], "semstat")) {
		u.buf = &ds;
		v = semctl(id, 0, SEM_STAT, u);
		if (v < 0)
			return fail("semctl");
		printf("%d nsems %lu\n", v, (unsigned long)ds.sem_nsems);
		return 0;
	}
	if (!strcmp(argv[1], "setval") && argc >= 5) {
		u.val = atoi(argv[4]);
		if (semctl(id, atoi(argv[3]), SETVAL, u))
			return fail("semctl");
		return 0;
	}
	if (!strcmp(argv[1], "getall")) {
		u.buf = &ds;
		if (semctl(id, 0, IPC_STAT, u))
			return fail("semctl");
		if (ds.sem_nsems > 4096)
			return 2;
		u.array = vals;
		if (semctl(id, 0, GETALL, u))
			return fail("semctl");
		for (i = 0; i < (int)ds.sem_nsems; i++)
			printf(i ? " %u" : "%u", vals[i]);
		printf("\n");
		return 0;
	}
	if (!strcmp(argv[1], "setall")) {
		for (i = 3; i < argc && i - 3 < 4096; i++)
			vals[i - 3] = atoi(argv[i]);
		u.array = vals;
		if (semctl(id, 0, SETALL, u))
			return fail("semctl");
		return 0;
	}
	if (!strcmp(argv[1], "stat")) {
		u.buf = &ds;
		if (semctl(id, 0, IPC_STAT, u))
			return fail("semctl");
		printf("nsems %lu uid %u mode %o\n", (unsigned long)ds.sem_nsems,
		       ds.sem_perm.uid, ds.sem_perm.mode & 0777);
		return 0;
	}
	if (!strcmp(argv[1], "chmod") && argc >= 4) {
		u.buf = &ds;
		if (semctl(id, 0, IPC_STAT, u))
			return fail("semctl");
		ds.sem_perm.mode = strtol(argv[3], 0, 8);
		if (semctl(id, 0, IPC_SET, u))
			return fail("semctl");
		return 0;
	}
	if (!strcmp(argv[1], "rmid")) {
		if (semctl(id, 0, IPC_RMID))
			return fail("semctl");
		return 0;
	}
	return 2;
}
