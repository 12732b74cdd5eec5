// SPDX-License-Identifier: GPL-2.0-only
/*
 * ipcmig: SysV IPC users that the scenarios migrate (issue 15, item 4).
 *
 *   ipcmig mover ID ROUNDS K   attaches segment ID; ROUNDS rounds of K
 *                              exchanges with a peer: exchange i writes
 *                              i to long 0 once long 1 is i - 1. After a
 *                              round it sets long 2 to the round and
 *                              prints "round R node N mover I peer J",
 *                              then waits until long 3 (go) reaches R.
 *                              Ends with "mover I peer J".
 *   ipcmig peer ID N           attaches ID; N times: waits until long 0
 *                              is i, writes i to long 1; "peer N"
 *   ipcmig get ID IDX          prints long IDX (read-only attach)
 *   ipcmig set ID IDX VAL      writes long IDX
 *   ipcmig semmsg SEM MSQ      semop(-1) on sem 0 of SEM (waits), sends
 *                              type 2 "got-sem" to MSQ, waits for a
 *                              message of type 3, sends type 4
 *                              "got-TEXT", prints "done TEXT node N"
 *   ipcmig hold ID [ro]        attaches ID, prints "attached", waits
 *                              for a signal
 *   ipcmig undo SEM            semop(-1, SEM_UNDO) on sem 0, prints
 *                              "held", waits for a signal
 * Each line printed names the node it runs on. Errors: "error CALL
 * ERRNO-NAME" and exit 1 (an EINTR is one: nothing may interrupt).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

struct m {
	long type;
	char text[64];
};

static int fail(const char *call)
{
	printf("error %s %s\n", call, strerror(errno));
	return 1;
}

static int node(void)
{
	FILE *f = fopen("/sys/kernel/ssi/node_id", "r");
	int n = -1;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* Waits until *p is v (another node writes it). */
static void wait_eq(volatile long *p, long v)
{
	while (*p != v)
		usleep(200);
}

static int semop1(int id, int delta, int flags)
{
	struct sembuf b = { .sem_num = 0, .sem_op = delta, .sem_flg = flags };

	return semop(id, &b, 1);
}

int main(int argc, char **argv)
{
	volatile long *p;
	struct m msg;
	long i, n;
	int id;

	setvbuf(stdout, 0, _IOLBF, 0);
	if (argc < 3)
		return 2;
	id = atoi(argv[2]);
	if (!strcmp(argv[1], "mover") && argc >= 5) {
		long rounds = atol(argv[3]), k = atol(argv[4]), r;

		p = shmat(id, 0, 0);
		if (p == (void *)-1)
			return fail("shmat");
		for (r = 1; r <= rounds; r++) {
			for (i = (r - 1) * k + 1; i <= r * k; i++) {
				wait_eq(&p[1], i - 1);
				p[0] = i;
			}
			wait_eq(&p[1], r * k);
			p[2] = r;
			printf("round %ld node %d mover %ld peer %ld\n", r, node(),
			       p[0], p[1]);
			if (r < rounds)
				while (p[3] < r)
					usleep(200);
		}
		printf("mover %ld peer %ld\n", p[0], p[1]);
		return 0;
	}
	if (!strcmp(argv[1], "peer") && argc >= 4) {
		n = atol(argv[3]);
		p = shmat(id, 0, 0);
		if (p == (void *)-1)
			return fail("shmat");
		for (i = 1; i <= n; i++) {
			wait_eq(&p[0], i);
			p[1] = i;
		}
		printf("peer %ld node %d\n", n, node());
		return 0;
	}
	if (!strcmp(argv[1], "get") && argc >= 4) {
		p = shmat(id, 0, SHM_RDONLY);
		if (p == (void *)-1)
			return fail("shmat");
		printf("%ld\n", p[atoi(argv[3])]);
		return 0;
	}
	if (!strcmp(argv[1], "set") && argc >= 5) {
		p = shmat(id, 0, 0);
		if (p == (void *)-1)
			return fail("shmat");
		p[atoi(argv[3])] = atol(argv[4]);
		return 0;
	}
	if (!strcmp(argv[1], "semmsg") && argc >= 4) {
		int q = atoi(argv[3]);
		char got[64];

		printf("waiting for the semaphore on node %d\n", node());
		if (semop1(id, -1, 0))
			return fail("semop");
		msg.type = 2;
		strcpy(msg.text, "got-sem");
		if (msgsnd(q, &msg, strlen(msg.text) + 1, 0))
			return fail("msgsnd");
		printf("waiting for a message on node %d\n", node());
		if (msgrcv(q, &msg, sizeof(msg.text), 3, 0) < 0)
			return fail("msgrcv");
		printf("done %s node %d\n", msg.text, node());
		snprintf(got, sizeof(got), "got-%.50s", msg.text);
		strcpy(msg.text, got);
		msg.type = 4;
		if (msgsnd(q, &msg, strlen(msg.text) + 1, 0))
			return fail("msgsnd");
		return 0;
	}
	if (!strcmp(argv[1], "hold")) {
		p = shmat(id, 0, argc > 3 ? SHM_RDONLY : 0);
		if (p == (void *)-1)
			return fail("shmat");
		printf("attached on node %d\n", node());
		pause();
		return 0;
	}
	if (!strcmp(argv[1], "undo")) {
		if (semop1(id, -1, SEM_UNDO))
			return fail("semop");
		printf("held on node %d\n", node());
		pause();
		return 0;
	}
	return 2;
}
