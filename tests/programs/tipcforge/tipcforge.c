// SPDX-License-Identifier: GPL-2.0-only
/*
 * tipcforge: what an unprivileged process can try against the ssi core's
 * TIPC transport. Run as any user:
 *
 *   tipcforge bind ID          try to bind and join the ssi service type;
 *                              prints one line per attempt, exits 0 only
 *                              if every attempt was refused
 *   tipcforge send CLAIM DST PID RETIRE
 *                              sends one message of each kind to node DST,
 *                              with CLAIM as the sender's node id: a View
 *                              naming only CLAIM, an Ask, a kill(SIGKILL) of
 *                              PID as root with CAP_KILL, a Response, a
 *                              heartbeat, a ghost-service one-way, a
 *                              request to the pipe and SysV IPC services, a
 *                              coherence (DSM) one-way, and a Retire of
 *                              node RETIRE; prints "sent N"
 */
#include <errno.h>
#include <linux/tipc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SSI_TYPE 0x53534901u
#define HEADER_LEN 24

enum kind { VIEW = 1, ASK, REQUEST, RESPONSE, ONEWAY, RETIRE };

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = v;
	b[1] = v >> 8;
}

static void put32(uint8_t *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = v >> (8 * i);
}

static void put64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = v >> (8 * i);
}

static int try_bind(int ty, uint32_t lower, uint32_t upper)
{
	struct sockaddr_tipc a = { .family = AF_TIPC };
	int s = socket(AF_TIPC, ty, 0);

	if (s < 0) {
		perror("socket");
		return -1;
	}
	a.addrtype = TIPC_SERVICE_RANGE;
	a.scope = TIPC_CLUSTER_SCOPE;
	a.addr.nameseq.type = SSI_TYPE;
	a.addr.nameseq.lower = lower;
	a.addr.nameseq.upper = upper;
	int r = bind(s, (struct sockaddr *)&a, sizeof(a));
	int e = errno;

	close(s);
	if (r == 0) {
		printf("bind %u..%u: ACCEPTED\n", lower, upper);
		return 1;
	}
	printf("bind %u..%u: refused (%s)\n", lower, upper, strerror(e));
	return 0;
}

static int try_join(uint32_t instance)
{
	struct tipc_group_req g = { .type = SSI_TYPE, .instance = instance,
				    .scope = TIPC_CLUSTER_SCOPE };
	int s = socket(AF_TIPC, SOCK_RDM, 0);

	if (s < 0) {
		perror("socket");
		return -1;
	}
	int r = setsockopt(s, SOL_TIPC, TIPC_GROUP_JOIN, &g, sizeof(g));
	int e = errno;

	close(s);
	if (r == 0) {
		printf("group join %u: ACCEPTED\n", instance);
		return 1;
	}
	printf("group join %u: refused (%s)\n", instance, strerror(e));
	return 0;
}

static int bind_all(uint32_t id)
{
	int bad = 0;

	bad |= try_bind(SOCK_RDM, id, id);
	bad |= try_bind(SOCK_RDM, 200, 200);
	bad |= try_bind(SOCK_RDM, 1, 255);
	bad |= try_bind(SOCK_SEQPACKET, 201, 201);
	bad |= try_join(202);
	return bad ? 3 : 0;
}

static int sock = -1;

static int send_msg(uint8_t dst, uint8_t claim, enum kind k, uint16_t service,
		    uint64_t id, const uint8_t *payload, uint32_t len)
{
	uint8_t msg[HEADER_LEN + 64];
	struct sockaddr_tipc a = { .family = AF_TIPC };

	memcpy(msg, "SSI1", 4);
	msg[4] = 1;
	msg[5] = k;
	put16(msg + 6, service);
	msg[8] = claim;
	msg[9] = dst;
	put16(msg + 10, 0);
	put64(msg + 12, id);
	put32(msg + 20, len);
	memcpy(msg + HEADER_LEN, payload, len);
	a.addrtype = TIPC_SERVICE_ADDR;
	a.addr.name.name.type = SSI_TYPE;
	a.addr.name.name.instance = dst;
	if (sendto(sock, msg, HEADER_LEN + len, 0, (struct sockaddr *)&a,
		   sizeof(a)) < 0) {
		fprintf(stderr, "send kind %d: %s\n", k, strerror(errno));
		return 0;
	}
	return 1;
}

static int send_all(uint8_t claim, uint8_t dst, int32_t pid, uint8_t retire)
{
	uint8_t kill[21] = { 0 };
	uint8_t view[2] = { claim, 0 };
	uint8_t cpus[2] = { 64, 0 };
	uint8_t junk[16] = { 1, 2, 3, 4 };
	int sent = 0;

	sock = socket(AF_TIPC, SOCK_RDM, 0);
	if (sock < 0) {
		perror("socket");
		return 1;
	}
	/* kill(pid, SIGKILL) by pid 1, uid 0, euid 0, with CAP_KILL. */
	put32(kill, 9);
	put32(kill + 4, pid);
	put32(kill + 8, 1);
	kill[20] = 1;
	sent += send_msg(dst, claim, VIEW, 0, 1000000, view, 1);
	sent += send_msg(dst, claim, ASK, 0, 0, NULL, 0);
	sent += send_msg(dst, claim, REQUEST, 8, 77, kill, sizeof(kill));
	sent += send_msg(dst, claim, RESPONSE, 8, 1, NULL, 0);
	sent += send_msg(dst, claim, ONEWAY, 2, 0, cpus, sizeof(cpus));
	sent += send_msg(dst, claim, ONEWAY, 300, 0, junk, sizeof(junk));
	sent += send_msg(dst, claim, REQUEST, 302, 78, junk, sizeof(junk));
	sent += send_msg(dst, claim, REQUEST, 303, 79, junk, sizeof(junk));
	sent += send_msg(dst, claim, ONEWAY, 304, 0, junk, sizeof(junk));
	sent += send_msg(dst, claim, RETIRE, 0, 0, &retire, 1);
	printf("sent %d\n", sent);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "bind"))
		return bind_all(strtoul(argv[2], NULL, 0));
	if (argc == 6 && !strcmp(argv[1], "send"))
		return send_all(strtoul(argv[2], NULL, 0),
				strtoul(argv[3], NULL, 0),
				strtol(argv[4], NULL, 0),
				strtoul(argv[5], NULL, 0));
	fprintf(stderr, "usage: tipcforge bind ID | send CLAIM DST PID RETIRE\n");
	return 2;
}
