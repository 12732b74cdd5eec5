// SPDX-License-Identifier: GPL-2.0-only
/*
 * C side of ssi.ko: module parameters (6.12's Rust module! has none) and
 * the C-ABI exports through which the other ssi-rs modules call the core.
 */
#include <linux/export.h>
#include <linux/moduleparam.h>
#include <linux/types.h>

static uint node_id;
module_param(node_id, uint, 0444);
MODULE_PARM_DESC(node_id, "This node's id in 1..255 (0: set later through sysfs)");

u32 ssi_param_node_id(void);
u32 ssi_param_node_id(void)
{
	return node_id;
}

/* Defined in Rust (ssi_core.rs). */
u32 ssi_node_id(void);
EXPORT_SYMBOL_GPL(ssi_node_id);
