/* Debug ports (see the header for the map). Reads return zero so that a guest probing them does
 * not mistake them for something else. */
#include "devices/debug_port.h"

#include <string.h>

int debug_port_access(void *ctx, unsigned vcpu, uint64_t offset, uint8_t *data, unsigned len,
		      bool is_write)
{
	struct debug_port *port = ctx;
	if (!is_write) {
		memset(data, 0, len);
		return 0;
	}
	uint32_t value = 0;
	memcpy(&value, data, len < 4 ? len : 4);
	if (offset == 0)
		port->ops->exit(port->ctx, vcpu, (uint8_t)value);
	else if (offset == 1)
		port->ops->mark(port->ctx, vcpu, value);
	return 0;
}
