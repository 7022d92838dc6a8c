/* The reset vector's stub (see the header): five real-mode instructions, assembled here by hand
 * because they are the whole of this machine's BIOS.
 *
 *   mov dx, reset_port      BA lo hi
 *   mov al, reset_value     B0 v
 *   out dx, al              EE
 *   hlt                     F4      <- the jmp's target: an ignored write leaves the CPU halted
 *   jmp short hlt           EB FD      (an interrupt would end the hlt; the jmp goes back)
 */
#include "firmware/reset_vector.h"

#include <stdio.h>
#include <string.h>

int reset_vector_write(const struct guest_ram *ram, uint16_t reset_port, uint8_t reset_value,
		       char *err, size_t errlen)
{
	const uint8_t stub[] = {0xba,
				(uint8_t)reset_port,
				(uint8_t)(reset_port >> 8),
				0xb0,
				reset_value,
				0xee,
				0xf4,
				0xeb,
				0xfd};
	_Static_assert(sizeof(stub) <= RESET_VECTOR_SIZE, "the stub fits below 1 MiB");
	uint8_t *at = guest_ram_ptr(ram, LAYOUT_RESET_VECTOR, RESET_VECTOR_SIZE);
	if (!at) {
		snprintf(err, errlen, "guest RAM does not reach the reset vector at 0x%llx",
			 (unsigned long long)LAYOUT_RESET_VECTOR);
		return -1;
	}
	memset(at, 0xf4, RESET_VECTOR_SIZE); /* hlt past the stub */
	memcpy(at, stub, sizeof(stub));
	return 0;
}
