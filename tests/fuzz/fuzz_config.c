/* libFuzzer target for the config parser: any bytes go through toml.c and the schema checks of
 * config.c. Paths resolve under a directory that does not exist, so existence checks fail the
 * same way on every machine. */
#include "vmm/config.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cluster_config cfg;
	char err[512];
	if (config_parse((const char *)data, size, "fuzz.toml", "/nonexistent", &cfg, err,
			 sizeof(err)) == 0)
		config_free(&cfg);
	return 0;
}
