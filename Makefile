# SPDX-License-Identifier: GPL-2.0-only
# ssi-rs: single system image for Linux clusters.
#
#   make run     set up, build, boot the 4-node cluster, shell on node 1
#   make test    set up, build, run every test (host, KUnit, cluster scenarios)
#
# The kernel build (tools/setup) lives under $(SSI_CACHE), default
# ~/.cache/ssi-rs, keyed by patches + config fragment + toolchain.

SHELL := /bin/bash
KBUILD = $(shell tools/setup --kbuild)
KMAKE = $(MAKE) -C $(KBUILD) M=$(CURDIR) LLVM=1 RUSTC=/usr/bin/rustc \
	HOSTRUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc \
	RUST_LIB_SRC=/usr/lib/rustlib/src/rust/library BINDGEN=$(shell tools/setup --bindgen)
AGENT := tools/agent/target/x86_64-unknown-linux-gnu/release/ssi-agent
INITRAMFS := build/initramfs.cpio.gz
CLUSTER := tools/cluster

.PHONY: all setup modules agent programs ghost-tools initramfs run down test scenario test-selfcheck host-test fuzz \
	model-check bench clean

all: setup modules agent initramfs build/ssi-exec

setup:
	@tools/setup

modules: setup
	$(KMAKE) modules

agent:
	cd tools/agent && RUSTFLAGS="-C target-feature=+crt-static" \
		cargo build -q --release --target x86_64-unknown-linux-gnu

# The scenarios' exec client (host side).
build/ssi-exec: tools/exec/ssi-exec.c
	@mkdir -p build
	gcc -O2 -Wall -o $@ $<

# Test and benchmark programs for the guests (static, into /usr/libexec/ssi).
programs:
	cd tests/programs/tcpbench && RUSTFLAGS="-C target-feature=+crt-static" \
		cargo build -q --release --target x86_64-unknown-linux-gnu
	@mkdir -p tests/programs/bin
	cp tests/programs/tcpbench/target/x86_64-unknown-linux-gnu/release/tcpbench tests/programs/bin/
	gcc -O2 -static -o tests/programs/bin/vecsum tests/programs/vecsum/vecsum.c
	gcc -O2 -static -o tests/programs/bin/halfwrite tests/programs/halfwrite/halfwrite.c
	gcc -O2 -static -o tests/programs/bin/selfmig tests/programs/selfmig/selfmig.c
	gcc -O2 -static -o tests/programs/bin/migbench tests/programs/migbench/migbench.c
	gcc -O2 -static -o tests/programs/bin/lazyprobe tests/programs/lazyprobe/lazyprobe.c
	gcc -O2 -static -o tests/programs/bin/fsstate tests/programs/fsstate/fsstate.c
	gcc -O2 -static -o tests/programs/bin/tipcforge tests/programs/tipcforge/tipcforge.c
	gcc -O2 -static -o tests/programs/bin/nodump tests/programs/nodump/nodump.c
	gcc -O2 -static -o tests/programs/bin/credprobe tests/programs/credprobe/credprobe.c
	gcc -O2 -static -o tests/programs/bin/execloop tests/programs/execloop/execloop.c
	gcc -O2 -static -o tests/programs/bin/sysview tests/programs/sysview/sysview.c
	gcc -O2 -static -o tests/programs/bin/spin tests/programs/spin/spin.c
	gcc -O2 -Wall -static -o tests/programs/bin/ppid tests/programs/ppid/ppid.c
	gcc -O2 -static -o tests/programs/bin/pipecheck tests/programs/pipecheck/pipecheck.c
	gcc -O2 -Wall -static -o tests/programs/bin/pipeline tests/programs/pipeline/pipeline.c
	gcc -O2 -Wall -static -o tests/programs/bin/unixcheck tests/programs/unixcheck/unixcheck.c
	gcc -O2 -Wall -static -o tests/programs/bin/pollcheck tests/programs/pollcheck/pollcheck.c
	gcc -O2 -Wall -static -o tests/programs/bin/msgq tests/programs/msgq/msgq.c
	gcc -O2 -Wall -static -o tests/programs/bin/semcount tests/programs/semcount/semcount.c
	gcc -O2 -Wall -static -o tests/programs/bin/shmcount tests/programs/shmcount/shmcount.c
	gcc -O2 -Wall -static -o tests/programs/bin/memhog tests/programs/memhog/memhog.c
	gcc -O2 -Wall -static -o tests/programs/bin/ipcmig tests/programs/ipcmig/ipcmig.c
	gcc -O2 -Wall -static -o tests/programs/bin/sleepcheck tests/programs/sleepcheck/sleepcheck.c

# User tools of the guests (static, into /usr/bin): ssi-checkpoint, ssi-restart, ssi-migrate.
ghost-tools:
	cd tools/ghost && RUSTFLAGS="-C target-feature=+crt-static" \
		cargo build -q --release --target x86_64-unknown-linux-gnu

initramfs: modules agent programs ghost-tools
	@mkdir -p build
	tools/mkinitramfs $(INITRAMFS)

run: all
	@$(CLUSTER) down >/dev/null 2>&1 || true
	$(CLUSTER) up -n 4
	@echo "Shell on node 1 follows. Ctrl-] leaves it; 'make down' stops the cluster."
	@$(CLUSTER) console 1

down:
	$(CLUSTER) down

host-test:
	cd rust/proto && cargo test -q --release

# Longer runs of what make test runs briefly.
FUZZ_SECONDS ?= 600
fuzz: setup
	cd rust/proto/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run decode -- -max_total_time=$(FUZZ_SECONDS)

# Benchmarks (not tests): results/ gets tables and plots.
bench: all
	bench/core
	bench/ps
	bench/migration
	bench/sched
	bench/scale

model-check:
	cd rust/proto && cargo test --release -- --ignored --nocapture

test: all
	tests/run

# One scenario (or several: S="84 86") while working: make scenario S=86
scenario: all
	tests/run $(foreach s,$(S),--only $(s))

# The harness must turn red on a failing KUnit case and on an oops.
test-selfcheck: all
	@for inject in kunit-fail oops; do \
		if SSI_INJECT=$$inject tests/run --quick >build/selfcheck-$$inject.log 2>&1; then \
			echo "selfcheck: SSI_INJECT=$$inject stayed green"; exit 1; \
		else echo "selfcheck: SSI_INJECT=$$inject turned the run red, as it must"; fi; \
	done

clean:
	-$(KMAKE) clean
	rm -rf build
