/* Ring-0 set-up and the fatal-exception report. Ring 0 is emulated on this platform, thousands of
 * times slower than ring 3, so this file does only what ring 3 cannot: it fills the IDT and
 * the CPU's TSS descriptor and loads CR3, GDTR, IDTR and TR. The page tables are built at link
 * time (pagetables.S); everything else happens in ring 3. */
#include <stddef.h>
#include <stdint.h>

#include "firmware/testguest/console.h"
#include "firmware/testguest/layout.h"
#include "firmware/testguest/ring0.h"

_Static_assert(offsetof(struct cpu_block, timer_ticks) == KSTACK_TIMER_TICKS, "layout.h");
_Static_assert(offsetof(struct cpu_block, ipis) == KSTACK_IPIS, "layout.h");
_Static_assert(offsetof(struct cpu_block, spurious) == KSTACK_SPURIOUS, "layout.h");
_Static_assert(offsetof(struct cpu_block, cpu) == KSTACK_CPU, "layout.h");
_Static_assert(offsetof(struct cpu_block, nmis) == KSTACK_NMIS, "layout.h");
_Static_assert(offsetof(struct cpu_block, device_irqs) == KSTACK_DEVICE_IRQS, "layout.h");
_Static_assert(offsetof(struct cpu_block, tss) == KSTACK_TSS, "layout.h");
_Static_assert(sizeof(struct cpu_block) == KSTACK_SIZE, "layout.h");
_Static_assert(sizeof(struct tss) == 104, "64-bit TSS");
_Static_assert(offsetof(struct cpu_block, io_bitmap) == KSTACK_TSS + sizeof(struct tss),
	       "the I/O bitmap follows the TSS");

#define CR4_SMEP (1ul << 20)
#define CR4_SMAP (1ul << 21)

#define GATE_INTERRUPT	0x8e00 /* present, DPL 0, 64-bit interrupt gate (clears IF) */
#define DESC_TSS	0x89   /* present, DPL 0, available 64-bit TSS */
#define VEC_NOT_PRESENT 11
#define VEC_GENERAL	13
#define ERROR_CODE_IDT	0x2 /* in a #NP/#GP error code: the index is an IDT vector */

struct cpu_block cpu_blocks[MAX_CPUS];
/* Ring 3's stacks, one per CPU; enter_user (entry.S) starts each CPU at the top of its own. */
uint8_t user_stacks[MAX_CPUS][USTACK_SIZE] __attribute__((aligned(64)));
uint64_t boot_params_addr;

uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16))) = {
    [SEL_KERNEL_CODE32 / 8] = 0x00cf9a000000ffff, /* 32-bit: the AP trampoline's step */
    [SEL_KERNEL_CODE / 8] = 0x00af9a000000ffff,	  /* 64-bit, DPL 0 */
    [SEL_KERNEL_DATA / 8] = 0x00cf92000000ffff,	  /* flat data, DPL 0 */
    [SEL_USER_DATA / 8] = 0x00cff2000000ffff,	  /* flat data, DPL 3 */
    [SEL_USER_CODE / 8] = 0x00affa000000ffff,	  /* 64-bit, DPL 3 */
};

static uint64_t idt[256 * 2] __attribute__((aligned(16)));

extern uint64_t pml4[];
extern const uint64_t exception_stubs[32];
void timer_isr(void);
void ipi_isr(void);
void device_isr(void);
void spurious_isr(void);

struct exception_frame {
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

struct descriptor_pointer {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static void set_gate(unsigned vector, uint64_t handler)
{
	idt[2 * vector] = (handler & 0xffff) | (uint64_t)SEL_KERNEL_CODE << 16 |
			  (uint64_t)GATE_INTERRUPT << 32 | (handler & 0xffff0000) << 32;
	idt[2 * vector + 1] = handler >> 32;
}

/* Vectors left without a gate raise #NP, whose error code names them: see exception_report.
 * The NMI (vector 2) gets nmi_isr through exception_stubs, an ordinary gate without IST: with no
 * syscall entry there is no moment at which ring 0 runs on a stack it cannot trust. */
static void fill_idt(void)
{
	for (unsigned v = 0; v < 32; v++)
		set_gate(v, exception_stubs[v]);
	set_gate(VEC_TIMER, (uintptr_t)timer_isr);
	set_gate(VEC_IPI, (uintptr_t)ipi_isr);
	set_gate(VEC_DEVICE, (uintptr_t)device_isr);
	set_gate(VEC_SPURIOUS, (uintptr_t)spurious_isr);
}

/* The TSS segment covers the TSS and the I/O bitmap after it. */
static void set_tss_descriptor(unsigned cpu, const struct cpu_block *block)
{
	uint64_t base = (uintptr_t)&block->tss;
	uint64_t limit = sizeof(block->tss) + sizeof(block->io_bitmap) - 1;
	gdt[GDT_FIRST_TSS + 2 * cpu] = (limit & 0xffff) | (base & 0xffffff) << 16 |
				       (uint64_t)DESC_TSS << 40 | (base & 0xff000000) << 32;
	gdt[GDT_FIRST_TSS + 2 * cpu + 1] = base >> 32;
}

static void load_cpu_tables(unsigned cpu)
{
	struct cpu_block *block = &cpu_blocks[cpu];
	block->cpu = cpu;
	block->tss.rsp[0] = (uintptr_t)(block + 1);
	block->tss.iomap_base = sizeof(block->tss);
	block->io_bitmap[sizeof(block->io_bitmap) - 1] = 0xff;
	set_tss_descriptor(cpu, block);

	struct descriptor_pointer gdtr = {sizeof(gdt) - 1, (uintptr_t)gdt};
	struct descriptor_pointer idtr = {sizeof(idt) - 1, (uintptr_t)idt};
	uint16_t tr = (uint16_t)((GDT_FIRST_TSS + 2 * cpu) * 8);
	__asm__ volatile("lgdt %0" : : "m"(gdtr));
	__asm__ volatile("lidt %0" : : "m"(idtr));
	__asm__ volatile("ltr %0" : : "r"(tr));
}

void ring0_init_bsp(uint64_t boot_params)
{
	boot_params_addr = boot_params;
	__asm__ volatile("mov %0, %%cr3" : : "r"((uintptr_t)pml4) : "memory");
	/* Our kernel code sits on user pages: SMEP or SMAP left on by the VMM would fault it. */
	uint64_t cr4;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	if (cr4 & (CR4_SMEP | CR4_SMAP))
		__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 & ~(CR4_SMEP | CR4_SMAP)));
	fill_idt();
	load_cpu_tables(0);
}

/* The trampoline already loaded CR3 and CR4. Returns `cpu` for entry.S. */
unsigned ring0_init_ap(unsigned cpu)
{
	load_cpu_tables(cpu);
	return cpu;
}

static int cpu_of_frame(const struct exception_frame *frame)
{
	uintptr_t block = (uintptr_t)frame & ~(uintptr_t)(KSTACK_SIZE - 1);
	uintptr_t first = (uintptr_t)cpu_blocks;
	if (block < first || block >= first + sizeof(cpu_blocks))
		return -1;
	return (int)((block - first) / KSTACK_SIZE);
}

__attribute__((noreturn)) void exception_report(const struct exception_frame *frame)
{
	int cpu = cpu_of_frame(frame);
	unsigned ring = frame->cs & 3;
	/* A vector without a gate arrives as #NP (or #GP) whose error code names that vector. */
	if ((frame->vector == VEC_NOT_PRESENT || frame->vector == VEC_GENERAL) &&
	    (frame->error & ERROR_CODE_IDT))
		fail("exception %lu cpu=%d rip=0x%lx err=0x%lx ring=%u: vector 0x%lx has no gate",
		     frame->vector, cpu, frame->rip, frame->error, ring, frame->error >> 3);
	uint64_t cr2;
	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	fail("exception %lu cpu=%d rip=0x%lx err=0x%lx cr2=0x%lx ring=%u", frame->vector, cpu,
	     frame->rip, frame->error, cr2, ring);
}
