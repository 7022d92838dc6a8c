/* Each mode ends the guest from the VMM's side; if the VMM lets it continue, the guest says so
 * and exits with a failure status, so a VMM that tolerated it cannot pass silently. */
#include "firmware/testguest/misbehave.h"

#include "firmware/testguest/console.h"
#include "firmware/testguest/ring0.h"
#include "firmware/testguest/x86.h"

#define UNCLAIMED_PORT 0x7f0	   /* inside our I/O bitmap, claimed by no VMM device */
#define UNKNOWN_MSR    0x4b564dffu /* in KVM's paravirtual range, defined by nobody */

static void read_unknown_msr(void *arg)
{
	uint32_t lo, hi;
	(void)arg;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(UNKNOWN_MSR));
}

/* A zero-limit IDT makes the next exception unservable twice over: a triple fault. */
static void triple_fault(void *arg)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) empty = {0, 0};
	(void)arg;
	__asm__ volatile("lidt %0; ud2" : : "m"(empty));
}

/* Nothing will send this CPU an NMI or INIT: once every CPU is here the guest cannot resume. */
static void halt_for_good(void *arg)
{
	(void)arg;
	for (;;)
		__asm__ volatile("cli; hlt");
}

void misbehave_halt(unsigned cpu)
{
	say("fault: cpu %u halts with interrupts disabled", cpu);
	ring0_call(halt_for_good, 0);
	fail("the VMM let tg.fault misbehaviour pass");
}

void misbehave(enum fault_mode mode)
{
	switch (mode) {
	case FAULT_PORT:
		say("fault: writing unclaimed port 0x%x", UNCLAIMED_PORT);
		outb(UNCLAIMED_PORT, 1);
		break;
	case FAULT_MSR:
		say("fault: reading unknown MSR 0x%x", UNKNOWN_MSR);
		ring0_call(read_unknown_msr, 0);
		break;
	case FAULT_TRIPLE:
		say("fault: triple fault");
		ring0_call(triple_fault, 0);
		break;
	case FAULT_HALT_BSP:
		misbehave_halt(0);
	case FAULT_NONE:
	case FAULT_HALT:
		break;
	}
	fail("the VMM let tg.fault misbehaviour pass");
}
