// SPDX-License-Identifier: GPL-2.0-only
/*
 * msgq: SysV message queue probes for the cluster scenarios.
 *
 *   msgq get KEY [MODE]         msgget(KEY, IPC_CREAT | MODE): prints the id
 *   msgq open KEY               msgget(KEY, 0): prints the id
 *   msgq send ID TYPE TEXT [nowait]
 *   msgq recv ID TYPE [nowait]  prints "TYPE TEXT"
 *   msgq produce ID N           N messages of type 1 + i % 3, texts "m<i>"
 *   msgq consume ID N           takes them in order: "consumed N ok" or "bad ..."
 *   msgq stat ID                "qnum Q uid U mode M cbytes B"
 *   msgq rmid ID
 * Errors: "error CALL ERRNO-NAME" and exit 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

struct m {
	long type;
	char text[8192];
};

static int fail(const char *call)
{
	printf("error %s %s\n", call, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	static struct m m;
	int id, i, n;
	long t;
	ssize_t got;

	setvbuf(stdout, 0, _IOLBF, 0);
	if (argc < 3)
		return 2;
	if (!strcmp(argv[1], "get") || !strcmp(argv[1], "open")) {
		int mode = argc > 3 ? strtol(argv[3], 0, 8) : 0666;

		id = msgget(strtol(argv[2], 0, 0), !strcmp(argv[1], "get") ? IPC_CREAT | mode : 0);
		if (id < 0)
			return fail("msgget");
		printf("%d\n", id);
		return 0;
	}
	id = atoi(argv[2]);
	if (!strcmp(argv[1], "send") && argc >= 5) {
		m.type = atol(argv[3]);
		snprintf(m.text, sizeof(m.text), "%s", argv[4]);
		if (msgsnd(id, &m, strlen(m.text) + 1, argc > 5 ? IPC_NOWAIT : 0))
			return fail("msgsnd");
		return 0;
	}
	if (!strcmp(argv[1], "recv") && argc >= 4) {
		got = msgrcv(id, &m, sizeof(m.text), atol(argv[3]), argc > 4 ? IPC_NOWAIT : 0);
		if (got < 0)
			return fail("msgrcv");
		printf("%ld %s\n", m.type, m.text);
		return 0;
	}
	if (!strcmp(argv[1], "produce") && argc >= 4) {
		n = atoi(argv[3]);
		for (i = 0; i < n; i++) {
			m.type = 1 + i % 3;
			snprintf(m.text, sizeof(m.text), "m%d", i);
			if (msgsnd(id, &m, strlen(m.text) + 1, 0))
				return fail("msgsnd");
		}
		printf("produced %d\n", n);
		return 0;
	}
	if (!strcmp(argv[1], "consume") && argc >= 4) {
		char want[32];

		n = atoi(argv[3]);
		for (i = 0; i < n; i++) {
			got = msgrcv(id, &m, sizeof(m.text), 0, 0);
			if (got < 0)
				return fail("msgrcv");
			snprintf(want, sizeof(want), "m%d", i);
			t = 1 + i % 3;
			if (m.type != t || strcmp(m.text, want) || got != (ssize_t)strlen(want) + 1) {
				printf("bad %d: type %ld text %.40s size %zd\n", i, m.type, m.text, got);
				return 1;
			}
		}
		printf("consumed %d ok\n", n);
		return 0;
	}
	if (!strcmp(argv[1], "stat")) {
		struct msqid_ds ds;

		if (msgctl(id, IPC_STAT, &ds))
			return fail("msgctl");
		printf("qnum %lu uid %u mode %o cbytes %lu\n", (unsigned long)ds.msg_qnum,
		       ds.msg_perm.uid, ds.msg_perm.mode & 0777, (unsigned long)ds.__msg_cbytes);
		return 0;
	}
	if (!strcmp(argv[1], "rmid")) {
		if (msgctl(id, IPC_RMID, 0))
			return fail("msgctl");
		return 0;
	}
	return 2;
}
