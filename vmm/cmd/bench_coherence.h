/* `vsmp-vmm bench coherence --local N`: the coherence engine's costs on N node processes on this
 * host, each beside its floor (the transport's own round trip plus a fault resolved locally)
 * measured in the same run. */
#ifndef VMM_CMD_BENCH_COHERENCE_H
#define VMM_CMD_BENCH_COHERENCE_H

int bench_coherence_main(int argc, char **argv);

#endif
