/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The DTLS engine: OpenSSL 3 DTLS 1.2 handshakes between peers, over the
 * daemon's one UDP socket.
 *
 * A context (struct cpg_dtls_ctx) holds what the [SECURITY] section
 * configures: our certificate and key, the CAs, the CRL, the cipher suites.
 * A session (struct cpg_dtls_session) is one handshake with one peer, which
 * the RDV introduced: the side that asked for the connection is the DTLS
 * client. The daemon demultiplexes datagrams by source endpoint and feeds a
 * session the ones of its peer; the session hands its own datagrams to a
 * send callback, one datagram per call, and exposes its next timer deadline
 * for the daemon to arm a cpg_loop_timer. Nothing here touches a socket or the
 * event loop.
 *
 * The handshake is mutually authenticated and binds the peer's certificate
 * to the VPN IP the RDV announced (a subjectAltName iPAddress), and to its
 * IPv6 VPN address too when it has one. Once it has
 * finished, the session holds the record keys for the data plane
 * (keys.h); afterwards it only ever sees the peer's non-data records
 * (alerts, handshake retransmissions), never application_data.
 *
 * Single-threaded: a context and its sessions belong to one thread.
 */
#ifndef CPG_DTLS_H
#define CPG_DTLS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/types.h>
#include <openssl/x509.h>

#include "conf.h"
#include "keys.h"
#include "sockaddr.h"

/* A handshake that has not finished this long after it started fails. */
#define CPG_DTLS_HANDSHAKE_TIMEOUT_MS 10000
/*
 * Largest handshake datagram (UDP payload). The handshake is fragmented to
 * this size, lowered to what the tunnel's own records need (tun_mtu plus the
 * largest record overhead) when that is smaller, and never below 256, the
 * least OpenSSL accepts.
 */
#define CPG_DTLS_HANDSHAKE_MTU 1400
/* We warn when our own certificate expires within this many days. */
#define CPG_DTLS_CERT_WARN_DAYS 30

struct cpg_dtls_ctx;
struct cpg_dtls_session;

enum cpg_dtls_role {
	CPG_DTLS_CLIENT,	/* we asked the RDV for this peer */
	CPG_DTLS_SERVER,	/* the RDV forwarded the peer's request to us */
};

enum cpg_dtls_state {
	CPG_DTLS_HANDSHAKING,
	CPG_DTLS_ESTABLISHED,	/* keys available */
	CPG_DTLS_CLOSED,	/* close_notify sent or received */
	CPG_DTLS_FAILED,	/* see cpg_dtls_session_failure() */
};

enum cpg_dtls_failure {
	CPG_DTLS_FAIL_NONE = 0,
	/* No finished handshake within the handshake timeout. */
	CPG_DTLS_FAIL_TIMEOUT,
	/* We refused the peer's certificate: CA, revocation, expiry, CRL,
	 * or a VPN IP other than the expected one. */
	CPG_DTLS_FAIL_PEER_CERT,
	/* The peer aborted the handshake with a fatal alert, typically
	 * because it refused our certificate. */
	CPG_DTLS_FAIL_PEER_ALERT,
	/* Any other handshake error (protocol, no shared cipher...). */
	CPG_DTLS_FAIL_PROTOCOL,
	/* OpenSSL's own GCM nonces may meet the data plane's
	 * (cpg_record_check_openssl_nonce): not an attack, about one
	 * handshake in 2^17. Throw the session away and handshake again. */
	CPG_DTLS_FAIL_NONCE_CLASH,
	/* Allocation, key derivation or an OpenSSL internal error. */
	CPG_DTLS_FAIL_INTERNAL,
};

/*
 * Called with each datagram the session sends to its peer, from inside the
 * session's functions. It must not call back into that session (queue or
 * send, nothing else). A datagram that cannot be sent is simply lost: DTLS
 * retransmits the handshake.
 */
typedef void (*cpg_dtls_send_fn)(void *arg, const union cpg_sockaddr *to, const uint8_t *dgram,
				 size_t len);

/*
 * Build a context from cfg's [SECURITY] options (and tun_mtu, vpn_ip).
 * Checks, each failure being one error line naming the file and the problem:
 * certificate and key readable, matching, the key not encrypted; our
 * certificate not expired (a warning when it expires within
 * CPG_DTLS_CERT_WARN_DAYS days or is not valid yet) and carrying our own
 * vpn_ip, and vpn_ip6 when set, as subjectAltNames (peers would refuse it
 * otherwise); CA file
 * and/or directory usable; the CRL file readable, every CRL in it current
 * (an expired CRL is refused); cipher_list leaving at least one of our AEAD
 * suites. Returns NULL after logging.
 *
 * The context is reference-counted: the caller holds one reference, each
 * session holds one. Reloading = building a new context and using it for new
 * sessions, then dropping the old one with cpg_dtls_ctx_put(); sessions
 * made with the old one keep it alive until they are freed, and
 * cpg_dtls_session_recheck() verifies their peers with the new one.
 */
struct cpg_dtls_ctx *cpg_dtls_ctx_new(const struct cpg_config *cfg);
/* Drop a reference; the context is freed with its last one. NULL is fine. */
void cpg_dtls_ctx_put(struct cpg_dtls_ctx *ctx);
/* Handshake timeout of sessions created from now on (default
 * CPG_DTLS_HANDSHAKE_TIMEOUT_MS). */
void cpg_dtls_ctx_set_handshake_timeout(struct cpg_dtls_ctx *ctx, unsigned int ms);
/* The suites the context offers, OpenSSL names separated by ':'. */
const char *cpg_dtls_ctx_cipher_list(const struct cpg_dtls_ctx *ctx);

/*
 * A session with the peer at endpoint peer, whose certificate must carry
 * peer_vpn_ip (and, see cpg_dtls_session_expect_ip6(), its IPv6 one). Nothing is sent until cpg_dtls_session_start(). NULL on
 * allocation failure (logged).
 */
struct cpg_dtls_session *cpg_dtls_session_new(struct cpg_dtls_ctx *ctx, enum cpg_dtls_role role,
					      const union cpg_sockaddr *peer,
					      struct in_addr peer_vpn_ip, cpg_dtls_send_fn send,
					      void *send_arg);
/*
 * Hold back what the session writes in the step that finishes its handshake
 * (a server's last flight: ChangeCipherSpec and Finished) until
 * cpg_dtls_session_release(). The caller installs the keys in its data plane
 * in between: a peer that starts sending records on our Finished must not
 * find a data plane without them (campagnol.ko takes records in softirq
 * context, long before the daemon reads the Finished's reply). The next
 * input, timeout or close releases them too.
 */
void cpg_dtls_session_hold_last_flight(struct cpg_dtls_session *s);
void cpg_dtls_session_release(struct cpg_dtls_session *s);
/*
 * Start the handshake clock; a client sends its ClientHello, a server waits
 * for it. Returns the state. Like every function below that can change the
 * state, arm the session's timer afterwards (cpg_dtls_session_timeout_ms).
 */
enum cpg_dtls_state cpg_dtls_session_start(struct cpg_dtls_session *s);
/*
 * A datagram from the peer's endpoint. Its application_data records are
 * dropped here: they belong to the data plane, and OpenSSL must never see
 * them (docs/dtls-records.md). The rest drives the handshake or, once
 * established, is read for alerts (close_notify -> CLOSED, a fatal alert ->
 * FAILED). Returns the state. Ignored unless HANDSHAKING or ESTABLISHED.
 */
enum cpg_dtls_state cpg_dtls_session_input(struct cpg_dtls_session *s, const uint8_t *dgram,
					   size_t len);
/*
 * Milliseconds from now until cpg_dtls_session_on_timeout() must run: the
 * next DTLS retransmission or the end of the handshake timeout, whichever
 * comes first. -1 when the session needs no timer.
 */
int64_t cpg_dtls_session_timeout_ms(const struct cpg_dtls_session *s);
/* The timer fired: retransmit, or fail the handshake once its time is up.
 * Harmless when called early. Returns the state. */
enum cpg_dtls_state cpg_dtls_session_on_timeout(struct cpg_dtls_session *s);
/*
 * Close: an ESTABLISHED session sends close_notify (through the send
 * callback); a handshake in progress is abandoned silently. The state
 * becomes CLOSED unless it was FAILED. Idempotent.
 */
void cpg_dtls_session_close(struct cpg_dtls_session *s);
/* Free the session (without sending anything) and its keys. NULL is fine. */
void cpg_dtls_session_free(struct cpg_dtls_session *s);

enum cpg_dtls_state cpg_dtls_session_state(const struct cpg_dtls_session *s);
enum cpg_dtls_role cpg_dtls_session_role(const struct cpg_dtls_session *s);
const union cpg_sockaddr *cpg_dtls_session_peer(const struct cpg_dtls_session *s);
/* The peer's path moved (relay to direct): what the session sends goes to
 * peer from now on. */
void cpg_dtls_session_set_peer(struct cpg_dtls_session *s, const union cpg_sockaddr *peer);
struct in_addr cpg_dtls_session_peer_vpn_ip(const struct cpg_dtls_session *s);
/*
 * The peer's certificate must also name peer_vpn_ip6, its IPv6 VPN address
 * (a second iPAddress subjectAltName), as the RDV announced it. Call it
 * before cpg_dtls_session_start(); in6addr_any (the default) checks the IPv4
 * address only, as in 0.3.x.
 */
void cpg_dtls_session_expect_ip6(struct cpg_dtls_session *s, const struct in6_addr *peer_vpn_ip6);
/* What cpg_dtls_session_expect_ip6() set; in6addr_any when nothing. */
struct in6_addr cpg_dtls_session_peer_vpn_ip6(const struct cpg_dtls_session *s);
enum cpg_dtls_failure cpg_dtls_session_failure(const struct cpg_dtls_session *s);
/* Why the session failed or closed, in English; "" otherwise. */
const char *cpg_dtls_session_reason(const struct cpg_dtls_session *s);
/* OpenSSL's name of the negotiated suite, e.g.
 * "ECDHE-ECDSA-AES128-GCM-SHA256"; NULL before the handshake finished. */
const char *cpg_dtls_session_cipher_name(const struct cpg_dtls_session *s);
/* The peer certificate's subject (RFC 2253), "" before it was verified. */
const char *cpg_dtls_session_peer_subject(const struct cpg_dtls_session *s);
/*
 * The RDV's side (docs/protocol.md section 12). A context whose own
 * certificate need not name a VPN IP: cfg's [SECURITY] options and tun_mtu
 * only.
 */
struct cpg_dtls_ctx *cpg_dtls_ctx_new_rdv(const struct cpg_config *cfg);
/*
 * A context whose sessions each present a certificate of their own
 * (cpg_dtls_session_use_cert()): cfg's CAs, CRL, cipher_list, verify_depth
 * and tun_mtu; its certificate and key are ignored. For a tool that plays
 * many members from one process (campagnol-rdv-load), whose certificates
 * are made in memory.
 */
struct cpg_dtls_ctx *cpg_dtls_ctx_new_per_session_cert(const struct cpg_config *cfg);
/*
 * The session presents cert, signed for key, followed by the CA
 * certificates of chain, instead of its context's (it takes references to
 * all). A NULL chain makes OpenSSL build it from the context's CAs, at each
 * handshake. Before cpg_dtls_session_start(). 0, or -1 when OpenSSL
 * refuses them (logged: a key that does not match).
 */
int cpg_dtls_session_use_cert(struct cpg_dtls_session *s, X509 *cert, EVP_PKEY *key,
			      STACK_OF(X509) *chain);
/*
 * A listener is a server session made with cpg_dtls_session_new() for any
 * peer (INADDR_ANY: any member, whose certificate names a VPN IP of its own,
 * cpg_dtls_session_peer_ips()). Each ClientHello from an endpoint without a
 * session goes to it: without a valid cookie it answers with a
 * HelloVerifyRequest, smaller than the ClientHello and statelessly, through
 * its send callback; with one, it becomes that endpoint's session, its
 * handshake under way, and true is returned: the caller then makes another
 * listener. false for anything else.
 */
bool cpg_dtls_listen(struct cpg_dtls_session *l, const uint8_t *dgram, size_t len,
		     const union cpg_sockaddr *from);
/*
 * The peer's certificate must name name, a DNS name (its DNS subjectAltNames,
 * or its common name when it has none) or an IP address (its iPAddress
 * ones): a client's session with the RDV, made for INADDR_ANY. Before
 * cpg_dtls_session_start(). 0, or -1 for a name OpenSSL refuses.
 */
int cpg_dtls_session_expect_name(struct cpg_dtls_session *s, const char *name);
/* The peer's verified certificate (not a reference of the caller's), NULL
 * before the handshake verified one. */
X509 *cpg_dtls_session_peer_cert(const struct cpg_dtls_session *s);
/* The trust store of ctx: its CAs and CRLs. */
X509_STORE *cpg_dtls_ctx_store(const struct cpg_dtls_ctx *ctx);
/* Where the session's datagrams go from now on. */
void cpg_dtls_session_set_send(struct cpg_dtls_session *s, cpg_dtls_send_fn send, void *send_arg);
/*
 * Up to max addresses of family (AF_INET: struct in_addr, AF_INET6: struct
 * in6_addr) that the peer's certificate names as iPAddress subjectAltNames,
 * into out; how many. 0 unless ESTABLISHED.
 */
size_t cpg_dtls_session_peer_ips(const struct cpg_dtls_session *s, int family, void *out,
				 size_t max);

/*
 * Rekey (docs/dtls-records.md, "Rekeying"): renegotiate, which gives the
 * next epoch's keys. Either side may start one; the session also follows
 * one the peer starts. The tunnel's keys stay in use meanwhile. When it
 * finishes, cpg_dtls_session_has_keys() says so (after input, or a timeout),
 * and the caller takes them as after the first handshake; one not finished
 * within the handshake timeout fails the session (CPG_DTLS_FAIL_TIMEOUT), as
 * does a peer certificate that is refused now. 0 started; -EINVAL not
 * ESTABLISHED; -EBUSY a rekey in progress, or keys not taken yet; -ERANGE
 * the epochs are used up (a new session is needed); -EIO failed.
 */
int cpg_dtls_session_rekey(struct cpg_dtls_session *s);
/* Keys of a handshake, the first or a rekey, wait to be taken. */
bool cpg_dtls_session_has_keys(const struct cpg_dtls_session *s);
/* A rekey has started (by either side) and not finished. */
bool cpg_dtls_session_rekeying(const struct cpg_dtls_session *s);
/* The epoch of the last handshake's keys (CPG_KEYS_EPOCH after the first),
 * and how many rekeys finished. */
uint16_t cpg_dtls_session_epoch(const struct cpg_dtls_session *s);
unsigned int cpg_dtls_session_rekeys(const struct cpg_dtls_session *s);
/*
 * application_data records that came to the session, and were dropped: the
 * data plane had no key of their epoch (a rekey that lost packets, a late
 * record of a retired key, or forgery).
 */
uint64_t cpg_dtls_session_stray_data(const struct cpg_dtls_session *s);
/*
 * Move the record keys of an ESTABLISHED session into *out (the session's
 * copy is wiped: the data plane is their only holder). 0, or -1 when the
 * session is not established or the keys were already taken. The caller
 * wipes *out with cpg_keys_wipe() once the data plane has them.
 */
int cpg_dtls_session_take_keys(struct cpg_dtls_session *s, struct cpg_keys *out);

/*
 * Verify the peer's certificate chain again, with ctx's CAs and CRL (a
 * reloaded context): what the handshake verified, as it verified it
 * (validity dates now, revocation, the chain to a trusted CA, the VPN IP and
 * IPv6 VPN address the session expects). For an ESTABLISHED session, the
 * chain it was made with; a HANDSHAKING one also verifies what it has still
 * to verify with ctx from now on. An ESTABLISHED session that passes takes
 * ctx for its rekeys: our certificate and key, the CAs and the CRL of the
 * reload. true when the chain passes, or nothing was verified yet, or the
 * session has ended; false with the refusal in why, as the handshake words
 * it (internal errors refuse too). Sends nothing: the caller closes a
 * refused session.
 */
bool cpg_dtls_session_recheck(struct cpg_dtls_session *s, struct cpg_dtls_ctx *ctx, char *why,
			      size_t len);
/*
 * When the first certificate of the peer's verified chain (its own, a CA's)
 * expires: the earliest notAfter, in time(NULL)'s seconds, known once the
 * session is ESTABLISHED and updated by each cpg_dtls_session_recheck() that
 * passes; 0 before (or when the chain has no readable date).
 */
time_t cpg_dtls_session_peer_expiry(const struct cpg_dtls_session *s);

/*
 * Internal: what the handshake's verify callback says when OpenSSL's
 * verification of a peer certificate fails in xs (the identity check, the
 * subjectAltName iPAddress against want_ip, and want_ip6 unless NULL or
 * in6addr_any, included), into buf. Exposed only for the fuzz harness
 * (userspace/fuzz/fuzz_cert.c), which runs the same verification on
 * certificates of its own.
 */
void cpg_dtls_refusal_reason(X509_STORE_CTX *xs, struct in_addr want_ip,
			     const struct in6_addr *want_ip6, char *buf, size_t len);
/*
 * Internal, for the same harness: the IPv6 half of the identity check, made
 * once X509_verify_cert() has accepted xs (OpenSSL checks a single address,
 * X509_VERIFY_PARAM_set1_ip: the IPv4 one). When want_ip6 is neither NULL
 * nor in6addr_any, the leaf must name it too; false when it does not, with
 * X509_V_ERR_IP_ADDRESS_MISMATCH set in xs at depth 0, as OpenSSL reports the
 * IPv4 one.
 */
bool cpg_dtls_verify_ip6(X509_STORE_CTX *xs, const struct in6_addr *want_ip6);

const char *cpg_dtls_state_name(enum cpg_dtls_state st);
const char *cpg_dtls_failure_name(enum cpg_dtls_failure f);

#endif
