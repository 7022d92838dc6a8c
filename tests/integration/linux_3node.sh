#!/usr/bin/env bash
# Debian's stock 6.1 kernel across 3 local nodes (one vCPU and 256 MiB each, 127.0.0.1:7300-7302):
# every AP comes up by INIT/SIPI across nodes, nproc is 3, /sys/devices/system/node/ has one
# NUMA node per node with that node's CPU and memory, MemTotal is their sum, and a multithreaded
# program of ours (tests/linux/pthreads.c: mutexes, condition variables, barriers) prints in the
# guest exactly what it prints natively. The console must show no clock or interrupt warning.
# make linux-check runs the longer programs. VSMP_LINUX_TIMEOUT (seconds, default 570) bounds
# the boot.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/linux_lib.sh"
need_cpu
rounds=200

linux_kernel
linux_initramfs "$WORK/initramfs.cpio" --add "$LINUX_PROGRAMS/pthreads" --run "pthreads $rounds"
linux_config "$WORK/linux.toml" "$WORK/initramfs.cpio" 3 1 256 7300
linux_boot linux "$WORK/linux.toml" "${VSMP_LINUX_TIMEOUT:-570}"
linux_expect_machine linux 3 1 256
expect_line linux 'smp: Brought up 3 nodes, 3 CPUs'
linux_expect_native linux pthreads "$rounds"
linux_expect_healthy linux
grep '^LINUX ' "$WORK/linux.out"
