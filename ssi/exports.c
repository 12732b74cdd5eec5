// SPDX-License-Identifier: GPL-2.0-only
/*
 * C side of ssi.ko: module parameters (6.12's Rust module! has none) and
 * the C-ABI exports through which the other ssi-rs modules call the core.
 */
#include <linux/export.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/ssi.h>
#include <linux/types.h>

static uint node_id;
module_param(node_id, uint, 0444);
MODULE_PARM_DESC(node_id, "This node's id in 1..255 (0: set later through sysfs)");

u32 ssi_param_node_id(void);
u32 ssi_param_node_id(void)
{
	return node_id;
}

/*
 * The cluster-wide /proc view (globalproc.rs), the cluster's processes,
 * kill(2) and CPU count (tasks.rs) behind the kernel's hooks.
 */
int ssi_rs_proc_show(enum ssi_proc_file file, struct seq_file *m);
int ssi_rs_pids(pid_t from, pid_t *pids, unsigned int max);
int ssi_rs_task(pid_t pid, struct ssi_task_info *info, char *data,
		size_t cap);
int ssi_rs_kill(const struct ssi_kill *k);
unsigned int ssi_rs_cpus(void);

static const struct ssi_proc_ops ssi_rs_proc_ops = {
	.owner = THIS_MODULE,
	.show = ssi_rs_proc_show,
	.pids = ssi_rs_pids,
	.task = ssi_rs_task,
	/* ps reads five files of each process within one description. */
	.task_valid_ms = 1000,
	.kill = ssi_rs_kill,
	.cpus = ssi_rs_cpus,
};

int ssi_glue_proc_register(void);
int ssi_glue_proc_register(void)
{
	return ssi_proc_register(&ssi_rs_proc_ops);
}

void ssi_glue_proc_unregister(void);
void ssi_glue_proc_unregister(void)
{
	ssi_proc_unregister(&ssi_rs_proc_ops);
}

/* Defined in Rust (ssi_core.rs, api.rs); see rust/ssi_api.rs for use. */
u32 ssi_node_id(void);
EXPORT_SYMBOL_GPL(ssi_node_id);

typedef long (*ssi_handler_t)(void *ctx, u8 src, const u8 *req, size_t len,
			      u8 *resp, size_t cap);
typedef void (*ssi_listener_t)(void *ctx, u8 node, bool up);

int ssi_rpc_register(u16 service, ssi_handler_t handler, void *ctx);
EXPORT_SYMBOL_GPL(ssi_rpc_register);
int ssi_rpc_register_deferred(u16 service, ssi_handler_t handler, void *ctx);
EXPORT_SYMBOL_GPL(ssi_rpc_register_deferred);
int ssi_rpc_register_lane(u16 service, ssi_handler_t handler, void *ctx);
EXPORT_SYMBOL_GPL(ssi_rpc_register_lane);
void ssi_rpc_unregister(u16 service);
EXPORT_SYMBOL_GPL(ssi_rpc_unregister);
long ssi_rpc_call(u8 dst, u16 service, const u8 *req, size_t len, u8 *resp,
		  size_t cap, u32 timeout_ms);
EXPORT_SYMBOL_GPL(ssi_rpc_call);
long ssi_rpc_call_killable(u8 dst, u16 service, const u8 *req, size_t len,
			   u8 *resp, size_t cap, u32 timeout_ms);
EXPORT_SYMBOL_GPL(ssi_rpc_call_killable);
typedef long (*ssi_chunk_fn_t)(void *ctx, u8 *buf, size_t cap);
s64 ssi_rpc_send_window(u8 dst, u16 service, ssi_chunk_fn_t next, void *ctx,
			u32 window, u32 timeout_ms);
EXPORT_SYMBOL_GPL(ssi_rpc_send_window);
int ssi_send_oneway(u8 dst, u16 service, const u8 *payload, size_t len);
EXPORT_SYMBOL_GPL(ssi_send_oneway);
int ssi_task_moved(u32 pid, u8 node);
EXPORT_SYMBOL_GPL(ssi_task_moved);
struct kobject *ssi_sysfs_dir(void);
EXPORT_SYMBOL_GPL(ssi_sysfs_dir);
int ssi_members(u8 *out);
EXPORT_SYMBOL_GPL(ssi_members);
int ssi_membership_register(ssi_listener_t listener, void *ctx);
EXPORT_SYMBOL_GPL(ssi_membership_register);
void ssi_membership_unregister(ssi_listener_t listener, void *ctx);
EXPORT_SYMBOL_GPL(ssi_membership_unregister);
