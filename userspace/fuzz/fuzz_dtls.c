// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * A DTLS session (dtls.c) fed the datagrams of whoever sends from its
 * peer's endpoint, which UDP does not authenticate: the walk over the
 * records of each datagram, the records dropped before OpenSSL sees them,
 * OpenSSL's handshake as the daemon configures it, the verify callback on
 * the peer's certificate chain, the failures and their reasons. We are
 * alice (10.0.0.1) of fuzz_pki.h; the seeds replay what carol (10.0.0.3)
 * sent in a real handshake.
 *
 * Input:
 *   1 byte: bit 0, we are the DTLS server (else the client); bit 1, the
 *     RDV announced 10.0.0.9 (else 10.0.0.3, whom carol's certificate
 *     names); bit 2, hold the last flight (as the daemon does for the
 *     kernel data plane);
 *   then datagrams from the peer, each a 2-byte length (network order)
 *   and that many bytes, fed until the session fails or the input ends.
 *
 * Checks: the session never gets established (that takes the peer's
 * private key, or our cookie secret and then its key: the fuzzer has
 * neither, so an established session is an authentication bypass) and
 * never yields keys; a failed session says why and stays failed.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "dtls.h"
#include "fuzz.h"
#include "fuzz_pki.h"

#define OPT_SERVER 0x1
#define OPT_OTHER_IP 0x2
#define OPT_HOLD 0x4

static char dir[] = "/tmp/cpg-fuzz-dtls.XXXXXX";
static char ca_path[64], cert_path[64], key_path[64];
static struct cpg_dtls_ctx *ctx;
static size_t sent;		/* datagrams the session sent */

static void fail(const char *what) __attribute__((noreturn));
static void fail(const char *what)
{
	fprintf(stderr, "fuzz_dtls: %s\n", what);
	abort();
}

static void write_file(char *path, size_t len, const char *name, const char *text)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) == EOF || fclose(f) || chmod(path, 0600)) {
		perror(path);
		exit(1);
	}
}

static void cleanup(void)
{
	cpg_dtls_ctx_put(ctx);
	unlink(ca_path);
	unlink(cert_path);
	unlink(key_path);
	rmdir(dir);
}

/* The context as the daemon builds it from campagnol.conf. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cpg_config cfg;

	fuzz_quiet_logs();
	if (!mkdtemp(dir)) {
		perror("fuzz_dtls: mkdtemp");
		exit(1);
	}
	write_file(ca_path, sizeof(ca_path), "ca.pem", fuzz_ca_pem);
	write_file(cert_path, sizeof(cert_path), "cert.pem", fuzz_alice_cert_pem);
	write_file(key_path, sizeof(key_path), "key.pem", fuzz_alice_key_pem);
	memset(&cfg, 0, sizeof(cfg));
	cfg.certificate = cert_path;
	cfg.key = key_path;
	cfg.ca_certificates = ca_path;
	cfg.verify_depth = 9;
	cfg.tun_mtu = 1419;
	inet_pton(AF_INET, "10.0.0.1", &cfg.vpn_ip);
	ctx = cpg_dtls_ctx_new(&cfg);
	atexit(cleanup);
	if (!ctx)
		fail("cannot build the DTLS context");
	return 0;
}

static void count_sent(void *arg, const union cpg_sockaddr *to, const uint8_t *dgram,
		       size_t len)
{
	sent++;
}

/* What must hold in any state the peer's datagrams lead to. */
static void check(struct cpg_dtls_session *s, enum cpg_dtls_state st, enum cpg_dtls_state before)
{
	struct cpg_keys keys;

	if (st != cpg_dtls_session_state(s))
		fail("the returned state is not the session's");
	if (st == CPG_DTLS_ESTABLISHED || cpg_dtls_session_take_keys(s, &keys) == 0)
		fail("established with a peer that has no key");
	if ((before == CPG_DTLS_FAILED || before == CPG_DTLS_CLOSED) && st != before)
		fail("a finished session changed state");
	if (st == CPG_DTLS_FAILED &&
	    (cpg_dtls_session_failure(s) == CPG_DTLS_FAIL_NONE || !*cpg_dtls_session_reason(s)))
		fail("a failure without a reason");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { .data = data, .size = size };
	union cpg_sockaddr peer;
	struct cpg_dtls_session *s;
	enum cpg_dtls_state st;
	struct in_addr ip;
	uint8_t opts = fuzz_take_u8(&in);

	memset(&peer, 0, sizeof(peer));
	peer.in.sin_family = AF_INET;
	peer.in.sin_port = htons(4003);
	peer.in.sin_addr.s_addr = htonl(0xc0000203);	/* 192.0.2.3 */
	ip.s_addr = htonl(opts & OPT_OTHER_IP ? 0x0a000009 : 0x0a000003);
	s = cpg_dtls_session_new(ctx, opts & OPT_SERVER ? CPG_DTLS_SERVER : CPG_DTLS_CLIENT, &peer,
				 ip, count_sent, NULL);
	if (!s)
		fail("cannot make a session");
	if (opts & OPT_HOLD)
		cpg_dtls_session_hold_last_flight(s);
	st = cpg_dtls_session_start(s);
	check(s, st, CPG_DTLS_HANDSHAKING);
	while (in.size && st == CPG_DTLS_HANDSHAKING) {
		size_t len;
		const uint8_t *dgram = fuzz_take_bytes(&in, fuzz_take_u16(&in), &len);
		enum cpg_dtls_state before = st;

		st = cpg_dtls_session_input(s, dgram, len);
		check(s, st, before);
		cpg_dtls_session_timeout_ms(s);
	}
	/* Once failed, more datagrams change nothing. */
	if (st == CPG_DTLS_FAILED)
		check(s, cpg_dtls_session_input(s, data, size), st);
	cpg_dtls_session_release(s);
	cpg_dtls_session_close(s);
	cpg_dtls_session_free(s);
	return 0;
}
