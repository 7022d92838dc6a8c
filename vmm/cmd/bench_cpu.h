/* `vsmp-vmm bench cpu [--iters N]`: the speed of the VMM's interpreter. The integer, memory and SSE
 * kernels of firmware/testguest/cpu_kernels.c run natively and in the test guest on the
 * interpreter, in the same run; each guest time is printed as a slowdown against the native one,
 * with the guest's instructions per second, then one JSON line. */
#ifndef VMM_CMD_BENCH_CPU_H
#define VMM_CMD_BENCH_CPU_H

/* argv[0] is "cpu". Returns 0, 1 if the guest failed or computed a wrong checksum, 2 on bad
 * arguments. */
int bench_cpu_main(int argc, char **argv);

#endif
