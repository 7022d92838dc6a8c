/* One software vCPU through the public CPU-backend interface, for the interpreter's unit tests
 * that run real guest code (test_emu_blocks.c, test_emu_pairs.c, test_reset_vector.c): RAM_SIZE
 * bytes of guest RAM (the includer defines RAM_SIZE) that the test fills, the vCPU on it, and
 * any port or MMIO access fails the test unless the test passes its own handler. */
#ifndef TESTS_UNIT_EMU_VCPU_H
#define TESTS_UNIT_EMU_VCPU_H

#include <criterion/criterion.h>
#include <sys/mman.h>

#include "tests/unit/guest_ram.h"
#include "vmm/cpu/cpu.h"
#include "vmm/cpu/emu/emu.h"

static struct accel *accel;
static struct cpu *cpu;

static void no_io(void *ctx, enum cpu_io_space space, uint64_t addr, uint8_t *data, unsigned len,
		  bool is_write)
{
	(void)ctx, (void)space, (void)addr, (void)data, (void)len, (void)is_write;
	cr_assert_fail("unexpected I/O");
}

static const struct cpu_io test_io = {.access = no_io};

static void emu_vcpu_create_with_io(const struct cpu_io *io)
{
	char err[256];
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(ram, MAP_FAILED);
	struct accel_params p = {.ram_host = ram, .ram_size = RAM_SIZE, .vcpu_count = 1};
	accel = emu_accel_ops.create(&p, err, sizeof(err));
	cr_assert_not_null(accel, "%s", err);
	cpu = emu_accel_ops.cpu_create(accel, 0, io, err, sizeof(err));
	cr_assert_not_null(cpu, "%s", err);
}

static inline void emu_vcpu_create(void)
{
	emu_vcpu_create_with_io(&test_io);
}

static void emu_vcpu_destroy(void)
{
	cpu->ops->destroy(cpu);
	emu_accel_ops.destroy(accel);
	munmap(ram, RAM_SIZE);
}

#endif
