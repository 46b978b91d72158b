// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The authenticating RDV (rdv/server.c with rdv/auth.c, docs/protocol.md
 * section 12): one rdv_server per input, with the credentials of
 * fuzz_pki.h's "Fuzz RDV CA", fed datagrams from eight endpoints while its
 * clock moves. Some are raw bytes; others are made by the harness, so that
 * the fuzzer gets past the cookie and the handshake it cannot forge: a
 * genuine DTLS client at an endpoint (alice, carol, or bob whom the CRL
 * revokes) handshakes with the RDV, and keeps its channel's keys to seal
 * the fuzzer's bytes into records, which reach the RDV's message decoder
 * as authenticated messages (HELLO, ASK...). What was sent, either way,
 * can be sent again from any endpoint, as it was or altered.
 *
 * One server per input, not one per process reset between inputs: the
 * server has no reset, and what one input left (channels, registrations,
 * the cookie secret, half-done handshakes) would make the next one's run
 * depend on all the inputs before it, a crash that does not replay. Making
 * it (its DTLS context: reading and checking four PEM files) takes about
 * 1.2 ms of CPU without sanitizers, a handshake about 2 ms more: an input
 * that handshakes pays for its server less than for its handshake. The
 * clients' contexts, which nothing changes, are made once. OpenSSL's
 * randomness is not the harness's: the handshakes' bytes differ from run
 * to run, but not what becomes of them.
 *
 * Input: a configuration byte, then events until the input ends.
 *   config  bits 0-1: max_handshakes 0 (the default), 1, 2, 3; bit 2: dump
 *           every message.
 *   event   op (u8): bits 0-2 the endpoint (0-5 IPv4, three hosts; 6-7
 *           IPv6); bits 3-5 how far the clock moves first: 0, 1 ms, 1 s,
 *           5.001 s (a handshake's limit, a client's timeout), 10.001 s
 *           (purge), 30.001 s (an unbound channel, a session), a u16 of ms
 *           read next, or none; bit 6: rdv_server_expire() then. Then a
 *           kind (u8, modulo 8) and its operands:
 *     0 raw       u16 length, bytes: a datagram to the RDV's port
 *     1 handshake u8: bits 0-1 who (alice, carol, bob, alice), bits 2-7
 *                 how many datagrams the client may send (0: no limit;
 *                 the rest are lost): a new client at the endpoint
 *                 handshakes, both sides fed until nothing moves
 *     2 sealed    u16 length, bytes: sealed under the endpoint's channel
 *                 (nothing without one)
 *     3 replay    u8: a datagram of the history (the last 32 sent to or by
 *                 the RDV), sent again from the endpoint
 *     4 altered   u8 which, u8 how, u16 arg: the same, truncated, with
 *                 another epoch or sequence number, or a byte flipped
 *     5 probe     u16 length, bytes: a datagram to the probe port
 *     6 add_ep    u8: endpoint j; a plaintext ADD_ENDPOINT with the VPN IP
 *                 and the secret of the last OK j's client opened
 *     7 reload    rdv_server_reload()
 *
 * Checks, abort() on a violation:
 * - Only an endpoint whose ClientHello carried a valid cookie (the RDV's
 *   handshakes count grew with it) gets more bytes back than it sent:
 *   what answers a datagram from any other endpoint adds up to no more
 *   than the datagram, and plaintext RDV messages to anyone add up to no
 *   more than the datagram they answer. rdv_server_expire() sends only
 *   DTLS records, to such endpoints.
 * - Only the sender of the datagram gets an answer, but for records
 *   sealed under a channel, between endpoints whose clients handshook.
 *   Every record sealed for an endpoint opens under its client's keys
 *   and is a message the RDV sends.
 * - A datagram starts at most one handshake.
 * - Registrations: each at an endpoint whose client finished its
 *   handshake, for a VPN IP (and IPv6 one) that client's certificate
 *   names; no other registration exists, and carol's IPv6 VPN address
 *   finds hers only. bob never finishes his handshake.
 * - No crash, leak or sanitizer report.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chan.h"
#include "conf.h"
#include "dtls.h"
#include "fuzz.h"
#include "fuzz_pki.h"
#include "log.h"
#include "proto.h"
#include "server.h"

#define N_ENDPOINTS 8
#define BASE_PORT 40000
#define RDV_PORT 57888
#define PROBE_PORT 57889
#define T0 1000000
#define DGRAM_MAX 2048
#define HISTORY 32
#define MAX_SENDS 32		/* by the RDV, in one call */
#define OUTBOX 8		/* a client's datagrams not yet delivered */
#define PUMP_ROUNDS 64
#define RDV_NAME "10.0.0.254"

enum who { ALICE, CAROL, BOB, N_WHO };

static const struct identity {
	const char *name, *ip4, *ip6;	/* ip6: NULL, none */
	const char *cert, *key;
} identities[N_WHO] = {
	[ALICE] = { "alice", "10.0.0.1", NULL, fuzz_rdv_alice_cert_pem, fuzz_rdv_alice_key_pem },
	[CAROL] = { "carol", "10.0.0.3", "fd00::3", fuzz_rdv_carol_cert_pem,
		    fuzz_rdv_carol_key_pem },
	[BOB] = { "bob", "10.0.0.2", NULL, fuzz_rdv_bob_cert_pem, fuzz_rdv_bob_key_pem },
};

static char dir[] = "/tmp/cpg-fuzz-rdv-auth.XXXXXX";
static char paths[4 + 2 * N_WHO][64];
static char *ca_path = paths[0], *crl_path = paths[1], *cert_path = paths[2],
	    *key_path = paths[3];
static struct cpg_dtls_ctx *client_ctx[N_WHO];
static union cpg_sockaddr endpoints[N_ENDPOINTS], rdv_ep;
static struct in_addr ip4_of[N_WHO];
static struct in6_addr ip6_of[N_WHO];

struct dgram {
	size_t len;
	uint8_t data[DGRAM_MAX];
};

/* An endpoint's client: its current DTLS session, and the channel of the
 * last handshake it finished (which the RDV keeps until another one
 * finishes). */
struct client {
	struct cpg_dtls_session *s;
	enum who who;
	unsigned int budget;		/* datagrams it may still send; 0: no limit */
	bool limited;
	struct dgram outbox[OUTBOX];
	unsigned int n_out;
	bool keyed;
	enum who keyed_as;
	struct cpg_chan chan;
	bool proven;			/* a ClientHello from here had a valid cookie */
	bool has_ok;			/* the last OK it opened: */
	struct in_addr ok_ip;
	uint8_t ok_token[CPG_TOKEN_LEN];
};

/* What the RDV sent during one call into it. */
struct sent {
	int to;
	bool probe;
	struct dgram d;
};

static struct fuzz_state {
	struct rdv_server *rdv;
	uint64_t now;
	struct client clients[N_ENDPOINTS];
	struct dgram history[HISTORY];
	unsigned int n_history;
	struct sent sent[MAX_SENDS];
	unsigned int n_sent;
} st;

static void fail(const char *what) __attribute__((noreturn));
static void fail(const char *what)
{
	fprintf(stderr, "fuzz_rdv_auth: %s\n", what);
	abort();
}

static int endpoint_index(const union cpg_sockaddr *a)
{
	int i = cpg_sockaddr_port(a) - BASE_PORT;

	return i >= 0 && i < N_ENDPOINTS && cpg_sockaddr_equal(a, &endpoints[i]) ? i : -1;
}

/* The RDV's socket a datagram from endpoint i comes in on, by its port. */
static unsigned int sock_of(int i)
{
	return (unsigned int)(BASE_PORT + i) & 1;
}

static void remember(const uint8_t *buf, size_t len)
{
	struct dgram *d = &st.history[st.n_history++ % HISTORY];

	d->len = len < DGRAM_MAX ? len : DGRAM_MAX;
	memcpy(d->data, buf, d->len);
}

static void collect(unsigned int sock, const union cpg_sockaddr *to, const uint8_t *buf,
		    size_t len, bool probe)
{
	int i = endpoint_index(to);
	struct sent *s;

	FUZZ_CHECK(i >= 0 && sock == sock_of(i));
	FUZZ_CHECK(len > 0 && len <= DGRAM_MAX);
	FUZZ_CHECK(st.n_sent < MAX_SENDS);
	s = &st.sent[st.n_sent++];
	s->to = i;
	s->probe = probe;
	s->d.len = len;
	memcpy(s->d.data, buf, len);
	remember(buf, len);
}

static void rdv_send(void *arg, unsigned int sock, const union cpg_sockaddr *to,
		     const uint8_t *buf, size_t len)
{
	collect(sock, to, buf, len, false);
}

static void rdv_send_probe(void *arg, unsigned int sock, const union cpg_sockaddr *to,
			   const uint8_t *buf, size_t len)
{
	collect(sock, to, buf, len, true);
}

static bool is_plaintext(const struct dgram *d)
{
	return cpg_proto_is_ours(d->data, d->len);
}

/*
 * What the RDV sent while handling a datagram of len bytes from endpoint
 * from (-1: rdv_server_expire() or a reload).
 */
static void check_sent(int from, size_t len, bool to_probe_port)
{
	size_t to_sender = 0, plain = 0;

	for (unsigned int k = 0; k < st.n_sent; k++) {
		const struct sent *s = &st.sent[k];
		bool sealed = !is_plaintext(&s->d) && s->d.data[0] == CPG_RECORD_CT_APPLICATION_DATA;

		/* Sealed for an endpoint whose client has no keys: for whom? */
		if (sealed)
			FUZZ_CHECK(st.clients[s->to].keyed);
		if (s->probe)
			FUZZ_CHECK(is_plaintext(&s->d));
		if (from < 0) {
			FUZZ_CHECK(!is_plaintext(&s->d) && st.clients[s->to].proven);
			continue;
		}
		if (s->to != from) {
			FUZZ_CHECK(sealed && st.clients[from].keyed);
			continue;
		}
		to_sender += s->d.len;
		if (is_plaintext(&s->d) && !s->probe)
			plain += s->d.len;
	}
	FUZZ_CHECK(plain <= len);
	if (from >= 0 && (to_probe_port || !st.clients[from].proven))
		FUZZ_CHECK(to_sender <= len);
}

/* A record sealed for c opens under its keys, a message the RDV sends. */
static void open_sealed(struct client *c, struct dgram *d)
{
	struct cpg_msg m;
	uint8_t *plain;
	size_t len;

	FUZZ_CHECK(cpg_chan_open(&c->chan, d->data, d->len, &plain, &len) == CPG_RECORD_OK);
	FUZZ_CHECK(cpg_msg_decode(&m, plain, len) == CPG_DECODE_OK && cpg_msg_from_rdv(m.type));
	if (m.type == CPG_MSG_OK && (m.present & CPG_HAS(CPG_ATTR_REG_TOKEN))) {
		c->has_ok = true;
		c->ok_ip = ip4_of[c->keyed_as];
		memcpy(c->ok_token, m.reg_token, CPG_TOKEN_LEN);
	}
}

static void client_input(struct client *c, const struct dgram *d);

/* What the RDV sent goes to the clients: to a handshake, or opened. */
static void deliver(void)
{
	/* The clients' answers wait in their outboxes: pump() sends them. */
	for (unsigned int k = 0; k < st.n_sent; k++) {
		struct sent *s = &st.sent[k];
		struct client *c = &st.clients[s->to];

		if (s->probe || is_plaintext(&s->d))
			continue;
		if (s->d.data[0] == CPG_RECORD_CT_APPLICATION_DATA)
			open_sealed(c, &s->d);
		else if (c->s && cpg_dtls_session_state(c->s) == CPG_DTLS_HANDSHAKING)
			client_input(c, &s->d);
	}
	st.n_sent = 0;
}

/* VPN IPs and endpoints: each registration is one of its endpoint's client. */
static void check_registrations(void)
{
	const struct rdv_stats *stats = rdv_server_stats(st.rdv);
	struct rdv_client_info info;
	size_t found = 0;

	for (int w = 0; w < N_WHO; w++) {
		const struct client *c;
		int i;

		if (!rdv_server_client(st.rdv, ip4_of[w], st.now, &info))
			continue;
		found++;
		i = endpoint_index(&info.endpoint);
		FUZZ_CHECK(i >= 0);
		c = &st.clients[i];
		FUZZ_CHECK(c->keyed && c->keyed_as == (enum who)w && w != BOB);
		FUZZ_CHECK(IN6_IS_ADDR_UNSPECIFIED(&info.vpn_ip6) ||
			   (identities[w].ip6 && IN6_ARE_ADDR_EQUAL(&info.vpn_ip6, &ip6_of[w])));
	}
	FUZZ_CHECK(stats->clients == found);
	/* Found by its IPv6 VPN address, it is carol's registration. */
	if (rdv_server_client6(st.rdv, &ip6_of[CAROL], st.now, &info))
		FUZZ_CHECK(info.vpn_ip.s_addr == ip4_of[CAROL].s_addr);
}

/* One datagram from endpoint i to the RDV (its probe port), then the checks
 * and the deliveries of what it sent. */
static void rdv_input(int i, const uint8_t *buf, size_t len, bool to_probe_port)
{
	uint64_t handshakes = rdv_server_auth_stats(st.rdv)->handshakes;

	remember(buf, len);
	st.n_sent = 0;
	if (to_probe_port)
		rdv_server_input_probe(st.rdv, sock_of(i), buf, len, &endpoints[i], st.now);
	else
		rdv_server_input(st.rdv, sock_of(i), buf, len, &endpoints[i], st.now);
	handshakes = rdv_server_auth_stats(st.rdv)->handshakes - handshakes;
	FUZZ_CHECK(handshakes <= 1);
	if (handshakes)
		st.clients[i].proven = true;
	check_sent(i, len, to_probe_port);
	check_registrations();
	deliver();
}

/* The clients' datagrams to the RDV, until none is left. */
static void pump(void)
{
	for (int round = 0; round < PUMP_ROUNDS; round++) {
		struct dgram d;
		int i;

		for (i = 0; i < N_ENDPOINTS && !st.clients[i].n_out; i++)
			;
		if (i == N_ENDPOINTS)
			return;
		d = st.clients[i].outbox[0];
		memmove(st.clients[i].outbox, st.clients[i].outbox + 1,
			--st.clients[i].n_out * sizeof(d));
		rdv_input(i, d.data, d.len, false);
	}
}

static void client_send(void *arg, const union cpg_sockaddr *to, const uint8_t *buf, size_t len)
{
	struct client *c = arg;
	struct dgram *d;

	FUZZ_CHECK(len <= DGRAM_MAX);
	if (c->n_out == OUTBOX || (c->limited && !c->budget))
		return;
	if (c->limited)
		c->budget--;
	d = &c->outbox[c->n_out++];
	d->len = len;
	memcpy(d->data, buf, len);
}

/* Once its handshake finishes, the client's keys make its channel. */
static void client_update(struct client *c)
{
	struct cpg_keys keys;

	if (cpg_dtls_session_state(c->s) != CPG_DTLS_ESTABLISHED ||
	    cpg_dtls_session_take_keys(c->s, &keys) < 0)
		return;
	FUZZ_CHECK(c->who != BOB);
	if (c->keyed)
		cpg_chan_wipe(&c->chan);
	cpg_chan_init(&c->chan, &keys);
	cpg_keys_wipe(&keys);
	c->keyed = true;
	c->keyed_as = c->who;
	c->has_ok = false;
}

static void client_input(struct client *c, const struct dgram *d)
{
	cpg_dtls_session_input(c->s, d->data, d->len);
	client_update(c);
}

static void handshake(int i, uint8_t how)
{
	struct client *c = &st.clients[i];
	struct in_addr any = { .s_addr = htonl(INADDR_ANY) };

	cpg_dtls_session_free(c->s);
	c->who = (how & 3) == 3 ? ALICE : (enum who)(how & 3);
	c->budget = how >> 2;
	c->limited = c->budget != 0;
	c->n_out = 0;
	c->s = cpg_dtls_session_new(client_ctx[c->who], CPG_DTLS_CLIENT, &rdv_ep, any,
				    client_send, c);
	if (!c->s || cpg_dtls_session_expect_name(c->s, RDV_NAME))
		fail("cannot make a client session");
	cpg_dtls_session_start(c->s);
	pump();
}

static void send_sealed(int i, const uint8_t *msg, size_t len)
{
	struct client *c = &st.clients[i];
	uint8_t rec[CPG_CHAN_MAX_MSG + CPG_CHAN_OVERHEAD];
	size_t rec_len;

	if (!c->keyed || len > CPG_CHAN_MAX_MSG)
		return;
	FUZZ_CHECK(cpg_chan_seal(&c->chan, msg, len, rec, sizeof(rec), &rec_len) ==
		   CPG_RECORD_OK);
	rdv_input(i, rec, rec_len, false);
}

/* A datagram of the history, altered as how and arg say. */
static void send_altered(int i, struct fuzz_input *in)
{
	struct dgram d;
	uint8_t which = fuzz_take_u8(in), how = fuzz_take_u8(in);
	uint16_t arg = fuzz_take_u16(in);

	if (!st.n_history)
		return;
	d = st.history[which % (st.n_history < HISTORY ? st.n_history : HISTORY)];
	switch (how & 3) {
	case 0:
		d.len = d.len ? arg % d.len : 0;
		break;
	case 1: /* the epoch */
		if (d.len >= CPG_RECORD_HEADER_LEN) {
			d.data[3] = (uint8_t)(arg >> 8);
			d.data[4] = (uint8_t)arg;
		}
		break;
	case 2: /* the sequence number's low bytes; how's high bits, the top */
		if (d.len >= CPG_RECORD_HEADER_LEN) {
			d.data[5] = (uint8_t)(how >> 2);
			d.data[9] = (uint8_t)(arg >> 8);
			d.data[10] = (uint8_t)arg;
		}
		break;
	default:
		if (d.len)
			d.data[arg % d.len] ^= (uint8_t)(how >> 2 | 1);
		break;
	}
	rdv_input(i, d.data, d.len, false);
}

/* What a client with a registration sends from its other endpoint. */
static void send_add_endpoint(int i, int j)
{
	const struct client *c = &st.clients[j];
	uint8_t buf[CPG_PROTO_MAX_MSG];
	struct cpg_msg m;
	int len;

	if (!c->has_ok)
		return;
	cpg_msg_init(&m, CPG_MSG_ADD_ENDPOINT, 42);
	m.present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_REG_TOKEN);
	m.vpn_ip = c->ok_ip;
	memcpy(m.reg_token, c->ok_token, CPG_TOKEN_LEN);
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	if (len > 0)
		len = cpg_msg_pad(buf, (size_t)len, sizeof(buf),
				  cpg_msg_request_len(CPG_MSG_ADD_ENDPOINT));
	FUZZ_CHECK(len > 0);
	rdv_input(i, buf, (size_t)len, false);
}

static void expire(void)
{
	st.n_sent = 0;
	rdv_server_expire(st.rdv, st.now);
	check_sent(-1, 0, false);
	check_registrations();
	deliver();
}

static void reload(void)
{
	st.n_sent = 0;
	if (rdv_server_reload(st.rdv) < 0)
		fail("the reload refused the credentials");
	check_sent(-1, 0, false);
	check_registrations();
	deliver();
}

static uint64_t clock_step(struct fuzz_input *in, unsigned int step)
{
	static const uint64_t steps[] = { 0,
					  1,
					  1000,
					  RDV_AUTH_HANDSHAKE_MS + 1,
					  CPG_CLIENT_PURGE_MS + 1,
					  RDV_AUTH_UNBOUND_MS + 1 };

	if (step < 6)
		return steps[step];
	return step == 6 ? fuzz_take_u16(in) : 0;
}

static void event(struct fuzz_input *in)
{
	uint8_t op = fuzz_take_u8(in), kind;
	int i = op & 7;
	const uint8_t *buf;
	size_t len;

	st.now += clock_step(in, op >> 3 & 7);
	if (op & 0x40)
		expire();
	kind = fuzz_take_u8(in);
	switch (kind & 7) {
	case 0:
		buf = fuzz_take_bytes(in, fuzz_take_u16(in), &len);
		rdv_input(i, buf, len, false);
		break;
	case 1:
		handshake(i, fuzz_take_u8(in));
		break;
	case 2:
		buf = fuzz_take_bytes(in, fuzz_take_u16(in), &len);
		send_sealed(i, buf, len);
		break;
	case 3:
		if (st.n_history) {
			struct dgram d = st.history[fuzz_take_u8(in) %
						    (st.n_history < HISTORY ? st.n_history
									     : HISTORY)];

			rdv_input(i, d.data, d.len, false);
		}
		break;
	case 4:
		send_altered(i, in);
		break;
	case 5:
		buf = fuzz_take_bytes(in, fuzz_take_u16(in), &len);
		rdv_input(i, buf, len, true);
		break;
	case 6:
		send_add_endpoint(i, fuzz_take_u8(in) & 7);
		break;
	default:
		reload();
		break;
	}
	pump();
}

static void write_file(char *path, const char *name, const char *text)
{
	FILE *f;

	snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) == EOF || fclose(f) || chmod(path, 0600)) {
		perror(path);
		exit(1);
	}
}

static void cleanup(void)
{
	for (int w = 0; w < N_WHO; w++)
		cpg_dtls_ctx_put(client_ctx[w]);
	for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++)
		if (paths[k][0])
			unlink(paths[k]);
	rmdir(dir);
}

/* A client's context, as the daemon builds it from campagnol.conf. */
static struct cpg_dtls_ctx *client_ctx_new(enum who w)
{
	char name[32];
	struct cpg_config cfg;
	char *cert = paths[4 + 2 * w], *key = paths[5 + 2 * w];

	snprintf(name, sizeof(name), "%s.crt", identities[w].name);
	write_file(cert, name, identities[w].cert);
	snprintf(name, sizeof(name), "%s.key", identities[w].name);
	write_file(key, name, identities[w].key);
	memset(&cfg, 0, sizeof(cfg));
	cfg.certificate = cert;
	cfg.key = key;
	cfg.ca_certificates = ca_path;
	cfg.verify_depth = 9;
	cfg.tun_mtu = 1419;
	cfg.vpn_ip = ip4_of[w];
	return cpg_dtls_ctx_new(&cfg);
}

static void set_endpoints(void)
{
	struct sockaddr_in6 *in6;
	struct in_addr ip;

	for (int i = 0; i < N_ENDPOINTS; i++) {
		if (i < 6) {
			ip.s_addr = htonl(0xc6336401 + i / 2);	/* 198.51.100.1 and on */
			cpg_sockaddr_set_in(&endpoints[i], ip, (uint16_t)(BASE_PORT + i));
			continue;
		}
		in6 = &endpoints[i].in6;
		memset(in6, 0, sizeof(*in6));
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)(BASE_PORT + i));
		inet_pton(AF_INET6, "2001:db8::1", &in6->sin6_addr);
	}
	ip.s_addr = htonl(0xc00002fe);	/* 192.0.2.254 */
	cpg_sockaddr_set_in(&rdv_ep, ip, RDV_PORT);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	set_endpoints();
	if (!mkdtemp(dir)) {
		perror("fuzz_rdv_auth: mkdtemp");
		exit(1);
	}
	atexit(cleanup);
	write_file(ca_path, "ca.pem", fuzz_rdv_ca_pem);
	write_file(crl_path, "crl.pem", fuzz_rdv_crl_pem);
	write_file(cert_path, "rdv.crt", fuzz_rdv_cert_pem);
	write_file(key_path, "rdv.key", fuzz_rdv_key_pem);
	for (int w = 0; w < N_WHO; w++) {
		inet_pton(AF_INET, identities[w].ip4, &ip4_of[w]);
		if (identities[w].ip6)
			inet_pton(AF_INET6, identities[w].ip6, &ip6_of[w]);
		client_ctx[w] = client_ctx_new((enum who)w);
		if (!client_ctx[w])
			fail("cannot build a client's DTLS context");
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned int max_handshakes[] = { 0, 1, 2, 3 };
	struct fuzz_input in = { data, size };
	uint8_t conf = fuzz_take_u8(&in);
	struct rdv_auth_config auth = {
		.certificate = cert_path, .key = key_path, .ca_file = ca_path,
		.crl_file = crl_path, .max_handshakes = max_handshakes[conf & 3],
	};
	struct rdv_config cfg = {
		.send = rdv_send, .send_probe = rdv_send_probe, .auth = &auth,
		.probe_port = { PROBE_PORT, PROBE_PORT }, .dump = conf & 4,
	};

	memset(&st, 0, sizeof(st));
	st.now = T0;
	st.rdv = rdv_server_new(&cfg);
	if (!st.rdv)
		fail("cannot make the RDV");
	while (in.size)
		event(&in);
	rdv_server_log_stats(st.rdv, LOG_DEBUG);
	rdv_server_free(st.rdv);
	for (int i = 0; i < N_ENDPOINTS; i++) {
		cpg_dtls_session_free(st.clients[i].s);
		cpg_chan_wipe(&st.clients[i].chan);
	}
	return 0;
}
