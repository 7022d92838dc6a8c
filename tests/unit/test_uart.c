/* Unit tests for the 16550A UART model: polled output, DLAB, loopback, FIFO, interrupts. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "devices/uart8250.h"

struct host {
	char out[256];
	size_t out_len;
	int irq_calls;
	bool irq;
	int rx_room_calls;
};

static void host_output(void *ctx, uint8_t byte)
{
	struct host *h = ctx;
	if (h->out_len < sizeof(h->out) - 1)
		h->out[h->out_len++] = (char)byte;
}

static void host_set_irq(void *ctx, bool level)
{
	struct host *h = ctx;
	cr_assert_neq(h->irq, level, "set_irq must only report changes");
	h->irq = level;
	h->irq_calls++;
}

static void host_rx_room(void *ctx)
{
	struct host *h = ctx;
	h->rx_room_calls++;
}

static const struct uart8250_ops host_ops = {host_output, host_set_irq, host_rx_room};
static struct host H;
static struct uart8250 *U;

static void setup(void)
{
	H = (struct host){0};
	U = uart8250_create(&host_ops, &H);
}

static void teardown(void)
{
	uart8250_destroy(U);
}

static uint8_t rd(unsigned offset)
{
	return uart8250_read(U, offset);
}

static void wr(unsigned offset, uint8_t value)
{
	uart8250_write(U, offset, value);
}

static size_t input(const char *s)
{
	return uart8250_input(U, (const uint8_t *)s, strlen(s));
}

TestSuite(uart, .init = setup, .fini = teardown);

Test(uart, reset_values)
{
	cr_assert_eq(rd(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	cr_assert_eq(rd(UART_IIR), UART_IIR_NO_INT);
	cr_assert_eq(rd(UART_IER), 0);
	cr_assert_eq(rd(UART_LCR), 0);
	cr_assert_eq(rd(UART_MCR), 0);
	cr_assert_eq(rd(UART_MSR), 0xB0, "CTS, DSR and DCD: an always-ready peer");
	cr_assert_eq(rd(UART_SCR), 0);
	cr_assert_eq(rd(UART_RBR), 0, "empty receiver");
	cr_assert_eq(H.irq_calls, 0);
}

Test(uart, polled_output)
{
	const char *msg = "hello, world\n";
	for (const char *p = msg; *p; p++) {
		for (int spins = 0; !(rd(UART_LSR) & UART_LSR_THRE); spins++)
			cr_assert_lt(spins, 1, "THRE must be set at once");
		wr(UART_THR, (uint8_t)*p);
	}
	cr_assert_str_eq(H.out, msg);
	cr_assert_eq(H.irq_calls, 0, "no interrupts enabled");
}

Test(uart, scratch_and_ier_writable_bits)
{
	wr(UART_SCR, 0x5A);
	cr_assert_eq(rd(UART_SCR), 0x5A);
	wr(UART_IER, 0xFF);
	cr_assert_eq(rd(UART_IER), 0x0F);
	wr(UART_IER, 0);
	cr_assert_eq(rd(UART_IER), 0);
	wr(UART_MCR, 0xFF);
	cr_assert_eq(rd(UART_MCR), 0x1F);
}

Test(uart, divisor_latch)
{
	wr(UART_IER, UART_IER_RDI);
	wr(UART_LCR, UART_LCR_DLAB | 0x03);
	wr(UART_DLL, 0x01);
	wr(UART_DLM, 0x02);
	cr_assert_eq(rd(UART_DLL), 0x01);
	cr_assert_eq(rd(UART_DLM), 0x02);
	cr_assert_eq(H.out_len, 0, "DLL is not THR");
	wr(UART_LCR, 0x03);
	cr_assert_eq(rd(UART_IER), UART_IER_RDI, "IER untouched by DLM writes");
	cr_assert_eq(rd(UART_LCR), 0x03);
	wr(UART_THR, 'a');
	cr_assert_eq(H.out_len, 1);
}

Test(uart, loopback)
{
	wr(UART_MCR, UART_MCR_LOOP | 0x0A); /* RTS and OUT2, as Linux's probe does */
	cr_assert_eq(rd(UART_MSR) & 0xF0, 0x90, "CTS from RTS, DCD from OUT2");
	wr(UART_MCR, UART_MCR_LOOP | 0x05);
	cr_assert_eq(rd(UART_MSR) & 0xF0, 0x60, "DSR from DTR, RI from OUT1");

	cr_assert_eq(input("zz"), 0, "receiver disconnected from the outside");
	wr(UART_THR, 'x');
	cr_assert_eq(H.out_len, 0, "loopback output stays inside");
	cr_assert(rd(UART_LSR) & UART_LSR_DR);
	cr_assert_eq(rd(UART_RBR), 'x');
	cr_assert_not(rd(UART_LSR) & UART_LSR_DR);

	wr(UART_THR, '1');
	wr(UART_THR, '2'); /* FIFO off: one byte of holding register */
	uint8_t lsr = rd(UART_LSR);
	cr_assert(lsr & UART_LSR_OE);
	cr_assert(lsr & UART_LSR_DR);
	cr_assert_not(rd(UART_LSR) & UART_LSR_OE, "reading LSR clears overrun");
	cr_assert_eq(rd(UART_RBR), '1');

	wr(UART_MCR, 0);
	cr_assert_eq(rd(UART_MSR) & 0xF0, 0xB0);
	cr_assert_eq(input("k"), 1);
}

Test(uart, modem_status_deltas)
{
	wr(UART_MCR, UART_MCR_LOOP);
	rd(UART_MSR);
	wr(UART_MCR, UART_MCR_LOOP | 0x0F);
	cr_assert_eq(rd(UART_MSR), 0xF0 | 0x0B, "DCTS, DDSR, DDCD; RI rose so no TERI");
	wr(UART_MCR, UART_MCR_LOOP);
	cr_assert_eq(rd(UART_MSR), 0x0F, "RI fell: TERI");
	cr_assert_eq(rd(UART_MSR), 0x00, "reading MSR clears the deltas");
}

Test(uart, rx_fifo)
{
	cr_assert_eq(input("ab"), 1, "FIFO disabled: one byte");
	wr(UART_FCR, UART_FCR_ENABLE);
	cr_assert_not(rd(UART_LSR) & UART_LSR_DR, "enabling the FIFO clears it");
	cr_assert_eq(rd(UART_IIR) & UART_IIR_FIFOS, UART_IIR_FIFOS);

	cr_assert_eq(input("0123456789abcdefXYZ"), UART8250_FIFO_SIZE);
	char got[UART8250_FIFO_SIZE + 1] = {0};
	for (int i = 0; i < UART8250_FIFO_SIZE; i++) {
		cr_assert(rd(UART_LSR) & UART_LSR_DR);
		got[i] = (char)rd(UART_RBR);
	}
	cr_assert_str_eq(got, "0123456789abcdef");
	cr_assert_not(rd(UART_LSR) & UART_LSR_DR);

	input("q");
	wr(UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX);
	cr_assert_not(rd(UART_LSR) & UART_LSR_DR);
	wr(UART_FCR, 0);
	cr_assert_eq(rd(UART_IIR), UART_IIR_NO_INT, "FIFO bits clear when disabled");
	wr(UART_FCR, UART_FCR_ENABLE | 0x20); /* 16750's 64-byte FIFO bit: not offered */
	cr_assert_eq(rd(UART_IIR) & 0x20, 0);
}

Test(uart, rx_interrupt_and_trigger_level)
{
	wr(UART_FCR, UART_FCR_ENABLE | 0x80); /* trigger level 8 */
	wr(UART_IER, UART_IER_RDI);
	cr_assert_not(H.irq);
	input("a");
	cr_assert(H.irq);
	cr_assert_eq(rd(UART_IIR), UART_IIR_FIFOS | UART_IIR_TIMEOUT, "below the trigger level");
	input("bcdefgh");
	cr_assert_eq(rd(UART_IIR), UART_IIR_FIFOS | UART_IIR_RDI);
	cr_assert_eq(H.irq_calls, 1, "the line stayed high");
	for (int i = 0; i < 8; i++)
		rd(UART_RBR);
	cr_assert_not(H.irq);
	cr_assert_eq(H.irq_calls, 2);
	cr_assert_eq(rd(UART_IIR), UART_IIR_FIFOS | UART_IIR_NO_INT);
}

Test(uart, thre_interrupt)
{
	wr(UART_IER, UART_IER_THRI);
	cr_assert(H.irq, "enabling THRI with THR empty raises it");
	cr_assert_eq(rd(UART_IIR), UART_IIR_THRI);
	cr_assert_not(H.irq, "reading IIR clears it");
	cr_assert_eq(rd(UART_IIR), UART_IIR_NO_INT);

	wr(UART_THR, 'a');
	cr_assert(H.irq, "THR empty again after the write");
	cr_assert_eq(rd(UART_IIR), UART_IIR_THRI);

	/* Linux's start-up test: THRE must be reasserted after IER is rewritten. */
	wr(UART_IER, 0);
	wr(UART_IER, UART_IER_THRI);
	cr_assert_eq(rd(UART_IIR), UART_IIR_THRI);
	wr(UART_IER, 0);
	cr_assert_not(H.irq);
}

Test(uart, iir_priorities)
{
	wr(UART_MCR, UART_MCR_LOOP);
	wr(UART_THR, 'a');
	wr(UART_THR, 'b');		    /* overrun */
	wr(UART_MCR, UART_MCR_LOOP | 0x02); /* CTS delta */
	wr(UART_IER, 0x0F);
	cr_assert(H.irq);
	cr_assert_eq(rd(UART_IIR), UART_IIR_RLSI);
	rd(UART_LSR);
	cr_assert_eq(rd(UART_IIR), UART_IIR_RDI);
	rd(UART_RBR);
	cr_assert_eq(rd(UART_IIR), UART_IIR_THRI);
	cr_assert_eq(rd(UART_IIR), UART_IIR_MSI, "THRE cleared by the previous IIR read");
	cr_assert(H.irq);
	rd(UART_MSR);
	cr_assert_eq(rd(UART_IIR), UART_IIR_NO_INT);
	cr_assert_not(H.irq);
}

Test(uart, iir_read_does_not_clear_a_lower_thre)
{
	wr(UART_IER, UART_IER_RDI | UART_IER_THRI);
	input("x");
	cr_assert_eq(rd(UART_IIR), UART_IIR_RDI);
	rd(UART_RBR);
	cr_assert_eq(rd(UART_IIR), UART_IIR_THRI, "THRE was hidden, not cleared");
}

Test(uart, out_of_range_offsets)
{
	cr_assert_eq(rd(8), 0xFF);
	wr(8, 0x12);
	wr(UART_LSR, 0);
	cr_assert_eq(rd(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	cr_assert_eq(H.out_len, 0);
}

/* More input than the FIFO holds: the rest is turned away and rx_room is reported once, when
 * the guest's read makes room, so the host can offer it again; nothing is lost or reordered. */
Test(uart, rx_room_after_a_full_fifo)
{
	const char *text = "0123456789abcdefghijklmnopqrstuvwxyz";
	size_t len = strlen(text), offered = 0;
	char got[64] = {0};
	wr(UART_FCR, UART_FCR_ENABLE);
	offered += input(text);
	cr_assert_eq(offered, UART8250_FIFO_SIZE);
	cr_assert_eq(H.rx_room_calls, 0);
	rd(UART_LSR);
	cr_assert_eq(H.rx_room_calls, 0, "no room yet: nothing was read");
	for (size_t n = 0; n < len; n++) {
		int before = H.rx_room_calls;
		got[n] = (char)rd(UART_RBR);
		if (offered < len) {
			cr_assert_eq(H.rx_room_calls, before + 1, "room after byte %zu", n);
			offered +=
			    uart8250_input(U, (const uint8_t *)text + offered, len - offered);
		}
	}
	cr_assert_str_eq(got, text);
	cr_assert_eq(rd(UART_LSR) & UART_LSR_DR, 0);
	int calls = H.rx_room_calls;
	rd(UART_RBR);
	cr_assert_eq(H.rx_room_calls, calls, "nothing was turned away since: no report");
}

struct feeder {
	struct uart8250 *u;
	int bytes;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	for (int sent = 0; sent < f->bytes;) {
		uint8_t b = (uint8_t)sent;
		sent += (int)uart8250_input(f->u, &b, 1);
	}
	return NULL;
}

Test(uart, concurrent_input_keeps_irq_consistent)
{
	wr(UART_FCR, UART_FCR_ENABLE);
	wr(UART_IER, UART_IER_RDI);
	struct feeder f = {U, 4000};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, feed, &f), 0);
	for (int got = 0; got < f.bytes;) {
		if (rd(UART_LSR) & UART_LSR_DR) {
			cr_assert_eq(rd(UART_RBR), (uint8_t)got);
			got++;
		}
	}
	pthread_join(t, NULL);
	cr_assert_not(H.irq, "line low once everything was read");
	cr_assert_eq(rd(UART_IIR) & 0x0F, UART_IIR_NO_INT);
}
