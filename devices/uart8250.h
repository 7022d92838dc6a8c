/*
 * 16550A-compatible UART (the PC's COM port), at a base I/O port chosen by the VMM, which
 * passes the register offset 0..7. Output is immediate (THR is always empty); input is pushed
 * into a 16-byte RX FIFO by whichever thread reads the host side, which holds what does not fit
 * until the UART reports room (flow control, so a paste of any length arrives whole).
 *
 * Thread-safe. Callbacks run without the register lock; set_irq calls are serialised by a
 * second lock so the IRQ line levels arrive in order. Neither callback may call into this UART.
 */
#ifndef VSMP_DEVICES_UART8250_H
#define VSMP_DEVICES_UART8250_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UART8250_FIFO_SIZE 16

/* Register offsets (DLAB = LCR bit 7 turns offsets 0 and 1 into the divisor latch) */
#define UART_RBR 0 /* read: receive buffer; write: THR */
#define UART_THR 0
#define UART_DLL 0
#define UART_IER 1
#define UART_DLM 1
#define UART_IIR 2 /* read: interrupt identification; write: FCR */
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_RDI  0x01 /* RX data available */
#define UART_IER_THRI 0x02 /* THR empty */
#define UART_IER_RLSI 0x04 /* receiver line status */
#define UART_IER_MSI  0x08 /* modem status */

#define UART_IIR_NO_INT	 0x01
#define UART_IIR_MSI	 0x00
#define UART_IIR_THRI	 0x02
#define UART_IIR_RDI	 0x04
#define UART_IIR_RLSI	 0x06
#define UART_IIR_TIMEOUT 0x0C
#define UART_IIR_FIFOS	 0xC0

#define UART_FCR_ENABLE	  0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_LCR_DLAB	  0x80
#define UART_MCR_LOOP	  0x10

#define UART_LSR_DR   0x01
#define UART_LSR_OE   0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

struct uart8250_ops {
	void (*output)(void *ctx, uint8_t byte);
	void (*set_irq)(void *ctx, bool level); /* called only when the line level changes */
	/* Optional: the receiver has room again after uart8250_input turned bytes away (the guest
	 * read the FIFO, cleared it or left loopback), so the host side can offer the rest. */
	void (*rx_room)(void *ctx);
};

struct uart8250;

struct uart8250 *uart8250_create(const struct uart8250_ops *ops, void *ctx);
void uart8250_destroy(struct uart8250 *u);

uint8_t uart8250_read(struct uart8250 *u, unsigned offset);
void uart8250_write(struct uart8250 *u, unsigned offset, uint8_t value);

/* Bytes accepted into the RX FIFO (any thread); the caller keeps the rest for later, and
 * ops->rx_room says when to offer them again. None are accepted in loopback mode, where the
 * receiver is disconnected from the outside. */
size_t uart8250_input(struct uart8250 *u, const uint8_t *buf, size_t len);

#endif
