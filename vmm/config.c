/* cluster.toml -> struct cluster_config.
 *
 * toml.c knows the syntax; this file knows the schema. Each table has a list of the keys it
 * accepts, each with a small function that checks the value's type and range and stores it, so
 * any key not on a list is an error naming its line. Rules that span tables (owners name nodes,
 * the mode's vCPU rule, totals, defaults) are checked once every table has been read, so the
 * order of the tables in the file does not matter, only the order of the [[node]]s among
 * themselves (it numbers the nodes, their vCPUs and their share of guest memory).
 */
#include "vmm/config.h"

#include "vmm/config_hash.h"
#include "vmm/config_mode.h"
#include "vmm/toml.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NODES	    4096
#define MAX_DEVICES	    4096 /* keeps a hostile file's cost small */
#define MAX_TOTAL_VCPUS	    254	 /* xAPIC ids 0..253; 0xff is the broadcast id */
#define MIN_NODE_MEMORY_MIB 16
#define MAX_MEMORY_MIB	    (1ll << 20) /* 1 TiB, for one node and for the whole guest */
#define MAX_FILE_SIZE	    (1 << 20)
#define FIRST_DEFAULT_PORT  7100
#define PATH_SIZE	    4096

static const char *const mode_names[] = {"system", "memory"};
static const char *const homes_names[] = {"numa", "striped", "first-touch"};
static const char *const view_names[] = {"numa", "flat"};
static const char *const guest_kind_names[] = {"testguest", "linux", "multiboot"};
static const char *const accel_names[] = {"auto", "kvm", "emu"};
static const char *const unknown_io_names[] = {"stop", "ignore"};
static const char *const device_kind_names[] = {"uart", "debug-exit"};
#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

struct parser {
	const char *name; /* of the text, for messages */
	char base_dir[PATH_SIZE];
	struct cluster_config *cfg;
	char *err;
	size_t errlen;
	const struct toml_table *cluster_table, *guest_table;
	/* What the table being read fills in, and facts checked when it ends. */
	struct node_config *node;
	struct device_config *device;
	bool device_kind_given;
	bool unknown_io_given;
	int kernel_line, initrd_line;
};

struct key_rule {
	const char *name;
	int (*apply)(struct parser *p, const struct toml_key *key);
};

static int fail(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "<name>:<line>: message", or "<name>: message" when no line applies. */
static int fail(struct parser *p, int line, const char *fmt, ...)
{
	if (!p->err || !p->errlen)
		return -1;
	int n = line > 0 ? snprintf(p->err, p->errlen, "%s:%d: ", p->name, line)
			 : snprintf(p->err, p->errlen, "%s: ", p->name);
	if (n < 0 || (size_t)n >= p->errlen)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Copies at most 40 bytes of s with anything but printable ASCII replaced, for echoing. */
static const char *printable(const char *s, char buf[44])
{
	size_t i = 0;
	for (; s[i] && i < 40; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	strcpy(buf + i, s[i] ? "..." : "");
	return buf;
}

static int want_type(struct parser *p, const struct toml_key *key, enum toml_type type)
{
	static const char *const articles[] = {
	    [TOML_STRING] = "a string",
	    [TOML_INTEGER] = "an integer",
	    [TOML_BOOLEAN] = "a boolean",
	    [TOML_ARRAY] = "an array",
	};
	if (key->value.type != type)
		return fail(p, key->line, "'%s' must be %s", key->name, articles[type]);
	return 0;
}

/* The key's string value, or NULL after reporting why it is not one. */
static const char *get_string(struct parser *p, const struct toml_key *key)
{
	if (want_type(p, key, TOML_STRING))
		return NULL;
	if (strlen(key->value.string) != key->value.string_len) {
		fail(p, key->line, "'%s' must not contain NUL characters", key->name);
		return NULL;
	}
	return key->value.string;
}

static int copy_string(struct parser *p, const struct toml_key *key, char *dst, size_t size)
{
	const char *s = get_string(p, key);
	if (!s)
		return -1;
	if (strlen(s) >= size)
		return fail(p, key->line, "'%s' is longer than %zu bytes", key->name, size - 1);
	strcpy(dst, s);
	return 0;
}

static int get_integer(struct parser *p, const struct toml_key *key, long long min, long long max,
		       long long *out)
{
	if (want_type(p, key, TOML_INTEGER))
		return -1;
	if (key->value.integer < min || key->value.integer > max)
		return fail(p, key->line, "'%s' must be between %lld and %lld", key->name, min,
			    max);
	*out = key->value.integer;
	return 0;
}

static int get_bool(struct parser *p, const struct toml_key *key, bool *out)
{
	if (want_type(p, key, TOML_BOOLEAN))
		return -1;
	*out = key->value.boolean;
	return 0;
}

/* The index of name among names, or -1. */
static int index_of(const char *name, const char *const *names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

/* The index of the key's string value among names. */
static int get_choice(struct parser *p, const struct toml_key *key, const char *const *names,
		      size_t count, int *out)
{
	const char *s = get_string(p, key);
	if (!s)
		return -1;
	*out = index_of(s, names, count);
	if (*out >= 0)
		return 0;
	char list[128] = "";
	for (size_t i = 0; i < count; i++) {
		const char *sep = i == 0 ? "" : i + 1 == count ? " or " : ", ";
		size_t used = strlen(list);
		snprintf(list + used, sizeof(list) - used, "%s\"%s\"", sep, names[i]);
	}
	return fail(p, key->line, "'%s' must be %s", key->name, list);
}

/* Resolves the key's path against the config's directory; if it must exist, it must be a
 * regular file or a block device. */
static int get_path(struct parser *p, const struct toml_key *key, char dst[PATH_SIZE],
		    bool must_exist)
{
	const char *s = get_string(p, key);
	if (!s)
		return -1;
	if (!*s)
		return fail(p, key->line, "'%s' must not be empty", key->name);
	int n = s[0] == '/' ? snprintf(dst, PATH_SIZE, "%s", s)
			    : snprintf(dst, PATH_SIZE, "%s/%s", p->base_dir, s);
	if (n < 0 || n >= PATH_SIZE)
		return fail(p, key->line, "'%s' is longer than %d bytes once resolved", key->name,
			    PATH_SIZE - 1);
	struct stat st;
	if (!must_exist)
		return 0;
	if (stat(dst, &st) != 0)
		return fail(p, key->line, "%s '%s': %s", key->name, dst, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return fail(p, key->line, "%s '%s' is not a regular file", key->name, dst);
	return 0;
}

/* 1..max_len characters of A-Z a-z 0-9 _ - (and . if allowed). */
static int get_name(struct parser *p, const struct toml_key *key, size_t max_len, bool allow_dot,
		    char *dst)
{
	const char *s = get_string(p, key);
	if (!s)
		return -1;
	size_t len = strlen(s);
	bool ok = len >= 1 && len <= max_len;
	for (size_t i = 0; ok && i < len; i++) {
		char c = s[i];
		ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		     c == '_' || c == '-' || (allow_dot && c == '.');
	}
	if (!ok)
		return fail(p, key->line, "'%s' must be 1 to %zu characters of A-Z a-z 0-9 _ -%s",
			    key->name, max_len, allow_dot ? " ." : "");
	memcpy(dst, s, len + 1);
	return 0;
}

static int cluster_name(struct parser *p, const struct toml_key *key)
{
	return get_name(p, key, sizeof(p->cfg->name) - 1, true, p->cfg->name);
}

static int cluster_mode(struct parser *p, const struct toml_key *key)
{
	int mode = 0;
	if (get_choice(p, key, mode_names, COUNT(mode_names), &mode))
		return -1;
	p->cfg->mode = (enum cluster_mode)mode;
	return 0;
}

static int cluster_homes(struct parser *p, const struct toml_key *key)
{
	int homes = 0;
	if (get_choice(p, key, homes_names, COUNT(homes_names), &homes))
		return -1;
	p->cfg->homes = (enum memory_homes)homes;
	return 0;
}

static int cluster_memory_view(struct parser *p, const struct toml_key *key)
{
	int view = 0;
	if (get_choice(p, key, view_names, COUNT(view_names), &view))
		return -1;
	p->cfg->memory_view = (enum memory_view)view;
	return 0;
}

static int cluster_replicas(struct parser *p, const struct toml_key *key)
{
	long long replicas = 0;
	if (get_integer(p, key, 1, 2, &replicas))
		return -1;
	p->cfg->replicas = (unsigned)replicas;
	p->cfg->replicas_line = key->line;
	return 0;
}

static int cluster_key_file(struct parser *p, const struct toml_key *key)
{
	p->cfg->key_file_line = key->line;
	return get_path(p, key, p->cfg->key_file, false);
}

static const struct key_rule cluster_rules[] = {
    {"name", cluster_name},	    {"mode", cluster_mode},
    {"homes", cluster_homes},	    {"memory_view", cluster_memory_view},
    {"replicas", cluster_replicas}, {"key_file", cluster_key_file},
};

static int guest_kind(struct parser *p, const struct toml_key *key)
{
	int kind = 0;
	if (get_choice(p, key, guest_kind_names, COUNT(guest_kind_names), &kind))
		return -1;
	p->cfg->guest.kind = (enum guest_kind)kind;
	return 0;
}

static int guest_accel(struct parser *p, const struct toml_key *key)
{
	int accel = 0;
	if (get_choice(p, key, accel_names, COUNT(accel_names), &accel))
		return -1;
	p->cfg->guest.accel = (enum accel_kind)accel;
	return 0;
}

static int guest_kernel(struct parser *p, const struct toml_key *key)
{
	p->kernel_line = key->line;
	return get_path(p, key, p->cfg->guest.kernel, true);
}

static int guest_initrd(struct parser *p, const struct toml_key *key)
{
	p->initrd_line = key->line;
	return get_path(p, key, p->cfg->guest.initrd, true);
}

static int guest_cmdline(struct parser *p, const struct toml_key *key)
{
	return copy_string(p, key, p->cfg->guest.cmdline, sizeof(p->cfg->guest.cmdline));
}

static int guest_unknown_io(struct parser *p, const struct toml_key *key)
{
	int policy = 0;
	if (get_choice(p, key, unknown_io_names, COUNT(unknown_io_names), &policy))
		return -1;
	p->cfg->guest.unknown_io = (enum unknown_io_policy)policy;
	p->unknown_io_given = true;
	return 0;
}

static const struct key_rule guest_rules[] = {
    {"kind", guest_kind},     {"accel", guest_accel},	  {"kernel", guest_kernel},
    {"initrd", guest_initrd}, {"cmdline", guest_cmdline}, {"unknown_io", guest_unknown_io},
};

static int node_name(struct parser *p, const struct toml_key *key)
{
	if (get_name(p, key, sizeof(p->node->name) - 1, false, p->node->name))
		return -1;
	for (const struct node_config *other = p->cfg->nodes; other < p->node; other++) {
		if (strcmp(other->name, p->node->name) == 0)
			return fail(p, key->line, "node name '%s' is already used on line %d",
				    other->name, other->line);
	}
	return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
	size_t len = strlen(s);
	if (len < 1 || len > 5 || strspn(s, "0123456789") != len)
		return -1;
	long value = strtol(s, NULL, 10);
	if (value < 1 || value > 65535)
		return -1;
	*port = (uint16_t)value;
	return 0;
}

/* host:port, or [IPv6 address]:port. */
static int node_address(struct parser *p, const struct toml_key *key)
{
	const char *s = get_string(p, key), *host = NULL, *host_end = NULL;
	if (!s)
		return -1;
	if (s[0] == '[') {
		host = s + 1;
		host_end = strchr(host, ']');
		if (host_end && host_end[1] != ':')
			host_end = NULL;
	} else {
		host = s;
		host_end = strrchr(s, ':');
		if (host_end && memchr(s, ':', (size_t)(host_end - s)))
			return fail(p, key->line, "write an IPv6 'address' as [address]:port");
	}
	if (!host_end)
		return fail(p, key->line, "'address' must be host:port");
	size_t host_len = (size_t)(host_end - host);
	if (host_len == 0 || host_len >= sizeof(p->node->host))
		return fail(p, key->line, "the host in 'address' must be 1 to %zu bytes",
			    sizeof(p->node->host) - 1);
	for (size_t i = 0; i < host_len; i++) {
		if ((unsigned char)host[i] <= ' ' || host[i] == 0x7f)
			return fail(p, key->line,
				    "the host in 'address' must not contain spaces or control "
				    "characters");
	}
	if (parse_port(host_end + (s[0] == '[' ? 2 : 1), &p->node->port))
		return fail(p, key->line, "the port in 'address' must be 1 to 65535");
	memcpy(p->node->host, host, host_len);
	p->node->host[host_len] = '\0';
	return 0;
}

static int node_vcpus(struct parser *p, const struct toml_key *key)
{
	long long vcpus = 0;
	if (get_integer(p, key, 0, MAX_TOTAL_VCPUS, &vcpus))
		return -1;
	p->node->vcpus = (unsigned)vcpus;
	return 0;
}

static int node_memory_mib(struct parser *p, const struct toml_key *key)
{
	long long mib = 0;
	if (get_integer(p, key, MIN_NODE_MEMORY_MIB, MAX_MEMORY_MIB, &mib))
		return -1;
	p->node->memory_bytes = (uint64_t)mib << 20;
	return 0;
}

static int node_cache_mib(struct parser *p, const struct toml_key *key)
{
	long long mib = 0;
	if (get_integer(p, key, 1, MAX_MEMORY_MIB, &mib))
		return -1;
	p->node->cache_bytes = (uint64_t)mib << 20;
	p->node->cache_line = key->line;
	return 0;
}

static int node_spare(struct parser *p, const struct toml_key *key)
{
	if (get_bool(p, key, &p->node->spare))
		return -1;
	p->node->spare_line = key->line;
	return 0;
}

static const struct key_rule node_rules[] = {
    {"name", node_name},	   {"address", node_address},
    {"vcpus", node_vcpus},	   {"memory_mib", node_memory_mib},
    {"cache_mib", node_cache_mib}, {"spare", node_spare},
};

static int device_kind(struct parser *p, const struct toml_key *key)
{
	int kind = 0;
	if (get_choice(p, key, device_kind_names, COUNT(device_kind_names), &kind))
		return -1;
	p->device->kind = (enum device_kind)kind;
	p->device_kind_given = true;
	return 0;
}

static int device_owner(struct parser *p, const struct toml_key *key)
{
	const char *s = get_string(p, key);
	char shown[44];
	if (!s)
		return -1;
	int index = config_find_node(p->cfg, s);
	if (index < 0)
		return fail(p, key->line, "'owner' names no node: '%s'", printable(s, shown));
	p->device->owner = (unsigned)index;
	return 0;
}

static const struct key_rule device_rules[] = {
    {"kind", device_kind},
    {"owner", device_owner},
};

static int apply_keys(struct parser *p, const struct toml_table *table,
		      const struct key_rule *rules, size_t rule_count, const char *where)
{
	for (size_t k = 0; k < table->key_count; k++) {
		const struct toml_key *key = &table->keys[k];
		size_t r = 0;
		while (r < rule_count && strcmp(rules[r].name, key->name) != 0)
			r++;
		if (r == rule_count)
			return fail(p, key->line, "unknown key '%s' in %s", key->name, where);
		if (rules[r].apply(p, key))
			return -1;
	}
	return 0;
}

static bool same_address(const struct node_config *a, const struct node_config *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static int read_node(struct parser *p, const struct toml_table *table)
{
	unsigned index = p->cfg->node_count++;
	p->node = &p->cfg->nodes[index];
	p->node->line = table->line;
	if (apply_keys(p, table, node_rules, COUNT(node_rules), "[[node]]"))
		return -1;
	if (!p->node->name[0])
		return fail(p, table->line, "[[node]] needs a 'name'");
	if (!p->node->memory_bytes && !p->node->spare)
		return fail(p, table->line, "node '%s' needs 'memory_mib'", p->node->name);
	if (p->node->memory_bytes && p->node->spare)
		return fail(
		    p, p->node->spare_line,
		    "node '%s' is a spare: it lends no memory_mib of its own (it takes over "
		    "a lost node's copies)",
		    p->node->name);
	if (!p->node->host[0]) {
		strcpy(p->node->host, "127.0.0.1");
		p->node->port = (uint16_t)(FIRST_DEFAULT_PORT + index);
	}
	for (const struct node_config *other = p->cfg->nodes; other < p->node; other++) {
		if (same_address(other, p->node))
			return fail(p, table->line, "node '%s' has the same address as node '%s'",
				    p->node->name, other->name);
	}
	return 0;
}

static int read_device(struct parser *p, const struct toml_table *table)
{
	p->device = &p->cfg->devices[p->cfg->device_count++];
	p->device->line = table->line;
	p->device_kind_given = false;
	if (apply_keys(p, table, device_rules, COUNT(device_rules), "[[device]]"))
		return -1;
	if (!p->device_kind_given)
		return fail(p, table->line, "[[device]] needs a 'kind'");
	for (const struct device_config *other = p->cfg->devices; other < p->device; other++) {
		if (other->kind == p->device->kind)
			return fail(p, table->line, "only one %s device is allowed (see line %d)",
				    device_kind_name(other->kind), other->line);
	}
	return 0;
}

/* Checks every table's name and form, and sizes the node and device arrays. */
static int check_tables(struct parser *p, const struct toml_doc *doc)
{
	unsigned nodes = 0, devices = 0;
	const struct toml_table *root = &doc->tables[0];
	if (root->key_count)
		return fail(p, root->keys[0].line, "unknown key '%s' outside any [table]",
			    root->keys[0].name);
	for (size_t i = 1; i < doc->table_count; i++) {
		const struct toml_table *t = &doc->tables[i];
		bool single = !strcmp(t->name, "cluster") || !strcmp(t->name, "guest");
		bool array = !strcmp(t->name, "node") || !strcmp(t->name, "device");
		if (!single && !array)
			return fail(p, t->line, "unknown table %s%s%s", t->is_array ? "[[" : "[",
				    t->name, t->is_array ? "]]" : "]");
		if (single && t->is_array)
			return fail(p, t->line, "write [%s], not [[%s]]", t->name, t->name);
		if (array && !t->is_array)
			return fail(p, t->line, "write [[%s]], not [%s]: it is a list", t->name,
				    t->name);
		if (!strcmp(t->name, "cluster"))
			p->cluster_table = t;
		if (!strcmp(t->name, "guest"))
			p->guest_table = t;
		if (!strcmp(t->name, "node") && ++nodes > MAX_NODES)
			return fail(p, t->line, "more than %d nodes", MAX_NODES);
		if (!strcmp(t->name, "device") && ++devices > MAX_DEVICES)
			return fail(p, t->line, "more than %d devices", MAX_DEVICES);
	}
	if (!p->cluster_table)
		return fail(p, 0, "missing [cluster] table");
	if (!nodes)
		return fail(p, 0, "at least one [[node]] is required");
	p->cfg->nodes = calloc(nodes, sizeof(*p->cfg->nodes));
	p->cfg->devices = calloc(devices + 2, sizeof(*p->cfg->devices)); /* + the defaults */
	if (!p->cfg->nodes || !p->cfg->devices)
		return fail(p, 0, "out of memory");
	return 0;
}

/* A linux or multiboot guest is a kernel of its own, which probes hardware nobody models: by
 * default such probes are ignored, while the test guest's are bugs. */
static int finish_guest(struct parser *p)
{
	struct guest_config *guest = &p->cfg->guest;
	bool own_kernel = guest->kind != GUEST_TESTGUEST;
	if (own_kernel && !guest->kernel[0])
		return fail(p, p->guest_table->line, "a %s guest needs 'kernel'",
			    guest_kind_names[guest->kind]);
	if (!own_kernel && p->kernel_line)
		return fail(p, p->kernel_line,
			    "'kernel' is only used when kind = \"linux\" or \"multiboot\"");
	if (!own_kernel && p->initrd_line)
		return fail(p, p->initrd_line,
			    "'initrd' is only used when kind = \"linux\" or \"multiboot\"");
	if (!p->unknown_io_given)
		guest->unknown_io = own_kernel ? UNKNOWN_IO_IGNORE : UNKNOWN_IO_STOP;
	return 0;
}

/* The totals, where each node's vCPUs and memory start, and the mode's rules. */
static int finish_nodes(struct parser *p)
{
	struct cluster_config *cfg = p->cfg;
	for (unsigned i = 0; i < cfg->node_count; i++) {
		struct node_config *node = &cfg->nodes[i];
		node->first_vcpu = cfg->total_vcpus;
		node->memory_offset = cfg->total_memory;
		cfg->total_vcpus += node->vcpus;
		cfg->total_memory += node->memory_bytes;
		if (cfg->total_vcpus > MAX_TOTAL_VCPUS)
			return fail(p, node->line, "more than %d vCPUs in total", MAX_TOTAL_VCPUS);
		if (cfg->total_memory > (uint64_t)MAX_MEMORY_MIB << 20)
			return fail(p, node->line, "more than 1 TiB of memory in total");
	}
	char why[256];
	int line = config_check_mode(cfg, p->cluster_table->line, why, sizeof(why));
	return line ? fail(p, line, "%s", why) : 0;
}

static void add_default_devices(struct cluster_config *cfg)
{
	static const enum device_kind defaults[] = {DEVICE_UART, DEVICE_DEBUG_EXIT};
	for (size_t d = 0; d < COUNT(defaults); d++) {
		bool present = false;
		for (unsigned i = 0; i < cfg->device_count; i++)
			present |= cfg->devices[i].kind == defaults[d];
		if (!present)
			cfg->devices[cfg->device_count++] =
			    (struct device_config){.kind = defaults[d]};
	}
}

/* Nodes first: devices name their owners, wherever their tables are. */
static int read_document(struct parser *p, const struct toml_doc *doc)
{
	if (check_tables(p, doc))
		return -1;
	for (size_t i = 1; i < doc->table_count; i++) {
		const struct toml_table *t = &doc->tables[i];
		int rc = 0;
		if (!strcmp(t->name, "cluster"))
			rc = apply_keys(p, t, cluster_rules, COUNT(cluster_rules), "[cluster]");
		else if (!strcmp(t->name, "guest"))
			rc = apply_keys(p, t, guest_rules, COUNT(guest_rules), "[guest]");
		else if (!strcmp(t->name, "node"))
			rc = read_node(p, t);
		if (rc)
			return -1;
	}
	if (!p->cfg->name[0])
		return fail(p, p->cluster_table->line, "[cluster] needs a 'name'");
	if (finish_guest(p) || finish_nodes(p))
		return -1;
	for (size_t i = 1; i < doc->table_count; i++) {
		if (!strcmp(doc->tables[i].name, "device") && read_device(p, &doc->tables[i]))
			return -1;
	}
	add_default_devices(p->cfg);
	config_compute_hash(p->cfg);
	return 0;
}

static int set_base_dir(struct parser *p, const char *base_dir)
{
	char cwd[PATH_SIZE];
	int n;
	if (base_dir && base_dir[0] == '/') {
		n = snprintf(p->base_dir, sizeof(p->base_dir), "%s", base_dir);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return fail(p, 0, "cannot get the working directory: %s", strerror(errno));
		n = snprintf(p->base_dir, sizeof(p->base_dir), "%s/%s", cwd,
			     base_dir ? base_dir : ".");
	}
	if (n < 0 || (size_t)n >= sizeof(p->base_dir))
		return fail(p, 0, "the config's directory is too long");
	return 0;
}

int config_parse(const char *text, size_t len, const char *name, const char *base_dir,
		 struct cluster_config *out, char *err, size_t errlen)
{
	struct parser p = {.name = name, .cfg = out, .err = err, .errlen = errlen};
	struct toml_doc doc;
	struct toml_error error;
	memset(out, 0, sizeof(*out));
	if (sodium_init() < 0)
		return fail(&p, 0, "libsodium failed to initialise");
	if (set_base_dir(&p, base_dir))
		return -1;
	if (toml_parse(text, len, &doc, &error))
		return fail(&p, error.line, "column %d: %s", error.column, error.what);
	int rc = read_document(&p, &doc);
	toml_free(&doc);
	if (rc)
		config_free(out);
	return rc;
}

/* The whole file, after checking it is a regular file of at most MAX_FILE_SIZE bytes. */
static char *read_config_file(const char *path, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	char *text = NULL;
	if (fstat(fd, &st) != 0)
		snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(err, errlen, "%s: not a regular file", path);
	else if (st.st_size > MAX_FILE_SIZE)
		snprintf(err, errlen, "%s: larger than 1 MiB", path);
	else if (!(text = malloc((size_t)st.st_size + 1)))
		snprintf(err, errlen, "%s: out of memory", path);
	size_t got = 0;
	while (text && got < (size_t)st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			free(text);
			text = NULL;
		}
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return text;
}

int config_load_file(const char *path, struct cluster_config *out, char *err, size_t errlen)
{
	size_t len;
	memset(out, 0, sizeof(*out));
	char *text = read_config_file(path, &len, err, errlen);
	if (!text)
		return -1;
	char *path_copy = strdup(path);
	char *dir = path_copy ? realpath(dirname(path_copy), NULL) : NULL;
	int rc = -1;
	if (dir)
		rc = config_parse(text, len, path, dir, out, err, errlen);
	else
		snprintf(err, errlen, "%s: cannot resolve its directory: %s", path,
			 strerror(errno));
	free(dir);
	free(path_copy);
	free(text);
	return rc;
}

void config_free(struct cluster_config *cfg)
{
	free(cfg->nodes);
	free(cfg->devices);
	memset(cfg, 0, sizeof(*cfg));
}

int config_find_node(const struct cluster_config *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->node_count; i++) {
		if (strcmp(cfg->nodes[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

const char *device_kind_name(enum device_kind kind)
{
	if ((unsigned)kind >= COUNT(device_kind_names))
		return "?";
	return device_kind_names[kind];
}

const char *accel_kind_name(enum accel_kind accel)
{
	if ((unsigned)accel >= COUNT(accel_names))
		return "?";
	return accel_names[accel];
}

const char *memory_homes_name(enum memory_homes homes)
{
	if ((unsigned)homes >= COUNT(homes_names))
		return "?";
	return homes_names[homes];
}

int accel_kind_from_name(const char *name, enum accel_kind *out)
{
	int i = index_of(name, accel_names, COUNT(accel_names));
	if (i >= 0)
		*out = (enum accel_kind)i;
	return i < 0 ? -1 : 0;
}

int memory_homes_from_name(const char *name, enum memory_homes *out)
{
	int i = index_of(name, homes_names, COUNT(homes_names));
	if (i >= 0)
		*out = (enum memory_homes)i;
	return i < 0 ? -1 : 0;
}
