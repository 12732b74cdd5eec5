// SPDX-License-Identifier: GPL-2.0-only
/*
 * C side of ssi.ko: module parameters (6.12's Rust module! has none), the
 * kernel's /proc hooks, and the C-ABI exports through which the other
 * ssi-rs modules call the core. Every function is declared in ssi_api.h.
 */
#include <linux/export.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/ssi.h>
#include <linux/types.h>

#include "ssi_api.h"

static uint node_id;
module_param(node_id, uint, 0444);
MODULE_PARM_DESC(node_id, "This node's id in 1..255 (0: set later through sysfs)");

u32 ssi_param_node_id(void)
{
	return node_id;
}

/*
 * The cluster-wide /proc view, the cluster's processes, kill(2), CPU
 * count, sysinfo(2) and /proc/<pid>/ssi behind the kernel's hooks
 * (entry.rs).
 */
static const struct ssi_proc_ops ssi_rs_proc_ops = {
	.owner = THIS_MODULE,
	.show = ssi_rs_proc_show,
	.pids = ssi_rs_pids,
	.task = ssi_rs_task,
	/* ps reads five files of each process within one description. */
	.task_valid_ms = 1000,
	.kill = ssi_rs_kill,
	.cpus = ssi_rs_cpus,
	.sysinfo = ssi_rs_sysinfo,
	.task_ssi = ssi_rs_task_ssi,
};

int ssi_glue_proc_register(void)
{
	return ssi_proc_register(&ssi_rs_proc_ops);
}

void ssi_glue_proc_unregister(void)
{
	ssi_proc_unregister(&ssi_rs_proc_ops);
}

/* Defined in Rust (entry.rs); rust/ssi_api.rs is how the modules call them. */
EXPORT_SYMBOL_GPL(ssi_node_id);
EXPORT_SYMBOL_GPL(ssi_rpc_register);
EXPORT_SYMBOL_GPL(ssi_rpc_register_deferred);
EXPORT_SYMBOL_GPL(ssi_rpc_register_lane);
EXPORT_SYMBOL_GPL(ssi_rpc_unregister);
EXPORT_SYMBOL_GPL(ssi_rpc_call);
EXPORT_SYMBOL_GPL(ssi_rpc_call_killable);
EXPORT_SYMBOL_GPL(ssi_rpc_send_window);
EXPORT_SYMBOL_GPL(ssi_send_oneway);
EXPORT_SYMBOL_GPL(ssi_task_moved);
EXPORT_SYMBOL_GPL(ssi_task_at);
EXPORT_SYMBOL_GPL(ssi_migrator_register);
EXPORT_SYMBOL_GPL(ssi_migrator_unregister);
EXPORT_SYMBOL_GPL(ssi_drainer_register);
EXPORT_SYMBOL_GPL(ssi_drainer_unregister);
EXPORT_SYMBOL_GPL(ssi_trail_register);
EXPORT_SYMBOL_GPL(ssi_trail_unregister);
EXPORT_SYMBOL_GPL(ssi_migrate);
EXPORT_SYMBOL_GPL(ssi_sysfs_dir);
EXPORT_SYMBOL_GPL(ssi_members);
EXPORT_SYMBOL_GPL(ssi_membership_register);
EXPORT_SYMBOL_GPL(ssi_membership_unregister);
EXPORT_SYMBOL_GPL(ssi_streams_register);
EXPORT_SYMBOL_GPL(ssi_streams_unregister);
EXPORT_SYMBOL_GPL(ssi_stream_describe);
EXPORT_SYMBOL_GPL(ssi_stream_attach);
