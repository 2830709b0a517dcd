/*
 * fuzz_meta.c: libFuzzer target for the meta.json parser
 * (component_meta_parse).  Any input must either parse into a component
 * with a valid id and version or be refused with a message; never crash,
 * leak or read out of bounds.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "component.h"
#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct component c;
	char err[COMPONENT_ERR_MAX];

	log_setlevel(LOG_LEVEL_ERROR);
	memset(&c, 0, sizeof(c));
	err[0] = '\0';
	if (component_meta_parse((const char *)data, size, "meta.json", &c, err,
	    sizeof(err)) == 0) {
		if (c.c_id == NULL || c.c_version == NULL || !component_version_valid(c.c_version))
			abort();
	} else if (err[0] == '\0')
		abort();
	free(c.c_id);
	free(c.c_version);
	return (0);
}
