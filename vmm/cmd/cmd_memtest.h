/* `vsmp-vmm memtest`: the coherence engine without KVM. Every node of a configuration maps the
 * same small region, threads on every node hammer it, and the litmus tests (message passing, store
 * buffering, IRIW, coherence of one word) and a randomized stress check what they observe. */
#ifndef VMM_CMD_MEMTEST_H
#define VMM_CMD_MEMTEST_H

int cmd_memtest_main(int argc, char **argv);

#endif
