/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The DTLS engine: two sessions shake hands in process, their send callbacks
 * queueing datagrams that the test delivers (or loses) by hand, with a PKI
 * that tools/campagnol-pki builds in a temporary directory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>

#include "dtls.h"
#include "evloop.h"
#include "log.h"
#include "record.h"
#include "test_net.h"

#ifndef CPG_SOURCE_DIR
#error "CPG_SOURCE_DIR must name the source tree (for tools/campagnol-pki)"
#endif
#define PKI_TOOL CPG_SOURCE_DIR "/tools/campagnol-pki"

#define MAX_DGRAMS 512
#define PATH_LEN 512

/* Handshake message types at byte 13 of a plaintext handshake record. */
#define HS_CLIENT_HELLO 1
#define HS_HELLO_VERIFY_REQUEST 3

static char pki_dir[64];

/* ---- The PKI ------------------------------------------------------------- */

static int run_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	return system(cmd);
}

static int pki_setup(void **state)
{
	char tmpl[] = "/tmp/cpg-test-dtls-XXXXXX";

	if (!mkdtemp(tmpl))
		return -1;
	snprintf(pki_dir, sizeof(pki_dir), "%s", tmpl);
	/* ca: our CA; other: a CA nobody trusts. carol is revoked (a copy of
	 * her files stays at the top); dave expired in 2000; soon expires in
	 * 10 days; eve's certificate is valid but for 10.0.0.9. alice6 and bob6
	 * also have IPv6 VPN addresses (fd00::1, fd00::2); eve6 has bob's IPv4
	 * one but fd00::9. */
	return run_sh("set -e; P='%s'; cd '%s'; exec >/dev/null\n"
		      "$P init ca; $P init other 'Other CA'\n"
		      "$P issue ca alice 10.0.0.1; $P issue ca bob 10.0.0.2\n"
		      "$P issue ca carol 10.0.0.3; $P issue ca eve 10.0.0.9\n"
		      "$P issue --expired ca dave 10.0.0.4; $P issue ca soon 10.0.0.5 10\n"
		      "$P issue other mallory 10.0.0.1; $P issue other trudy 10.0.0.2\n"
		      "$P issue --ip6 fd00::1 ca alice6 10.0.0.1\n"
		      "$P issue --ip6 fd00::2 ca bob6 10.0.0.2\n"
		      "$P issue --ip6 fd00::9 ca eve6 10.0.0.2\n"
		      "cp ca/carol.crt ca/carol.key .; $P revoke ca carol\n"
		      "cp ca/crl.pem crl-good.pem\n"
		      "$P crl --expired ca; cp ca/crl.pem crl-expired.pem\n"
		      "openssl pkey -in ca/alice.key -aes128 -passout pass:x -out locked.key\n"
		      "mkdir cadir nohash; cp ca/ca.crt cadir; cp ca/ca.crt nohash\n"
		      "openssl rehash cadir\n",
		      PKI_TOOL, pki_dir)
		       ? -1
		       : 0;
}

static int pki_teardown(void **state)
{
	return run_sh("rm -rf '%s'", pki_dir) ? -1 : 0;
}

/* ---- Configurations ------------------------------------------------------ */

struct conf {
	struct cpg_config cfg;
	char cert[PATH_LEN], key[PATH_LEN], ca[PATH_LEN], crl[PATH_LEN];
};

/* Peer "base" of the PKI (e.g. "ca/alice": ca/alice.crt, ca/alice.key),
 * trusting ca/ca.crt, with vpn_ip as its own address. */
static void conf_init(struct conf *c, const char *base, const char *vpn_ip)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->cert, sizeof(c->cert), "%s/%s.crt", pki_dir, base);
	snprintf(c->key, sizeof(c->key), "%s/%s.key", pki_dir, base);
	snprintf(c->ca, sizeof(c->ca), "%s/ca/ca.crt", pki_dir);
	c->cfg.certificate = c->cert;
	c->cfg.key = c->key;
	c->cfg.ca_certificates = c->ca;
	c->cfg.verify_depth = 9;
	c->cfg.tun_mtu = 1419;
	assert_int_equal(inet_pton(AF_INET, vpn_ip, &c->cfg.vpn_ip), 1);
}

static void conf_file(char *buf, const char *rel)
{
	snprintf(buf, PATH_LEN, "%s/%s", pki_dir, rel);
}

static void conf_crl(struct conf *c, const char *rel)
{
	conf_file(c->crl, rel);
	c->cfg.crl_file = c->crl;
}

static struct cpg_dtls_ctx *ctx_for(const char *base, const char *vpn_ip, const char *crl)
{
	struct conf c;
	struct cpg_dtls_ctx *ctx;

	conf_init(&c, base, vpn_ip);
	if (crl)
		conf_crl(&c, crl);
	ctx = cpg_dtls_ctx_new(&c.cfg);
	assert_non_null(ctx);
	return ctx;
}

/* ---- Log capture: stderr goes to a file while a test watches it ---------- */

static int saved_stderr = -1;
static char capture_path[PATH_LEN];

static void capture_begin(void)
{
	int fd;

	snprintf(capture_path, sizeof(capture_path), "%s/log", pki_dir);
	fflush(stderr);
	saved_stderr = dup(2);
	fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved_stderr >= 0 && fd >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
}

/* The captured text (to free), also echoed to the real stderr. */
static char *capture_end(void)
{
	FILE *f;
	char *text;
	long len;

	fflush(stderr);
	assert_int_equal(dup2(saved_stderr, 2), 2);
	close(saved_stderr);
	f = fopen(capture_path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	fputs(text, stderr);
	return text;
}

static void assert_log_has(char *log, const char *needle)
{
	if (!strstr(log, needle)) {
		print_error("log lacks \"%s\"; it was:\n%s\n", needle, log);
		free(log);
		fail();
	}
}

/* ---- Two sessions on a hand-driven wire ---------------------------------- */

struct side;
typedef bool (*drop_fn)(struct side *sd, const uint8_t *d, size_t len);

struct side {
	struct cpg_dtls_session *s;
	union cpg_sockaddr addr;	/* this side's endpoint */
	union cpg_sockaddr to;		/* where its datagrams must go */
	uint8_t *out[MAX_DGRAMS];	/* everything it sent, in order */
	size_t out_len[MAX_DGRAMS];
	size_t n_out, n_delivered;
	size_t max_len;
	drop_fn drop;			/* decides when a datagram is delivered */
	unsigned int dropped;
};

struct pair {
	struct side a; /* client, 192.0.2.1:4001 */
	struct side b; /* server, 192.0.2.2:4002 */
};

static void side_send(void *arg, const union cpg_sockaddr *to, const uint8_t *d, size_t len)
{
	struct side *sd = arg;

	assert_true(cpg_sockaddr_equal(to, &sd->to));
	assert_true(sd->n_out < MAX_DGRAMS);
	sd->out[sd->n_out] = malloc(len);
	assert_non_null(sd->out[sd->n_out]);
	memcpy(sd->out[sd->n_out], d, len);
	sd->out_len[sd->n_out++] = len;
	if (len > sd->max_len)
		sd->max_len = len;
}

static void endpoint(union cpg_sockaddr *a, const char *ip, uint16_t port)
{
	struct in_addr in;

	assert_int_equal(inet_pton(AF_INET, ip, &in), 1);
	cpg_sockaddr_set_in(a, in, port);
}

/* Client with cctx expecting server_ip, server with sctx expecting client_ip. */
static void pair_init(struct pair *p, struct cpg_dtls_ctx *cctx, const char *server_ip,
		      struct cpg_dtls_ctx *sctx, const char *client_ip)
{
	memset(p, 0, sizeof(*p));
	endpoint(&p->a.addr, "192.0.2.1", 4001);
	endpoint(&p->b.addr, "192.0.2.2", 4002);
	p->a.to = p->b.addr;
	p->b.to = p->a.addr;
	p->a.s = cpg_dtls_session_new(cctx, CPG_DTLS_CLIENT, &p->b.addr, test_ip4(server_ip), side_send,
				      &p->a);
	p->b.s = cpg_dtls_session_new(sctx, CPG_DTLS_SERVER, &p->a.addr, test_ip4(client_ip), side_send,
				      &p->b);
	assert_non_null(p->a.s);
	assert_non_null(p->b.s);
}

static void pair_free(struct pair *p)
{
	struct side *sides[] = { &p->a, &p->b };

	for (size_t i = 0; i < 2; i++) {
		cpg_dtls_session_free(sides[i]->s);
		for (size_t j = 0; j < sides[i]->n_out; j++)
			free(sides[i]->out[j]);
	}
}

/* Deliver what from has sent and not yet delivered; true if anything moved. */
static bool deliver(struct side *from, struct side *to)
{
	bool moved = false;

	while (from->n_delivered < from->n_out) {
		size_t i = from->n_delivered++;

		moved = true;
		if (from->drop && from->drop(from, from->out[i], from->out_len[i])) {
			from->dropped++;
			continue;
		}
		cpg_dtls_session_input(to->s, from->out[i], from->out_len[i]);
	}
	return moved;
}

/* Until neither side has anything for the other: both deliver every round. */
static void pump(struct pair *p)
{
	bool moved;

	do {
		moved = deliver(&p->a, &p->b);
		moved = deliver(&p->b, &p->a) || moved;
	} while (moved);
}

static bool handshaking(const struct side *sd)
{
	return cpg_dtls_session_state(sd->s) == CPG_DTLS_HANDSHAKING;
}

/* Run the handshake to its end, firing timers as the event loop would. */
static void pair_run(struct pair *p)
{
	cpg_dtls_session_start(p->b.s);
	cpg_dtls_session_start(p->a.s);
	for (int round = 0; round < 40; round++) {
		int64_t ta, tb, t;

		pump(p);
		if (!handshaking(&p->a) && !handshaking(&p->b))
			return;
		ta = cpg_dtls_session_timeout_ms(p->a.s);
		tb = cpg_dtls_session_timeout_ms(p->b.s);
		t = ta < 0 ? tb : tb < 0 ? ta : ta < tb ? ta : tb;
		assert_true(t >= 0);
		usleep((useconds_t)(t + 2) * 1000);
		cpg_dtls_session_on_timeout(p->a.s);
		cpg_dtls_session_on_timeout(p->b.s);
	}
	fail_msg("handshake still running after 40 rounds");
}

/* pair_init() and pair_run(), the log they write returned (to free). */
static char *pair_run_logged(struct pair *p, struct cpg_dtls_ctx *cctx, const char *server_ip,
			     struct cpg_dtls_ctx *sctx, const char *client_ip)
{
	capture_begin();
	pair_init(p, cctx, server_ip, sctx, client_ip);
	pair_run(p);
	return capture_end();
}

static void assert_state(const struct side *sd, enum cpg_dtls_state st)
{
	if (cpg_dtls_session_state(sd->s) != st)
		fail_msg("state %s, expected %s (%s)",
			 cpg_dtls_state_name(cpg_dtls_session_state(sd->s)),
			 cpg_dtls_state_name(st), cpg_dtls_session_reason(sd->s));
}

static void assert_failed(const struct side *sd, enum cpg_dtls_failure f)
{
	assert_state(sd, CPG_DTLS_FAILED);
	assert_string_equal(cpg_dtls_failure_name(cpg_dtls_session_failure(sd->s)),
			    cpg_dtls_failure_name(f));
}

static void assert_same_secret(const struct cpg_record_secret *x, const struct cpg_record_secret *y,
			       enum cpg_cipher c)
{
	assert_memory_equal(x->key, y->key, cpg_cipher_key_len(c));
	assert_memory_equal(x->iv, y->iv, cpg_cipher_iv_len(c));
}

/* Both sides established with the same suite and mirrored keys. */
static void assert_established_pair(struct pair *p, enum cpg_cipher cipher)
{
	struct cpg_keys ka, kb;

	assert_state(&p->a, CPG_DTLS_ESTABLISHED);
	assert_state(&p->b, CPG_DTLS_ESTABLISHED);
	assert_string_equal(cpg_dtls_session_cipher_name(p->a.s),
			    cpg_dtls_session_cipher_name(p->b.s));
	assert_int_equal(cpg_dtls_session_take_keys(p->a.s, &ka), 0);
	assert_int_equal(cpg_dtls_session_take_keys(p->b.s, &kb), 0);
	assert_int_equal(cpg_dtls_session_take_keys(p->a.s, &ka), -1); /* moved out */
	assert_int_equal(ka.cipher, cipher);
	assert_int_equal(kb.cipher, cipher);
	assert_int_equal(ka.epoch, CPG_KEYS_EPOCH);
	assert_int_equal(kb.epoch, CPG_KEYS_EPOCH);
	assert_same_secret(&ka.tx, &kb.rx, cipher);
	assert_same_secret(&ka.rx, &kb.tx, cipher);
	assert_memory_not_equal(ka.tx.key, ka.rx.key, cpg_cipher_key_len(cipher));
	cpg_keys_wipe(&ka);
	cpg_keys_wipe(&kb);
}

/* Contexts for alice (10.0.0.1) and bob (10.0.0.2), both limited to suite. */
static void suite_ctxs(const char *suite, struct cpg_dtls_ctx **actx, struct cpg_dtls_ctx **bctx)
{
	struct conf ca, cb;

	conf_init(&ca, "ca/alice", "10.0.0.1");
	conf_init(&cb, "ca/bob", "10.0.0.2");
	ca.cfg.cipher_list = cb.cfg.cipher_list = (char *)suite;
	*actx = cpg_dtls_ctx_new(&ca.cfg);
	*bctx = cpg_dtls_ctx_new(&cb.cfg);
	assert_non_null(*actx);
	assert_non_null(*bctx);
}

/* ---- Tests ---------------------------------------------------------------- */

static void test_handshake_each_suite(void **state)
{
	static const struct {
		const char *name;
		enum cpg_cipher cipher;
	} suites[] = {
		{ "ECDHE-ECDSA-AES128-GCM-SHA256", CPG_CIPHER_AES_128_GCM },
		{ "ECDHE-ECDSA-AES256-GCM-SHA384", CPG_CIPHER_AES_256_GCM },
		{ "ECDHE-ECDSA-CHACHA20-POLY1305", CPG_CIPHER_CHACHA20_POLY1305 },
	};

	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		struct cpg_dtls_ctx *actx, *bctx;
		struct pair p;

		suite_ctxs(suites[i].name, &actx, &bctx);
		assert_string_equal(cpg_dtls_ctx_cipher_list(actx), suites[i].name);
		pair_init(&p, actx, "10.0.0.2", bctx, "10.0.0.1");
		/* The sessions hold their own references, as after a reload. */
		cpg_dtls_ctx_put(actx);
		cpg_dtls_ctx_put(bctx);
		pair_run(&p);
		assert_string_equal(cpg_dtls_session_cipher_name(p.a.s), suites[i].name);
		assert_string_equal(cpg_dtls_session_peer_subject(p.a.s), "CN=bob");
		assert_string_equal(cpg_dtls_session_peer_subject(p.b.s), "CN=alice");
		assert_established_pair(&p, suites[i].cipher);
		/* Every record in the data epoch OpenSSL wrote was a handshake
		 * record: no application data ever went through it. */
		for (size_t j = 0; j < p.a.n_out; j++)
			assert_int_not_equal(p.a.out[j][0], CPG_RECORD_CT_APPLICATION_DATA);
		pair_free(&p);
	}
}

static size_t count_fields(const char *list)
{
	size_t n = 1;

	for (; *list; list++)
		n += *list == ':';
	return n;
}

static void test_cipher_list(void **state)
{
	struct conf ca, cb;
	struct cpg_dtls_ctx *actx, *bctx;
	struct pair p;
	char *log;

	/* Default: our six suites. "ALL" narrows to the same six. */
	conf_init(&ca, "ca/alice", "10.0.0.1");
	actx = cpg_dtls_ctx_new(&ca.cfg);
	assert_non_null(actx);
	assert_int_equal(count_fields(cpg_dtls_ctx_cipher_list(actx)), 6);
	assert_non_null(strstr(cpg_dtls_ctx_cipher_list(actx), "ECDHE-RSA-CHACHA20-POLY1305"));
	conf_init(&cb, "ca/bob", "10.0.0.2");
	cb.cfg.cipher_list = "ALL";
	bctx = cpg_dtls_ctx_new(&cb.cfg);
	assert_non_null(bctx);
	assert_int_equal(count_fields(cpg_dtls_ctx_cipher_list(bctx)), 6);
	cpg_dtls_ctx_put(bctx);

	/* A list with a CBC suite keeps only its AEAD one, and the peer with
	 * the default list agrees on it. */
	cb.cfg.cipher_list = "AES128-SHA:ECDHE-ECDSA-CHACHA20-POLY1305";
	bctx = cpg_dtls_ctx_new(&cb.cfg);
	assert_non_null(bctx);
	assert_string_equal(cpg_dtls_ctx_cipher_list(bctx), "ECDHE-ECDSA-CHACHA20-POLY1305");
	pair_init(&p, actx, "10.0.0.2", bctx, "10.0.0.1");
	pair_run(&p);
	assert_established_pair(&p, CPG_CIPHER_CHACHA20_POLY1305);
	pair_free(&p);
	cpg_dtls_ctx_put(actx);
	cpg_dtls_ctx_put(bctx);

	capture_begin();
	cb.cfg.cipher_list = "AES128-SHA:AES256-GCM-SHA384:ECDHE-ECDSA-AES128-CCM";
	assert_null(cpg_dtls_ctx_new(&cb.cfg));
	cb.cfg.cipher_list = "NO-SUCH-CIPHER";
	assert_null(cpg_dtls_ctx_new(&cb.cfg));
	log = capture_end();
	assert_log_has(log, "cipher_list \"AES128-SHA:AES256-GCM-SHA384:ECDHE-ECDSA-AES128-CCM\" "
			    "leaves none of the suites campagnol accepts");
	assert_log_has(log, "cipher_list \"NO-SUCH-CIPHER\" names no cipher suite OpenSSL knows");
	free(log);
}

static void test_wrong_ca(void **state)
{
	struct cpg_dtls_ctx *alice = ctx_for("ca/alice", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	struct cpg_dtls_ctx *trudy, *mallory;
	struct pair p;
	char *log;

	struct conf c;

	/* trudy trusts the CA that issued her, and OpenSSL sends it along;
	 * mallory trusts our CA, so she sends her certificate alone. */
	conf_init(&c, "other/trudy", "10.0.0.2");
	conf_file(c.ca, "other/ca.crt");
	trudy = cpg_dtls_ctx_new(&c.cfg);
	assert_non_null(trudy);
	capture_begin();
	conf_init(&c, "other/mallory", "10.0.0.1");
	mallory = cpg_dtls_ctx_new(&c.cfg);
	log = capture_end();
	assert_non_null(mallory);
	assert_log_has(log, "mallory.crt does not verify against our own CAs: "
			    "unable to get local issuer certificate");
	free(log);

	/* The server's certificate is from an unknown CA: the client refuses. */
	log = pair_run_logged(&p, alice, "10.0.0.2", trudy, "10.0.0.1");
	assert_failed(&p.a, CPG_DTLS_FAIL_PEER_CERT);
	assert_failed(&p.b, CPG_DTLS_FAIL_PEER_ALERT);
	/* OpenSSL sends the chain up to the root, and ours stops there. */
	assert_log_has(log, "peer 192.0.2.2:4002 (10.0.0.2): certificate verify failed: "
			    "self-signed certificate in certificate chain (subject CN=trudy, "
			    "at CA CN=Other CA): not issued by a CA we trust");
	assert_log_has(log, "peer 192.0.2.1:4001 (10.0.0.1): the peer refused the handshake: "
			    "tlsv1 alert unknown ca");
	free(log);
	pair_free(&p);

	/* The client's: the server refuses. */
	log = pair_run_logged(&p, mallory, "10.0.0.2", bob, "10.0.0.1");
	assert_failed(&p.b, CPG_DTLS_FAIL_PEER_CERT);
	assert_failed(&p.a, CPG_DTLS_FAIL_PEER_ALERT);
	assert_log_has(log, "peer 192.0.2.1:4001 (10.0.0.1): certificate verify failed: "
			    "unable to get local issuer certificate (subject CN=mallory): "
			    "not issued by a CA we trust");
	assert_log_has(log, "peer 192.0.2.2:4002 (10.0.0.2): the peer refused the handshake: "
			    "tlsv1 alert unknown ca");
	assert_string_equal(cpg_dtls_session_reason(p.b.s),
			    "certificate verify failed: unable to get local issuer certificate "
			    "(subject CN=mallory): not issued by a CA we trust");
	free(log);
	pair_free(&p);

	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(bob);
	cpg_dtls_ctx_put(trudy);
	cpg_dtls_ctx_put(mallory);
}

/* ca_certificates_dir alone, as c_rehash makes it. */
static void test_ca_dir(void **state)
{
	struct cpg_dtls_ctx *alice, *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	struct pair p;
	struct conf c;
	char *log, want[PATH_LEN + 64];

	conf_init(&c, "ca/alice", "10.0.0.1");
	c.cfg.ca_certificates = NULL;
	conf_file(c.ca, "cadir");
	c.cfg.ca_certificates_dir = c.ca;
	alice = cpg_dtls_ctx_new(&c.cfg);
	assert_non_null(alice);
	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	pair_run(&p);
	assert_established_pair(&p, CPG_CIPHER_AES_128_GCM);
	pair_free(&p);
	cpg_dtls_ctx_put(alice);

	/* Forgetting c_rehash: a warning, and OpenSSL finds no CA in it. */
	capture_begin();
	conf_file(c.ca, "nohash");
	alice = cpg_dtls_ctx_new(&c.cfg);
	assert_non_null(alice);
	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	pair_run(&p);
	assert_failed(&p.a, CPG_DTLS_FAIL_PEER_CERT);
	pair_free(&p);
	cpg_dtls_ctx_put(alice);
	conf_file(c.ca, "nowhere");
	assert_null(cpg_dtls_ctx_new(&c.cfg));
	log = capture_end();
	snprintf(want, sizeof(want), "ca_certificates_dir %s/nohash holds no hashed certificate "
		 "names: run \"openssl rehash %s/nohash\"", pki_dir, pki_dir);
	assert_log_has(log, want);
	assert_log_has(log, "alice.crt does not verify against our own CAs");
	assert_log_has(log, "peer 192.0.2.2:4002 (10.0.0.2): certificate verify failed: "
			    "self-signed certificate in certificate chain (subject CN=bob, at CA "
			    "CN=Campagnol CA): not issued by a CA we trust");
	snprintf(want, sizeof(want), "ca_certificates_dir %s/nowhere: No such file or directory",
		 pki_dir);
	assert_log_has(log, want);
	free(log);
	cpg_dtls_ctx_put(bob);
}

static void test_revoked(void **state)
{
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", "crl-good.pem");
	struct cpg_dtls_ctx *alice = ctx_for("ca/alice", "10.0.0.1", "crl-good.pem");
	struct cpg_dtls_ctx *carol = ctx_for("carol", "10.0.0.3", NULL);
	struct pair p;
	char *log;

	/* The CRL lets valid certificates through. */
	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	pair_run(&p);
	assert_established_pair(&p, CPG_CIPHER_AES_128_GCM);
	pair_free(&p);

	log = pair_run_logged(&p, carol, "10.0.0.2", bob, "10.0.0.3");
	assert_failed(&p.b, CPG_DTLS_FAIL_PEER_CERT);
	assert_failed(&p.a, CPG_DTLS_FAIL_PEER_ALERT);
	assert_log_has(log, "peer 192.0.2.1:4001 (10.0.0.3): certificate verify failed: "
			    "certificate revoked (subject CN=carol)");
	assert_log_has(log, "the peer refused the handshake: sslv3 alert certificate revoked");
	free(log);
	pair_free(&p);
	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(bob);
	cpg_dtls_ctx_put(carol);
}

static void test_wrong_vpn_ip(void **state)
{
	struct cpg_dtls_ctx *alice = ctx_for("ca/alice", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	struct cpg_dtls_ctx *eve = ctx_for("ca/eve", "10.0.0.9", NULL);
	struct pair p;
	char *log;

	/* The RDV announced 10.0.0.2 but eve answers: alice refuses. */
	log = pair_run_logged(&p, alice, "10.0.0.2", eve, "10.0.0.1");
	assert_failed(&p.a, CPG_DTLS_FAIL_PEER_CERT);
	assert_failed(&p.b, CPG_DTLS_FAIL_PEER_ALERT);
	assert_log_has(log, "peer 192.0.2.2:4002 (10.0.0.2): presented a certificate for "
			    "10.0.0.9, not 10.0.0.2 (subject CN=eve)");
	free(log);
	pair_free(&p);

	/* eve connects to bob claiming to be 10.0.0.1: bob refuses. */
	log = pair_run_logged(&p, eve, "10.0.0.2", bob, "10.0.0.1");
	assert_failed(&p.b, CPG_DTLS_FAIL_PEER_CERT);
	assert_failed(&p.a, CPG_DTLS_FAIL_PEER_ALERT);
	assert_log_has(log, "peer 192.0.2.1:4001 (10.0.0.1): presented a certificate for "
			    "10.0.0.9, not 10.0.0.1 (subject CN=eve)");
	free(log);
	pair_free(&p);
	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(bob);
	cpg_dtls_ctx_put(eve);
}

static struct in6_addr ip6(const char *s)
{
	struct in6_addr a;

	assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

/*
 * pair_run_logged(), each side also expecting the other's IPv6 VPN address
 * (NULL: none, as in 0.3.x).
 */
static char *pair_run_ip6(struct pair *p, struct cpg_dtls_ctx *cctx, const char *server_ip,
			  const char *server_ip6, struct cpg_dtls_ctx *sctx, const char *client_ip,
			  const char *client_ip6)
{
	capture_begin();
	pair_init(p, cctx, server_ip, sctx, client_ip);
	if (server_ip6) {
		struct in6_addr a = ip6(server_ip6), got;

		cpg_dtls_session_expect_ip6(p->a.s, &a);
		got = cpg_dtls_session_peer_vpn_ip6(p->a.s);
		assert_memory_equal(&got, &a, sizeof(a));
	}
	if (client_ip6) {
		struct in6_addr a = ip6(client_ip6);

		cpg_dtls_session_expect_ip6(p->b.s, &a);
	}
	pair_run(p);
	return capture_end();
}

static void test_vpn_ip6(void **state)
{
	struct cpg_dtls_ctx *alice = ctx_for("ca/alice", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *alice6 = ctx_for("ca/alice6", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	struct cpg_dtls_ctx *bob6 = ctx_for("ca/bob6", "10.0.0.2", NULL);
	struct cpg_dtls_ctx *eve = ctx_for("ca/eve", "10.0.0.9", NULL);
	struct cpg_dtls_ctx *eve6 = ctx_for("ca/eve6", "10.0.0.2", NULL);
	struct in6_addr none;
	struct pair p;
	char *log;

	/* Both certificates name both addresses, both sides check both. */
	log = pair_run_ip6(&p, alice6, "10.0.0.2", "fd00::2", bob6, "10.0.0.1", "fd00::1");
	assert_established_pair(&p, CPG_CIPHER_AES_128_GCM);
	free(log);
	pair_free(&p);

	/* Nothing expected: the IPv6 SANs are not looked at, as in 0.3.x. */
	log = pair_run_ip6(&p, alice6, "10.0.0.2", NULL, bob6, "10.0.0.1", NULL);
	assert_established_pair(&p, CPG_CIPHER_AES_128_GCM);
	none = cpg_dtls_session_peer_vpn_ip6(p.a.s);
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&none));
	free(log);
	pair_free(&p);

	/* eve6 has bob's IPv4 address but not his IPv6 one: alice refuses. */
	log = pair_run_ip6(&p, alice6, "10.0.0.2", "fd00::2", eve6, "10.0.0.1", NULL);
	assert_failed(&p.a, CPG_DTLS_FAIL_PEER_CERT);
	assert_failed(&p.b, CPG_DTLS_FAIL_PEER_ALERT);
	assert_log_has(log, "peer 192.0.2.2:4002 (10.0.0.2): presented a certificate for "
			    "fd00::9, not fd00::2 (subject CN=eve6)");
	free(log);
	pair_free(&p);

	/* bob's certificate has no IPv6 address at all; the server side
	 * checks as the client does. */
	log = pair_run_ip6(&p, bob, "10.0.0.1", NULL, alice6, "10.0.0.2", "fd00::2");
	assert_failed(&p.b, CPG_DTLS_FAIL_PEER_CERT);
	assert_failed(&p.a, CPG_DTLS_FAIL_PEER_ALERT);
	assert_log_has(log, "peer 192.0.2.1:4001 (10.0.0.2): presented a certificate without "
			    "an IPv6 subjectAltName, expected fd00::2 (subject CN=bob)");
	free(log);
	pair_free(&p);

	/* A wrong IPv4 address is what is reported, whatever the IPv6 one. */
	log = pair_run_ip6(&p, alice6, "10.0.0.2", "fd00::2", eve, "10.0.0.1", NULL);
	assert_failed(&p.a, CPG_DTLS_FAIL_PEER_CERT);
	assert_log_has(log, "presented a certificate for 10.0.0.9, not 10.0.0.2 (subject CN=eve)");
	free(log);
	pair_free(&p);

	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(alice6);
	cpg_dtls_ctx_put(bob);
	cpg_dtls_ctx_put(bob6);
	cpg_dtls_ctx_put(eve);
	cpg_dtls_ctx_put(eve6);
}

/*
 * frank's certificate and crl-short.pem, valid for the next seconds, and
 * bob's context with that CRL and frank's, both loaded while still valid.
 * Returns when both have expired for sure, or 0 when issuing them took so
 * long (a loaded machine) that they might expire before they are loaded:
 * the caller tries again with a longer life.
 */
static time_t make_expiring(int seconds, struct cpg_dtls_ctx **frank,
			    struct cpg_dtls_ctx **bob_short)
{
	time_t end = time(NULL) + seconds;
	char date[32], *log;

	strftime(date, sizeof(date), "%Y%m%d%H%M%SZ", gmtime(&end));
	assert_int_equal(run_sh("set -e; P='%s'; cd '%s'; exec >/dev/null\n"
				"$P issue --end-date %s ca frank 10.0.0.6\n"
				"$P crl --seconds %d ca; cp ca/crl.pem crl-short.pem\n",
				PKI_TOOL, pki_dir, date, seconds),
			 0);
	/* The CRL's life started when it was made, after the certificate. */
	if (time(NULL) + 1 >= end)
		return 0;
	capture_begin();
	*frank = ctx_for("ca/frank", "10.0.0.6", NULL);
	log = capture_end();
	assert_log_has(log, "expires on");
	assert_log_has(log, "in less than 30 days");
	free(log);
	*bob_short = ctx_for("ca/bob", "10.0.0.2", "crl-short.pem");
	return time(NULL) + seconds;
}

/* A certificate and a CRL that expire a few seconds after they are made:
 * the refusal by OpenSSL's own checks at verification time. */
static void test_expiry_during_use(void **state)
{
	struct cpg_dtls_ctx *frank, *bob_short, *bob, *alice;
	int seconds = 4;
	time_t expired;
	char *log;
	struct pair p;

	while (!(expired = make_expiring(seconds, &frank, &bob_short))) {
		seconds *= 2;
		assert_true(seconds <= 64);
	}
	bob = ctx_for("ca/bob", "10.0.0.2", "crl-good.pem");
	alice = ctx_for("ca/alice", "10.0.0.1", NULL);

	while (time(NULL) <= expired)
		usleep(100 * 1000);

	log = pair_run_logged(&p, frank, "10.0.0.2", bob, "10.0.0.6");
	assert_failed(&p.b, CPG_DTLS_FAIL_PEER_CERT);
	assert_log_has(log, "peer 192.0.2.1:4001 (10.0.0.6): certificate verify failed: "
			    "certificate has expired (subject CN=frank)");
	assert_log_has(log, "the peer refused the handshake: sslv3 alert certificate expired");
	free(log);
	pair_free(&p);

	log = pair_run_logged(&p, alice, "10.0.0.2", bob_short, "10.0.0.1");
	assert_failed(&p.b, CPG_DTLS_FAIL_PEER_CERT);
	assert_log_has(log, "peer 192.0.2.1:4001 (10.0.0.1): certificate verify failed: "
			    "CRL has expired (subject CN=alice)");
	free(log);
	pair_free(&p);

	cpg_dtls_ctx_put(frank);
	cpg_dtls_ctx_put(bob_short);
	cpg_dtls_ctx_put(bob);
	cpg_dtls_ctx_put(alice);
}

/* cpg_dtls_session_recheck() of sd's session with ctx refuses, saying want. */
static void assert_recheck_refuses(const struct side *sd, struct cpg_dtls_ctx *ctx,
				   const char *want)
{
	char why[384];

	if (cpg_dtls_session_recheck(sd->s, ctx, why, sizeof(why)))
		fail_msg("the recheck passed, expected \"%s\"", want);
	if (!strstr(why, want))
		fail_msg("the recheck said \"%s\", expected \"%s\"", why, want);
}

static void assert_recheck_passes(const struct side *sd, struct cpg_dtls_ctx *ctx)
{
	char why[384];

	if (!cpg_dtls_session_recheck(sd->s, ctx, why, sizeof(why)))
		fail_msg("the recheck refused: %s", why);
	assert_string_equal(why, "");
}

/*
 * A reload's verification of an established tunnel's peer (each side's
 * view), and of a handshake under way: the same checks, and words, as the
 * handshake's, with the new context's CAs and CRL.
 */
static void test_recheck(void **state)
{
	struct cpg_dtls_ctx *alice = ctx_for("ca/alice", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	struct cpg_dtls_ctx *bob_crl = ctx_for("ca/bob", "10.0.0.2", "crl-good.pem");
	struct cpg_dtls_ctx *carol = ctx_for("carol", "10.0.0.3", NULL);
	struct cpg_dtls_ctx *alice6 = ctx_for("ca/alice6", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *bob6 = ctx_for("ca/bob6", "10.0.0.2", NULL);
	struct cpg_dtls_ctx *stranger;
	struct pair p;
	struct conf c;
	time_t now = time(NULL), expiry;
	char *log;

	/* bob trusts only the other CA now. */
	conf_init(&c, "ca/bob", "10.0.0.2");
	conf_file(c.ca, "other/ca.crt");
	capture_begin();
	stranger = cpg_dtls_ctx_new(&c.cfg);
	free(capture_end());
	assert_non_null(stranger);

	/* Unchanged credentials, or a CRL revoking someone else: both pass;
	 * the expiry is the leaf's (a year), before the CA's (ten). */
	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	pair_run(&p);
	assert_state(&p.a, CPG_DTLS_ESTABLISHED);
	assert_state(&p.b, CPG_DTLS_ESTABLISHED);
	expiry = cpg_dtls_session_peer_expiry(p.b.s);
	assert_true(expiry >= now + 364 * 86400 && expiry <= now + 366 * 86400);
	assert_recheck_passes(&p.a, alice);
	assert_recheck_passes(&p.b, bob_crl);
	assert_true(cpg_dtls_session_peer_expiry(p.b.s) - expiry <= 1);
	/* A CA nobody trusts any more, on either side (the chains came with
	 * their CA). */
	assert_recheck_refuses(&p.a, stranger, "self-signed certificate in certificate chain "
			       "(subject CN=bob, at CA CN=Campagnol CA): not issued by a CA we trust");
	assert_recheck_refuses(&p.b, stranger, "self-signed certificate in certificate chain "
			       "(subject CN=alice, at CA CN=Campagnol CA): not issued by a CA we trust");
	/* Nothing was sent: closing is the caller's business. */
	assert_int_equal(p.a.n_out, p.a.n_delivered);
	assert_int_equal(p.b.n_out, p.b.n_delivered);
	assert_state(&p.b, CPG_DTLS_ESTABLISHED);
	pair_free(&p);

	/* carol's tunnel, made before the CRL that revokes her. */
	pair_init(&p, carol, "10.0.0.2", bob, "10.0.0.3");
	pair_run(&p);
	assert_state(&p.b, CPG_DTLS_ESTABLISHED);
	assert_recheck_passes(&p.b, bob);
	assert_recheck_refuses(&p.b, bob_crl,
			       "certificate verify failed: certificate revoked (subject CN=carol)");
	pair_free(&p);

	/* A handshake under way verifies with the reloaded context. */
	capture_begin();
	pair_init(&p, carol, "10.0.0.2", bob, "10.0.0.3");
	assert_recheck_passes(&p.b, bob_crl);
	pair_run(&p);
	log = capture_end();
	assert_failed(&p.b, CPG_DTLS_FAIL_PEER_CERT);
	assert_log_has(log, "certificate verify failed: certificate revoked (subject CN=carol)");
	free(log);
	pair_free(&p);

	/* A handshake that has already accepted the peer's certificate (bob,
	 * the client, has carol's, and waits for her Finished). */
	pair_init(&p, bob, "10.0.0.3", carol, "10.0.0.2");
	cpg_dtls_session_start(p.b.s);
	cpg_dtls_session_start(p.a.s);
	for (int i = 0; i < 2; i++) {
		deliver(&p.a, &p.b); /* ClientHello (then with the cookie) */
		deliver(&p.b, &p.a); /* HelloVerifyRequest, then the server's flight */
	}
	assert_state(&p.a, CPG_DTLS_HANDSHAKING);
	assert_recheck_passes(&p.a, bob);
	assert_recheck_refuses(&p.a, bob_crl,
			       "certificate verify failed: certificate revoked (subject CN=carol)");
	pair_free(&p);

	/* The IPv6 VPN address is checked again as well. */
	log = pair_run_ip6(&p, alice6, "10.0.0.2", "fd00::2", bob6, "10.0.0.1", "fd00::1");
	free(log);
	assert_state(&p.a, CPG_DTLS_ESTABLISHED);
	assert_recheck_passes(&p.a, alice);
	assert_recheck_passes(&p.b, bob);
	pair_free(&p);

	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(bob);
	cpg_dtls_ctx_put(bob_crl);
	cpg_dtls_ctx_put(carol);
	cpg_dtls_ctx_put(alice6);
	cpg_dtls_ctx_put(bob6);
	cpg_dtls_ctx_put(stranger);
}

/* A peer certificate that expires while its tunnel runs: the expiry the
 * session gives is its notAfter, and a recheck then refuses it. */
static void test_recheck_expiry(void **state)
{
	struct cpg_dtls_ctx *gina, *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	int seconds = 3;
	time_t end;
	char date[32];
	struct pair p;

	for (;;) {
		end = time(NULL) + seconds;
		strftime(date, sizeof(date), "%Y%m%d%H%M%SZ", gmtime(&end));
		assert_int_equal(run_sh("set -e; P='%s'; cd '%s'; exec >/dev/null\n"
					"rm -f ca/gina.crt ca/gina.key\n"
					"$P issue --end-date %s ca gina 10.0.0.7\n",
					PKI_TOOL, pki_dir, date),
				 0);
		capture_begin();
		gina = ctx_for("ca/gina", "10.0.0.7", NULL);
		free(capture_end());
		pair_init(&p, gina, "10.0.0.2", bob, "10.0.0.7");
		pair_run(&p);
		/* A loaded machine: try again with a longer life. */
		if (time(NULL) + 1 < end)
			break;
		pair_free(&p);
		cpg_dtls_ctx_put(gina);
		seconds *= 2;
		assert_true(seconds <= 48);
	}
	assert_state(&p.b, CPG_DTLS_ESTABLISHED);
	assert_int_equal(cpg_dtls_session_peer_expiry(p.b.s), end);
	assert_recheck_passes(&p.b, bob);
	while (time(NULL) <= end)
		usleep(100 * 1000);
	assert_recheck_refuses(&p.b, bob,
			       "certificate verify failed: certificate has expired (subject CN=gina)");
	pair_free(&p);
	cpg_dtls_ctx_put(gina);
	cpg_dtls_ctx_put(bob);
}

/* Loading c fails, and says want. */
static void assert_refused_at_load(const struct conf *c, const char *want)
{
	char *log;

	capture_begin();
	assert_null(cpg_dtls_ctx_new(&c->cfg));
	log = capture_end();
	assert_log_has(log, want);
	free(log);
}

static void test_refused_at_load(void **state)
{
	struct cpg_dtls_ctx *ctx;
	struct conf c;
	char *log, want[2 * PATH_LEN + 64];

	conf_init(&c, "ca/dave", "10.0.0.4");
	snprintf(want, sizeof(want), "certificate %s expired on 2000-01-02 00:00:00 UTC", c.cert);
	assert_refused_at_load(&c, want);

	conf_init(&c, "ca/alice", "10.0.0.1");
	conf_crl(&c, "crl-expired.pem");
	snprintf(want, sizeof(want),
		 "crl_file %s: the CRL of CN=Campagnol CA expired on 2000-01-02 00:00:00 UTC",
		 c.crl);
	assert_refused_at_load(&c, want);

	conf_init(&c, "ca/alice", "10.0.0.1");
	conf_file(c.key, "ca/bob.key");
	snprintf(want, sizeof(want), "key %s does not match certificate %s", c.key, c.cert);
	assert_refused_at_load(&c, want);

	conf_init(&c, "ca/alice", "10.0.0.1");
	conf_file(c.key, "locked.key");
	snprintf(want, sizeof(want), "key %s is protected by a passphrase", c.key);
	assert_refused_at_load(&c, want);

	conf_init(&c, "ca/alice", "10.0.0.7");
	snprintf(want, sizeof(want),
		 "certificate %s is for 10.0.0.1, not for our vpn_ip 10.0.0.7: "
		 "peers would refuse it",
		 c.cert);
	assert_refused_at_load(&c, want);

	/* vpn_ip6: our certificate must name it too. */
	conf_init(&c, "ca/alice", "10.0.0.1");
	c.cfg.vpn_ip6 = ip6("fd00::1");
	snprintf(want, sizeof(want),
		 "certificate %s has no IPv6 subjectAltName, so it is not for our vpn_ip6 "
		 "fd00::1: peers would refuse it",
		 c.cert);
	assert_refused_at_load(&c, want);
	conf_init(&c, "ca/alice6", "10.0.0.1");
	c.cfg.vpn_ip6 = ip6("fd00::5");
	snprintf(want, sizeof(want),
		 "certificate %s is for fd00::1, not for our vpn_ip6 fd00::5: peers would refuse it",
		 c.cert);
	assert_refused_at_load(&c, want);
	/* The IPv4 address is still checked first. */
	conf_init(&c, "ca/alice6", "10.0.0.7");
	c.cfg.vpn_ip6 = ip6("fd00::1");
	snprintf(want, sizeof(want), "certificate %s is for 10.0.0.1, not for our vpn_ip 10.0.0.7",
		 c.cert);
	assert_refused_at_load(&c, want);

	conf_init(&c, "ca/nobody", "10.0.0.1");
	snprintf(want, sizeof(want), "certificate %s: No such file or directory", c.cert);
	assert_refused_at_load(&c, want);

	capture_begin();
	conf_init(&c, "ca/alice", "10.0.0.1");
	conf_crl(&c, "ca/ca.crt");
	assert_null(cpg_dtls_ctx_new(&c.cfg));
	conf_init(&c, "ca/alice", "10.0.0.1");
	conf_file(c.ca, "ca/alice.key");
	assert_null(cpg_dtls_ctx_new(&c.cfg));
	log = capture_end();
	snprintf(want, sizeof(want), "crl_file %s/ca/ca.crt holds no PEM CRL", pki_dir);
	assert_log_has(log, want);
	snprintf(want, sizeof(want), "ca_certificates %s: ", c.ca);
	assert_log_has(log, want);
	free(log);

	/* Expiring soon, or our own certificate revoked: warnings only. */
	capture_begin();
	conf_init(&c, "ca/alice6", "10.0.0.1");
	c.cfg.vpn_ip6 = ip6("fd00::1");
	ctx = cpg_dtls_ctx_new(&c.cfg);
	assert_non_null(ctx);
	cpg_dtls_ctx_put(ctx);
	conf_init(&c, "ca/soon", "10.0.0.5");
	ctx = cpg_dtls_ctx_new(&c.cfg);
	assert_non_null(ctx);
	cpg_dtls_ctx_put(ctx);
	conf_init(&c, "carol", "10.0.0.3");
	conf_crl(&c, "crl-good.pem");
	ctx = cpg_dtls_ctx_new(&c.cfg);
	assert_non_null(ctx);
	cpg_dtls_ctx_put(ctx);
	log = capture_end();
	assert_log_has(log, "warning: certificate ");
	assert_log_has(log, "soon.crt expires on ");
	assert_log_has(log, ", in less than 30 days");
	assert_log_has(log, "carol.crt does not verify against our own CAs: certificate revoked");
	free(log);
}

static bool is_handshake(const uint8_t *d, size_t len, uint8_t msg_type)
{
	return len > CPG_RECORD_HEADER_LEN && d[0] == CPG_RECORD_CT_HANDSHAKE && d[3] == 0 &&
	       d[4] == 0 && d[CPG_RECORD_HEADER_LEN] == msg_type;
}

static bool drop_first(struct side *sd, const uint8_t *d, size_t len)
{
	return sd->n_delivered == 1;
}

/* The server's ChangeCipherSpec and Finished, once each. */
static bool drop_final_flight_once(struct side *sd, const uint8_t *d, size_t len)
{
	bool final = d[0] == CPG_RECORD_CT_CHANGE_CIPHER_SPEC || (d[3] << 8 | d[4]) == 1;

	return final && sd->dropped < 2;
}

static void test_lost_datagrams(void **state)
{
	struct cpg_dtls_ctx *alice = ctx_for("ca/alice", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	struct pair p;

	/* The ClientHello is lost: the client's timer sends it again. */
	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	p.a.drop = drop_first;
	pair_run(&p);
	assert_int_equal(p.a.dropped, 1);
	assert_true(is_handshake(p.a.out[0], p.a.out_len[0], HS_CLIENT_HELLO));
	assert_true(is_handshake(p.a.out[1], p.a.out_len[1], HS_CLIENT_HELLO));
	assert_memory_equal(p.a.out[0] + 3, p.a.out[1] + 3, 2); /* both epoch 0 */
	assert_established_pair(&p, CPG_CIPHER_AES_128_GCM);
	pair_free(&p);

	/* The server's last flight is lost after it considers itself done:
	 * the client retransmits its Finished flight, and the established
	 * server answers with its own again. */
	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	p.b.drop = drop_final_flight_once;
	pair_run(&p);
	assert_int_equal(p.b.dropped, 2);
	assert_established_pair(&p, CPG_CIPHER_AES_128_GCM);
	pair_free(&p);

	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(bob);
}

static void test_cookie_exchange(void **state)
{
	struct cpg_dtls_ctx *alice = ctx_for("ca/alice", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	struct cpg_dtls_session *elsewhere;
	union cpg_sockaddr other;
	struct side spare = { 0 };
	struct pair p;
	char *log;

	/* The server answers the first ClientHello with a HelloVerifyRequest
	 * and the client says hello again, with the cookie. */
	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	pair_run(&p);
	assert_true(is_handshake(p.b.out[0], p.b.out_len[0], HS_HELLO_VERIFY_REQUEST));
	assert_true(is_handshake(p.a.out[0], p.a.out_len[0], HS_CLIENT_HELLO));
	assert_true(is_handshake(p.a.out[1], p.a.out_len[1], HS_CLIENT_HELLO));
	assert_true(p.a.out_len[1] > p.a.out_len[0]);
	assert_established_pair(&p, CPG_CIPHER_AES_128_GCM);
	pair_free(&p);

	/* The cookie is bound to the client's endpoint: a session for another
	 * port that received the same first ClientHello refuses the second. */
	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	endpoint(&other, "192.0.2.1", 4999);
	spare.to = other;
	elsewhere = cpg_dtls_session_new(bob, CPG_DTLS_SERVER, &other, test_ip4("10.0.0.1"), side_send,
					 &spare);
	assert_non_null(elsewhere);
	cpg_dtls_session_start(p.b.s);
	cpg_dtls_session_start(elsewhere);
	cpg_dtls_session_start(p.a.s);
	assert_int_equal(p.a.n_out, 1);
	cpg_dtls_session_input(p.b.s, p.a.out[0], p.a.out_len[0]);
	assert_int_equal(p.b.n_out, 1);
	cpg_dtls_session_input(p.a.s, p.b.out[0], p.b.out_len[0]);
	assert_int_equal(p.a.n_out, 2);
	cpg_dtls_session_input(elsewhere, p.a.out[0], p.a.out_len[0]);
	assert_int_equal(spare.n_out, 1);
	assert_true(is_handshake(spare.out[0], spare.out_len[0], HS_HELLO_VERIFY_REQUEST));
	capture_begin();
	cpg_dtls_session_input(elsewhere, p.a.out[1], p.a.out_len[1]);
	log = capture_end();
	assert_int_equal(cpg_dtls_session_state(elsewhere), CPG_DTLS_FAILED);
	assert_log_has(log, "peer 192.0.2.1:4999 (10.0.0.1): handshake failed: cookie mismatch");
	free(log);
	cpg_dtls_session_free(elsewhere);
	for (size_t i = 0; i < spare.n_out; i++)
		free(spare.out[i]);
	pair_free(&p);
	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(bob);
}

static void test_close_notify(void **state)
{
	struct cpg_dtls_ctx *alice = ctx_for("ca/alice", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	struct pair p;
	size_t sent;

	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	pair_run(&p);
	assert_state(&p.a, CPG_DTLS_ESTABLISHED);
	assert_state(&p.b, CPG_DTLS_ESTABLISHED);
	/* No timer once both are done: the last flight is only ever resent
	 * when the peer resends its own. */
	assert_int_equal(cpg_dtls_session_timeout_ms(p.a.s), -1);
	assert_int_equal(cpg_dtls_session_timeout_ms(p.b.s), -1);
	sent = p.a.n_out;
	cpg_dtls_session_close(p.a.s);
	assert_int_equal(p.a.n_out, sent + 1);
	/* An encrypted alert of the data epoch. */
	assert_int_equal(p.a.out[sent][0], CPG_RECORD_CT_ALERT);
	assert_int_equal(p.a.out[sent][4], CPG_KEYS_EPOCH);
	assert_state(&p.a, CPG_DTLS_CLOSED);
	pump(&p);
	assert_state(&p.b, CPG_DTLS_CLOSED);
	assert_string_equal(cpg_dtls_session_reason(p.b.s),
			    "the peer closed the tunnel (close_notify)");
	assert_int_equal(cpg_dtls_session_timeout_ms(p.b.s), -1);
	/* Closed is final: nothing more is sent or taken. */
	cpg_dtls_session_close(p.a.s);
	cpg_dtls_session_close(p.b.s);
	assert_int_equal(p.a.n_out, sent + 1);
	assert_int_equal(p.b.n_out, p.b.n_delivered);
	assert_int_equal(cpg_dtls_session_input(p.a.s, p.a.out[0], p.a.out_len[0]),
			 CPG_DTLS_CLOSED);
	pair_free(&p);
	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(bob);
}

/* The path to the peer moved (relay to direct): the session sends there. */
static void test_set_peer(void **state)
{
	struct cpg_dtls_ctx *alice = ctx_for("ca/alice", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	struct pair p;
	size_t sent;

	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	pair_run(&p);
	assert_state(&p.a, CPG_DTLS_ESTABLISHED);
	endpoint(&p.a.to, "203.0.113.9", 4000);
	cpg_dtls_session_set_peer(p.a.s, &p.a.to);
	assert_true(cpg_sockaddr_equal(cpg_dtls_session_peer(p.a.s), &p.a.to));
	sent = p.a.n_out;
	/* side_send() checks where it goes. */
	cpg_dtls_session_close(p.a.s);
	assert_int_equal(p.a.n_out, sent + 1);
	pump(&p);
	assert_state(&p.b, CPG_DTLS_CLOSED);
	pair_free(&p);
	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(bob);
}

static bool drop_all(struct side *sd, const uint8_t *d, size_t len)
{
	return true;
}

static void test_handshake_timeout(void **state)
{
	struct cpg_dtls_ctx *alice = ctx_for("ca/alice", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	uint64_t start = cpg_loop_now_ms();
	struct pair p;
	char *log;

	cpg_dtls_ctx_set_handshake_timeout(alice, 300);
	cpg_dtls_ctx_set_handshake_timeout(bob, 300);
	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	p.a.drop = drop_all;
	capture_begin();
	pair_run(&p);
	log = capture_end();
	assert_true(cpg_loop_now_ms() - start >= 300);
	assert_failed(&p.a, CPG_DTLS_FAIL_TIMEOUT);
	assert_failed(&p.b, CPG_DTLS_FAIL_TIMEOUT);
	assert_log_has(log, "peer 192.0.2.2:4002 (10.0.0.2): handshake timed out after 300 ms");
	free(log);
	assert_int_equal(cpg_dtls_session_timeout_ms(p.a.s), -1);
	pair_free(&p);
	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(bob);
}

/* sd's keys of its last handshake, taken: of epoch, mirrored by peer's. */
static void take_rekeyed(struct side *sd, uint16_t epoch, struct cpg_keys *out)
{
	assert_state(sd, CPG_DTLS_ESTABLISHED);
	assert_true(cpg_dtls_session_has_keys(sd->s));
	assert_int_equal(cpg_dtls_session_epoch(sd->s), epoch);
	assert_int_equal(cpg_dtls_session_take_keys(sd->s, out), 0);
	assert_int_equal(out->epoch, epoch);
	assert_false(cpg_dtls_session_has_keys(sd->s));
	assert_false(cpg_dtls_session_rekeying(sd->s));
}

/*
 * One rekey started by starter: the server finishes first and holds its
 * last flight until its keys are taken, as the daemon does; then the
 * client finishes. The keys are the next epoch's, new and mirrored.
 */
static void rekey_once(struct pair *p, struct side *starter, uint16_t epoch,
		       struct cpg_keys *prev)
{
	struct cpg_keys ka, kb;

	assert_int_equal(cpg_dtls_session_rekey(starter->s), 0);
	assert_int_equal(cpg_dtls_session_rekey(starter->s), -EBUSY);
	assert_true(cpg_dtls_session_rekeying(starter->s));
	pump(p);
	take_rekeyed(&p->b, epoch, &kb);
	assert_true(cpg_dtls_session_rekeying(p->a.s));
	assert_false(cpg_dtls_session_has_keys(p->a.s));
	cpg_dtls_session_release(p->b.s);
	pump(p);
	take_rekeyed(&p->a, epoch, &ka);
	cpg_dtls_session_release(p->a.s);
	assert_int_equal(ka.cipher, kb.cipher);
	assert_same_secret(&ka.tx, &kb.rx, ka.cipher);
	assert_same_secret(&ka.rx, &kb.tx, ka.cipher);
	assert_memory_not_equal(ka.tx.key, prev->tx.key, cpg_cipher_key_len(ka.cipher));
	assert_memory_not_equal(ka.rx.key, prev->rx.key, cpg_cipher_key_len(ka.cipher));
	cpg_keys_wipe(prev);
	*prev = ka;
	cpg_keys_wipe(&kb);
}

/* Rekeying renegotiates: each side may start it, each gives the next epoch. */
static void test_rekey(void **state)
{
	struct cpg_dtls_ctx *alice = ctx_for("ca/alice", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	struct cpg_keys prev;
	struct pair p;

	(void)state;
	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	assert_int_equal(cpg_dtls_session_rekey(p.a.s), -EINVAL);
	cpg_dtls_session_hold_last_flight(p.a.s);
	cpg_dtls_session_hold_last_flight(p.b.s);
	cpg_dtls_session_start(p.b.s);
	cpg_dtls_session_start(p.a.s);
	pump(&p);
	cpg_dtls_session_release(p.b.s);
	pump(&p);
	assert_int_equal(cpg_dtls_session_epoch(p.a.s), CPG_KEYS_EPOCH);
	/* Keys not taken yet: no rekey. */
	assert_int_equal(cpg_dtls_session_rekey(p.a.s), -EBUSY);
	assert_int_equal(cpg_dtls_session_take_keys(p.a.s, &prev), 0);
	cpg_keys_wipe(&prev);
	assert_int_equal(cpg_dtls_session_take_keys(p.b.s, &prev), 0);

	for (uint16_t epoch = CPG_KEYS_EPOCH + 1; epoch <= CPG_KEYS_EPOCH + 20; epoch++)
		rekey_once(&p, epoch % 2 ? &p.b : &p.a, epoch, &prev);
	assert_int_equal(cpg_dtls_session_rekeys(p.a.s), 20);
	assert_int_equal(cpg_dtls_session_rekeys(p.b.s), 20);
	cpg_keys_wipe(&prev);
	pair_free(&p);
	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(bob);
}

/* After a reload, rekeys present the reloaded certificate (a renewal). */
static void test_rekey_after_reload(void **state)
{
	struct cpg_dtls_ctx *alice = ctx_for("ca/alice", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *renewed = ctx_for("ca/alice6", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	struct cpg_keys prev;
	char why[256];
	struct pair p;

	(void)state;
	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	cpg_dtls_session_hold_last_flight(p.b.s);
	pair_run(&p);
	cpg_dtls_session_release(p.b.s);
	pump(&p);
	assert_string_equal(cpg_dtls_session_peer_subject(p.b.s), "CN=alice");
	assert_int_equal(cpg_dtls_session_take_keys(p.a.s, &prev), 0);
	cpg_keys_wipe(&prev);
	assert_int_equal(cpg_dtls_session_take_keys(p.b.s, &prev), 0);
	assert_true(cpg_dtls_session_recheck(p.a.s, renewed, why, sizeof(why)));
	/* The old context may go: the session holds the new one. */
	cpg_dtls_ctx_put(alice);
	rekey_once(&p, &p.a, CPG_KEYS_EPOCH + 1, &prev);
	assert_string_equal(cpg_dtls_session_peer_subject(p.b.s), "CN=alice6");
	cpg_keys_wipe(&prev);
	pair_free(&p);
	cpg_dtls_ctx_put(renewed);
	cpg_dtls_ctx_put(bob);
}

/* A rekey the peer never answers fails the session once its time is up. */
static void test_rekey_timeout(void **state)
{
	struct cpg_dtls_ctx *alice = ctx_for("ca/alice", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	uint64_t start;
	struct pair p;
	char *log;

	(void)state;
	cpg_dtls_ctx_set_handshake_timeout(alice, 300);
	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	pair_run(&p);
	assert_established_pair(&p, CPG_CIPHER_AES_128_GCM);
	p.b.drop = drop_all;
	start = cpg_loop_now_ms();
	assert_int_equal(cpg_dtls_session_rekey(p.a.s), 0);
	capture_begin();
	while (cpg_dtls_session_state(p.a.s) == CPG_DTLS_ESTABLISHED) {
		int64_t t = cpg_dtls_session_timeout_ms(p.a.s);

		assert_true(t >= 0);
		assert_true(cpg_loop_now_ms() - start < 3000);
		usleep((useconds_t)(t + 2) * 1000);
		cpg_dtls_session_on_timeout(p.a.s);
		pump(&p);
	}
	log = capture_end();
	assert_true(cpg_loop_now_ms() - start >= 300);
	assert_failed(&p.a, CPG_DTLS_FAIL_TIMEOUT);
	assert_log_has(log, "peer 192.0.2.2:4002 (10.0.0.2): rekey timed out after 300 ms");
	free(log);
	pair_free(&p);
	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(bob);
}

/* The RDV's way in: a cookie first, no state before it, then a session. */
static void test_listen(void **state)
{
	struct cpg_dtls_ctx *alice = ctx_for("ca/alice", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	union cpg_sockaddr any, spoofed;
	struct in_addr ips[4];
	struct pair p;
	size_t hello_len;
	time_t not_after;

	(void)state;
	memset(&p, 0, sizeof(p));
	memset(&any, 0, sizeof(any));
	endpoint(&p.a.addr, "192.0.2.1", 4001);
	endpoint(&p.b.addr, "192.0.2.2", 4002);
	endpoint(&spoofed, "192.0.2.9", 4001);
	p.a.to = p.b.addr;
	p.b.to = p.a.addr;
	p.a.s = cpg_dtls_session_new(alice, CPG_DTLS_CLIENT, &p.b.addr, test_ip4("10.0.0.2"),
				     side_send, &p.a);
	p.b.s = cpg_dtls_session_new(bob, CPG_DTLS_SERVER, &any, test_ip4("0.0.0.0"), side_send,
				     &p.b);
	cpg_dtls_session_start(p.a.s);
	assert_int_equal(p.a.n_out, 1);
	hello_len = p.a.out_len[0];
	/* No cookie: a HelloVerifyRequest, smaller, and still a listener. */
	assert_false(cpg_dtls_listen(p.b.s, p.a.out[0], p.a.out_len[0], &p.a.addr));
	assert_int_equal(p.b.n_out, 1);
	assert_true(p.b.out_len[0] < hello_len);
	assert_false(cpg_dtls_session_has_keys(p.b.s));
	p.a.n_delivered = 1;
	deliver(&p.b, &p.a);
	assert_int_equal(p.a.n_out, 2);
	/* The cookie is the endpoint's: from elsewhere it is worth another
	 * HelloVerifyRequest, to there. */
	p.b.to = spoofed;
	assert_false(cpg_dtls_listen(p.b.s, p.a.out[1], p.a.out_len[1], &spoofed));
	assert_int_equal(p.b.n_out, 2);
	p.b.n_delivered = 2;
	p.b.to = p.a.addr;
	assert_true(cpg_dtls_listen(p.b.s, p.a.out[1], p.a.out_len[1], &p.a.addr));
	p.a.n_delivered = 2;
	pump(&p);
	assert_established_pair(&p, CPG_CIPHER_AES_128_GCM);
	assert_int_equal(cpg_dtls_session_peer_ips(p.b.s, AF_INET, ips, 4), 1);
	assert_true(ips[0].s_addr == test_ip4("10.0.0.1").s_addr);
	not_after = cpg_dtls_session_peer_expiry(p.b.s);
	assert_true(not_after > time(NULL));
	pair_free(&p);
	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(bob);
}

static void test_handshake_mtu(void **state)
{
	struct conf ca, cb;
	struct cpg_dtls_ctx *alice, *bob;
	struct pair p;

	/* tun_mtu at its minimum: the handshake is fragmented to 256 bytes. */
	conf_init(&ca, "ca/alice", "10.0.0.1");
	conf_init(&cb, "ca/bob", "10.0.0.2");
	ca.cfg.tun_mtu = cb.cfg.tun_mtu = 150;
	alice = cpg_dtls_ctx_new(&ca.cfg);
	bob = cpg_dtls_ctx_new(&cb.cfg);
	assert_non_null(alice);
	assert_non_null(bob);
	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	pair_run(&p);
	assert_established_pair(&p, CPG_CIPHER_AES_128_GCM);
	assert_true(p.a.max_len <= 256);
	assert_true(p.b.max_len <= 256);
	pair_free(&p);
	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(bob);

	/* The default tun_mtu: at most CPG_DTLS_HANDSHAKE_MTU. */
	alice = ctx_for("ca/alice", "10.0.0.1", NULL);
	bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	pair_run(&p);
	assert_established_pair(&p, CPG_CIPHER_AES_128_GCM);
	assert_true(p.a.max_len <= CPG_DTLS_HANDSHAKE_MTU);
	assert_true(p.b.max_len <= CPG_DTLS_HANDSHAKE_MTU);
	pair_free(&p);
	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(bob);
}

/* application_data records never reach OpenSSL, whatever the state. */
static void test_application_data_ignored(void **state)
{
	struct cpg_dtls_ctx *alice = ctx_for("ca/alice", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	uint8_t rec[CPG_RECORD_HEADER_LEN + 40] = { CPG_RECORD_CT_APPLICATION_DATA, 0xfe, 0xfd,
						    0, 1, 0x80, 0, 0, 0, 0, 0, 0, 40 };
	struct pair p;

	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	cpg_dtls_session_start(p.b.s);
	assert_int_equal(cpg_dtls_session_input(p.b.s, rec, sizeof(rec)), CPG_DTLS_HANDSHAKING);
	assert_int_equal(p.b.n_out, 0);
	pair_run(&p);
	assert_state(&p.b, CPG_DTLS_ESTABLISHED);
	/* A forged data record would be an AEAD failure inside OpenSSL. */
	assert_int_equal(cpg_dtls_session_input(p.b.s, rec, sizeof(rec)), CPG_DTLS_ESTABLISHED);
	assert_int_equal(cpg_dtls_session_input(p.a.s, rec, 5), CPG_DTLS_ESTABLISHED);
	assert_established_pair(&p, CPG_CIPHER_AES_128_GCM);
	pair_free(&p);
	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(bob);
}

/*
 * Forged records in the data epoch, of every length up to past the AEAD's
 * overhead: OpenSSL 3 failed the connection on one too short for the
 * explicit nonce and the tag (an internal error), where it drops the others.
 * Anyone who can send from the peer's endpoint can make them.
 */
static void test_short_records_ignored(void **state)
{
	static const struct {
		const char *name;
		enum cpg_cipher cipher;
	} suites[] = {
		{ "ECDHE-ECDSA-AES128-GCM-SHA256", CPG_CIPHER_AES_128_GCM },
		{ "ECDHE-ECDSA-CHACHA20-POLY1305", CPG_CIPHER_CHACHA20_POLY1305 },
	};
	static const uint8_t types[] = { 20, 21, 22, 24, 63 };

	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		struct cpg_dtls_ctx *actx, *bctx;
		struct pair p;

		suite_ctxs(suites[i].name, &actx, &bctx);
		pair_init(&p, actx, "10.0.0.2", bctx, "10.0.0.1");
		cpg_dtls_ctx_put(actx);
		cpg_dtls_ctx_put(bctx);
		pair_run(&p);
		for (size_t t = 0; t < sizeof(types); t++) {
			for (size_t len = 0; len <= 48; len++) {
				uint8_t rec[CPG_RECORD_HEADER_LEN + 48] = {
					types[t], 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 1, 0, 0, (uint8_t)len
				};

				for (size_t b = CPG_RECORD_HEADER_LEN; b < sizeof(rec); b++)
					rec[b] = (uint8_t)(b * 7 + len);
				assert_int_equal(cpg_dtls_session_input(p.a.s, rec,
								CPG_RECORD_HEADER_LEN + len),
						 CPG_DTLS_ESTABLISHED);
				assert_int_equal(cpg_dtls_session_input(p.b.s, rec,
								CPG_RECORD_HEADER_LEN + len),
						 CPG_DTLS_ESTABLISHED);
			}
		}
		assert_established_pair(&p, suites[i].cipher);
		pair_free(&p);
	}
}

/*
 * The server holds its last flight until released: the client cannot finish
 * (and send records) before the server's data plane has the keys.
 */
static void test_hold_last_flight(void **state)
{
	struct cpg_dtls_ctx *alice = ctx_for("ca/alice", "10.0.0.1", NULL);
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	struct pair p;
	size_t sent;

	(void)state;
	pair_init(&p, alice, "10.0.0.2", bob, "10.0.0.1");
	cpg_dtls_session_hold_last_flight(p.a.s);
	cpg_dtls_session_hold_last_flight(p.b.s);
	cpg_dtls_session_start(p.b.s);
	cpg_dtls_session_start(p.a.s);
	pump(&p);
	assert_state(&p.b, CPG_DTLS_ESTABLISHED);
	assert_state(&p.a, CPG_DTLS_HANDSHAKING);
	sent = p.b.n_out;
	cpg_dtls_session_release(p.b.s);
	assert_true(p.b.n_out > sent);
	pump(&p);
	assert_established_pair(&p, CPG_CIPHER_AES_128_GCM);
	/* Nothing is held once established. */
	sent = p.b.n_out;
	cpg_dtls_session_release(p.b.s);
	assert_int_equal(p.b.n_out, sent);
	pair_free(&p);
	cpg_dtls_ctx_put(alice);
	cpg_dtls_ctx_put(bob);
}

/* campagnol-pki issue --ip6: the second IP subjectAltName, shown, kept. */
static void test_pki_ip6(void **state)
{
	/* The output of each command, which must succeed, holds the text. */
	static const struct {
		const char *args, *out;
	} good[] = {
		{ "show ca/alice6.crt", "VPN IP=10.0.0.1\nVPN IP6=fd00::1\n" },
		{ "show ca/alice.crt", "VPN IP=10.0.0.1\nstatus=" },
		/* The same addresses, another spelling: nothing to do. */
		{ "issue --ip6 FD00:0::1 ca alice6 10.0.0.1", "nothing changed" },
	};
	/* Each must fail (status 1) and say the text. */
	static const struct {
		const char *args, *err;
	} bad[] = {
		{ "issue ca alice6 10.0.0.1",
		  "alice6 already has a certificate, for 10.0.0.1 and fd00::1; revoke it first" },
		{ "issue --ip6 fd00::3 ca alice6 10.0.0.1", "for 10.0.0.1 and fd00::1; revoke" },
		{ "issue --ip6 fd00::1 ca alice 10.0.0.1", "alice already has a certificate, for "
							   "10.0.0.1; revoke it first" },
		{ "issue --ip6 fe80::1 ca x 10.0.0.8", "'fe80::1': link-local (fe80::/10)" },
		{ "issue --ip6 ff05::1 ca x 10.0.0.8", "'ff05::1': multicast (ff00::/8)" },
		{ "issue --ip6 fd00::1::2 ca x 10.0.0.8", "expected hexadecimal groups" },
		{ "issue --ip6 10.0.0.8 ca x 10.0.0.8", "expected hexadecimal groups" },
		{ "issue --ip6 1:2:3:4:5:6:7 ca x 10.0.0.8", "expected 8 groups or '::'" },
		{ "issue --ip6 1::2: ca x 10.0.0.8", "a single ':' at an end" },
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (run_sh("cd '%s' && out=$('%s' %s) && case \"$out\" in *'%s'*) ;; "
			   "*) exit 1 ;; esac",
			   pki_dir, PKI_TOOL, good[i].args, good[i].out))
			fail_msg("campagnol-pki %s: failed or did not say \"%s\"", good[i].args,
				 good[i].out);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (run_sh("cd '%s'; err=$('%s' %s 2>&1 >/dev/null); [ $? -eq 1 ] && "
			   "case \"$err\" in *\"%s\"*) ;; *) exit 1 ;; esac",
			   pki_dir, PKI_TOOL, bad[i].args, bad[i].err))
			fail_msg("campagnol-pki %s: did not fail saying \"%s\"", bad[i].args,
				 bad[i].err);
	/* Nothing was issued for x. */
	assert_int_not_equal(run_sh("test -e '%s/ca/x.crt'", pki_dir), 0);
}

/* ---- Certificates of the session's own ------------------------------------ */

static X509 *pem_cert(const char *rel)
{
	char path[PATH_LEN];
	FILE *f;
	X509 *x;

	conf_file(path, rel);
	f = fopen(path, "r");
	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static EVP_PKEY *pem_key(const char *rel)
{
	char path[PATH_LEN];
	EVP_PKEY *k;
	FILE *f;

	conf_file(path, rel);
	f = fopen(path, "r");
	assert_non_null(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	return k;
}

/* A context without a certificate of its own: each session brings one,
 * checked by the peer as the context's would be. */
static void test_per_session_cert(void **state)
{
	struct cpg_dtls_ctx *bob = ctx_for("ca/bob", "10.0.0.2", NULL);
	struct cpg_dtls_ctx *anyone;
	X509 *alice_crt = pem_cert("ca/alice.crt"), *eve_crt = pem_cert("ca/eve.crt");
	EVP_PKEY *alice_key = pem_key("ca/alice.key"), *eve_key = pem_key("ca/eve.key");
	struct conf c;
	struct pair p;
	char *log;

	/* No certificate or key needed, nor read. */
	conf_init(&c, "ca/nobody", "10.0.0.1");
	anyone = cpg_dtls_ctx_new_per_session_cert(&c.cfg);
	assert_non_null(anyone);

	pair_init(&p, anyone, "10.0.0.2", bob, "10.0.0.1");
	assert_int_equal(cpg_dtls_session_use_cert(p.a.s, alice_crt, alice_key, NULL), 0);
	pair_run(&p);
	assert_established_pair(&p, CPG_CIPHER_AES_128_GCM);
	pair_free(&p);

	/* eve's certificate is for 10.0.0.9: bob refuses it as ever. */
	capture_begin();
	pair_init(&p, anyone, "10.0.0.2", bob, "10.0.0.1");
	assert_int_equal(cpg_dtls_session_use_cert(p.a.s, eve_crt, eve_key, NULL), 0);
	pair_run(&p);
	log = capture_end();
	assert_failed(&p.b, CPG_DTLS_FAIL_PEER_CERT);
	assert_log_has(log, "presented a certificate for 10.0.0.9, not 10.0.0.1");
	free(log);
	pair_free(&p);

	/* A key that is not the certificate's is refused. */
	capture_begin();
	pair_init(&p, anyone, "10.0.0.2", bob, "10.0.0.1");
	assert_int_equal(cpg_dtls_session_use_cert(p.a.s, alice_crt, eve_key, NULL), -1);
	log = capture_end();
	assert_log_has(log, "cannot use the session's certificate");
	free(log);
	pair_free(&p);

	X509_free(alice_crt);
	X509_free(eve_crt);
	EVP_PKEY_free(alice_key);
	EVP_PKEY_free(eve_key);
	cpg_dtls_ctx_put(anyone);
	cpg_dtls_ctx_put(bob);
}

static void test_names(void **state)
{
	assert_string_equal(cpg_dtls_state_name(CPG_DTLS_ESTABLISHED), "established");
	assert_string_equal(cpg_dtls_failure_name(CPG_DTLS_FAIL_NONCE_CLASH), "nonce clash");
	assert_string_equal(cpg_dtls_failure_name((enum cpg_dtls_failure)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_each_suite),
		cmocka_unit_test(test_cipher_list),
		cmocka_unit_test(test_wrong_ca),
		cmocka_unit_test(test_ca_dir),
		cmocka_unit_test(test_revoked),
		cmocka_unit_test(test_wrong_vpn_ip),
		cmocka_unit_test(test_per_session_cert),
		cmocka_unit_test(test_expiry_during_use),
		cmocka_unit_test(test_refused_at_load),
		cmocka_unit_test(test_lost_datagrams),
		cmocka_unit_test(test_cookie_exchange),
		cmocka_unit_test(test_close_notify),
		cmocka_unit_test(test_set_peer),
		cmocka_unit_test(test_handshake_timeout),
		cmocka_unit_test(test_handshake_mtu),
		cmocka_unit_test(test_application_data_ignored),
		cmocka_unit_test(test_short_records_ignored),
		cmocka_unit_test(test_hold_last_flight),
		cmocka_unit_test(test_rekey),
		cmocka_unit_test(test_rekey_timeout),
		cmocka_unit_test(test_rekey_after_reload),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_pki_ip6),
		cmocka_unit_test(test_vpn_ip6),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_recheck),
		cmocka_unit_test(test_recheck_expiry),
	};

	cpg_log_init("test_dtls", LOG_INFO, false);
	return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
