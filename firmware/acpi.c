/* ACPI table builder (layouts from the ACPI 6.x specification). The tables are laid out one
 * after another, 16-byte aligned, in a window of guest RAM: the RSDP first (so it sits where the
 * caller asked and where a scan of the BIOS area finds it), then DSDT, FADT, MADT, SRAT, SLIT,
 * and the XSDT that lists them; each table's checksum is set once its bytes are final. The
 * machine is hardware-reduced ACPI: no PM1 blocks, no SCI, no 8259; power-off goes through the
 * FADT sleep control register, a reboot through its reset register. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "firmware/acpi.h"
#include "firmware/bytes.h"

#define OEM_ID	     "VSMP  "
#define OEM_TABLE_ID "VSMPVMM "
#define CREATOR_ID   "VSMP"
#define OEM_REVISION 1

#define HEADER_SIZE	 36
#define HDR_LENGTH	 4
#define HDR_REVISION	 8
#define HDR_CHECKSUM	 9
#define HDR_OEM_ID	 10
#define HDR_OEM_TABLE_ID 16
#define HDR_OEM_REVISION 24
#define HDR_CREATOR_ID	 28
#define HDR_CREATOR_REV	 32

#define RSDP_SIZE	  36
#define RSDP_V1_SIZE	  20 /* the part the first checksum covers */
#define RSDP_CHECKSUM	  8
#define RSDP_OEM_ID	  9
#define RSDP_REVISION	  15
#define RSDP_LENGTH	  20
#define RSDP_XSDT	  24
#define RSDP_EXT_CHECKSUM 32

#define FADT_SIZE	     276 /* revision 6 */
#define FADT_IAPC_BOOT_ARCH  109
#define FADT_FLAGS	     112
#define FADT_RESET_REG	     116
#define FADT_RESET_VALUE     128
#define FADT_X_DSDT	     140
#define FADT_SLEEP_CONTROL   244
#define FADT_SLEEP_STATUS    256
#define IAPC_VGA_NOT_PRESENT (1u << 2) /* and bit 1 clear: no 8042 */
#define FADT_RESET_REG_SUP   (1u << 10)
#define FADT_HW_REDUCED_ACPI (1u << 20)
#define GAS_SYSTEM_IO	     1
#define GAS_ACCESS_BYTE	     1

#define MADT_LAPIC_ADDRESS 36
#define MADT_ENTRIES	   44
#define MADT_LAPIC	   0
#define MADT_LAPIC_SIZE	   8
#define MADT_IOAPIC	   1
#define MADT_IOAPIC_SIZE   12
#define MADT_OVERRIDE	   2
#define MADT_OVERRIDE_SIZE 10
#define ENTRY_ENABLED	   1u

#define SRAT_ENTRIES	 48
#define SRAT_CPU	 0
#define SRAT_CPU_SIZE	 16
#define SRAT_MEMORY	 1
#define SRAT_MEMORY_SIZE 40

#define SLIT_LOCALITIES 36
#define SLIT_MATRIX	44
#define SLIT_LOCAL	10
#define SLIT_REMOTE	20

#define ISA_IRQ_TIMER	0
#define GSI_TIMER	2
#define TABLE_ALIGN	16
#define XSDT_MAX_TABLES 4

/* The DSDT body starts with Name (\_S5, Package () { 5, 0, 0, 0 }), the SLP_TYPa/SLP_TYPb values
 * (plus two reserved) the OS writes to the sleep control register to enter S5.
 *   08              NameOp
 *   5F 53 35 5F     NameString "_S5_" (root scope: the DSDT is loaded at \)
 *   12              PackageOp
 *   07              PkgLength: itself + NumElements + 5 element bytes
 *   04              NumElements
 *   0A 05           BytePrefix 5      (SLP_TYPa)
 *   00 00 00        ZeroOp x 3        (SLP_TYPb, reserved, reserved) */
static const uint8_t dsdt_aml[] = {
    0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0A, ACPI_SLP_TYP_S5, 0x00, 0x00, 0x00,
};

/* The PC's first serial port, which the UART model is: without an 8259 Linux creates no ISA IRQs,
 * so the 8250 driver can only use IRQ 4 once ACPI names it (8250_pnp then maps GSI 4).
 *   Scope (\_SB) { Device (COM1) { Name (_HID, EisaId ("PNP0501")) Name (_UID, 0)
 *     Name (_CRS, ResourceTemplate () { IO (Decode16, 0x3F8, 0x3F8, 0, 8) IRQNoFlags () {4} }) } }
 *   10 33 5C 5F 53 42 5F        ScopeOp, PkgLength, "\_SB_"
 *   5B 82 2B 43 4F 4D 31        DeviceOp, PkgLength, "COM1"
 *   08 5F 48 49 44 0C 41 D0 05 01  NameOp "_HID", DWordPrefix 0x0105D041 (EisaId PNP0501)
 *   08 5F 55 49 44 00           NameOp "_UID", ZeroOp
 *   08 5F 43 52 53 11 10 0A 0D  NameOp "_CRS", BufferOp, PkgLength, BytePrefix 13 (size)
 *   47 01 F8 03 F8 03 00 08     I/O port descriptor: 16-bit decode, 0x3F8..0x3F8, align 0, 8 ports
 *   22 10 00                    IRQ descriptor: mask bit 4
 *   79 00                       End tag, checksum 0 (none) */
static const uint8_t dsdt_com1_aml[] = {
    0x10, 0x33, '\\', '_',  'S',  'B',	'_',  0x5B, 0x82, 0x2B, 'C',  'O',  'M',
    '1',  0x08, '_',  'H',  'I',  'D',	0x0C, 0x41, 0xD0, 0x05, 0x01, 0x08, '_',
    'U',  'I',	'D',  0x00, 0x08, '_',	'C',  'R',  'S',  0x11, 0x10, 0x0A, 0x0D,
    0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x00, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00,
};

/* The CMOS RTC (devices/cmos_rtc.c), so that Linux's rtc_cmos finds it through PNP. The model
 * raises no interrupt, so no IRQ is named: the driver then runs without alarm interrupts.
 *   Scope (\_SB) { Device (RTC) { Name (_HID, EisaId ("PNP0B00"))
 *     Name (_CRS, ResourceTemplate () { IO (Decode16, 0x70, 0x70, 1, 2) }) } }
 *   10 2A 5C 5F 53 42 5F        ScopeOp, PkgLength, "\_SB_"
 *   5B 82 22 52 54 43 5F        DeviceOp, PkgLength, "RTC_"
 *   08 5F 48 49 44 0C 41 D0 0B 00  NameOp "_HID", DWordPrefix 0x000BD041 (EisaId PNP0B00)
 *   08 5F 43 52 53 11 0D 0A 0A  NameOp "_CRS", BufferOp, PkgLength, BytePrefix 10 (size)
 *   47 01 70 00 70 00 01 02     I/O port descriptor: 16-bit decode, 0x70..0x70, align 1, 2 ports
 *   79 00                       End tag, checksum 0 (none) */
static const uint8_t dsdt_rtc_aml[] = {
    0x10, 0x2A, '\\', '_',  'S',  'B',	'_',  0x5B, 0x82, 0x22, 'R',  'T',  'C',  '_', 0x08,
    '_',  'H',	'I',  'D',  0x0C, 0x41, 0xD0, 0x0B, 0x00, 0x08, '_',  'C',  'R',  'S', 0x11,
    0x0D, 0x0A, 0x0A, 0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02, 0x79, 0x00,
};

/* The host view of the guest RAM window the tables go into. */
struct acpi_area {
	uint8_t *host;
	uint64_t gpa, len, used;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The byte that makes the sum of bytes [0, len) zero when stored at `at` (which holds 0). */
static void set_checksum(uint8_t *p, size_t len, size_t at)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	p[at] = (uint8_t)-sum;
}

/* Zeroed room for size bytes, or NULL with err set when the window is full. */
static uint8_t *area_alloc(struct acpi_area *a, uint64_t size, uint64_t *gpa, char *err,
			   size_t errlen)
{
	uint64_t at = (a->used + TABLE_ALIGN - 1) & ~(uint64_t)(TABLE_ALIGN - 1);

	if (at > a->len || size > a->len - at) {
		fail(err, errlen, "ACPI tables do not fit in %" PRIu64 " bytes at %#" PRIx64,
		     a->len, a->gpa);
		return NULL;
	}
	a->used = at + size;
	*gpa = a->gpa + at;
	memset(a->host + at, 0, size);
	return a->host + at;
}

/* A table with its standard header filled in; the caller sets the checksum when done. */
static uint8_t *table_alloc(struct acpi_area *a, const char sig[4], uint64_t size, uint8_t revision,
			    uint64_t *gpa, char *err, size_t errlen)
{
	uint8_t *t = area_alloc(a, size, gpa, err, errlen);

	if (!t)
		return NULL;
	memcpy(t, sig, 4);
	put32(t, HDR_LENGTH, (uint32_t)size);
	t[HDR_REVISION] = revision;
	memcpy(t + HDR_OEM_ID, OEM_ID, 6);
	memcpy(t + HDR_OEM_TABLE_ID, OEM_TABLE_ID, 8);
	put32(t, HDR_OEM_REVISION, OEM_REVISION);
	memcpy(t + HDR_CREATOR_ID, CREATOR_ID, 4);
	put32(t, HDR_CREATOR_REV, OEM_REVISION);
	return t;
}

static void table_finish(uint8_t *t)
{
	uint32_t len;

	memcpy(&len, t + HDR_LENGTH, sizeof(len));
	set_checksum(t, len, HDR_CHECKSUM);
}

static int build_dsdt(struct acpi_area *a, uint64_t *gpa, char *err, size_t errlen)
{
	static const struct {
		const uint8_t *aml;
		size_t len;
	} parts[] = {
	    {dsdt_aml, sizeof(dsdt_aml)},
	    {dsdt_com1_aml, sizeof(dsdt_com1_aml)},
	    {dsdt_rtc_aml, sizeof(dsdt_rtc_aml)},
	};
	size_t size = HEADER_SIZE, at = HEADER_SIZE;
	uint8_t *t;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		size += parts[i].len;
	t = table_alloc(a, "DSDT", size, 2, gpa, err, errlen);
	if (!t)
		return -1;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		memcpy(t + at, parts[i].aml, parts[i].len);
		at += parts[i].len;
	}
	table_finish(t);
	return 0;
}

/* Generic Address Structure for an 8-bit register at an I/O port. */
static void put_io_gas(uint8_t *p, size_t off, uint16_t port)
{
	p[off] = GAS_SYSTEM_IO;
	p[off + 1] = 8; /* register bit width */
	p[off + 2] = 0; /* bit offset */
	p[off + 3] = GAS_ACCESS_BYTE;
	put64(p, off + 4, port);
}

static int build_fadt(struct acpi_area *a, const struct acpi_machine *m, uint64_t dsdt,
		      uint64_t *gpa, char *err, size_t errlen)
{
	uint8_t *t = table_alloc(a, "FACP", FADT_SIZE, 6, gpa, err, errlen);

	if (!t)
		return -1;
	put16(t, FADT_IAPC_BOOT_ARCH, IAPC_VGA_NOT_PRESENT);
	put32(t, FADT_FLAGS, FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP);
	put_io_gas(t, FADT_RESET_REG, m->reset_port);
	t[FADT_RESET_VALUE] = m->reset_value;
	put64(t, FADT_X_DSDT, dsdt);
	put_io_gas(t, FADT_SLEEP_CONTROL, m->sleep_port);
	put_io_gas(t, FADT_SLEEP_STATUS, m->sleep_port);
	table_finish(t);
	return 0;
}

/* One LAPIC per vCPU, the IOAPIC at GSI 0, and the PC's timer (ISA IRQ 0) wired to GSI 2. The
 * flags are 0 (no PCAT_COMPAT): there is no 8259 to disable. */
static int build_madt(struct acpi_area *a, const struct acpi_machine *m, uint64_t *gpa, char *err,
		      size_t errlen)
{
	uint64_t size = MADT_ENTRIES + (uint64_t)m->cpu_count * MADT_LAPIC_SIZE + MADT_IOAPIC_SIZE +
			MADT_OVERRIDE_SIZE;
	uint8_t *t = table_alloc(a, "APIC", size, 4, gpa, err, errlen);
	uint8_t *e;

	if (!t)
		return -1;
	put32(t, MADT_LAPIC_ADDRESS, (uint32_t)LAYOUT_LAPIC_BASE);
	e = t + MADT_ENTRIES;
	for (unsigned i = 0; i < m->cpu_count; i++, e += MADT_LAPIC_SIZE) {
		e[0] = MADT_LAPIC;
		e[1] = MADT_LAPIC_SIZE;
		e[2] = (uint8_t)i; /* ACPI processor UID */
		e[3] = (uint8_t)m->cpus[i].apic_id;
		put32(e, 4, ENTRY_ENABLED);
	}
	e[0] = MADT_IOAPIC;
	e[1] = MADT_IOAPIC_SIZE;
	e[2] = m->ioapic_id;
	put32(e, 4, (uint32_t)LAYOUT_IOAPIC_BASE);
	put32(e, 8, 0); /* GSI base */
	e += MADT_IOAPIC_SIZE;
	e[0] = MADT_OVERRIDE;
	e[1] = MADT_OVERRIDE_SIZE;
	e[2] = 0; /* bus: ISA */
	e[3] = ISA_IRQ_TIMER;
	put32(e, 4, GSI_TIMER);
	put16(e, 8, 0); /* polarity and trigger: conform to the bus */
	table_finish(t);
	return 0;
}

static int build_srat(struct acpi_area *a, const struct acpi_machine *m, uint64_t *gpa, char *err,
		      size_t errlen)
{
	uint64_t size = SRAT_ENTRIES + (uint64_t)m->cpu_count * SRAT_CPU_SIZE +
			(uint64_t)m->mem_count * SRAT_MEMORY_SIZE;
	uint8_t *t = table_alloc(a, "SRAT", size, 3, gpa, err, errlen);
	uint8_t *e;

	if (!t)
		return -1;
	put32(t, HEADER_SIZE, 1); /* reserved, 1 for compatibility */
	e = t + SRAT_ENTRIES;
	for (unsigned i = 0; i < m->cpu_count; i++, e += SRAT_CPU_SIZE) {
		uint32_t domain = m->cpus[i].numa_node;

		e[0] = SRAT_CPU;
		e[1] = SRAT_CPU_SIZE;
		e[2] = (uint8_t)domain;
		e[3] = (uint8_t)m->cpus[i].apic_id;
		put32(e, 4, ENTRY_ENABLED);
		e[9] = (uint8_t)(domain >> 8); /* proximity domain bits 31:8 */
		e[10] = (uint8_t)(domain >> 16);
		e[11] = (uint8_t)(domain >> 24);
	}
	for (unsigned i = 0; i < m->mem_count; i++, e += SRAT_MEMORY_SIZE) {
		e[0] = SRAT_MEMORY;
		e[1] = SRAT_MEMORY_SIZE;
		put32(e, 2, m->mem[i].numa_node);
		put64(e, 8, m->mem[i].base);
		put64(e, 16, m->mem[i].size);
		put32(e, 28, ENTRY_ENABLED);
	}
	table_finish(t);
	return 0;
}

static int build_slit(struct acpi_area *a, const struct acpi_machine *m, uint64_t *gpa, char *err,
		      size_t errlen)
{
	uint64_t n = m->numa_nodes;
	uint8_t *t = table_alloc(a, "SLIT", SLIT_MATRIX + n * n, 1, gpa, err, errlen);

	if (!t)
		return -1;
	put64(t, SLIT_LOCALITIES, n);
	for (uint64_t i = 0; i < n; i++)
		for (uint64_t j = 0; j < n; j++)
			t[SLIT_MATRIX + i * n + j] = i == j ? SLIT_LOCAL : SLIT_REMOTE;
	table_finish(t);
	return 0;
}

static int build_xsdt(struct acpi_area *a, const uint64_t *tables, unsigned count, uint64_t *gpa,
		      char *err, size_t errlen)
{
	uint8_t *t = table_alloc(a, "XSDT", HEADER_SIZE + count * 8, 1, gpa, err, errlen);

	if (!t)
		return -1;
	for (unsigned i = 0; i < count; i++)
		put64(t, HEADER_SIZE + i * 8, tables[i]);
	table_finish(t);
	return 0;
}

static void finish_rsdp(uint8_t *r, uint64_t xsdt)
{
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + RSDP_OEM_ID, OEM_ID, 6);
	r[RSDP_REVISION] = 2;
	put32(r, RSDP_LENGTH, RSDP_SIZE);
	put64(r, RSDP_XSDT, xsdt);
	set_checksum(r, RSDP_V1_SIZE, RSDP_CHECKSUM);
	set_checksum(r, RSDP_SIZE, RSDP_EXT_CHECKSUM);
}

static int check_machine(const struct acpi_machine *m, char *err, size_t errlen)
{
	if (m->cpu_count == 0 || m->cpu_count > ACPI_MAX_CPUS)
		return fail(err, errlen, "ACPI: %u CPUs; between 1 and %u are supported",
			    m->cpu_count, ACPI_MAX_CPUS);
	if (m->numa_nodes > ACPI_MAX_NUMA_NODES)
		return fail(err, errlen, "ACPI: %u NUMA nodes; at most %u are supported",
			    m->numa_nodes, ACPI_MAX_NUMA_NODES);
	for (unsigned i = 0; i < m->cpu_count; i++) {
		if (m->cpus[i].apic_id >= ACPI_MAX_CPUS)
			return fail(err, errlen, "ACPI: CPU %u has APIC ID %u; at most %u fits", i,
				    m->cpus[i].apic_id, ACPI_MAX_CPUS - 1);
		if (m->numa_nodes && m->cpus[i].numa_node >= m->numa_nodes)
			return fail(err, errlen, "ACPI: CPU %u is in NUMA node %u of %u", i,
				    m->cpus[i].numa_node, m->numa_nodes);
	}
	for (unsigned i = 0; m->numa_nodes && i < m->mem_count; i++) {
		if (m->mem[i].numa_node >= m->numa_nodes)
			return fail(err, errlen, "ACPI: memory range %u is in NUMA node %u of %u",
				    i, m->mem[i].numa_node, m->numa_nodes);
	}
	return 0;
}

int acpi_build(const struct guest_ram *ram, uint64_t gpa, uint64_t max_len,
	       const struct acpi_machine *m, uint64_t *rsdp_gpa, char *err, size_t errlen)
{
	struct acpi_area a = {.host = guest_ram_ptr(ram, gpa, max_len), .gpa = gpa, .len = max_len};
	uint64_t tables[XSDT_MAX_TABLES], dsdt, xsdt;
	unsigned count;
	uint8_t *rsdp;

	if (check_machine(m, err, errlen) < 0)
		return -1;
	if (!a.host || gpa % TABLE_ALIGN)
		return fail(err, errlen,
			    "ACPI: [%#" PRIx64 ", +%#" PRIx64 ") is not 16-byte aligned guest RAM",
			    gpa, max_len);
	rsdp = area_alloc(&a, RSDP_SIZE, rsdp_gpa, err, errlen);
	if (!rsdp || build_dsdt(&a, &dsdt, err, errlen) < 0 ||
	    build_fadt(&a, m, dsdt, &tables[0], err, errlen) < 0 ||
	    build_madt(&a, m, &tables[1], err, errlen) < 0)
		return -1;
	count = 2;
	if (m->numa_nodes) {
		if (build_srat(&a, m, &tables[2], err, errlen) < 0 ||
		    build_slit(&a, m, &tables[3], err, errlen) < 0)
			return -1;
		count = 4;
	}
	if (build_xsdt(&a, tables, count, &xsdt, err, errlen) < 0)
		return -1;
	finish_rsdp(rsdp, xsdt);
	return 0;
}
