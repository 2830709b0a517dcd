/*
 * fuzz_emitter.c: the Socket.IO Redis emitter's messages (emitter_codec).
 *
 * Besides memory errors: whatever is accepted must be a well-formed
 * result (a namespace with its slash, JSON text of the length given, an
 * attachment for every placeholder number), and must encode again.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "emitter_codec.h"
#include "json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct emitter_msg	 m;
	struct evbuffer		*b;
	yajl_val		 v;
	char			 err[EMITTER_ERR_MAX];

	if (emitter_decode(data, size, &m, err) == -1)
		return (0);
	if (m.em_nsp[0] != '/' || strlen(m.em_json) != m.em_jsonlen ||
	    m.em_json[0] != '[' || !json_valid(m.em_json, m.em_jsonlen,
	    JSON_FMT_VALUE))
		abort();
	/* What went out as JSON parses, and encodes again. */
	if ((v = yajl_tree_parse(m.em_json, NULL, 0)) == NULL ||
	    !YAJL_IS_ARRAY(v) || v->u.array.len == 0 ||
	    !YAJL_IS_STRING(v->u.array.values[0]))
		abort();
	if ((b = evbuffer_new()) == NULL)
		abort();
	v->u.array.len--;
	v->u.array.values++;
	(void)emitter_encode(b, m.em_nsp, (const char *const *)m.em_rooms,
	    m.em_nrooms, (const char *const *)m.em_except, m.em_nexcept,
	    YAJL_GET_STRING(v->u.array.values[-1]), v, err);
	v->u.array.values--;
	v->u.array.len++;
	yajl_tree_free(v);
	evbuffer_free(b);
	emitter_msg_clear(&m);
	return (0);
}
