/* Benchmarks. `bench exits` boots the test guest in its bench modes on a 2-vCPU machine built from
 * an embedded configuration, reads the timestamps the guest leaves through the bench-mark port
 * (0x502), and compares them with the bare-KVM floor (bench_floor.c) measured just before. It
 * measures KVM, so both run on KVM, and without /dev/kvm it is bad input (exit status 2). */
#include "vmm/cmd/bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coherence/cluster.h"
#include "coherence/cluster_key.h"
#include "coherence/engine.h"
#include "vmm/cmd/bench_coherence.h"
#include "vmm/cmd/bench_memory.h"
#include "vmm/cmd/bench_cpu.h"
#include "vmm/cmd/bench_floor.h"
#include "vmm/cmd/bench_guest.h"
#include "vmm/config.h"
#include "vmm/cpu/kvm/kvm.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/node_cluster.h"
#include "vmm/node_options.h"

#define BENCH_DEFAULT_ITERS 20000

static const char bench_usage[] = "usage: vsmp-vmm bench exits [--iters N]\n"
				  "       vsmp-vmm bench coherence [--local N] [--no-pin]\n"
				  "       vsmp-vmm bench memory\n"
				  "       vsmp-vmm bench guest [--nodes N] [--no-pin]\n"
				  "       vsmp-vmm bench cpu [--iters N]\n";

struct bench_guest_run {
	double first_insn_us;
	double loop_us; /* between marks 1 and 2, per iteration */
};

static const struct bench_mark *bench_find_mark(const struct machine *m, uint32_t value)
{
	unsigned n = atomic_load(&m->mark_count);
	for (unsigned i = 0; i < n && i < MACHINE_MAX_MARKS; i++)
		if (m->marks[i].value == value)
			return &m->marks[i];
	return NULL;
}

/* Boots the test guest with `cmdline` and returns its mark timings. */
static int bench_run_guest(const char *cmdline, unsigned iters, struct bench_guest_run *out)
{
	char toml[512], err[1024];
	snprintf(toml, sizeof(toml),
		 "[cluster]\nname = \"bench\"\n[guest]\nkind = \"testguest\"\naccel = \"kvm\"\n"
		 "cmdline = \"%s "
		 "tg.iters=%u\"\n[[node]]\nname = \"n0\"\nvcpus = 2\nmemory_mib = 64\n",
		 cmdline, iters);
	struct cluster_config cfg;
	if (config_parse(toml, strlen(toml), "bench", ".", &cfg, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	struct machine m;
	int rc = -1;
	if (machine_create(&m, &cfg, 0, NULL, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	m.console_out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int status = machine_run(&m);
	close(m.console_out);
	const struct bench_mark *first = bench_find_mark(&m, 0);
	const struct bench_mark *begin = bench_find_mark(&m, 1);
	const struct bench_mark *end = bench_find_mark(&m, 2);
	if (status != 0 || !first || !begin || !end) {
		log_error("bench guest '%s' failed (status %d)", cmdline, status);
		goto out;
	}
	out->first_insn_us = (double)(first->ns - m.start_ns) / 1000.0;
	out->loop_us = (double)(end->ns - begin->ns) / 1000.0 / iters;
	rc = 0;
out:
	machine_destroy(&m);
	config_free(&cfg);
	return rc;
}

static void bench_print(const char *what, double ours, double floor)
{
	printf("%-34s %10.2f us   floor %10.2f us   ratio %6.2fx\n", what, ours, floor,
	       ours / floor);
}

static int bench_exits(unsigned iters)
{
	char err[256];
	if (kvm_available(err, sizeof(err)) < 0) {
		log_error("bench exits measures KVM: %s", err);
		return VMM_EXIT_BAD_INPUT;
	}
	struct bench_floor floor;
	if (bench_floor_measure(iters, &floor, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return VMM_EXIT_HOST_ERROR;
	}
	struct bench_guest_run pio, ipi;
	unsigned ipi_iters = iters / 10 ? iters / 10 : 1;
	if (bench_run_guest("tg.bench=pio", iters, &pio) < 0 ||
	    bench_run_guest("tg.bench=ipi", ipi_iters, &ipi) < 0)
		return VMM_EXIT_HOST_ERROR;
	printf("vsmp-vmm bench exits (%u PIO iterations, %u IPI round trips)\n", iters, ipi_iters);
	bench_print("start to first guest instruction", pio.first_insn_us, floor.first_insn_us);
	bench_print("PIO exit round trip", pio.loop_us, floor.pio_us);
	bench_print("IPI round trip between 2 vCPUs", ipi.loop_us, floor.ipi_us);
	printf("{\"first_insn_us\": %.2f, \"first_insn_floor_us\": %.2f, \"pio_us\": %.3f, "
	       "\"pio_floor_us\": %.3f, \"ipi_us\": %.2f, \"ipi_floor_us\": %.2f}\n",
	       pio.first_insn_us, floor.first_insn_us, pio.loop_us, floor.pio_us, ipi.loop_us,
	       floor.ipi_us);
	return 0;
}

int bench_make_temp_dir(const char *name, char *dir, size_t len)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	if ((size_t)snprintf(dir, len, "%s/vsmp-%s.XXXXXX", tmp, name) >= len || !mkdtemp(dir)) {
		log_error("cannot make a temporary directory under %s", tmp);
		return -1;
	}
	return 0;
}

static void bench_key_path(const char *dir, char *key, size_t len)
{
	snprintf(key, len, "%s/cluster.key", dir);
}

int bench_cluster_config(const char *dir, const char *cluster_keys, const char *node_tables,
			 struct cluster_config *cfg)
{
	char key[512], err[1024];
	bench_key_path(dir, key, sizeof(key));
	if (cluster_key_generate(key, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	size_t size = strlen(key) + strlen(cluster_keys) + strlen(node_tables) + 64;
	char *text = malloc(size);
	if (!text) {
		log_error("out of memory");
		return -1;
	}
	snprintf(text, size, "[cluster]\nname = \"bench\"\nkey_file = \"%s\"\n%s%s", key,
		 cluster_keys, node_tables);
	int rc = config_parse(text, strlen(text), "bench", dir, cfg, err, sizeof(err));
	free(text);
	if (rc < 0)
		log_error("%s", err);
	return rc;
}

/* Below the kernel's ephemeral range (32768 up), where an outgoing connection may hold a port. */
unsigned bench_first_port(void)
{
	return 20000 + (unsigned)getpid() % 12000;
}

static void bench_fatal(void *ctx, const char *why)
{
	(void)ctx;
	log_error("%s", why);
	_exit(VMM_EXIT_HOST_ERROR);
}

static void bench_peer_lost(void *ctx, unsigned node, const char *why)
{
	(void)ctx;
	log_error("node %u lost: %s", node, why);
	_exit(VMM_EXIT_HOST_ERROR);
}

int bench_region_start(struct bench_region *r, const struct cluster_config *cfg, unsigned self,
		       uint64_t size, struct coh_home_config homes, uint64_t cache_pages,
		       bool loss_tolerant, char *err, size_t errlen)
{
	static const struct cluster_ops ops = {.peer_lost = bench_peer_lost};
	bool bad_input;
	r->cluster = node_cluster_join(cfg, self, 30, &ops, r, &bad_input, err, errlen);
	if (!r->cluster || guest_memory_create(&r->mem, size, err, errlen) < 0)
		return -1;
	struct engine_params params = {.host = r->mem.host,
				       .memfd = r->mem.fd,
				       .size = r->mem.size,
				       .cluster = r->cluster,
				       .homes = homes,
				       .spare = COH_NO_MIRROR,
				       .cache_pages = cache_pages,
				       .loss_tolerant = loss_tolerant,
				       .fatal = bench_fatal,
				       .ctx = r};
	r->engine = engine_create(&params, err, errlen);
	return r->engine ? 0 : -1;
}

void bench_region_stop(struct bench_region *r)
{
	engine_destroy(r->engine);
	if (r->cluster)
		cluster_leave(r->cluster);
	guest_memory_destroy(&r->mem);
}

void bench_remove_temp_dir(const char *dir)
{
	char key[512];
	bench_key_path(dir, key, sizeof(key));
	unlink(key);
	rmdir(dir);
}

int bench_main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(bench_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? VMM_EXIT_BAD_INPUT : 0;
	}
	if (strcmp(argv[1], "coherence") == 0)
		return bench_coherence_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "memory") == 0)
		return bench_memory_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "guest") == 0)
		return bench_guest_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "cpu") == 0)
		return bench_cpu_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "exits") != 0) {
		fprintf(stderr, "vsmp-vmm: unknown benchmark '%s'\n%s", argv[1], bench_usage);
		return VMM_EXIT_BAD_INPUT;
	}
	unsigned long iters = BENCH_DEFAULT_ITERS;
	for (int i = 2; i < argc; i++) {
		char *end = NULL;
		if (is_help_option(argv[i])) {
			fputs(bench_usage, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
			iters = strtoul(argv[++i], &end, 10);
			if (*end || iters == 0 || iters > 10000000) {
				fprintf(stderr, "vsmp-vmm: --iters takes 1..10000000\n");
				return VMM_EXIT_BAD_INPUT;
			}
		} else {
			fprintf(stderr, "vsmp-vmm: unexpected argument '%s'\n%s", argv[i],
				bench_usage);
			return VMM_EXIT_BAD_INPUT;
		}
	}
	return bench_exits((unsigned)iters);
}
