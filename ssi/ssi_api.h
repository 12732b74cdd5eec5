/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Every C entry point of ssi.ko, declared once.
 *
 * exports.c includes this header; bindgen turns it into
 * rust/ssi_api_generated.rs (ssi/Kbuild), which the other modules call
 * through (rust/ssi_api.rs) and against which ssi.ko checks the
 * signatures of its Rust definitions (ssi/entry.rs, check_signatures!):
 * a definition that differs from its declaration here fails the build.
 */
#ifndef SSI_RS_API_H
#define SSI_RS_API_H

#include <linux/ssi.h>
#include <linux/types.h>

struct file;
struct kobject;
struct seq_file;
struct sysinfo;

/*
 * A module's RPC handler: fills resp (capacity cap) and returns its
 * length, or a negative errno sent back as the response status.
 */
typedef long (*ssi_handler_t)(void *ctx, u8 src, const u8 *req, size_t len,
			      u8 *resp, size_t cap);
/* A module's membership listener: node joined (up) or left the view. */
typedef void (*ssi_listener_t)(void *ctx, u8 node, bool up);
/*
 * A module's chunk source for ssi_rpc_send_window: writes the next chunk
 * into buf (capacity cap) and returns its length, 0 at the end, or a
 * negative errno that aborts the transfer.
 */
typedef long (*ssi_chunk_fn_t)(void *ctx, u8 *buf, size_t cap);
/*
 * The ghost module's migration of process pid of this node to node: 0 once
 * it runs there, or a negative errno (it goes on here). pid 0: the calling
 * process itself, which execve() just gave a new program, on its way back
 * to user mode: 0 once queued (if it fails there, it goes on here).
 */
typedef int (*ssi_migrator_t)(void *ctx, u32 pid, u8 node);
/*
 * The scheduler's drain of node before a write to /sys/kernel/ssi/remove
 * retires it: 0 to retire it, or a negative errno that the write returns
 * (the node stays). force: the writer confirmed that what cannot leave
 * may stay behind. Sleeps (bounded, ends early on a signal).
 */
typedef int (*ssi_drainer_t)(void *ctx, u8 node, bool force);

/* What the ghost module knows of a process's migrations. */
struct ssi_trail {
	/* How many times it migrated. */
	u32 migrations;
	/* The node that keeps its stub: where it was born. */
	u8 home;
	/* The node its last migration came from. */
	u8 from;
	/* When it arrived from there: seconds since the epoch. */
	u64 when;
};
/*
 * The ghost module's record of the migrations of process pid of this node
 * (or of its stub here), for /proc/<pid>/ssi: 0 with *out filled, or
 * -ENOENT if the process never migrated.
 */
typedef int (*ssi_trail_t)(void *ctx, u32 pid, struct ssi_trail *out);

/*
 * The module that carries open pipes across migrations (dynstreams), for
 * the ghost module, which does not depend on it.
 * describe: if f, fd fd of process pid, is a stream it carries, writes
 * its token into tok (capacity cap) and the node that holds the stream
 * into *node, and returns the token's length; -ENOENT if f is not one,
 * another negative errno to refuse it. It keeps nothing.
 * attach: makes *out a new file for a token (a reference the caller
 * owns), open with the O_ACCMODE and O_NONBLOCK of flags, for the current
 * task; a negative errno on failure.
 */
struct ssi_stream_ops {
	long (*describe)(void *ctx, struct file *f, u32 pid, u32 fd, u8 *node,
			 u8 *tok, size_t cap);
	int (*attach)(void *ctx, const u8 *tok, size_t len, u32 flags,
		      struct file **out);
};

/* Exported to the other ssi-rs modules (EXPORT_SYMBOL_GPL in exports.c). */
u32 ssi_node_id(void);
int ssi_rpc_register(u16 service, ssi_handler_t handler, void *ctx);
int ssi_rpc_register_deferred(u16 service, ssi_handler_t handler, void *ctx);
int ssi_rpc_register_lane(u16 service, ssi_handler_t handler, void *ctx);
void ssi_rpc_unregister(u16 service);
long ssi_rpc_call(u8 dst, u16 service, const u8 *req, size_t len, u8 *resp,
		  size_t cap, u32 timeout_ms);
long ssi_rpc_call_killable(u8 dst, u16 service, const u8 *req, size_t len,
			   u8 *resp, size_t cap, u32 timeout_ms);
s64 ssi_rpc_send_window(u8 dst, u16 service, ssi_chunk_fn_t next, void *ctx,
			u32 window, u32 timeout_ms);
int ssi_send_oneway(u8 dst, u16 service, const u8 *payload, size_t len);
int ssi_task_moved(u32 pid, u8 node);
u8 ssi_task_at(u32 pid);
int ssi_migrator_register(ssi_migrator_t migrator, void *ctx);
void ssi_migrator_unregister(ssi_migrator_t migrator, void *ctx);
int ssi_migrate(u32 pid, u8 node);
int ssi_drainer_register(ssi_drainer_t drainer, void *ctx);
void ssi_drainer_unregister(ssi_drainer_t drainer, void *ctx);
int ssi_trail_register(ssi_trail_t trail, void *ctx);
void ssi_trail_unregister(ssi_trail_t trail, void *ctx);
struct kobject *ssi_sysfs_dir(void);
int ssi_members(u8 *out);
int ssi_membership_register(ssi_listener_t listener, void *ctx);
void ssi_membership_unregister(ssi_listener_t listener, void *ctx);
int ssi_streams_register(const struct ssi_stream_ops *ops, void *ctx);
void ssi_streams_unregister(const struct ssi_stream_ops *ops);
long ssi_stream_describe(struct file *f, u32 pid, u32 fd, u8 *node, u8 *tok,
			 size_t cap);
int ssi_stream_attach(const u8 *tok, size_t len, u32 flags, struct file **out);

/* The kernel's /proc hooks (struct ssi_proc_ops in exports.c). */
int ssi_rs_proc_show(enum ssi_proc_file file, struct seq_file *m);
int ssi_rs_pids(pid_t from, pid_t *pids, unsigned int max);
int ssi_rs_task(pid_t pid, struct ssi_task_info *info, char *data,
		size_t cap);
int ssi_rs_kill(const struct ssi_kill *k);
unsigned int ssi_rs_cpus(void);
int ssi_rs_sysinfo(struct sysinfo *info);
int ssi_rs_task_ssi(pid_t pid, struct seq_file *m);

/* Between exports.c and ssi_core.rs. */
u32 ssi_param_node_id(void);
int ssi_glue_proc_register(void);
void ssi_glue_proc_unregister(void);

#endif /* SSI_RS_API_H */
