/*
 * 16550A UART model. Transmission is instantaneous, so THR and the transmitter are always empty
 * (LSR THRE and TEMT read 1) and a "THR empty" interrupt is pending again right after every THR
 * write; it is also raised when IER's THRE enable goes from 0 to 1, which Linux's 8250 driver
 * checks at start-up. Reception fills a 16-byte FIFO (1 byte while FIFOs are disabled).
 *
 * There is no character clock: in FIFO mode, data below the trigger level is reported at once
 * as a character time-out (IIR 0x0C) instead of after four character times.
 *
 * The IRQ output is not gated by MCR OUT2. Every operation computes the new IIR state under the
 * register lock, drops it, then report_irq() compares the line level with the last one reported,
 * under irq_lock, so concurrent callers cannot report levels out of order.
 */
#include "devices/uart8250.h"

#include <pthread.h>
#include <stdlib.h>

#define IER_WRITABLE 0x0F
#define MCR_WRITABLE 0x1F
#define FCR_STORED   0xC9 /* enable, DMA mode, RX trigger level */

#define MCR_DTR	 0x01
#define MCR_RTS	 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS	 0x10
#define MSR_DSR	 0x20
#define MSR_RI	 0x40
#define MSR_DCD	 0x80

#define NO_OUTPUT -1

struct uart8250 {
	pthread_mutex_t lock;	  /* registers and FIFO */
	pthread_mutex_t irq_lock; /* serialises set_irq; protects irq_reported */
	struct uart8250_ops ops;
	void *ctx;

	uint8_t rx[UART8250_FIFO_SIZE];
	unsigned rx_head, rx_count;

	uint8_t ier, fcr, lcr, mcr, scr, dll, dlm;
	uint8_t lsr_errors; /* overrun, until LSR is read */
	uint8_t msr_deltas; /* until MSR is read */
	bool thre_pending;
	bool irq_reported;
	bool rx_refused; /* uart8250_input turned bytes away; rx_room is owed */
};

static bool fifo_enabled(const struct uart8250 *u)
{
	return u->fcr & UART_FCR_ENABLE;
}

static unsigned rx_capacity(const struct uart8250 *u)
{
	return fifo_enabled(u) ? UART8250_FIFO_SIZE : 1;
}

static unsigned rx_trigger_level(const struct uart8250 *u)
{
	static const unsigned levels[4] = {1, 4, 8, 14};
	return levels[u->fcr >> 6];
}

static bool rx_push(struct uart8250 *u, uint8_t byte)
{
	if (u->rx_count >= rx_capacity(u))
		return false;
	u->rx[(u->rx_head + u->rx_count) % UART8250_FIFO_SIZE] = byte;
	u->rx_count++;
	return true;
}

static uint8_t rx_pop(struct uart8250 *u)
{
	if (u->rx_count == 0)
		return 0;
	uint8_t byte = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART8250_FIFO_SIZE;
	u->rx_count--;
	return byte;
}

static void rx_clear(struct uart8250 *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

/* Modem inputs: in loopback they are the modem outputs, otherwise a peer that is always ready. */
static uint8_t modem_status(uint8_t mcr)
{
	if (!(mcr & UART_MCR_LOOP))
		return MSR_CTS | MSR_DSR | MSR_DCD;
	uint8_t status = 0;
	if (mcr & MCR_RTS)
		status |= MSR_CTS;
	if (mcr & MCR_DTR)
		status |= MSR_DSR;
	if (mcr & MCR_OUT1)
		status |= MSR_RI;
	if (mcr & MCR_OUT2)
		status |= MSR_DCD;
	return status;
}

static uint8_t modem_deltas(uint8_t before, uint8_t after)
{
	uint8_t changed = before ^ after;
	uint8_t deltas = 0;
	if (changed & MSR_CTS)
		deltas |= MSR_DCTS;
	if (changed & MSR_DSR)
		deltas |= MSR_DDSR;
	if ((before & MSR_RI) && !(after & MSR_RI))
		deltas |= MSR_TERI;
	if (changed & MSR_DCD)
		deltas |= MSR_DDCD;
	return deltas;
}

/* The highest-priority enabled interrupt, as IIR bits 0-3. */
static uint8_t pending_interrupt(const struct uart8250 *u)
{
	if ((u->ier & UART_IER_RLSI) && u->lsr_errors)
		return UART_IIR_RLSI;
	if ((u->ier & UART_IER_RDI) && u->rx_count) {
		if (fifo_enabled(u) && u->rx_count < rx_trigger_level(u))
			return UART_IIR_TIMEOUT;
		return UART_IIR_RDI;
	}
	if ((u->ier & UART_IER_THRI) && u->thre_pending)
		return UART_IIR_THRI;
	if ((u->ier & UART_IER_MSI) && u->msr_deltas)
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

static uint8_t read_iir(struct uart8250 *u)
{
	uint8_t id = pending_interrupt(u);
	if (id == UART_IIR_THRI)
		u->thre_pending = false;
	return id | (fifo_enabled(u) ? UART_IIR_FIFOS : 0);
}

static uint8_t read_lsr(struct uart8250 *u)
{
	uint8_t lsr = UART_LSR_THRE | UART_LSR_TEMT | u->lsr_errors;
	if (u->rx_count)
		lsr |= UART_LSR_DR;
	u->lsr_errors = 0;
	return lsr;
}

static uint8_t read_msr(struct uart8250 *u)
{
	uint8_t msr = modem_status(u->mcr) | u->msr_deltas;
	u->msr_deltas = 0;
	return msr;
}

static uint8_t read_register(struct uart8250 *u, unsigned offset)
{
	bool dlab = u->lcr & UART_LCR_DLAB;
	switch (offset) {
	case UART_RBR:
		return dlab ? u->dll : rx_pop(u);
	case UART_IER:
		return dlab ? u->dlm : u->ier;
	case UART_IIR:
		return read_iir(u);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		return read_lsr(u);
	case UART_MSR:
		return read_msr(u);
	case UART_SCR:
		return u->scr;
	default:
		return 0xFF; /* an offset outside the 8 ports: floating bus */
	}
}

/* Returns the byte to send to the host, or NO_OUTPUT (loopback keeps it inside). */
static int transmit(struct uart8250 *u, uint8_t byte)
{
	int out = byte;
	if (u->mcr & UART_MCR_LOOP) {
		if (!rx_push(u, byte))
			u->lsr_errors |= UART_LSR_OE;
		out = NO_OUTPUT;
	}
	u->thre_pending = true; /* the byte left THR at once */
	return out;
}

static void write_ier(struct uart8250 *u, uint8_t value)
{
	uint8_t enabled_now = value & ~u->ier;
	u->ier = value & IER_WRITABLE;
	if (enabled_now & UART_IER_THRI)
		u->thre_pending = true;
}

/* FCR bits other than the enable only take effect while it is written as 1; toggling the
 * enable empties the FIFOs. */
static void write_fcr(struct uart8250 *u, uint8_t value)
{
	bool enable = value & UART_FCR_ENABLE;
	if (enable != fifo_enabled(u) || (value & UART_FCR_CLEAR_RX))
		rx_clear(u);
	u->fcr = enable ? (value & FCR_STORED) : 0;
}

static void write_mcr(struct uart8250 *u, uint8_t value)
{
	uint8_t before = modem_status(u->mcr);
	u->mcr = value & MCR_WRITABLE;
	u->msr_deltas |= modem_deltas(before, modem_status(u->mcr));
}

static int write_register(struct uart8250 *u, unsigned offset, uint8_t value)
{
	bool dlab = u->lcr & UART_LCR_DLAB;
	switch (offset) {
	case UART_THR:
		if (!dlab)
			return transmit(u, value);
		u->dll = value;
		break;
	case UART_IER:
		if (dlab)
			u->dlm = value;
		else
			write_ier(u, value);
		break;
	case UART_FCR:
		write_fcr(u, value);
		break;
	case UART_LCR:
		u->lcr = value;
		break;
	case UART_MCR:
		write_mcr(u, value);
		break;
	case UART_SCR:
		u->scr = value;
		break;
	default:
		break; /* LSR and MSR are read-only here */
	}
	return NO_OUTPUT;
}

/* After the guest's access: if input was turned away and the receiver now has room, say so
 * once (the host then offers the rest, which may fill it again). */
static void report_rx_room(struct uart8250 *u)
{
	pthread_mutex_lock(&u->lock);
	bool room = u->rx_refused && !(u->mcr & UART_MCR_LOOP) && u->rx_count < rx_capacity(u);
	if (room)
		u->rx_refused = false;
	pthread_mutex_unlock(&u->lock);
	if (room && u->ops.rx_room)
		u->ops.rx_room(u->ctx);
}

static void report_irq(struct uart8250 *u)
{
	pthread_mutex_lock(&u->irq_lock);
	pthread_mutex_lock(&u->lock);
	bool level = pending_interrupt(u) != UART_IIR_NO_INT;
	pthread_mutex_unlock(&u->lock);
	if (level != u->irq_reported) {
		u->irq_reported = level;
		if (u->ops.set_irq)
			u->ops.set_irq(u->ctx, level);
	}
	pthread_mutex_unlock(&u->irq_lock);
}

struct uart8250 *uart8250_create(const struct uart8250_ops *ops, void *ctx)
{
	struct uart8250 *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	if (pthread_mutex_init(&u->lock, NULL) != 0) {
		free(u);
		return NULL;
	}
	if (pthread_mutex_init(&u->irq_lock, NULL) != 0) {
		pthread_mutex_destroy(&u->lock);
		free(u);
		return NULL;
	}
	if (ops)
		u->ops = *ops;
	u->ctx = ctx;
	return u;
}

void uart8250_destroy(struct uart8250 *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->irq_lock);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

uint8_t uart8250_read(struct uart8250 *u, unsigned offset)
{
	pthread_mutex_lock(&u->lock);
	uint8_t value = read_register(u, offset);
	pthread_mutex_unlock(&u->lock);
	report_irq(u);
	report_rx_room(u);
	return value;
}

void uart8250_write(struct uart8250 *u, unsigned offset, uint8_t value)
{
	pthread_mutex_lock(&u->lock);
	int out = write_register(u, offset, value);
	pthread_mutex_unlock(&u->lock);
	if (out != NO_OUTPUT && u->ops.output)
		u->ops.output(u->ctx, (uint8_t)out);
	report_irq(u);
	report_rx_room(u);
}

size_t uart8250_input(struct uart8250 *u, const uint8_t *buf, size_t len)
{
	size_t accepted = 0;
	pthread_mutex_lock(&u->lock);
	if (!(u->mcr & UART_MCR_LOOP))
		while (accepted < len && rx_push(u, buf[accepted]))
			accepted++;
	if (accepted < len)
		u->rx_refused = true;
	pthread_mutex_unlock(&u->lock);
	if (accepted)
		report_irq(u);
	return accepted;
}
