/* ACPI tables read back the way an OS would: RSDP -> XSDT -> FADT/MADT/SRAT/SLIT, FADT -> DSDT;
 * signatures, lengths, every checksum, the MADT/SRAT entries, the SLIT matrix and \_S5 in the
 * DSDT; and the refusals (no CPUs, too many, bad IDs, window too small or not RAM). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/acpi.h"

#define RAM_SIZE (2u << 20)
#define WINDOW	 (LAYOUT_ACPI_END - LAYOUT_ACPI_BASE)

static struct guest_ram ram;
static char err[256];

static void ram_alloc(void)
{
	ram.size = RAM_SIZE;
	ram.host = calloc(1, RAM_SIZE);
	cr_assert_not_null(ram.host);
	err[0] = '\0';
}

static void ram_free(void)
{
	free(ram.host);
}

TestSuite(acpi, .init = ram_alloc, .fini = ram_free);

static uint64_t get(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	memcpy(&v, p, size);
	return v;
}

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s += p[i];
	return s;
}

/* A table the OS would accept: inside the window, right signature, checksum zero. */
static const uint8_t *table(uint64_t gpa, const char *sig)
{
	const uint8_t *t;
	uint32_t len;

	cr_assert_geq(gpa, LAYOUT_ACPI_BASE);
	cr_assert_leq(gpa + 36, LAYOUT_ACPI_END);
	t = ram.host + gpa;
	len = (uint32_t)get(t + 4, 4);
	cr_assert_leq(gpa + len, LAYOUT_ACPI_END, "%.4s runs past the window", sig);
	cr_assert_eq(memcmp(t, sig, 4), 0, "expected %s, found %.4s", sig, (const char *)t);
	cr_assert_eq(sum(t, len), 0, "%s checksum", sig);
	cr_assert_eq(memcmp(t + 10, "VSMP  ", 6), 0, "%s OEM ID", sig);
	return t;
}

static const uint8_t *rsdp(uint64_t gpa)
{
	const uint8_t *r = ram.host + gpa;

	cr_assert_eq(memcmp(r, "RSD PTR ", 8), 0);
	cr_assert_eq(sum(r, 20), 0, "RSDP checksum");
	cr_assert_eq(sum(r, 36), 0, "RSDP extended checksum");
	cr_assert_eq(r[15], 2, "revision");
	cr_assert_eq(get(r + 20, 4), 36);
	cr_assert_eq(memcmp(r + 9, "VSMP  ", 6), 0);
	return r;
}

/* The XSDT entry with signature sig, or NULL. */
static const uint8_t *find(const uint8_t *xsdt, const char *sig)
{
	uint32_t len = (uint32_t)get(xsdt + 4, 4);

	for (uint32_t off = 36; off + 8 <= len; off += 8) {
		uint64_t gpa = get(xsdt + off, 8);

		if (memcmp(ram.host + gpa, sig, 4) == 0)
			return table(gpa, sig);
	}
	return NULL;
}

static const struct acpi_cpu cpus4[] = {{0, 0}, {1, 0}, {2, 1}, {5, 1}};
static const struct acpi_mem_range mem2[] = {{0, 0x100000, 0}, {0x100000, 0x300000, 1}};

static struct acpi_machine machine4(void)
{
	return (struct acpi_machine){.cpus = cpus4,
				     .cpu_count = 4,
				     .mem = mem2,
				     .mem_count = 2,
				     .numa_nodes = 2,
				     .ioapic_id = 9,
				     .sleep_port = 0x600,
				     .reset_port = 0x601,
				     .reset_value = 0x01};
}

static const uint8_t *build(const struct acpi_machine *m)
{
	uint64_t rsdp_gpa = 0;

	cr_assert_eq(acpi_build(&ram, LAYOUT_ACPI_BASE, WINDOW, m, &rsdp_gpa, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(rsdp_gpa, LAYOUT_ACPI_BASE);
	return table(get(rsdp(rsdp_gpa) + 24, 8), "XSDT");
}

Test(acpi, xsdt_lists_the_tables)
{
	struct acpi_machine m = machine4();
	const uint8_t *xsdt = build(&m);

	cr_assert_eq(get(xsdt + 4, 4), 36 + 4 * 8);
	cr_assert_not_null(find(xsdt, "FACP"));
	cr_assert_not_null(find(xsdt, "APIC"));
	cr_assert_not_null(find(xsdt, "SRAT"));
	cr_assert_not_null(find(xsdt, "SLIT"));
}

Test(acpi, fadt_is_hardware_reduced_with_sleep_registers)
{
	struct acpi_machine m = machine4();
	const uint8_t *fadt = find(build(&m), "FACP");

	cr_assert_eq(get(fadt + 4, 4), 276);
	cr_assert_eq(fadt[8], 6, "revision");
	cr_assert(get(fadt + 112, 4) & (1u << 20), "HW_REDUCED_ACPI");
	cr_assert_eq(get(fadt + 109, 2) & 0x6, 0x4, "VGA not present, no 8042");
	for (unsigned off = 244; off <= 256; off += 12) {
		cr_assert_eq(fadt[off], 1, "System I/O");
		cr_assert_eq(fadt[off + 1], 8, "8 bits wide");
		cr_assert_eq(fadt[off + 3], 1, "byte access");
		cr_assert_eq(get(fadt + off + 4, 8), 0x600);
	}
}

/* What Linux's acpi_reboot() reads: RESET_REG_SUP, an 8-bit I/O reset register, RESET_VALUE. */
Test(acpi, fadt_has_reset_register)
{
	struct acpi_machine m = machine4();
	const uint8_t *fadt = find(build(&m), "FACP");

	cr_assert(get(fadt + 112, 4) & (1u << 10), "RESET_REG_SUP");
	cr_assert_eq(fadt[116], 1, "System I/O");
	cr_assert_eq(fadt[117], 8, "8 bits wide");
	cr_assert_eq(fadt[118], 0, "bit offset 0");
	cr_assert_eq(fadt[119], 1, "byte access");
	cr_assert_eq(get(fadt + 120, 8), 0x601);
	cr_assert_eq(fadt[128], 0x01, "RESET_VALUE");
}

Test(acpi, dsdt_has_s5)
{
	static const uint8_t s5[] = {0x08, '_',	 'S',  '5',  '_',  0x12, 0x07,
				     0x04, 0x0A, 0x05, 0x00, 0x00, 0x00};
	struct acpi_machine m = machine4();
	const uint8_t *fadt = find(build(&m), "FACP");
	const uint8_t *dsdt = table(get(fadt + 140, 8), "DSDT");
	uint32_t len = (uint32_t)get(dsdt + 4, 4);

	cr_assert_geq(dsdt[8], 2, "revision 2: 64-bit integers");
	cr_assert_not_null(memmem(dsdt + 36, len - 36, "_S5_", 4));
	cr_assert_geq(len, 36 + sizeof(s5));
	cr_assert_eq(memcmp(dsdt + 36, s5, sizeof(s5)), 0);
}

/* COM1 as Linux's 8250_pnp finds it: PNP0501 with I/O 0x3F8-0x3FF and IRQ 4. */
Test(acpi, dsdt_has_com1)
{
	static const uint8_t hid[] = {'_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x05, 0x01};
	static const uint8_t io[] = {0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x00, 0x08};
	static const uint8_t irq4[] = {0x22, 0x10, 0x00, 0x79, 0x00};
	struct acpi_machine m = machine4();
	const uint8_t *fadt = find(build(&m), "FACP");
	const uint8_t *dsdt = table(get(fadt + 140, 8), "DSDT");
	uint32_t len = (uint32_t)get(dsdt + 4, 4);

	cr_assert_not_null(memmem(dsdt + 36, len - 36, "COM1", 4));
	cr_assert_not_null(memmem(dsdt + 36, len - 36, hid, sizeof(hid)));
	cr_assert_not_null(memmem(dsdt + 36, len - 36, io, sizeof(io)));
	cr_assert_not_null(memmem(dsdt + 36, len - 36, irq4, sizeof(irq4)));
}

Test(acpi, madt_entries)
{
	struct acpi_machine m = machine4();
	const uint8_t *madt = find(build(&m), "APIC");
	uint32_t len = (uint32_t)get(madt + 4, 4), off = 44;
	unsigned lapics = 0, ioapics = 0, overrides = 0;

	cr_assert_eq(get(madt + 36, 4), LAYOUT_LAPIC_BASE);
	cr_assert_eq(get(madt + 40, 4), 0, "no PCAT_COMPAT: there is no 8259");
	while (off < len) {
		const uint8_t *e = madt + off;

		cr_assert_geq(e[1], 2);
		cr_assert_leq(off + e[1], len);
		if (e[0] == 0) {
			cr_assert_eq(e[1], 8);
			cr_assert_eq(e[2], lapics, "UID = index");
			cr_assert_eq(e[3], cpus4[lapics].apic_id);
			cr_assert_eq(get(e + 4, 4), 1, "enabled");
			lapics++;
		} else if (e[0] == 1) {
			cr_assert_eq(e[1], 12);
			cr_assert_eq(e[2], 9);
			cr_assert_eq(get(e + 4, 4), LAYOUT_IOAPIC_BASE);
			cr_assert_eq(get(e + 8, 4), 0, "GSI base");
			ioapics++;
		} else if (e[0] == 2) {
			cr_assert_eq(e[1], 10);
			cr_assert_eq(e[2], 0, "ISA");
			cr_assert_eq(e[3], 0, "IRQ 0");
			cr_assert_eq(get(e + 4, 4), 2, "GSI 2");
			overrides++;
		} else {
			cr_assert_fail("unexpected MADT entry type %u", e[0]);
		}
		off += e[1];
	}
	cr_assert_eq(off, len);
	cr_assert_eq(lapics + ioapics + overrides, m.cpu_count + 2);
	cr_assert_eq(lapics, 4);
	cr_assert_eq(ioapics, 1);
	cr_assert_eq(overrides, 1);
}

Test(acpi, srat_entries)
{
	struct acpi_machine m = machine4();
	const uint8_t *srat = find(build(&m), "SRAT");
	uint32_t len = (uint32_t)get(srat + 4, 4), off = 48;
	unsigned cpu = 0, mem = 0;

	cr_assert_eq(get(srat + 36, 4), 1);
	while (off < len) {
		const uint8_t *e = srat + off;

		cr_assert_leq(off + e[1], len);
		if (e[0] == 0) {
			cr_assert_eq(e[1], 16);
			cr_assert_eq(e[2] | get(e + 9, 3) << 8, cpus4[cpu].numa_node);
			cr_assert_eq(e[3], cpus4[cpu].apic_id);
			cr_assert_eq(get(e + 4, 4), 1, "enabled");
			cpu++;
		} else if (e[0] == 1) {
			cr_assert_eq(e[1], 40);
			cr_assert_eq(get(e + 2, 4), mem2[mem].numa_node);
			cr_assert_eq(get(e + 8, 8), mem2[mem].base);
			cr_assert_eq(get(e + 16, 8), mem2[mem].size);
			cr_assert_eq(get(e + 28, 4) & 1, 1, "enabled");
			mem++;
		} else {
			cr_assert_fail("unexpected SRAT entry type %u", e[0]);
		}
		off += e[1];
	}
	cr_assert_eq(off, len);
	cr_assert_eq(cpu, 4);
	cr_assert_eq(mem, 2);
}

Test(acpi, slit_matrix)
{
	static const struct acpi_cpu cpus[] = {{0, 0}, {1, 1}, {2, 2}};
	struct acpi_machine m = {.cpus = cpus, .cpu_count = 3, .numa_nodes = 3};
	const uint8_t *slit = find(build(&m), "SLIT");

	cr_assert_eq(get(slit + 4, 4), 44 + 9);
	cr_assert_eq(get(slit + 36, 8), 3);
	for (unsigned i = 0; i < 3; i++)
		for (unsigned j = 0; j < 3; j++)
			cr_assert_eq(slit[44 + i * 3 + j], i == j ? 10 : 20, "[%u][%u]", i, j);
}

Test(acpi, no_numa_means_no_srat_or_slit)
{
	struct acpi_machine m = machine4();
	const uint8_t *xsdt;

	m.numa_nodes = 0;
	xsdt = build(&m);
	cr_assert_eq(get(xsdt + 4, 4), 36 + 2 * 8);
	cr_assert_null(find(xsdt, "SRAT"));
	cr_assert_null(find(xsdt, "SLIT"));
	cr_assert_not_null(find(xsdt, "FACP"));
	cr_assert_not_null(find(xsdt, "APIC"));
}

Test(acpi, largest_machine_fits)
{
	static struct acpi_cpu cpus[ACPI_MAX_CPUS];
	static struct acpi_mem_range mem[32];
	struct acpi_machine m = {.cpus = cpus,
				 .cpu_count = ACPI_MAX_CPUS,
				 .mem = mem,
				 .mem_count = 32,
				 .numa_nodes = 32};
	const uint8_t *madt;

	for (unsigned i = 0; i < ACPI_MAX_CPUS; i++)
		cpus[i] = (struct acpi_cpu){i, i % 32};
	for (unsigned i = 0; i < 32; i++)
		mem[i] = (struct acpi_mem_range){(uint64_t)i << 30, 1ULL << 30, i};
	madt = find(build(&m), "APIC");
	cr_assert_eq(get(madt + 4, 4), 44 + ACPI_MAX_CPUS * 8 + 12 + 10);
	cr_assert_eq(madt[44 + 254 * 8 + 3], 254);
}

static void assert_refused(const struct acpi_machine *m, uint64_t gpa, uint64_t len,
			   const char *needle)
{
	uint64_t rsdp_gpa;

	cr_assert_eq(acpi_build(&ram, gpa, len, m, &rsdp_gpa, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, needle), "error \"%s\" lacks \"%s\"", err, needle);
}

Test(acpi, cpu_count_limits)
{
	static struct acpi_cpu cpus[ACPI_MAX_CPUS + 1];
	struct acpi_machine m = {.cpus = cpus, .cpu_count = 0};

	assert_refused(&m, LAYOUT_ACPI_BASE, WINDOW, "0 CPUs");
	m.cpu_count = ACPI_MAX_CPUS + 1;
	assert_refused(&m, LAYOUT_ACPI_BASE, WINDOW, "256 CPUs");
}

Test(acpi, bad_ids_are_refused)
{
	struct acpi_cpu cpus[] = {{0, 0}, {255, 0}};
	struct acpi_machine m = {.cpus = cpus, .cpu_count = 2, .numa_nodes = 1};

	assert_refused(&m, LAYOUT_ACPI_BASE, WINDOW, "APIC ID 255");
	cpus[1] = (struct acpi_cpu){1, 1};
	assert_refused(&m, LAYOUT_ACPI_BASE, WINDOW, "NUMA node 1 of 1");
	cpus[1].numa_node = 0;
	m.mem = mem2;
	m.mem_count = 2;
	assert_refused(&m, LAYOUT_ACPI_BASE, WINDOW, "memory range 1");
}

Test(acpi, window_too_small)
{
	struct acpi_machine m = machine4();

	assert_refused(&m, LAYOUT_ACPI_BASE, 256, "do not fit");
	assert_refused(&m, LAYOUT_ACPI_BASE, 36, "do not fit");
}

Test(acpi, window_must_be_aligned_ram)
{
	struct acpi_machine m = machine4();

	assert_refused(&m, LAYOUT_ACPI_BASE + 4, 0x1000, "16-byte aligned guest RAM");
	assert_refused(&m, RAM_SIZE - 0x100, 0x1000, "16-byte aligned guest RAM");
}

Test(acpi, tables_stay_inside_the_window)
{
	struct acpi_machine m = machine4();
	uint64_t rsdp_gpa;

	memset(ram.host, 0xEE, RAM_SIZE);
	cr_assert_eq(acpi_build(&ram, 0x10000, 0x1000, &m, &rsdp_gpa, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(ram.host[0x10000 - 1], 0xEE);
	cr_assert_eq(ram.host[0x11000], 0xEE);
}

/* The CMOS RTC as Linux's rtc_cmos finds it: PNP0B00 with I/O 0x70-0x71 and no IRQ (the model
 * raises none); the device's PkgLength covers its _HID and _CRS exactly, up to the end tag. */
Test(acpi, dsdt_has_rtc)
{
	static const uint8_t hid[] = {'_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x0B, 0x00};
	static const uint8_t crs[] = {0x11, 0x0D, 0x0A, 0x0A, 0x47, 0x01, 0x70,
				      0x00, 0x70, 0x00, 0x01, 0x02, 0x79, 0x00};
	struct acpi_machine m = machine4();
	const uint8_t *fadt = find(build(&m), "FACP");
	const uint8_t *dsdt = table(get(fadt + 140, 8), "DSDT");
	uint32_t len = (uint32_t)get(dsdt + 4, 4);
	const uint8_t *dev = memmem(dsdt + 36, len - 36, "RTC_", 4);

	cr_assert_not_null(dev);
	cr_assert_eq(dev[-3], 0x5B, "DeviceOp");
	cr_assert_eq(dev[-2], 0x82);
	cr_assert_eq(memcmp(dev + 4 + 1, hid, sizeof(hid)), 0, "Name (_HID, PNP0B00) first");
	cr_assert_eq(memcmp(dev + 4 + 1 + sizeof(hid) + 5, crs, sizeof(crs)), 0,
		     "_CRS: I/O, no IRQ");
	cr_assert_eq(dev[-1], 1 + 4 + 1 + sizeof(hid) + 5 + sizeof(crs), "PkgLength");
	cr_assert_eq(dsdt + len, dev + dev[-1] - 1, "the RTC ends the DSDT");
}
