/*
 * json.h: safe JSON building for the handler API and the codecs.
 *
 * A struct json_buf collects JSON text and the binary attachments that
 * the text refers to with Socket.IO placeholders
 * ({"_placeholder":true,"num":N}).  Text is only ever produced by the
 * functions below: strings are escaped and checked to be UTF-8, parsed
 * values are serialized, and raw text is the caller's own syntax.
 *
 * Ownership: the buffer owns its text and attachments until
 * json_buf_clear; json_buf_steal_attach hands the attachments over.
 */
#ifndef RAIND_JSON_H
#define RAIND_JSON_H

#include <stddef.h>

#include <yajl/yajl_tree.h>

#define JSON_OUT_MAX		(64 * 1024 * 1024)	/* bytes of text built at once */
#define JSON_DEPTH_MAX		128	/* nesting serialized from a yajl_val */
#define JSON_ATTACH_MAX		64	/* attachments in one message (as sio_codec) */
#define JSON_ERR_MAX		128

struct json_attach {
	unsigned char	*ja_data;
	size_t		 ja_len;
};

struct json_buf {
	char			*jb_text;	/* NUL-terminated */
	size_t			 jb_len;
	size_t			 jb_cap;
	struct json_attach	*jb_attach;
	size_t			 jb_nattach;
	char			 jb_err[JSON_ERR_MAX];	/* why the last call failed */
};

/* Whether text is one value or a comma separated list (json_valid). */
enum json_fmt_mode {
	JSON_FMT_VALUE,
	JSON_FMT_LIST
};

void	json_buf_init(struct json_buf *);
void	json_buf_clear(struct json_buf *);
/* Detach the attachments (the caller frees each ja_data and the array). */
struct json_attach *json_buf_steal_attach(struct json_buf *, size_t *n);

/* Append raw, trusted text (syntax written by raind itself). */
int	json_put_raw(struct json_buf *, const char *, size_t);
/* Append a JSON string; -1 when s is not valid UTF-8. */
int	json_put_string(struct json_buf *, const char *s, size_t len);
/*
 * Append a parsed value.  Placeholders in it are copied as they are when
 * src is NULL; otherwise each one refers to src[num] and is renumbered
 * into this buffer, its bytes copied.  -1 on too deep nesting, a bad
 * placeholder or too many attachments.
 */
int	json_put_value(struct json_buf *, yajl_val, const struct json_attach *src,
	    size_t nsrc);
/* Append binary data as an attachment and its placeholder. */
int	json_put_binary(struct json_buf *, const void *, size_t);
/* Is buf[0..len) exactly one JSON value (list mode: a valid list body)? */
int	json_valid(const char *, size_t, enum json_fmt_mode);
/* Is v a placeholder {"_placeholder":true,"num":N}?  Sets *num. */
int	json_is_placeholder(yajl_val, size_t *num);
/* Is s[0..len) valid UTF-8? */
int	json_utf8_valid(const char *, size_t);

#endif
