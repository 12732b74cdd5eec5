// SPDX-License-Identifier: GPL-2.0-only
/*
 * sysview: prints how glibc and the kernel size the machine, one
 * "name value" line each, for scenario 53 to compare with the files of
 * /proc and the other tools:
 *
 *   sysinfo.*          every field of sysinfo(2), memory in bytes
 *                      (field * mem_unit), loads as the kernel gives them
 *                      (1/65536)
 *   nprocessors_onln   sysconf(_SC_NPROCESSORS_ONLN)
 *   nprocessors_conf   sysconf(_SC_NPROCESSORS_CONF)
 *   phys_pages         sysconf(_SC_PHYS_PAGES)
 *   avphys_pages       sysconf(_SC_AVPHYS_PAGES)
 *   pagesize           sysconf(_SC_PAGESIZE)
 *   get_nprocs         get_nprocs()
 *   get_nprocs_conf    get_nprocs_conf()
 *
 * Static, so that what it prints is glibc 2.36's reading of the kernel
 * whatever libraries a node has. Exits 1 if sysinfo(2) fails.
 *
 * sysview --hold SECONDS: prints nothing and adds 1 to its node's load for
 * SECONDS without using a CPU: it vforks a child that sleeps, and a vfork
 * parent waits uninterruptibly (TASK_KILLABLE), which the load counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

static int hold(unsigned int seconds)
{
	pid_t pid = vfork();

	if (pid < 0) {
		perror("vfork");
		return 1;
	}
	if (pid == 0) {
		/* Only sleep and _exit are safe in a vfork child. */
		sleep(seconds);
		_exit(0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sysinfo si;
	unsigned long long u;

	if (argc == 3 && !strcmp(argv[1], "--hold"))
		return hold(strtoul(argv[2], NULL, 10));
	if (argc != 1) {
		fprintf(stderr, "usage: sysview [--hold SECONDS]\n");
		return 2;
	}
	if (sysinfo(&si)) {
		perror("sysinfo");
		return 1;
	}
	u = si.mem_unit;
	printf("sysinfo.uptime %ld\n", si.uptime);
	printf("sysinfo.loads %lu %lu %lu\n", si.loads[0], si.loads[1], si.loads[2]);
	printf("sysinfo.totalram %llu\n", si.totalram * u);
	printf("sysinfo.freeram %llu\n", si.freeram * u);
	printf("sysinfo.sharedram %llu\n", si.sharedram * u);
	printf("sysinfo.bufferram %llu\n", si.bufferram * u);
	printf("sysinfo.totalswap %llu\n", si.totalswap * u);
	printf("sysinfo.freeswap %llu\n", si.freeswap * u);
	printf("sysinfo.procs %u\n", si.procs);
	printf("sysinfo.mem_unit %u\n", si.mem_unit);
	printf("nprocessors_onln %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	printf("nprocessors_conf %ld\n", sysconf(_SC_NPROCESSORS_CONF));
	printf("phys_pages %ld\n", sysconf(_SC_PHYS_PAGES));
	printf("avphys_pages %ld\n", sysconf(_SC_AVPHYS_PAGES));
	printf("pagesize %ld\n", sysconf(_SC_PAGESIZE));
	printf("get_nprocs %d\n", get_nprocs());
	printf("get_nprocs_conf %d\n", get_nprocs_conf());
	return 0;
}
