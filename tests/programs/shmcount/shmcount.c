// SPDX-License-Identifier: GPL-2.0-only
/*
 * shmcount: SysV shared memory probes for the cluster scenarios.
 *
 *   shmcount get KEY SIZE [MODE]    shmget(KEY, SIZE, IPC_CREAT | MODE): prints the id
 *   shmcount open KEY               shmget(KEY, 0, 0): prints the id
 *   shmcount write ID OFF TEXT      attaches, writes TEXT and its NUL at byte OFF
 *   shmcount read ID OFF            attaches read-only, prints the string at OFF
 *   shmcount fill ID BYTE           attaches, sets every byte of the segment to BYTE
 *   shmcount sum ID                 attaches read-only, prints the sum of its bytes
 *   shmcount count ID SEMID N       N times: P(sem 0 of SEMID), the long at
 *                                   byte 0 += 1, V(sem 0); prints "counted N"
 *   shmcount getlong ID             prints the long at byte 0
 *   shmcount watch ID OFF TEXT MS   attaches read-only, reads the string at
 *                                   OFF until it is TEXT (prints "saw TEXT")
 *                                   or MS ms passed ("timeout: OLD")
 *   shmcount stat ID                "size S uid U mode M nattch N"
 *   shmcount chmod ID MODE          IPC_SET of the mode
 *   shmcount rmid ID
 *   shmcount at ID [ro]             shmat only (then shmdt): prints "attached"
 * Errors: "error CALL ERRNO-NAME" and exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

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

static int semop1(int id, int delta)
{
	struct sembuf b = { .sem_num = 0, .sem_op = delta, .sem_flg = 0 };

	return semop(id, &b, 1);
}

static size_t size_of(int id)
{
	struct shmid_ds ds;

	if (shmctl(id, IPC_STAT, &ds))
		return 0;
	return ds.shm_segsz;
}

int main(int argc, char **argv)
{
	struct shmid_ds ds;
	char *p;
	int id, i, n;

	setvbuf(stdout, 0, _IOLBF, 0);
	if (argc < 3)
		return 2;
	if (!strcmp(argv[1], "get") && argc >= 4) {
		int mode = argc > 4 ? strtol(argv[4], 0, 8) : 0666;

		id = shmget(strtol(argv[2], 0, 0), atol(argv[3]), IPC_CREAT | mode);
		if (id < 0)
			return fail("shmget");
		printf("%d\n", id);
		return 0;
	}
	if (!strcmp(argv[1], "open")) {
		id = shmget(strtol(argv[2], 0, 0), 0, 0);
		if (id < 0)
			return fail("shmget");
		printf("%d\n", id);
		return 0;
	}
	id = atoi(argv[2]);
	if (!strcmp(argv[1], "at")) {
		p = shmat(id, 0, argc > 3 ? SHM_RDONLY : 0);
		if (p == (void *)-1)
			return fail("shmat");
		printf("attached\n");
		return shmdt(p) ? fail("shmdt") : 0;
	}
	if (!strcmp(argv[1], "write") && argc >= 5) {
		p = shmat(id, 0, 0);
		if (p == (void *)-1)
			return fail("shmat");
		strcpy(p + atol(argv[3]), argv[4]);
		return 0;
	}
	if (!strcmp(argv[1], "read") && argc >= 4) {
		p = shmat(id, 0, SHM_RDONLY);
		if (p == (void *)-1)
			return fail("shmat");
		printf("%s\n", p + atol(argv[3]));
		return 0;
	}
	if (!strcmp(argv[1], "watch") && argc >= 6) {
		long long end = now_ms() + atol(argv[5]);
		const char *s;

		p = shmat(id, 0, SHM_RDONLY);
		if (p == (void *)-1)
			return fail("shmat");
		s = p + atol(argv[3]);
		while (strcmp(s, argv[4])) {
			if (now_ms() > end) {
				printf("timeout: %s\n", s);
				return 1;
			}
			usleep(1000);
		}
		printf("saw %s\n", s);
		return 0;
	}
	if (!strcmp(argv[1], "fill") && argc >= 4) {
		size_t sz = size_of(id);

		p = shmat(id, 0, 0);
		if (p == (void *)-1)
			return fail("shmat");
		memset(p, atoi(argv[3]), sz);
		return 0;
	}
	if (!strcmp(argv[1], "sum")) {
		size_t sz = size_of(id), k;
		unsigned long long sum = 0;

		p = shmat(id, 0, SHM_RDONLY);
		if (p == (void *)-1)
			return fail("shmat");
		for (k = 0; k < sz; k++)
			sum += (unsigned char)p[k];
		printf("%llu\n", sum);
		return 0;
	}
	if (!strcmp(argv[1], "count") && argc >= 5) {
		int sem = atoi(argv[3]);
		volatile long *c;

		n = atoi(argv[4]);
		p = shmat(id, 0, 0);
		if (p == (void *)-1)
			return fail("shmat");
		c = (volatile long *)p;
		for (i = 0; i < n; i++) {
			if (semop1(sem, -1))
				return fail("semop");
			*c = *c + 1;
			if (semop1(sem, 1))
				return fail("semop");
		}
		printf("counted %d\n", n);
		return 0;
	}
	if (!strcmp(argv[1], "getlong")) {
		p = shmat(id, 0, SHM_RDONLY);
		if (p == (void *)-1)
			return fail("shmat");
		printf("%ld\n", *(long *)p);
		return 0;
	}
	if (!strcmp(argv[1], "stat")) {
		if (shmctl(id, IPC_STAT, &ds))
			return fail("shmctl");
		printf("size %zu uid %u mode %o nattch %lu\n", ds.shm_segsz,
		       ds.shm_perm.uid, ds.shm_perm.mode & 0777,
		       (unsigned long)ds.shm_nattch);
		return 0;
	}
	if (!strcmp(argv[1], "chmod") && argc >= 4) {
		if (shmctl(id, IPC_STAT, &ds))
			return fail("shmctl");
		ds.shm_perm.mode = strtol(argv[3], 0, 8);
		if (shmctl(id, IPC_SET, &ds))
			return fail("shmctl");
		return 0;
	}
	if (!strcmp(argv[1], "rmid")) {
		if (shmctl(id, IPC_RMID, 0))
			return fail("shmctl");
		return 0;
	}
	return 2;
}
