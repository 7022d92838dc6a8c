/*
 * Local APIC model: the xAPIC register page, interrupt acceptance (IRR/ISR/TMR and the
 * TPR/PPR priority rules), EOI, the LVT timer and the INIT/SIPI start-up states.
 *
 * Each public function takes the instance's mutex, changes state, and collects the callbacks it
 * owes (kick, send_ipi, eoi_level) in a struct lapic_effects that is run after the unlock, so no
 * callback ever runs under the lock.
 *
 * The timer is not a thread: it is an absolute expiry time on a caller-supplied clock. Every
 * MMIO access and lapic_timer_update first bring it up to date to "now", so the current count
 * and the interrupt follow from the clock alone; the owner sleeps until lapic_timer_deadline().
 */
#include "devices/lapic.h"

#include <pthread.h>
#include <stdlib.h>

#define VECTOR_WORDS	 8
#define FIRST_LEGAL	 16
#define NS_PER_BUS_TICK	 (1000000000ULL / LAPIC_TIMER_HZ)
#define LVT_COUNT	 6
#define LVT_TIMER	 0
#define LVT_ERROR	 5
#define LVT_VECTOR	 0xFFU
#define LVT_TIMER_MODE	 (3U << 17)
#define TIMER_PERIODIC	 1U
#define ICR_LOW_WRITABLE 0x000CCFFFU
#define SVR_WRITABLE	 0x3FFU
#define DIV_WRITABLE	 0xBU
#define DFR_FLAT	 0xFU
#define DFR_CLUSTER	 0x0U
#define DFR_RESERVED	 0x0FFFFFFFU
#define BROADCAST_MDA	 0xFF

/* Writable bits of each LVT: timer, thermal, perf, LINT0, LINT1, error. The timer's mode field
 * is two bits wide so that TSC-deadline (not offered) can be seen and refused. */
static const uint32_t lvt_writable[LVT_COUNT] = {
    0x000700FF, 0x000107FF, 0x000107FF, 0x0001A7FF, 0x0001A7FF, 0x000100FF,
};

enum startup_state { CPU_RUNNING, CPU_WAIT_INIT, CPU_WAIT_SIPI };

struct lapic_timer {
	uint32_t initial;
	uint32_t divide; /* the divide configuration register */
	bool armed;
	uint64_t expiry_ns; /* when the count reaches 0; valid while armed */
};

struct lapic {
	pthread_mutex_t lock;
	struct lapic_ops ops;
	void *ctx;
	bool bsp;
	uint8_t id; /* read without the lock by lapic_id(): accessed atomically */
	uint32_t tpr, ldr, dfr, svr;
	uint32_t esr, esr_pending; /* ESR shows what was latched by the last ESR write */
	uint32_t icr_low, icr_high;
	uint32_t lvt[LVT_COUNT];
	uint32_t isr[VECTOR_WORDS], tmr[VECTOR_WORDS], irr[VECTOR_WORDS];
	struct lapic_timer timer;
	enum startup_state state;
	bool nmi_pending, init_pending;
	int sipi_vector;
};

/* Callbacks owed by a locked section, run once the lock is dropped. */
struct lapic_effects {
	bool kick;
	bool send_ipi;
	uint32_t icr_low, icr_high;
	int eoi_vector; /* -1: none */
};

static bool vec_test(const uint32_t *bits, unsigned v)
{
	return bits[v / 32] & (1U << (v % 32));
}

static void vec_assign(uint32_t *bits, unsigned v, bool on)
{
	if (on)
		bits[v / 32] |= 1U << (v % 32);
	else
		bits[v / 32] &= ~(1U << (v % 32));
}

static int highest_vector(const uint32_t *bits)
{
	for (int w = VECTOR_WORDS - 1; w >= 0; w--)
		if (bits[w])
			return w * 32 + 31 - __builtin_clz(bits[w]);
	return -1;
}

static uint32_t priority_class(int vector)
{
	return vector < 0 ? 0 : (uint32_t)vector >> 4;
}

static uint32_t processor_priority(const struct lapic *l)
{
	uint32_t isr_class = priority_class(highest_vector(l->isr));
	if ((l->tpr >> 4) >= isr_class)
		return l->tpr;
	return isr_class << 4;
}

static uint32_t arbitration_priority(const struct lapic *l)
{
	uint32_t irr_class = priority_class(highest_vector(l->irr));
	uint32_t isr_class = priority_class(highest_vector(l->isr));
	uint32_t top = irr_class > isr_class ? irr_class : isr_class;
	if ((l->tpr >> 4) >= top)
		return l->tpr;
	return top << 4;
}

static bool sw_enabled(const struct lapic *l)
{
	return l->svr & LAPIC_SVR_ENABLE;
}

/* Puts a vector in IRR; true if it was not already requested (the vCPU has news). */
static bool raise_vector(struct lapic *l, unsigned vector, bool level)
{
	vec_assign(l->tmr, vector, level);
	if (vec_test(l->irr, vector))
		return false;
	vec_assign(l->irr, vector, true);
	return true;
}

/* Logs an error for the next ESR write to latch, and signals it through LVT error. */
static bool record_error(struct lapic *l, uint32_t esr_bit)
{
	uint32_t lvt = l->lvt[LVT_ERROR];
	l->esr_pending |= esr_bit;
	if ((lvt & LAPIC_LVT_MASKED) || (lvt & LVT_VECTOR) < FIRST_LEGAL)
		return false;
	return raise_vector(l, lvt & LVT_VECTOR, false);
}

static bool accept_fixed(struct lapic *l, uint8_t vector, bool level)
{
	if (vector < FIRST_LEGAL)
		return record_error(l, LAPIC_ESR_RECV_ILLEGAL);
	if (!sw_enabled(l))
		return false;
	return raise_vector(l, vector, level);
}

/* Power-up state of everything but the ID (also what INIT leaves behind). */
static void reset_registers(struct lapic *l)
{
	l->tpr = 0;
	l->ldr = 0;
	l->dfr = 0xFFFFFFFF;
	l->svr = 0xFF;
	l->esr = 0;
	l->esr_pending = 0;
	l->icr_low = 0;
	l->icr_high = 0;
	for (int i = 0; i < LVT_COUNT; i++)
		l->lvt[i] = LAPIC_LVT_MASKED;
	for (int w = 0; w < VECTOR_WORDS; w++)
		l->isr[w] = l->tmr[w] = l->irr[w] = 0;
	l->timer = (struct lapic_timer){0};
}

/* ---- timer ---- */

static uint64_t timer_tick_ns(const struct lapic *l)
{
	uint32_t dcr = l->timer.divide;
	unsigned encoding = (dcr & 3) | ((dcr >> 1) & 4);
	return NS_PER_BUS_TICK << ((encoding + 1) & 7); /* 0 -> /2 ... 6 -> /128, 7 -> /1 */
}

static uint32_t timer_mode(const struct lapic *l)
{
	return (l->lvt[LVT_TIMER] & LVT_TIMER_MODE) >> 17;
}

static bool timer_can_interrupt(const struct lapic *l)
{
	return !(l->lvt[LVT_TIMER] & LAPIC_LVT_MASKED) && timer_mode(l) <= TIMER_PERIODIC;
}

static void timer_start(struct lapic *l, uint32_t count, uint64_t now_ns)
{
	l->timer.armed = count != 0 && timer_mode(l) <= TIMER_PERIODIC;
	l->timer.expiry_ns = now_ns + count * timer_tick_ns(l);
}

/* Handles an expiry that "now" has passed; true if it raised a new IRR bit. */
static bool timer_catch_up(struct lapic *l, uint64_t now_ns)
{
	struct lapic_timer *t = &l->timer;
	if (!t->armed || now_ns < t->expiry_ns)
		return false;
	if (timer_mode(l) == TIMER_PERIODIC) {
		uint64_t period = t->initial * timer_tick_ns(l);
		t->expiry_ns += ((now_ns - t->expiry_ns) / period + 1) * period;
	} else {
		t->armed = false;
	}
	if (!timer_can_interrupt(l))
		return false;
	return raise_vector(l, l->lvt[LVT_TIMER] & LVT_VECTOR, false);
}

/* Only valid after timer_catch_up(now_ns): an armed timer's expiry is then in the future. */
static uint32_t timer_current_count(const struct lapic *l, uint64_t now_ns)
{
	const struct lapic_timer *t = &l->timer;
	if (!t->armed)
		return 0;
	uint64_t tick = timer_tick_ns(l);
	uint64_t left = t->expiry_ns > now_ns ? t->expiry_ns - now_ns : 0;
	uint64_t count = (left + tick - 1) / tick;
	return count > t->initial ? t->initial : (uint32_t)count;
}

/* A new divider changes the rate, not the count reached so far. */
static void timer_set_divide(struct lapic *l, uint32_t value, uint64_t now_ns)
{
	uint32_t count = timer_current_count(l, now_ns);
	l->timer.divide = value & DIV_WRITABLE;
	if (l->timer.armed)
		l->timer.expiry_ns = now_ns + count * timer_tick_ns(l);
}

static void timer_set_initial(struct lapic *l, uint32_t value, uint64_t now_ns)
{
	if (timer_mode(l) > TIMER_PERIODIC)
		return;
	l->timer.initial = value;
	timer_start(l, value, now_ns);
}

/* ---- registers ---- */

static int lvt_index(uint32_t offset)
{
	if (offset < LAPIC_REG_LVT_TIMER || offset > LAPIC_REG_LVT_ERROR)
		return -1;
	return (offset - LAPIC_REG_LVT_TIMER) >> 4;
}

/* The 8 words of ISR, TMR or IRR if offset falls in one of them, else NULL. */
static uint32_t *vector_register(struct lapic *l, uint32_t offset, unsigned *word)
{
	static const uint32_t bases[] = {LAPIC_REG_ISR, LAPIC_REG_TMR, LAPIC_REG_IRR};
	uint32_t *arrays[] = {l->isr, l->tmr, l->irr};
	for (unsigned i = 0; i < 3; i++) {
		if (offset >= bases[i] && offset < bases[i] + VECTOR_WORDS * 0x10) {
			*word = (offset - bases[i]) >> 4;
			return arrays[i];
		}
	}
	return NULL;
}

static uint32_t read_register(struct lapic *l, uint32_t offset, uint64_t now_ns)
{
	unsigned word;
	const uint32_t *vectors = vector_register(l, offset, &word);
	if (vectors)
		return vectors[word];
	int lvt = lvt_index(offset);
	if (lvt >= 0)
		return l->lvt[lvt];

	switch (offset) {
	case LAPIC_REG_ID:
		return (uint32_t)l->id << 24;
	case LAPIC_REG_VERSION:
		return LAPIC_VERSION_VALUE;
	case LAPIC_REG_TPR:
		return l->tpr;
	case LAPIC_REG_APR:
		return arbitration_priority(l);
	case LAPIC_REG_PPR:
		return processor_priority(l);
	case LAPIC_REG_LDR:
		return l->ldr;
	case LAPIC_REG_DFR:
		return l->dfr;
	case LAPIC_REG_SVR:
		return l->svr;
	case LAPIC_REG_ESR:
		return l->esr;
	case LAPIC_REG_ICR_LOW:
		return l->icr_low; /* delivery status stays 0: sending is immediate */
	case LAPIC_REG_ICR_HIGH:
		return l->icr_high;
	case LAPIC_REG_TIMER_INIT:
		return l->timer.initial;
	case LAPIC_REG_TIMER_CUR:
		return timer_current_count(l, now_ns);
	case LAPIC_REG_TIMER_DIV:
		return l->timer.divide;
	default:
		return 0;
	}
}

static void write_lvt(struct lapic *l, int index, uint32_t value)
{
	value &= lvt_writable[index];
	if (!sw_enabled(l))
		value |= LAPIC_LVT_MASKED;
	if (index == LVT_TIMER && ((value & LVT_TIMER_MODE) >> 17) > TIMER_PERIODIC)
		l->timer.armed = false;
	l->lvt[index] = value;
}

static void write_svr(struct lapic *l, uint32_t value)
{
	l->svr = value & SVR_WRITABLE;
	if (sw_enabled(l))
		return;
	for (int i = 0; i < LVT_COUNT; i++)
		l->lvt[i] |= LAPIC_LVT_MASKED;
}

/* Whether an IRR vector is above the processor priority: after an EOI or a TPR write lowers it,
 * the vCPU must look again, as a backend that handles the LAPIC's MMIO without leaving run() (the
 * interpreter) would otherwise only see the vector at its next exit. */
static bool deliverable(const struct lapic *l)
{
	int vector = highest_vector(l->irr);
	return vector >= 0 && priority_class(vector) > processor_priority(l) >> 4;
}

static void write_eoi(struct lapic *l, struct lapic_effects *fx)
{
	int vector = highest_vector(l->isr);
	if (vector < 0)
		return;
	vec_assign(l->isr, vector, false);
	if (vec_test(l->tmr, vector))
		fx->eoi_vector = vector;
	fx->kick |= deliverable(l);
}

static void write_icr_low(struct lapic *l, uint32_t value, struct lapic_effects *fx)
{
	l->icr_low = value & ICR_LOW_WRITABLE;
	uint32_t mode = (value >> 8) & 7;
	if ((mode == LAPIC_DM_FIXED || mode == LAPIC_DM_LOWEST) && (value & 0xFF) < FIRST_LEGAL) {
		fx->kick |= record_error(l, LAPIC_ESR_SEND_ILLEGAL);
		return;
	}
	fx->send_ipi = true;
	fx->icr_low = l->icr_low;
	fx->icr_high = l->icr_high;
}

static void write_register(struct lapic *l, uint32_t offset, uint32_t value, uint64_t now_ns,
			   struct lapic_effects *fx)
{
	int lvt = lvt_index(offset);
	if (lvt >= 0) {
		write_lvt(l, lvt, value);
		return;
	}

	switch (offset) {
	case LAPIC_REG_ID:
		__atomic_store_n(&l->id, (uint8_t)(value >> 24), __ATOMIC_RELAXED);
		break;
	case LAPIC_REG_TPR:
		l->tpr = value & 0xFF;
		fx->kick |= deliverable(l);
		break;
	case LAPIC_REG_EOI:
		write_eoi(l, fx);
		break;
	case LAPIC_REG_LDR:
		l->ldr = value & 0xFF000000;
		break;
	case LAPIC_REG_DFR:
		l->dfr = value | DFR_RESERVED;
		break;
	case LAPIC_REG_SVR:
		write_svr(l, value);
		break;
	case LAPIC_REG_ESR:
		l->esr = l->esr_pending;
		l->esr_pending = 0;
		break;
	case LAPIC_REG_ICR_LOW:
		write_icr_low(l, value, fx);
		break;
	case LAPIC_REG_ICR_HIGH:
		l->icr_high = value & 0xFF000000;
		break;
	case LAPIC_REG_TIMER_INIT:
		timer_set_initial(l, value, now_ns);
		break;
	case LAPIC_REG_TIMER_DIV:
		timer_set_divide(l, value, now_ns);
		break;
	default:
		break; /* read-only or undefined */
	}
}

/* ---- locking and callbacks ---- */

static struct lapic_effects lock_lapic(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	return (struct lapic_effects){.eoi_vector = -1};
}

static void unlock_and_run(struct lapic *l, const struct lapic_effects *fx)
{
	pthread_mutex_unlock(&l->lock);
	if (fx->eoi_vector >= 0 && l->ops.eoi_level)
		l->ops.eoi_level(l->ctx, (uint8_t)fx->eoi_vector);
	if (fx->send_ipi && l->ops.send_ipi)
		l->ops.send_ipi(l->ctx, l, fx->icr_low, fx->icr_high);
	if (fx->kick && l->ops.kick)
		l->ops.kick(l->ctx);
}

static bool valid_offset(uint32_t offset)
{
	return offset < LAPIC_MMIO_SIZE && (offset & 0xF) == 0;
}

/* ---- public ---- */

struct lapic *lapic_create(uint8_t apic_id, bool bsp, const struct lapic_ops *ops, void *ctx)
{
	struct lapic *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	if (pthread_mutex_init(&l->lock, NULL) != 0) {
		free(l);
		return NULL;
	}
	if (ops)
		l->ops = *ops;
	l->ctx = ctx;
	l->bsp = bsp;
	l->id = apic_id;
	l->state = bsp ? CPU_RUNNING : CPU_WAIT_INIT;
	l->sipi_vector = -1;
	reset_registers(l);
	return l;
}

void lapic_destroy(struct lapic *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

uint8_t lapic_id(const struct lapic *l)
{
	return __atomic_load_n(&l->id, __ATOMIC_RELAXED);
}

uint8_t lapic_tpr(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	uint8_t tpr = (uint8_t)l->tpr;
	pthread_mutex_unlock(&l->lock);
	return tpr;
}

uint32_t lapic_mmio_read(struct lapic *l, uint32_t offset, uint64_t now_ns)
{
	if (!valid_offset(offset))
		return 0;
	struct lapic_effects fx = lock_lapic(l);
	fx.kick = timer_catch_up(l, now_ns);
	uint32_t value = read_register(l, offset, now_ns);
	unlock_and_run(l, &fx);
	return value;
}

void lapic_mmio_write(struct lapic *l, uint32_t offset, uint32_t value, uint64_t now_ns)
{
	if (!valid_offset(offset))
		return;
	struct lapic_effects fx = lock_lapic(l);
	fx.kick = timer_catch_up(l, now_ns);
	write_register(l, offset, value, now_ns, &fx);
	unlock_and_run(l, &fx);
}

static bool deliver_init(struct lapic *l)
{
	reset_registers(l);
	l->init_pending = true;
	if (!l->bsp) {
		l->state = CPU_WAIT_SIPI;
		l->sipi_vector = -1;
	}
	return true;
}

static bool deliver_startup(struct lapic *l, uint8_t vector)
{
	if (l->state != CPU_WAIT_SIPI)
		return false;
	l->state = CPU_RUNNING;
	l->sipi_vector = vector;
	return true;
}

void lapic_deliver(struct lapic *l, enum lapic_delivery mode, uint8_t vector, bool level)
{
	struct lapic_effects fx = lock_lapic(l);
	switch (mode) {
	case LAPIC_DM_FIXED:
	case LAPIC_DM_LOWEST:
		fx.kick = accept_fixed(l, vector, level);
		break;
	case LAPIC_DM_NMI:
		fx.kick = !l->nmi_pending;
		l->nmi_pending = true;
		break;
	case LAPIC_DM_INIT:
		fx.kick = deliver_init(l);
		break;
	case LAPIC_DM_STARTUP:
		fx.kick = deliver_startup(l, vector);
		break;
	default:
		break;
	}
	unlock_and_run(l, &fx);
}

bool lapic_match_logical(struct lapic *l, uint8_t mda)
{
	if (mda == BROADCAST_MDA)
		return true;
	pthread_mutex_lock(&l->lock);
	uint8_t logical_id = (uint8_t)(l->ldr >> 24);
	uint32_t model = l->dfr >> 28;
	pthread_mutex_unlock(&l->lock);

	if (model == DFR_FLAT)
		return (logical_id & mda) != 0;
	if (model == DFR_CLUSTER)
		return (logical_id >> 4) == (mda >> 4) && (logical_id & mda & 0xF) != 0;
	return false;
}

int lapic_pending_vector(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	int vector = highest_vector(l->irr);
	if (vector >= 0 && priority_class(vector) <= processor_priority(l) >> 4)
		vector = -1;
	pthread_mutex_unlock(&l->lock);
	return vector;
}

void lapic_accept_vector(struct lapic *l, int vector)
{
	if (vector < 0 || vector > 255)
		return;
	pthread_mutex_lock(&l->lock);
	if (vec_test(l->irr, vector)) {
		vec_assign(l->irr, vector, false);
		vec_assign(l->isr, vector, true);
	}
	pthread_mutex_unlock(&l->lock);
}

bool lapic_wakeup_pending(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	bool wakeup = l->nmi_pending || l->init_pending || l->sipi_vector >= 0;
	pthread_mutex_unlock(&l->lock);
	return wakeup;
}

bool lapic_take_nmi(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	bool nmi = l->nmi_pending;
	l->nmi_pending = false;
	pthread_mutex_unlock(&l->lock);
	return nmi;
}

bool lapic_take_init(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	bool init = l->init_pending;
	l->init_pending = false;
	pthread_mutex_unlock(&l->lock);
	return init;
}

int lapic_take_sipi(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	int vector = l->sipi_vector;
	l->sipi_vector = -1;
	pthread_mutex_unlock(&l->lock);
	return vector;
}

void lapic_timer_update(struct lapic *l, uint64_t now_ns)
{
	struct lapic_effects fx = lock_lapic(l);
	fx.kick = timer_catch_up(l, now_ns);
	unlock_and_run(l, &fx);
}

uint64_t lapic_timer_deadline(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	uint64_t deadline = UINT64_MAX;
	if (l->timer.armed && timer_can_interrupt(l))
		deadline = l->timer.expiry_ns;
	pthread_mutex_unlock(&l->lock);
	return deadline;
}
