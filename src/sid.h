/*
 * sid.h: Engine.IO session ids, the one place that makes and reads them.
 *
 * A sid is SID_LEN base64url characters: SID_TAG_LEN naming the node,
 * one the worker slot, one the generation (both base64url digits, so
 * modulo 64), and random ones (84 bits), as long as the Node server's and
 * as unguessable.  Any worker of any node can tell from a sid which node,
 * slot and generation own the session.
 */
#ifndef RAIND_SID_H
#define RAIND_SID_H

#include <stddef.h>

#define SID_LEN		20	/* as long as the Node server's */
#define SID_TAG_LEN	4	/* characters naming the node */

/* The value of a base64url digit, or -1. */
int	sid_b64url_value(char);
/* Are p[0..len) all base64url digits (len > 0)? */
int	sid_b64url_valid(const char *p, size_t len);
/* Base64url digits of bytes[i] & 63 into out[i], for i < n. */
void	sid_b64url_digits(const unsigned char *bytes, size_t n, char *out);
/* A new sid of node tag, slot and generation; fatal without randomness. */
void	sid_new(char sid[SID_LEN + 1], const char *tag, int slot, unsigned generation);
/*
 * Read sid[0..len): 0 with its tag (NUL-terminated), slot and generation
 * (0 to 63), or -1 when it is not one of ours in form.
 */
int	sid_parse(const char *sid, size_t len, char tag[SID_TAG_LEN + 1],
	    int *slot, int *generation);

#endif
