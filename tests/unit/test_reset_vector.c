/* Unit test of the reset vector's stub (firmware/reset_vector.c) on the real interpreter: code
 * jumps to F000:FFF0 as Linux's BIOS restart does (a far jump in real mode), and the stub writes
 * the reset value to the reset port once, then halts; nothing else touches a port or MMIO. */
#include <criterion/criterion.h>

#include "firmware/reset_vector.h"

#define RAM_SIZE  (2u << 20)
#define CODE_ADDR 0x1000u

#include "tests/unit/emu_vcpu.h"

static unsigned writes;
static uint64_t written_port;
static uint8_t written_value;

static void record_io(void *ctx, enum cpu_io_space space, uint64_t addr, uint8_t *data,
		      unsigned len, bool is_write)
{
	(void)ctx;
	cr_assert_eq(space, CPU_IO_PIO, "an MMIO access at 0x%llx", (unsigned long long)addr);
	cr_assert(is_write, "a read of port 0x%llx", (unsigned long long)addr);
	cr_assert_eq(len, 1);
	writes++;
	written_port = addr;
	written_value = data[0];
}

static const struct cpu_io record = {.access = record_io};

static void create(void)
{
	emu_vcpu_create_with_io(&record);
}

TestSuite(reset_vector, .init = create, .fini = emu_vcpu_destroy);

Test(reset_vector, jump_to_the_vector_writes_the_reset_register_then_halts)
{
	char err[256];
	struct guest_ram gr = {ram, RAM_SIZE};
	cr_assert_eq(reset_vector_write(&gr, 0x601, 0x5a, err, sizeof(err)), 0, "%s", err);
	static const uint8_t ljmp[] = {0xea, 0xf0, 0xff, 0x00, 0xf0}; /* jmp far f000:fff0 */
	memcpy(ram + CODE_ADDR, ljmp, sizeof(ljmp));
	cr_assert_eq(cpu->ops->start_at_sipi(cpu, CODE_ADDR >> 12, err, sizeof(err)), 0, "%s", err);
	struct cpu_exit *x = cpu->ops->run(cpu);
	cr_assert_eq(x->reason, CPU_EXIT_HLT, "exit %d: %s", x->reason, x->message);
	cr_assert_eq(writes, 1);
	cr_assert_eq(written_port, 0x601);
	cr_assert_eq(written_value, 0x5a);
	/* An ignored write: an interrupt ending the hlt finds the jmp that goes back to it. */
	cr_assert_eq(emu_cpu_of(cpu)->seg[EMU_CS].base + emu_cpu_of(cpu)->rip,
		     LAYOUT_RESET_VECTOR + 7, "halted at 0x%llx",
		     (unsigned long long)emu_cpu_of(cpu)->rip);
	x = cpu->ops->run(cpu);
	cr_assert_eq(x->reason, CPU_EXIT_HLT, "exit %d: %s", x->reason, x->message);
	cr_assert_eq(writes, 1, "the stub wrote the reset register again");
}

Test(reset_vector, refuses_guest_ram_that_ends_below_the_vector)
{
	char err[256];
	struct guest_ram small = {ram, LAYOUT_RESET_VECTOR};
	cr_assert_eq(reset_vector_write(&small, 0x601, 1, err, sizeof(err)), -1);
	cr_assert(strstr(err, "reset vector"), "%s", err);
}
