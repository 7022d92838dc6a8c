/* A careful reader of the ACPI tables the guest needs (ACPI 6.x, sections 5.2.5 RSDP, 5.2.8
 * XSDT, 5.2.12 MADT: local APICs, IOAPICs, interrupt source overrides; 5.2.16 SRAT). The tables
 * come from the VMM and are treated as hostile: every address must lie inside our identity map,
 * every length inside its table, every checksum must hold, and no entry may run past its table's
 * end. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/testguest/acpi.h"
#include "firmware/testguest/console.h"
#include "firmware/testguest/lib.h"

#define MAPPED_LIMIT	    (1ull << 32)
#define RSDP_V1_LEN	    20
#define RSDP_V2_LEN	    36
#define RSDP_REVISION	    15
#define RSDP_LENGTH	    20
#define RSDP_XSDT	    24
#define HEADER_LEN	    36
#define HEADER_LENGTH	    4
#define TABLE_MAX_LEN	    (1u << 20)
#define MADT_ENTRIES	    44
#define MADT_LOCAL_APIC	    0
#define MADT_LOCAL_APIC_LEN 8
#define LOCAL_APIC_ID	    3
#define LOCAL_APIC_FLAGS    4
#define LOCAL_APIC_ENABLED  1
#define MADT_IO_APIC	    1
#define MADT_IO_APIC_LEN    12
#define IO_APIC_ADDRESS	    4
#define IO_APIC_GSI_BASE    8
#define IO_APIC_MMIO_LEN    0x20
#define MADT_OVERRIDE	    2
#define MADT_OVERRIDE_LEN   10
#define OVERRIDE_BUS	    2
#define OVERRIDE_SOURCE	    3
#define OVERRIDE_GSI	    4
#define OVERRIDE_FLAGS	    8
#define ISA_BUS		    0

static bool mapped(uint64_t addr, uint64_t len)
{
	return addr != 0 && len <= MAPPED_LIMIT && addr <= MAPPED_LIMIT - len;
}

static bool sums_to_zero(const uint8_t *bytes, uint32_t len)
{
	uint8_t sum = 0;
	for (uint32_t i = 0; i < len; i++)
		sum += bytes[i];
	return sum == 0;
}

/* The table with signature `sig` at `addr`, checked; NULL with a message otherwise. */
static const uint8_t *table_at(uint64_t addr, const char *sig, uint32_t *len, char *err,
			       size_t errlen)
{
	if (!mapped(addr, HEADER_LEN)) {
		snformat(err, errlen, "%s address 0x%lx is outside the 4 GiB identity map", sig,
			 addr);
		return NULL;
	}
	const uint8_t *table = (const uint8_t *)(uintptr_t)addr;
	if (memcmp(table, sig, 4) != 0) {
		snformat(err, errlen, "no %s signature at 0x%lx", sig, addr);
		return NULL;
	}
	*len = load_le32(table + HEADER_LENGTH);
	if (*len < HEADER_LEN || *len > TABLE_MAX_LEN || !mapped(addr, *len)) {
		snformat(err, errlen, "%s at 0x%lx has a bad length %u", sig, addr, *len);
		return NULL;
	}
	if (!sums_to_zero(table, *len)) {
		snformat(err, errlen, "%s at 0x%lx has a bad checksum", sig, addr);
		return NULL;
	}
	return table;
}

static int xsdt_from_rsdp(uint64_t rsdp_addr, uint64_t *xsdt, char *err, size_t errlen)
{
	if (!mapped(rsdp_addr, RSDP_V2_LEN)) {
		snformat(err, errlen, "RSDP address 0x%lx is missing or unmapped", rsdp_addr);
		return -1;
	}
	const uint8_t *rsdp = (const uint8_t *)(uintptr_t)rsdp_addr;
	if (memcmp(rsdp, "RSD PTR ", 8) != 0 || !sums_to_zero(rsdp, RSDP_V1_LEN)) {
		snformat(err, errlen, "no valid RSDP at 0x%lx", rsdp_addr);
		return -1;
	}
	uint32_t len = load_le32(rsdp + RSDP_LENGTH);
	if (rsdp[RSDP_REVISION] < 2 || len < RSDP_V2_LEN || len > TABLE_MAX_LEN ||
	    !mapped(rsdp_addr, len) || !sums_to_zero(rsdp, len)) {
		snformat(err, errlen, "RSDP at 0x%lx is not a valid ACPI 2.0+ RSDP", rsdp_addr);
		return -1;
	}
	*xsdt = load_le64(rsdp + RSDP_XSDT);
	return 0;
}

static const uint8_t *find_table(uint64_t xsdt_addr, const char *sig, uint32_t *len, char *err,
				 size_t errlen)
{
	uint32_t xsdt_len;
	const uint8_t *xsdt = table_at(xsdt_addr, "XSDT", &xsdt_len, err, errlen);
	if (!xsdt)
		return NULL;
	for (uint32_t off = HEADER_LEN; off + 8 <= xsdt_len; off += 8) {
		uint64_t addr = load_le64(xsdt + off);
		if (mapped(addr, HEADER_LEN) && memcmp((const void *)(uintptr_t)addr, sig, 4) == 0)
			return table_at(addr, sig, len, err, errlen);
	}
	snformat(err, errlen, "the XSDT lists no %s table", sig);
	return NULL;
}

static int add_apic_id(uint8_t id, uint8_t *ids, unsigned *count, unsigned max, char *err,
		       size_t errlen)
{
	for (unsigned i = 0; i < *count; i++) {
		if (ids[i] == id) {
			snformat(err, errlen, "MADT lists APIC ID %u twice", id);
			return -1;
		}
	}
	if (*count == max) {
		snformat(err, errlen, "MADT lists more than %u enabled CPUs", max);
		return -1;
	}
	ids[(*count)++] = id;
	return 0;
}

/* The next MADT entry from *off on: 1 and *entry set, 0 at the end of the table, -1 with a
 * message for an entry that runs past it. */
static int madt_next(const uint8_t *madt, uint32_t len, uint32_t *off, const uint8_t **entry,
		     char *err, size_t errlen)
{
	if (*off + 2 > len)
		return 0;
	uint8_t entry_len = madt[*off + 1];
	if (entry_len < 2 || entry_len > len - *off) {
		snformat(err, errlen, "MADT entry at offset %u has a bad length %u", *off,
			 entry_len);
		return -1;
	}
	*entry = madt + *off;
	*off += entry_len;
	return 1;
}

static const uint8_t *find_madt(uint64_t rsdp_addr, uint32_t *len, char *err, size_t errlen)
{
	uint64_t xsdt;
	if (xsdt_from_rsdp(rsdp_addr, &xsdt, err, errlen) < 0)
		return NULL;
	return find_table(xsdt, "APIC", len, err, errlen);
}

int acpi_enabled_apic_ids(uint64_t rsdp_addr, uint8_t *ids, unsigned max, char *err, size_t errlen)
{
	uint32_t len, off = MADT_ENTRIES;
	const uint8_t *madt = find_madt(rsdp_addr, &len, err, errlen);
	if (!madt)
		return -1;
	unsigned count = 0;
	const uint8_t *entry;
	int got;
	while ((got = madt_next(madt, len, &off, &entry, err, errlen)) > 0) {
		if (entry[0] != MADT_LOCAL_APIC)
			continue;
		if (entry[1] < MADT_LOCAL_APIC_LEN) {
			snformat(err, errlen, "MADT local APIC entry at offset %u is short",
				 (uint32_t)(entry - madt));
			return -1;
		}
		if ((load_le32(entry + LOCAL_APIC_FLAGS) & LOCAL_APIC_ENABLED) &&
		    add_apic_id(entry[LOCAL_APIC_ID], ids, &count, max, err, errlen) < 0)
			return -1;
	}
	if (got < 0)
		return -1;
	if (count == 0) {
		snformat(err, errlen, "MADT lists no enabled CPU");
		return -1;
	}
	return (int)count;
}

/* MPS INTI flags of an interrupt source override: polarity in bits 1:0, trigger mode in bits
 * 3:2; 0 conforms to the bus (ISA: active high, edge), 1 is high/edge, 3 low/level, 2 reserved. */
static int apply_override_flags(uint16_t flags, struct acpi_isa_route *route, char *err,
				size_t errlen)
{
	unsigned polarity = flags & 3, trigger = (flags >> 2) & 3;
	if (polarity == 2 || trigger == 2) {
		snformat(err, errlen, "MADT override of IRQ %u has reserved flags 0x%x", route->irq,
			 flags);
		return -1;
	}
	route->active_low = polarity == 3;
	route->level = trigger == 3;
	return 0;
}

/* First pass: the IRQ's GSI and flags, from its interrupt source override if there is one. */
static int find_override(const uint8_t *madt, uint32_t len, struct acpi_isa_route *route, char *err,
			 size_t errlen)
{
	uint32_t off = MADT_ENTRIES;
	const uint8_t *entry;
	int got;
	while ((got = madt_next(madt, len, &off, &entry, err, errlen)) > 0) {
		if (entry[0] != MADT_OVERRIDE || entry[1] < MADT_OVERRIDE_LEN ||
		    entry[OVERRIDE_BUS] != ISA_BUS || entry[OVERRIDE_SOURCE] != route->irq)
			continue;
		route->gsi = load_le32(entry + OVERRIDE_GSI);
		return apply_override_flags(load_le16(entry + OVERRIDE_FLAGS), route, err, errlen);
	}
	return got;
}

/* Second pass: the IOAPIC whose GSI range starts closest below the GSI. */
static int find_ioapic(const uint8_t *madt, uint32_t len, struct acpi_isa_route *route, char *err,
		       size_t errlen)
{
	uint32_t off = MADT_ENTRIES, best_base = 0;
	bool found = false;
	const uint8_t *entry;
	int got;
	while ((got = madt_next(madt, len, &off, &entry, err, errlen)) > 0) {
		if (entry[0] != MADT_IO_APIC || entry[1] < MADT_IO_APIC_LEN)
			continue;
		uint32_t base = load_le32(entry + IO_APIC_GSI_BASE);
		if (base > route->gsi || (found && base < best_base))
			continue;
		found = true;
		best_base = base;
		route->ioapic_addr = load_le32(entry + IO_APIC_ADDRESS);
		route->pin = route->gsi - base;
	}
	if (got < 0)
		return -1;
	if (!found || !mapped(route->ioapic_addr, IO_APIC_MMIO_LEN)) {
		snformat(err, errlen, "MADT has no usable IOAPIC for GSI %u", route->gsi);
		return -1;
	}
	return 0;
}

int acpi_isa_irq_route(uint64_t rsdp_addr, uint8_t irq, struct acpi_isa_route *route, char *err,
		       size_t errlen)
{
	uint32_t len;
	const uint8_t *madt = find_madt(rsdp_addr, &len, err, errlen);
	if (!madt)
		return -1;
	*route = (struct acpi_isa_route){.irq = irq, .gsi = irq};
	if (find_override(madt, len, route, err, errlen) < 0)
		return -1;
	return find_ioapic(madt, len, route, err, errlen);
}

/* SRAT entries start after the header and 12 reserved bytes. Processor affinity (type 0, 16
 * bytes): domain bits 7:0 at +2 and 31:8 at +9, APIC ID at +3, flags at +4. Memory affinity
 * (type 1, 40 bytes): domain at +2, base at +8, length at +16, flags at +28. Bit 0 of the flags:
 * enabled. */
#define SRAT_ENTRIES 48

static const uint8_t *find_srat(uint64_t rsdp_addr, uint32_t *len, char *err, size_t errlen)
{
	uint64_t xsdt;
	if (xsdt_from_rsdp(rsdp_addr, &xsdt, err, errlen) < 0)
		return NULL;
	return find_table(xsdt, "SRAT", len, err, errlen);
}

/* The next enabled processor or memory entry from *off on: 1 and *out set, 0 at the end of the
 * table, -1 with a message for an entry that runs past it. */
static int srat_next(const uint8_t *srat, uint32_t len, uint32_t *off, struct acpi_affinity *out,
		     char *err, size_t errlen)
{
	while (*off + 2 <= len) {
		const uint8_t *e = srat + *off;
		uint8_t type = e[0], entry_len = e[1];
		if (entry_len < 2 || entry_len > len - *off) {
			snformat(err, errlen, "SRAT entry at offset %u has a bad length", *off);
			return -1;
		}
		*off += entry_len;
		if (type == 0 && entry_len >= 16 && (load_le32(e + 4) & 1)) {
			*out = (struct acpi_affinity){.is_cpu = true,
						      .domain = e[2] | (uint32_t)e[9] << 8 |
								(uint32_t)e[10] << 16 |
								(uint32_t)e[11] << 24,
						      .apic_id = e[3]};
			return 1;
		}
		if (type == 1 && entry_len >= 40 && (load_le32(e + 28) & 1)) {
			*out = (struct acpi_affinity){.domain = load_le32(e + 2),
						      .base = load_le64(e + 8),
						      .length = load_le64(e + 16)};
			return 1;
		}
	}
	return 0;
}

/* Calls each() with every enabled SRAT entry in table order; each() returns -1 to stop with an
 * error it wrote. The number of entries, or -1. */
static int srat_walk(uint64_t rsdp_addr, int (*each)(void *ctx, const struct acpi_affinity *a),
		     void *ctx, char *err, size_t errlen)
{
	uint32_t len, off = SRAT_ENTRIES;
	const uint8_t *srat = find_srat(rsdp_addr, &len, err, errlen);
	if (!srat)
		return -1;
	int count = 0, got;
	struct acpi_affinity a;
	while ((got = srat_next(srat, len, &off, &a, err, errlen)) > 0) {
		if (each(ctx, &a) < 0)
			return -1;
		count++;
	}
	return got < 0 ? -1 : count;
}

struct numa_tally {
	struct acpi_numa_node *nodes;
	unsigned max, count;
};

/* Adds an entry to its domain's node (a new one while there is room). */
static int tally_node(void *ctx, const struct acpi_affinity *a)
{
	struct numa_tally *t = ctx;
	unsigned cpus = a->is_cpu ? 1 : 0;
	uint64_t bytes = a->is_cpu ? 0 : a->length;
	for (unsigned i = 0; i < t->count; i++) {
		if (t->nodes[i].domain == a->domain) {
			t->nodes[i].cpus += cpus;
			t->nodes[i].memory_bytes += bytes;
			return 0;
		}
	}
	if (t->count < t->max)
		t->nodes[t->count++] = (struct acpi_numa_node){a->domain, cpus, bytes};
	return 0;
}

int acpi_numa_nodes(uint64_t rsdp_addr, struct acpi_numa_node *nodes, unsigned max, char *err,
		    size_t errlen)
{
	struct numa_tally t = {nodes, max, 0};
	return srat_walk(rsdp_addr, tally_node, &t, err, errlen) < 0 ? -1 : (int)t.count;
}

struct affinity_list {
	struct acpi_affinity *out;
	unsigned max, count;
	char *err;
	size_t errlen;
};

static int list_affinity(void *ctx, const struct acpi_affinity *a)
{
	struct affinity_list *list = ctx;
	if (list->count == list->max) {
		snformat(list->err, list->errlen, "SRAT has more than %u enabled entries",
			 list->max);
		return -1;
	}
	list->out[list->count++] = *a;
	return 0;
}

int acpi_affinities(uint64_t rsdp_addr, struct acpi_affinity *out, unsigned max, char *err,
		    size_t errlen)
{
	struct affinity_list list = {out, max, 0, err, errlen};
	return srat_walk(rsdp_addr, list_affinity, &list, err, errlen);
}
