/* The code at the x86 reset vector (F000:FFF0, guest-physical 0xFFFF0): where a BIOS begins, and
 * where a guest that restarts "through the BIOS" jumps. Linux does so on this machine: its FADT is
 * hardware-reduced, for which Linux prefers EFI's reset service to the FADT's reset register and,
 * finding no EFI, falls back to the BIOS (machine_real_restart). There is no BIOS here, so the
 * vector holds a real-mode stub that writes the reset value to that same reset register, which
 * ends the run as a guest reset; should the write be ignored it halts. */
#ifndef FIRMWARE_RESET_VECTOR_H
#define FIRMWARE_RESET_VECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/layout.h"

#define RESET_VECTOR_SIZE 16 /* 0xFFFF0 up to 1 MiB */

/* Writes the stub at LAYOUT_RESET_VECTOR. 0, or -1 with a message in err. */
int reset_vector_write(const struct guest_ram *ram, uint16_t reset_port, uint8_t reset_value,
		       char *err, size_t errlen);

#endif
