/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The authenticating RDV (docs/protocol.md section 12), end to end in
 * memory: clients with campagnol-pki certificates handshake with
 * rdv_server, then talk to it over channels. Who may register what, what
 * a stranger gets, and that nothing answers a stranger with more bytes
 * than it sent.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "chan.h"
#include "dtls.h"
#include "log.h"
#include "proto.h"
#include "server.h"

#define MAX_OUT 4096
#define DGRAM_MAX 2048
#define PATH_LEN 256
#define RDV_IP "10.0.0.254"
#define PKI_TOOL CPG_SOURCE_DIR "/tools/campagnol-pki"
/* eve's certificate expires this long after the PKI is made. */
#define SHORT_LIVED_S 12
#define PROBE_PORT 57889

static char pki[64];

/* What the RDV sent, in order. */
static struct sent {
	union cpg_sockaddr to;
	uint8_t data[DGRAM_MAX];
	size_t len;
} out[MAX_OUT];
static size_t n_out, n_taken;

static void rdv_send(void *arg, unsigned int sock, const union cpg_sockaddr *to,
		     const uint8_t *buf, size_t len)
{
	(void)arg;
	(void)sock;
	assert_true(len <= DGRAM_MAX);
	if (n_out == MAX_OUT)
		return;
	out[n_out].to = *to;
	memcpy(out[n_out].data, buf, len);
	out[n_out++].len = len;
}

/* What the RDV sent from its probe port: plaintext, apart from the rest. */
static struct sent probe_out[16];
static size_t n_probe_out;

static void rdv_send_probe(void *arg, unsigned int sock, const union cpg_sockaddr *to,
			   const uint8_t *buf, size_t len)
{
	(void)arg;
	(void)sock;
	assert_true(len <= DGRAM_MAX && n_probe_out < 16);
	probe_out[n_probe_out].to = *to;
	memcpy(probe_out[n_probe_out].data, buf, len);
	probe_out[n_probe_out++].len = len;
}

/* A client: its endpoint, its DTLS session with the RDV, then its channel. */
struct client {
	union cpg_sockaddr ep;
	struct cpg_dtls_ctx *ctx;
	struct cpg_dtls_session *s;
	uint8_t sent[16][DGRAM_MAX];
	size_t sent_len[16], n_sent;
	struct cpg_chan chan;
	bool keyed;
};

struct fx {
	struct rdv_server *rdv;
	union cpg_sockaddr rdv_ep;
	uint64_t now;
};

static void path(char *buf, const char *rel)
{
	snprintf(buf, PATH_LEN, "%s/%s", pki, rel);
}

static int pki_setup(void **state)
{
	char tmpl[] = "/tmp/cpg-test-auth-XXXXXX", cmd[2048];

	(void)state;
	if (!mkdtemp(tmpl))
		return -1;
	snprintf(pki, sizeof(pki), "%s", tmpl);
	/* rdv: the RDV's (an address of its own); carol: revoked; mallory: an
	 * untrusted CA's, for alice's address; eve: short-lived; frank: revoked
	 * while registered (test_reload). */
	snprintf(cmd, sizeof(cmd),
		 "set -e; P='%s'; cd '%s'; exec >/dev/null\n"
		 "$P init ca; $P init other 'Other CA'\n"
		 "$P issue ca rdv " RDV_IP "\n"
		 "$P issue ca alice 10.0.0.1; $P issue ca bob 10.0.0.2; $P issue ca frank 10.0.0.6\n"
		 "$P issue ca carol 10.0.0.3; $P issue --ip6 fd00::4 ca dan 10.0.0.4\n"
		 "$P issue other mallory 10.0.0.1\n"
		 "cp ca/carol.crt ca/carol.key .; $P revoke ca carol\n"
		 "$P issue --end-date $(date -u -d '+%d seconds' +%%Y%%m%%d%%H%%M%%SZ) ca eve 10.0.0.5\n",
		 PKI_TOOL, pki, SHORT_LIVED_S);
	return system(cmd) ? -1 : 0;
}

static int pki_teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki);
	return system(cmd) ? -1 : 0;
}

static void endpoint(union cpg_sockaddr *ep, const char *ip, uint16_t port)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, ip, &a), 1);
	cpg_sockaddr_set_in(ep, a, port);
}

/* The RDV with 4 handshakes at most, per_host from one address. */
static int setup_with(void **state, unsigned int per_host)
{
	struct fx *f = calloc(1, sizeof(*f));
	char cert[PATH_LEN], key[PATH_LEN], ca[PATH_LEN], crl[PATH_LEN];
	struct rdv_auth_config auth = {
		.certificate = cert, .key = key, .ca_file = ca, .crl_file = crl,
		.max_handshakes = 4, .max_handshakes_per_host = per_host,
	};
	struct rdv_config cfg = {
		.max_clients = 100, .send = rdv_send, .auth = &auth,
		.send_probe = rdv_send_probe, .probe_port = { PROBE_PORT },
	};

	assert_non_null(f);
	path(cert, "ca/rdv.crt");
	path(key, "ca/rdv.key");
	path(ca, "ca/ca.crt");
	path(crl, "ca/crl.pem");
	f->rdv = rdv_server_new(&cfg);
	assert_non_null(f->rdv);
	endpoint(&f->rdv_ep, "192.0.2.254", 57888);
	f->now = 1000;
	n_out = n_taken = n_probe_out = 0;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, 4);
}

static int setup_two_per_host(void **state)
{
	return setup_with(state, 2);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	rdv_server_free(f->rdv);
	free(f);
	return 0;
}

static void client_send(void *arg, const union cpg_sockaddr *to, const uint8_t *d, size_t len)
{
	struct client *c = arg;

	(void)to;
	assert_true(c->n_sent < 16 && len <= DGRAM_MAX);
	memcpy(c->sent[c->n_sent], d, len);
	c->sent_len[c->n_sent++] = len;
}

/* The client "ca/alice" (its files), at ip:port, for the RDV at f. */
static void client_init(struct fx *f, struct client *c, const char *base, const char *vpn_ip,
			const char *ip, uint16_t port)
{
	struct cpg_config cfg;
	char cert[PATH_LEN], key[PATH_LEN], ca[PATH_LEN], rel[64];
	struct in_addr any = { .s_addr = INADDR_ANY };

	memset(c, 0, sizeof(*c));
	memset(&cfg, 0, sizeof(cfg));
	snprintf(rel, sizeof(rel), "%s.crt", base);
	path(cert, rel);
	snprintf(rel, sizeof(rel), "%s.key", base);
	path(key, rel);
	path(ca, "ca/ca.crt");
	cfg.certificate = cert;
	cfg.key = key;
	cfg.ca_certificates = ca;
	cfg.verify_depth = 9;
	cfg.tun_mtu = 1419;
	assert_int_equal(inet_pton(AF_INET, vpn_ip, &cfg.vpn_ip), 1);
	c->ctx = cpg_dtls_ctx_new(&cfg);
	assert_non_null(c->ctx);
	endpoint(&c->ep, ip, port);
	c->s = cpg_dtls_session_new(c->ctx, CPG_DTLS_CLIENT, &f->rdv_ep, any, client_send, c);
	assert_non_null(c->s);
	assert_int_equal(cpg_dtls_session_expect_name(c->s, RDV_IP), 0);
}

static void client_free(struct client *c)
{
	cpg_dtls_session_free(c->s);
	cpg_dtls_ctx_put(c->ctx);
	cpg_chan_wipe(&c->chan);
}

/* One datagram from ep to the RDV. */
static void to_rdv(struct fx *f, const union cpg_sockaddr *ep, const uint8_t *d, size_t len)
{
	rdv_server_input(f->rdv, 0, d, len, ep, f->now);
}

/* The handshake, both ways until nothing moves; true once keyed. */
static bool handshake(struct fx *f, struct client *c)
{
	struct cpg_keys keys;
	size_t i = 0;
	bool moved = true;

	cpg_dtls_session_start(c->s);
	while (moved) {
		moved = false;
		for (; i < c->n_sent; i++, moved = true)
			to_rdv(f, &c->ep, c->sent[i], c->sent_len[i]);
		for (; n_taken < n_out; n_taken++, moved = true)
			if (cpg_sockaddr_equal(&out[n_taken].to, &c->ep))
				cpg_dtls_session_input(c->s, out[n_taken].data, out[n_taken].len);
	}
	if (cpg_dtls_session_state(c->s) != CPG_DTLS_ESTABLISHED)
		return false;
	assert_int_equal(cpg_dtls_session_take_keys(c->s, &keys), 0);
	cpg_chan_init(&c->chan, &keys);
	cpg_keys_wipe(&keys);
	c->keyed = true;
	return true;
}

/* m, sealed by c, to the RDV. */
static void send_sealed(struct fx *f, struct client *c, const struct cpg_msg *m)
{
	uint8_t plain[CPG_PROTO_MAX_MSG], rec[DGRAM_MAX];
	int len = cpg_msg_encode(m, plain, sizeof(plain));
	size_t rec_len;

	assert_true(len > 0);
	assert_int_equal(cpg_chan_seal(&c->chan, plain, (size_t)len, rec, sizeof(rec), &rec_len),
			 0);
	to_rdv(f, &c->ep, rec, rec_len);
}

/* The next message the RDV sent to c, opened; false if none. */
static bool recv_sealed(struct client *c, struct cpg_msg *m)
{
	for (; n_taken < n_out; n_taken++) {
		uint8_t *plain;
		size_t len;

		if (!cpg_sockaddr_equal(&out[n_taken].to, &c->ep))
			continue;
		assert_int_equal(cpg_chan_open(&c->chan, out[n_taken].data, out[n_taken].len,
					       &plain, &len),
				 0);
		assert_int_equal(cpg_msg_decode(m, plain, len), CPG_DECODE_OK);
		n_taken++;
		return true;
	}
	return false;
}

static void hello(struct fx *f, struct client *c, const char *vpn_ip, struct cpg_msg *answer)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_HELLO, 7);
	m.present = CPG_HAS(CPG_ATTR_VPN_IP);
	assert_int_equal(inet_pton(AF_INET, vpn_ip, &m.vpn_ip), 1);
	send_sealed(f, c, &m);
	assert_true(recv_sealed(c, answer));
}

static struct in_addr ip4(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

/* A member registers what its certificate names, and nothing else. */
static void test_register(void **state)
{
	struct fx *f = *state;
	struct client alice;
	struct rdv_client_info info;
	struct cpg_msg m;

	client_init(f, &alice, "ca/alice", "10.0.0.1", "198.51.100.1", 4001);
	assert_true(handshake(f, &alice));
	assert_int_equal(rdv_server_auth_stats(f->rdv)->authenticated, 1);
	hello(f, &alice, "10.0.0.2", &m);
	assert_int_equal(m.type, CPG_MSG_NOK);
	assert_int_equal(m.reason, CPG_REASON_NOT_YOURS);
	assert_false(rdv_server_client(f->rdv, ip4("10.0.0.2"), f->now, &info));
	hello(f, &alice, "10.0.0.1", &m);
	/* A probe would come first from the probe port; there is none here. */
	assert_int_equal(m.type, CPG_MSG_OK);
	assert_true(rdv_server_client(f->rdv, ip4("10.0.0.1"), f->now, &info));
	assert_true(cpg_sockaddr_equal(&info.endpoint, &alice.ep));
	client_free(&alice);
}

/*
 * A stranger: a plaintext HELLO gets a NOK no larger than itself, plaintext
 * messages from a member's endpoint change nothing, a record from an
 * endpoint without a channel gets an 8-byte RECONNECT.
 */
static void test_stranger(void **state)
{
	struct fx *f = *state;
	struct client alice;
	struct rdv_client_info info;
	union cpg_sockaddr mallory;
	uint8_t buf[CPG_PROTO_MAX_MSG], junk[64];
	struct cpg_msg m;
	int len;

	client_init(f, &alice, "ca/alice", "10.0.0.1", "198.51.100.1", 4001);
	assert_true(handshake(f, &alice));
	hello(f, &alice, "10.0.0.1", &m);
	assert_int_equal(m.type, CPG_MSG_OK);

	endpoint(&mallory, "203.0.113.66", 666);
	cpg_msg_init(&m, CPG_MSG_HELLO, 1);
	m.present = CPG_HAS(CPG_ATTR_VPN_IP);
	m.vpn_ip = ip4("10.0.0.1");
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	n_taken = n_out;
	to_rdv(f, &mallory, buf, (size_t)len);
	assert_int_equal(n_out, n_taken + 1);
	assert_true(out[n_taken].len <= (size_t)len);
	assert_int_equal(cpg_msg_decode(&m, out[n_taken].data, out[n_taken].len), CPG_DECODE_OK);
	assert_int_equal(m.reason, CPG_REASON_AUTH_REQUIRED);
	n_taken = n_out;

	/* Spoofed plaintext from alice's endpoint: no answer, nothing moves. */
	static const uint8_t types[] = { CPG_MSG_BYE, CPG_MSG_PING, CPG_MSG_HELLO };
	for (size_t i = 0; i < sizeof(types); i++) {
		cpg_msg_init(&m, types[i], 2);
		if (types[i] == CPG_MSG_HELLO) {
			m.present = CPG_HAS(CPG_ATTR_VPN_IP);
			m.vpn_ip = ip4("10.0.0.1");
		}
		len = cpg_msg_encode(&m, buf, sizeof(buf));
		to_rdv(f, &alice.ep, buf, (size_t)len);
	}
	assert_true(rdv_server_client(f->rdv, ip4("10.0.0.1"), f->now, &info));
	assert_true(cpg_sockaddr_equal(&info.endpoint, &alice.ep));

	/* An application_data record from nowhere known. */
	memset(junk, 0xab, sizeof(junk));
	junk[0] = 23;
	junk[1] = 0xfe;
	junk[2] = 0xfd;
	junk[11] = 0;
	junk[12] = sizeof(junk) - 13;
	n_taken = n_out;
	to_rdv(f, &mallory, junk, sizeof(junk));
	assert_int_equal(n_out, n_taken + 1);
	assert_int_equal(out[n_taken].len, CPG_PROTO_HDR_LEN);
	assert_int_equal(cpg_msg_decode(&m, out[n_taken].data, out[n_taken].len), CPG_DECODE_OK);
	assert_int_equal(m.type, CPG_MSG_RECONNECT);
	/* The same from alice's endpoint, forged: dropped, unanswered. */
	n_taken = n_out;
	to_rdv(f, &alice.ep, junk, sizeof(junk));
	assert_int_equal(n_out, n_taken);
	assert_int_equal(rdv_server_auth_stats(f->rdv)->bad_records, 1);
	client_free(&alice);
}

/*
 * Learning a member's endpoint takes being a registered member: an ASK over
 * the channel of a member not registered gets a RECONNECT, a plaintext ASK
 * or CLOSE nothing, wherever it comes from.
 */
static void test_ask(void **state)
{
	struct fx *f = *state;
	struct client alice, bob, dan;
	uint8_t buf[CPG_PROTO_MAX_MSG];
	struct cpg_msg m;
	size_t mark;
	int len;

	client_init(f, &alice, "ca/alice", "10.0.0.1", "198.51.100.1", 4001);
	client_init(f, &bob, "ca/bob", "10.0.0.2", "198.51.100.2", 4002);
	client_init(f, &dan, "ca/dan", "10.0.0.4", "198.51.100.4", 4004);
	assert_true(handshake(f, &alice) && handshake(f, &bob) && handshake(f, &dan));
	hello(f, &alice, "10.0.0.1", &m);
	hello(f, &bob, "10.0.0.2", &m);

	/* dan authenticated but never registered. */
	cpg_msg_init(&m, CPG_MSG_ASK, 9);
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP);
	m.peer_vpn_ip = ip4("10.0.0.1");
	send_sealed(f, &dan, &m);
	assert_true(recv_sealed(&dan, &m));
	assert_int_equal(m.type, CPG_MSG_RECONNECT);
	assert_false(recv_sealed(&alice, &m));

	/* In plaintext, from anywhere: nothing, and no FWD to alice. */
	cpg_msg_init(&m, CPG_MSG_ASK, 10);
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP);
	m.peer_vpn_ip = ip4("10.0.0.1");
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	len = cpg_msg_pad(buf, (size_t)len, sizeof(buf), cpg_msg_request_len(CPG_MSG_ASK));
	n_taken = n_out;
	to_rdv(f, &bob.ep, buf, (size_t)len);
	to_rdv(f, &dan.ep, buf, (size_t)len);
	assert_int_equal(n_out, n_taken);

	/* bob asks over his channel: his ANS, alice's FWD, both sealed. */
	cpg_msg_init(&m, CPG_MSG_ASK, 11);
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP);
	m.peer_vpn_ip = ip4("10.0.0.1");
	mark = n_taken = n_out;
	send_sealed(f, &bob, &m);
	assert_true(recv_sealed(&bob, &m));
	assert_int_equal(m.type, CPG_MSG_ANS);
	n_taken = mark;
	assert_true(recv_sealed(&alice, &m));
	assert_int_equal(m.type, CPG_MSG_FWD);
	assert_true(cpg_sockaddr_equal(&m.peer_ep, &bob.ep));

	/* A plaintext CLOSE of that session from bob's endpoint: nothing. */
	cpg_msg_init(&m, CPG_MSG_CLOSE, 12);
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP);
	m.peer_vpn_ip = ip4("10.0.0.1");
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	n_taken = n_out;
	to_rdv(f, &bob.ep, buf, (size_t)len);
	assert_int_equal(n_out, n_taken);
	assert_int_equal(rdv_server_stats(f->rdv)->sessions, 1);
	client_free(&alice);
	client_free(&bob);
	client_free(&dan);
}

/* A registration ends when its certificate expires, and its channel. */
static void test_expiry(void **state)
{
	struct fx *f = *state;
	struct rdv_client_info info;
	struct client alice, eve;
	struct cpg_msg m;

	client_init(f, &alice, "ca/alice", "10.0.0.1", "198.51.100.1", 4001);
	client_init(f, &eve, "ca/eve", "10.0.0.5", "198.51.100.5", 4005);
	assert_true(handshake(f, &alice) && handshake(f, &eve));
	hello(f, &alice, "10.0.0.1", &m);
	hello(f, &eve, "10.0.0.5", &m);
	assert_int_equal(m.type, CPG_MSG_OK);
	rdv_server_expire(f->rdv, f->now);
	assert_true(rdv_server_client(f->rdv, ip4("10.0.0.5"), f->now, &info));
	/* Past eve's notAfter (made at the PKI's setup), on the wall clock;
	 * the RDV's own clock stands still, or silence would purge eve. */
	for (int s = 0; rdv_server_auth_stats(f->rdv)->expired == 0; s++) {
		assert_true(s < SHORT_LIVED_S + 5);
		sleep(1);
		rdv_server_expire(f->rdv, f->now);
	}
	assert_false(rdv_server_client(f->rdv, ip4("10.0.0.5"), f->now, &info));
	assert_true(rdv_server_client(f->rdv, ip4("10.0.0.1"), f->now, &info));
	assert_int_equal(rdv_server_auth_stats(f->rdv)->channels, 1);
	client_free(&alice);
	client_free(&eve);
}

/* Certificates the RDV refuses: revoked, another CA's. No channel, nothing registered. */
static void test_refused(void **state)
{
	struct fx *f = *state;
	struct client carol, mallory;
	struct rdv_client_info info;

	client_init(f, &carol, "carol", "10.0.0.3", "198.51.100.3", 4003);
	assert_false(handshake(f, &carol));
	client_init(f, &mallory, "other/mallory", "10.0.0.1", "198.51.100.6", 4006);
	/* mallory trusts our CA, so only the RDV refuses her. */
	assert_false(handshake(f, &mallory));
	assert_int_equal(rdv_server_auth_stats(f->rdv)->failed, 2);
	assert_int_equal(rdv_server_auth_stats(f->rdv)->channels, 0);
	assert_false(rdv_server_client(f->rdv, ip4("10.0.0.3"), f->now, &info));
	client_free(&carol);
	client_free(&mallory);
}

/*
 * The holder takes its VPN IP back from wherever it is, at once; another
 * member cannot take it, live or timed out.
 */
static void test_takeover(void **state)
{
	struct fx *f = *state;
	struct client alice, alice2, bob;
	struct rdv_client_info info;
	struct cpg_msg m;

	client_init(f, &alice, "ca/alice", "10.0.0.1", "198.51.100.1", 4001);
	client_init(f, &bob, "ca/bob", "10.0.0.2", "198.51.100.2", 4002);
	assert_true(handshake(f, &alice));
	assert_true(handshake(f, &bob));
	hello(f, &alice, "10.0.0.1", &m);
	assert_int_equal(m.type, CPG_MSG_OK);
	hello(f, &bob, "10.0.0.1", &m);
	assert_int_equal(m.reason, CPG_REASON_NOT_YOURS);
	f->now += 60000;	/* alice timed out */
	hello(f, &bob, "10.0.0.1", &m);
	assert_int_equal(m.reason, CPG_REASON_NOT_YOURS);
	/* alice, moved: a new endpoint, a new handshake, her VPN IP at once. */
	client_init(f, &alice2, "ca/alice", "10.0.0.1", "198.51.100.11", 5001);
	assert_true(handshake(f, &alice2));
	hello(f, &alice2, "10.0.0.1", &m);
	assert_int_equal(m.type, CPG_MSG_OK);
	assert_true(rdv_server_client(f->rdv, ip4("10.0.0.1"), f->now, &info));
	assert_true(cpg_sockaddr_equal(&info.endpoint, &alice2.ep));
	/* Her old channel went with her old endpoint. */
	assert_int_equal(rdv_server_auth_stats(f->rdv)->channels, 2);
	client_free(&alice);
	client_free(&alice2);
	client_free(&bob);
}

/*
 * Another certificate's handshake from a registered member's endpoint (a
 * NAT's mapping given to another machine, a daemon restarted with another
 * certificate): the registration was the first certificate's, and ends
 * with its channel; the newcomer handshakes again and registers its own.
 * The same certificate handshaking again keeps it (found by the fuzz
 * harness rdv_auth: bob's keys then held alice's registration).
 */
static void test_same_endpoint(void **state)
{
	struct fx *f = *state;
	struct client alice, alice2, bob, bob2;
	struct rdv_client_info info;
	struct cpg_msg m;

	client_init(f, &alice, "ca/alice", "10.0.0.1", "198.51.100.1", 4001);
	assert_true(handshake(f, &alice));
	hello(f, &alice, "10.0.0.1", &m);
	assert_int_equal(m.type, CPG_MSG_OK);
	client_init(f, &alice2, "ca/alice", "10.0.0.1", "198.51.100.1", 4001);
	assert_true(handshake(f, &alice2));
	assert_true(rdv_server_client(f->rdv, ip4("10.0.0.1"), f->now, &info));
	cpg_msg_init(&m, CPG_MSG_PING, 3);
	send_sealed(f, &alice2, &m);
	assert_true(recv_sealed(&alice2, &m));
	assert_int_equal(m.type, CPG_MSG_PONG);

	client_init(f, &bob, "ca/bob", "10.0.0.2", "198.51.100.1", 4001);
	assert_true(handshake(f, &bob));
	assert_false(rdv_server_client(f->rdv, ip4("10.0.0.1"), f->now, &info));
	assert_int_equal(rdv_server_stats(f->rdv)->clients, 0);
	/* bob's keys open nothing at the RDV: a plaintext RECONNECT. */
	n_taken = n_out;
	cpg_msg_init(&m, CPG_MSG_PING, 4);
	send_sealed(f, &bob, &m);
	assert_int_equal(n_out, n_taken + 1);
	assert_int_equal(cpg_msg_decode(&m, out[n_taken].data, out[n_taken].len), CPG_DECODE_OK);
	assert_int_equal(m.type, CPG_MSG_RECONNECT);
	n_taken = n_out;
	client_init(f, &bob2, "ca/bob", "10.0.0.2", "198.51.100.1", 4001);
	assert_true(handshake(f, &bob2));
	hello(f, &bob2, "10.0.0.2", &m);
	assert_int_equal(m.type, CPG_MSG_OK);
	hello(f, &bob2, "10.0.0.1", &m);
	assert_int_equal(m.reason, CPG_REASON_NOT_YOURS);
	client_free(&alice);
	client_free(&alice2);
	client_free(&bob);
	client_free(&bob2);
}

/* A PROBE from ep to the probe port, with the secret token if not NULL,
 * padded as a client pads it; what the RDV answered, if anything. */
static bool probe(struct fx *f, const union cpg_sockaddr *ep, const uint8_t *token,
		  struct cpg_msg *answer)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	size_t before = n_probe_out;
	struct cpg_msg m;
	int len;

	cpg_msg_init(&m, CPG_MSG_PROBE, 9);
	m.present = CPG_HAS(CPG_ATTR_VPN_IP);
	m.vpn_ip = ip4("10.0.0.1");
	if (token) {
		m.present |= CPG_HAS(CPG_ATTR_REG_TOKEN);
		memcpy(m.reg_token, token, sizeof(m.reg_token));
	}
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	assert_true(len > 0);
	len = cpg_msg_pad(buf, (size_t)len, sizeof(buf), cpg_msg_request_len(CPG_MSG_PROBE));
	assert_true(len > 0);
	rdv_server_input_probe(f->rdv, 0, buf, (size_t)len, ep, f->now);
	if (n_probe_out == before)
		return false;
	assert_int_equal(n_probe_out, before + 1);
	assert_true(cpg_sockaddr_equal(&probe_out[before].to, ep));
	assert_true(probe_out[before].len <= (size_t)len);
	assert_int_equal(cpg_msg_decode(answer, probe_out[before].data, probe_out[before].len),
			 CPG_DECODE_OK);
	return true;
}

/*
 * NAT probing stays in plaintext, at the probe port: only the holder of
 * the registration's secret, given in the sealed OK, gets its type probed,
 * and the answer carries the secret back.
 */
static void test_probe(void **state)
{
	struct fx *f = *state;
	uint8_t wrong[CPG_TOKEN_LEN] = { 0 };
	union cpg_sockaddr mapped;
	struct client alice;
	struct cpg_msg ok, ans;

	client_init(f, &alice, "ca/alice", "10.0.0.1", "198.51.100.1", 4001);
	assert_true(handshake(f, &alice));
	hello(f, &alice, "10.0.0.1", &ok);
	assert_int_equal(ok.type, CPG_MSG_OK);
	assert_int_equal(ok.probe_port, PROBE_PORT);
	assert_true(ok.present & CPG_HAS(CPG_ATTR_REG_TOKEN));
	/* The unasked PROBE went first, in plaintext. */
	assert_int_equal(n_probe_out, 1);
	n_probe_out = 0;
	/* From alice's host, another port: what a symmetric NAT would show. */
	endpoint(&mapped, "198.51.100.1", 4999);
	assert_false(probe(f, &mapped, NULL, &ans));
	wrong[0] = (uint8_t)~ok.reg_token[0];
	assert_false(probe(f, &mapped, wrong, &ans));
	assert_int_equal(rdv_server_stats(f->rdv)->probes_dropped, 2);
	assert_true(probe(f, &mapped, ok.reg_token, &ans));
	assert_int_equal(ans.type, CPG_MSG_PROBE_ANS);
	assert_int_equal(ans.nat_type, CPG_NAT_SYMMETRIC);
	assert_true(cpg_sockaddr_equal(&ans.public_ep, &mapped));
	assert_true(ans.present & CPG_HAS(CPG_ATTR_REG_TOKEN));
	assert_memory_equal(ans.reg_token, ok.reg_token, CPG_TOKEN_LEN);
	client_free(&alice);
}

/*
 * ClientHellos without a cookie, from a thousand endpoints: each gets a
 * smaller HelloVerifyRequest, and the RDV keeps nothing. With valid
 * cookies, no more than max_handshakes run at once.
 */
static void test_hello_flood(void **state)
{
	struct fx *f = *state;
	struct client c[6];
	size_t handshaking;

	for (int i = 0; i < 1000; i++) {
		struct client x;

		client_init(f, &x, "ca/alice", "10.0.0.1", "198.51.100.200", (uint16_t)(10000 + i));
		cpg_dtls_session_start(x.s);
		n_taken = n_out;
		to_rdv(f, &x.ep, x.sent[0], x.sent_len[0]);
		assert_int_equal(n_out, n_taken + 1);
		assert_true(out[n_taken].len < x.sent_len[0]);
		client_free(&x);
		n_out = n_taken = 0;
	}
	assert_int_equal(rdv_server_auth_stats(f->rdv)->handshaking, 0);
	assert_int_equal(rdv_server_auth_stats(f->rdv)->channels, 0);
	/* Cookie-verified ClientHellos, never finished: 4 at most. */
	for (int i = 0; i < 6; i++) {
		client_init(f, &c[i], "ca/alice", "10.0.0.1", "198.51.100.7", (uint16_t)(7000 + i));
		cpg_dtls_session_start(c[i].s);
		to_rdv(f, &c[i].ep, c[i].sent[0], c[i].sent_len[0]);
		cpg_dtls_session_input(c[i].s, out[n_out - 1].data, out[n_out - 1].len);
		to_rdv(f, &c[i].ep, c[i].sent[1], c[i].sent_len[1]);
	}
	handshaking = rdv_server_auth_stats(f->rdv)->handshaking;
	assert_int_equal(handshaking, 4);
	assert_int_equal(rdv_server_auth_stats(f->rdv)->busy, 2);
	for (int i = 0; i < 6; i++)
		client_free(&c[i]);
}

/* A shell command in the PKI's directory, campagnol-pki as $P; true if it worked. */
static bool in_pki(const char *sh)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cd '%s' && P='%s' && { %s; } >/dev/null", pki, PKI_TOOL, sh);
	return system(cmd) == 0;
}

/*
 * A reload (SIGHUP) ends the registration of a client whose certificate a
 * new CRL revokes, and only that one; the revoked client cannot come back.
 * A CRL that does not load leaves the credentials in use.
 */
static void test_reload(void **state)
{
	struct fx *f = *state;
	struct client alice, frank, frank2;
	struct rdv_client_info info;
	struct cpg_msg m;

	client_init(f, &alice, "ca/alice", "10.0.0.1", "198.51.100.1", 4001);
	client_init(f, &frank, "ca/frank", "10.0.0.6", "198.51.100.6", 4006);
	assert_true(handshake(f, &alice) && handshake(f, &frank));
	hello(f, &alice, "10.0.0.1", &m);
	hello(f, &frank, "10.0.0.6", &m);
	assert_int_equal(m.type, CPG_MSG_OK);
	/* Nothing changed: nobody ends. */
	assert_int_equal(rdv_server_reload(f->rdv), 0);
	assert_true(in_pki("cp ca/frank.crt ca/frank.key . && $P revoke ca frank"));
	/* A CRL that is not one: refused, and the one in use stays. */
	assert_true(in_pki("mv ca/crl.pem ca/crl.good && echo junk >ca/crl.pem"));
	assert_int_equal(rdv_server_reload(f->rdv), -1);
	assert_true(rdv_server_client(f->rdv, ip4("10.0.0.6"), f->now, &info));
	assert_true(in_pki("mv ca/crl.good ca/crl.pem"));

	assert_int_equal(rdv_server_reload(f->rdv), 1);
	assert_int_equal(rdv_server_auth_stats(f->rdv)->revoked, 1);
	assert_false(rdv_server_client(f->rdv, ip4("10.0.0.6"), f->now, &info));
	assert_true(rdv_server_client(f->rdv, ip4("10.0.0.1"), f->now, &info));
	assert_int_equal(rdv_server_auth_stats(f->rdv)->channels, 1);
	/* alice's channel still carries her messages. */
	hello(f, &alice, "10.0.0.1", &m);
	assert_int_equal(m.type, CPG_MSG_OK);
	/* frank, back with his revoked certificate: refused at the handshake. */
	client_init(f, &frank2, "frank", "10.0.0.6", "198.51.100.6", 4007);
	assert_false(handshake(f, &frank2));
	client_free(&alice);
	client_free(&frank);
	client_free(&frank2);
}

/* A ClientHello of c with its cookie, the handshake started and left. */
static void half_handshake(struct fx *f, struct client *c)
{
	cpg_dtls_session_start(c->s);
	to_rdv(f, &c->ep, c->sent[0], c->sent_len[0]);
	cpg_dtls_session_input(c->s, out[n_out - 1].data, out[n_out - 1].len);
	to_rdv(f, &c->ep, c->sent[1], c->sent_len[1]);
}

/* One address takes two handshakes at most (max_handshakes_per_host 2),
 * and leaves the others to other hosts. */
static void test_host_limit(void **state)
{
	struct fx *f = *state;
	struct client c[4], other;

	for (int i = 0; i < 4; i++) {
		client_init(f, &c[i], "ca/alice", "10.0.0.1", "198.51.100.7", (uint16_t)(7000 + i));
		half_handshake(f, &c[i]);
	}
	assert_int_equal(rdv_server_auth_stats(f->rdv)->handshaking, 2);
	assert_int_equal(rdv_server_auth_stats(f->rdv)->busy_host, 2);
	client_init(f, &other, "ca/bob", "10.0.0.2", "198.51.100.8", 7000);
	assert_true(handshake(f, &other));
	for (int i = 0; i < 4; i++)
		client_free(&c[i]);
	client_free(&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stranger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_takeover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_endpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_limit, setup_two_per_host, teardown),
		cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
		/* Last: it revokes frank in the PKI they share. */
		cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
	};

	cpg_log_init("test_auth", LOG_WARNING, false);
	return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
