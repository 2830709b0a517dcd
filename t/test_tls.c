/*
 * test_tls.c: building the TLS server context from the configuration.
 *
 * Each test makes its certificates with openssl(1) in a fresh mkdtemp(3)
 * directory, writes a configuration naming them and checks what
 * tls_ctx_new makes of it: a context with the settings asked for, or an
 * error naming the line of the directive at fault.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <openssl/ssl.h>

#include "conf.h"
#include "log.h"
#include "tls.h"
#include "worker.h"

#define T_DIR_MAX	256
#define T_CMD_MAX	(3 * PATH_MAX)
#define T_FD_MAX	16
/* A self-signed certificate for localhost, valid for a day. */
#define T_REQ		"openssl req -x509 -newkey rsa:2048 -nodes -days 1 " \
			"-subj /CN=localhost " \
			"-addext subjectAltName=DNS:localhost,IP:127.0.0.1"

static char	t_dir[T_DIR_MAX];
static char	t_err[CONF_ERR_MAX];

/* tls.c's relay reports to the worker; no relay runs here. */
void
worker_conn_opened(struct worker *w)
{
	(void)w;
}

void
worker_conn_closed(struct worker *w)
{
	(void)w;
}

static void
t_setup(void)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(t_dir, sizeof(t_dir), "%s/test_tls.XXXXXX", tmp);
	cr_assert_not_null(mkdtemp(t_dir), "mkdtemp: %s", strerror(errno));
	log_init(1, 0);
}

static int
t_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return (remove(path));
}

static void
t_teardown(void)
{
	nftw(t_dir, t_remove, T_FD_MAX, FTW_DEPTH | FTW_PHYS);
}

TestSuite(tls, .init = t_setup, .fini = t_teardown);

/* A certificate and key named name.crt and name.key in the test directory. */
static void
t_cert(const char *name)
{
	char cmd[T_CMD_MAX];

	snprintf(cmd, sizeof(cmd), T_REQ " -keyout %s/%s.key -out %s/%s.crt "
	    ">/dev/null 2>&1", t_dir, name, t_dir, name);
	cr_assert_eq(system(cmd), 0, "openssl req failed: %s", cmd);
}

static void
t_write(const char *name, const char *text)
{
	char	 path[PATH_MAX];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", t_dir, name);
	cr_assert_not_null(f = fopen(path, "w"), "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* Load t.conf made of the lines given (relative paths: the test directory). */
static struct conf *
t_conf(const char *fmt, ...)
{
	char		 text[4096], path[PATH_MAX];
	struct conf	*c;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	t_write("t.conf", text);
	snprintf(path, sizeof(path), "%s/t.conf", t_dir);
	c = conf_load(path, t_err, sizeof(t_err));
	cr_assert_not_null(c, "conf_load: %s", t_err);
	return (c);
}

/* tls_ctx_new must fail with an error that starts with "<dir>/t.conf:line: ". */
static void
t_fails_at(struct conf *c, int line, const char *what)
{
	char	 want[PATH_MAX + 32];
	SSL_CTX	*ctx;

	t_err[0] = '\0';
	ctx = tls_ctx_new(c, t_err, sizeof(t_err));
	cr_assert_null(ctx, "a context was made");
	snprintf(want, sizeof(want), "%s/t.conf:%d: ", t_dir, line);
	cr_assert_eq(strncmp(t_err, want, strlen(want)), 0,
	    "error \"%s\" does not start with \"%s\"", t_err, want);
	cr_assert_not_null(strstr(t_err, what), "error \"%s\" lacks \"%s\"",
	    t_err, what);
}

Test(tls, good_context)
{
	struct conf	*c;
	SSL_CTX		*ctx;

	t_cert("a");
	c = t_conf("listen 127.0.0.1:0 tls\n"
	    "tls_certificate a.crt\ntls_certificate_key a.key\n");
	cr_assert(tls_wanted(c));
	ctx = tls_ctx_new(c, t_err, sizeof(t_err));
	cr_assert_not_null(ctx, "tls_ctx_new: %s", t_err);
	/* The defaults: TLS 1.2 and 1.3, small idle connections, no renegotiation. */
	cr_assert_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	cr_assert_eq(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
	cr_assert(SSL_CTX_get_mode(ctx) & SSL_MODE_RELEASE_BUFFERS);
	cr_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION);
#ifdef SSL_OP_NO_RENEGOTIATION
	cr_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
#endif
	cr_assert_eq(SSL_CTX_get_session_cache_mode(ctx), SSL_SESS_CACHE_OFF);
	cr_assert_not_null(SSL_CTX_get0_certificate(ctx));
	tls_ctx_free(ctx);
	conf_free(c);
}

Test(tls, plain_only)
{
	struct conf *c;

	c = t_conf("listen 127.0.0.1:0\n");
	cr_assert_not(tls_wanted(c));
	conf_free(c);
}

Test(tls, protocols)
{
	struct conf	*c;
	SSL_CTX		*ctx;

	t_cert("a");
	c = t_conf("listen 127.0.0.1:0 tls\ntls_certificate a.crt\n"
	    "tls_certificate_key a.key\ntls_protocols TLSv1.3\n");
	cr_assert_not_null(ctx = tls_ctx_new(c, t_err, sizeof(t_err)), "%s", t_err);
	cr_assert_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
	cr_assert_eq(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
	tls_ctx_free(ctx);
	conf_free(c);

	c = t_conf("listen 127.0.0.1:0 tls\ntls_certificate a.crt\n"
	    "tls_certificate_key a.key\ntls_protocols TLSv1.2\n");
	cr_assert_not_null(ctx = tls_ctx_new(c, t_err, sizeof(t_err)), "%s", t_err);
	cr_assert_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	cr_assert_eq(SSL_CTX_get_max_proto_version(ctx), TLS1_2_VERSION);
	tls_ctx_free(ctx);
	conf_free(c);
}

Test(tls, ciphers)
{
	struct conf	*c;
	SSL_CTX		*ctx;
	SSL		*ssl;
	STACK_OF(SSL_CIPHER) *sk;
	int		 i, n12 = 0, n13 = 0;

	t_cert("a");
	c = t_conf("listen 127.0.0.1:0 tls\ntls_certificate a.crt\n"
	    "tls_certificate_key a.key\n"
	    "tls_ciphers ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384\n");
	cr_assert_not_null(ctx = tls_ctx_new(c, t_err, sizeof(t_err)), "%s", t_err);
	cr_assert_not_null(ssl = SSL_new(ctx));
	sk = SSL_get_ciphers(ssl);
	for (i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
		const char *name = SSL_CIPHER_get_name(sk_SSL_CIPHER_value(sk, i));

		if (strcmp(name, "TLS_AES_256_GCM_SHA384") == 0)
			n13++;
		else if (strcmp(name, "ECDHE-RSA-AES128-GCM-SHA256") == 0)
			n12++;
		else
			cr_assert_fail("unexpected cipher %s", name);
	}
	cr_assert_eq(n12, 1);
	cr_assert_eq(n13, 1);
	SSL_free(ssl);
	tls_ctx_free(ctx);
	conf_free(c);

	c = t_conf("listen 127.0.0.1:0 tls\ntls_certificate a.crt\n"
	    "tls_certificate_key a.key\n\ntls_ciphers NO-SUCH-CIPHER\n");
	t_fails_at(c, 5, "tls_ciphers");
	cr_assert_not_null(strstr(t_err, "no cipher match"), "%s", t_err);
	conf_free(c);
}

Test(tls, mismatched_key)
{
	struct conf *c;

	t_cert("a");
	t_cert("b");
	c = t_conf("listen 127.0.0.1:0 tls\n# b's key\n"
	    "tls_certificate a.crt\ntls_certificate_key b.key\n");
	t_fails_at(c, 4, "tls_certificate_key");
	/* OpenSSL's reason follows. */
	cr_assert_not_null(strstr(t_err, "key values mismatch"), "%s", t_err);
	conf_free(c);
}

Test(tls, missing_files)
{
	struct conf *c;

	t_cert("a");
	c = t_conf("listen 127.0.0.1:0 tls\n"
	    "tls_certificate nope.crt\ntls_certificate_key a.key\n");
	t_fails_at(c, 2, "nope.crt");
	conf_free(c);

	c = t_conf("listen 127.0.0.1:0 tls\n"
	    "tls_certificate a.crt\ntls_certificate_key nope.key\n");
	t_fails_at(c, 3, "nope.key");
	conf_free(c);
}

Test(tls, garbage_files)
{
	struct conf *c;

	t_cert("a");
	t_write("bad.crt", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n"
	    "-----END CERTIFICATE-----\n");
	t_write("bad.key", "not a key\n");
	c = t_conf("listen 127.0.0.1:0 tls\n"
	    "tls_certificate bad.crt\ntls_certificate_key a.key\n");
	t_fails_at(c, 2, "tls_certificate");
	conf_free(c);

	c = t_conf("listen 127.0.0.1:0 tls\n"
	    "tls_certificate a.crt\ntls_certificate_key bad.key\n");
	t_fails_at(c, 3, "tls_certificate_key");
	conf_free(c);
}

Test(tls, missing_directives)
{
	struct conf *c;

	t_cert("a");
	/* Neither: the TLS listener's line. */
	c = t_conf("workers 1\nlisten 127.0.0.1:0 tls\n");
	t_fails_at(c, 2, "tls_certificate");
	conf_free(c);

	c = t_conf("listen 127.0.0.1:0 tls\ntls_certificate a.crt\n");
	t_fails_at(c, 2, "needs tls_certificate_key");
	conf_free(c);

	c = t_conf("listen 127.0.0.1:0 tls\n\ntls_certificate_key a.key\n");
	t_fails_at(c, 3, "needs tls_certificate");
	conf_free(c);
}

Test(tls, chain)
{
	struct conf	*c;
	SSL_CTX		*ctx;
	STACK_OF(X509)	*chain = NULL;

	t_cert("a");
	t_cert("ca");
	c = t_conf("listen 127.0.0.1:0 tls\ntls_certificate a.crt\n"
	    "tls_certificate_key a.key\ntls_chain ca.crt\n");
	cr_assert_not_null(ctx = tls_ctx_new(c, t_err, sizeof(t_err)), "%s", t_err);
	cr_assert(SSL_CTX_get0_chain_certs(ctx, &chain));
	cr_assert_not_null(chain);
	cr_assert_eq(sk_X509_num(chain), 1);
	tls_ctx_free(ctx);
	conf_free(c);

	t_write("empty.pem", "nothing here\n");
	c = t_conf("listen 127.0.0.1:0 tls\ntls_certificate a.crt\n"
	    "tls_certificate_key a.key\ntls_chain empty.pem\n");
	t_fails_at(c, 4, "tls_chain");
	conf_free(c);
}

Test(tls, where)
{
	struct conf	*c;
	const char	*file;
	int		 line;

	t_cert("a");
	t_write("inc.conf", "\n\ntls_certificate_key a.key\n");
	c = t_conf("listen 127.0.0.1:0 tls\ntls_certificate a.crt\n"
	    "include inc.conf\n");
	cr_assert_eq(conf_where(c, "tls_certificate", &file, &line), 0);
	cr_assert_eq(line, 2);
	cr_assert_not_null(strstr(file, "/t.conf"));
	/* Names of included files outlive the parser. */
	cr_assert_eq(conf_where(c, "tls_certificate_key", &file, &line), 0);
	cr_assert_eq(line, 3);
	cr_assert_not_null(strstr(file, "/inc.conf"), "%s", file);
	/* Defaults and unknown names were not written anywhere. */
	cr_assert_eq(conf_where(c, "workers", &file, &line), -1);
	cr_assert_eq(conf_where(c, "no_such_directive", &file, &line), -1);
	conf_free(c);
}
