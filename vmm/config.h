/* The cluster description (cluster.toml, see docs/config.md): the nodes, the mode, the guest and
 * the devices, validated and with the derived numbers (vCPU ids, memory offsets, totals) worked
 * out, plus a hash every node can compare to know they all run the same cluster. */
#ifndef VMM_CONFIG_H
#define VMM_CONFIG_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

enum cluster_mode { CLUSTER_MODE_SYSTEM, CLUSTER_MODE_MEMORY };
/* Which node homes each page of guest RAM: its NUMA node's (the nodes' shares in order), pages
 * striped over the nodes, or the first node to touch it. */
enum memory_homes { HOMES_NUMA, HOMES_STRIPED, HOMES_FIRST_TOUCH };
/* How the firmware presents guest RAM: one NUMA node per cluster node (a lending node's memory as
 * a node without CPUs), or one node for all of it, for guests that are not NUMA-aware. */
enum memory_view { MEMORY_VIEW_NUMA, MEMORY_VIEW_FLAT };
enum guest_kind { GUEST_TESTGUEST, GUEST_LINUX, GUEST_MULTIBOOT };
/* What runs a node's vCPUs: KVM, the VMM's own x86 interpreter (emu), or KVM when this host can
 * create a VM and the interpreter otherwise (auto). */
enum accel_kind { ACCEL_AUTO, ACCEL_KVM, ACCEL_EMU };
enum unknown_io_policy { UNKNOWN_IO_STOP, UNKNOWN_IO_IGNORE };
/* Only the kinds the machine builds: a configuration naming another kind is refused. */
enum device_kind { DEVICE_UART, DEVICE_DEBUG_EXIT };

struct node_config {
	char name[32];
	char host[256]; /* from address; an IPv6 address without its brackets */
	uint16_t port;
	unsigned vcpus;
	unsigned first_vcpu; /* vCPU ids are numbered across nodes in node order */
	uint64_t memory_bytes;
	uint64_t memory_offset; /* byte offset of this node's share within guest RAM */
	/* Memory mode, the node with vCPUs: at most this much lent memory resident here. */
	uint64_t cache_bytes;
	/* Memory mode with replicas = 2: lends nothing up front, takes over the copies a lost
	 * lending node kept. */
	bool spare;
	int line, cache_line; /* cache_line is 0 when cache_mib is not set */
	int spare_line;	      /* 0 when spare is not set */
};

struct device_config {
	enum device_kind kind;
	unsigned owner; /* node index */
	int line;	/* 0 for the default devices */
};

struct guest_config {
	enum guest_kind kind;
	char kernel[4096], initrd[4096], cmdline[4096];
	enum unknown_io_policy unknown_io;
	enum accel_kind accel; /* not hashed: each node may run its vCPUs its own way */
};

struct cluster_config {
	char name[64];
	enum cluster_mode mode;
	enum memory_homes homes;
	enum memory_view memory_view;
	unsigned replicas; /* memory mode: lending nodes that keep each lent page */
	int replicas_line; /* 0 when replicas is not set */
	char key_file[4096];
	int key_file_line; /* 0 when key_file is not set */
	struct guest_config guest;
	struct node_config *nodes;
	unsigned node_count;
	struct device_config *devices;
	unsigned device_count;
	unsigned total_vcpus;
	uint64_t total_memory;
	/* BLAKE2b-256 of what every node must agree on: name, mode, homes, memory view, replicas,
	 * guest kind, cmdline and unknown_io, the nodes (cache included) and the devices. Paths are
	 * left out: each node resolves them against its own config directory and only their users
	 * read the files. So is accel. */
	uint8_t hash[32];
};

/* name is how messages refer to the text ("<name>:<line>: ..."); relative paths are resolved
 * against base_dir (made absolute against the working directory if it is relative). */
int config_parse(const char *text, size_t len, const char *name, const char *base_dir,
		 struct cluster_config *out, char *err, size_t errlen);
/* Refuses non-regular files and files over 1 MiB. */
int config_load_file(const char *path, struct cluster_config *out, char *err, size_t errlen);
void config_free(struct cluster_config *cfg);
int config_find_node(const struct cluster_config *cfg, const char *name); /* index or -1 */
/* Memory mode: the node that runs the vCPUs; -1 in system mode. */
int config_compute_node(const struct cluster_config *cfg);
const char *device_kind_name(enum device_kind kind);
const char *accel_kind_name(enum accel_kind accel);
const char *memory_homes_name(enum memory_homes homes);
/* The value of a command-line option that overrides a key: the key's names, same meaning; -1
 * for any other name. */
int accel_kind_from_name(const char *name, enum accel_kind *out);
int memory_homes_from_name(const char *name, enum memory_homes *out);

#endif
