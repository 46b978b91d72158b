/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The DTLS engine: OpenSSL DTLS 1.2 contexts and per-peer sessions over
 * memory BIOs.
 *
 * Datagram boundaries. OpenSSL 3.0 (Debian 12) has no datagram memory BIO
 * (BIO_s_dgram_mem and BIO_s_dgram_pair came with 3.2), and BIO_s_mem and
 * BIO pairs are byte streams. So:
 * - Writing goes through a small BIO_METHOD of our own whose write hands
 *   each buffer to the send callback as one datagram. OpenSSL's DTLS writes
 *   every record (or fragment) with one BIO_write, and a datagram that
 *   holds one whole record is always valid DTLS. It answers no datagram
 *   ctrl: the MTU is set with SSL_set_mtu() and SSL_OP_NO_QUERY_MTU, and
 *   there is nothing to flush or to report as pending.
 * - Reading uses BIO_s_mem: the records of one incoming datagram are
 *   written into it and the SSL runs at once, so it holds one datagram at a
 *   time (DTLS reads the whole BIO content as one packet) and is emptied
 *   after each run, so leftovers never merge with the next datagram.
 *
 * Cookies. The RDV introduced the peer, so a server session is per peer
 * from the start and plain SSL_accept with SSL_OP_COOKIE_EXCHANGE does the
 * HelloVerifyRequest exchange; DTLSv1_listen exists for a stateless
 * listener on a shared socket, which we do not need. The cookie still proves
 * that the client receives at its endpoint before we spend an ECDHE and a
 * signature on it: HMAC-SHA256 over its address and port, keyed with a
 * secret drawn when the context is built.
 */
#include "dtls.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "evloop.h"
#include "log.h"
#include "net.h"
#include "record.h"

/* Our suites in order of preference: AES-GCM first, as most CPUs have it
 * in hardware. cpg_cipher_from_suite() knows exactly these. */
static const char default_cipher_list[] =
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

#define COOKIE_SECRET_LEN 32
#define COOKIE_LEN 32 /* HMAC-SHA256 */
/* The least MTU OpenSSL's DTLS accepts. */
#define DTLS_MIN_MTU 256
/* Room for our Finished: header, explicit nonce, handshake header (12),
 * verify_data (12), tag. */
#define FIRST_RECORD_MAX 128
#define REASON_LEN 384
#define SUBJECT_LEN 256

struct cpg_dtls_ctx {
	unsigned int refs;
	SSL_CTX *ssl_ctx;
	BIO_METHOD *wbio_method;
	uint8_t cookie_secret[COOKIE_SECRET_LEN];
	unsigned int handshake_timeout_ms;
	long mtu;
	char *cipher_list;
};

/* Datagrams of a handshake step (OpenSSL packs a flight in one or two). */
#define HELD_DATAGRAMS_MAX 8

struct cpg_dtls_session {
	struct cpg_dtls_ctx *ctx;
	SSL *ssl;
	BIO *rbio; /* owned by ssl */
	enum cpg_dtls_role role;
	enum cpg_dtls_state state;
	enum cpg_dtls_failure failure;
	union cpg_sockaddr peer;
	struct in_addr peer_vpn_ip;
	struct in6_addr peer_vpn_ip6; /* in6addr_any: no IPv6 to check */
	cpg_dtls_send_fn send;
	void *send_arg;
	unsigned int timeout_ms;
	bool started;
	uint64_t deadline; /* cpg_loop_now_ms() at which the handshake fails */
	bool verify_failed; /* reason holds why we refused the peer */
	/* The earliest notAfter of the peer's verified chain: the tunnel ends
	 * then (cpg_dtls_session_peer_expiry()). */
	time_t peer_expiry;
	bool keys_valid;
	struct cpg_keys keys;
	uint16_t epoch; /* of the last handshake's keys; 0 before the first */
	unsigned int rekeys; /* renegotiations finished */
	uint64_t stray_data; /* application_data records that reached us */
	bool renegotiating; /* a rekey began, by either side */
	bool handshake_done; /* info_cb: OpenSSL finished one */
	/* The first record we wrote in the next epoch (our Finished), for
	 * cpg_record_check_openssl_nonce(). */
	bool first_record_seen;
	size_t first_record_len;
	uint8_t first_record[FIRST_RECORD_MAX];
	char label[CPG_SOCKADDR_STRLEN + INET_ADDRSTRLEN + 8]; /* "ip:port (vpn ip)" */
	char reason[REASON_LEN];
	char subject[SUBJECT_LEN];
	/* cpg_dtls_session_hold_last_flight(): what the handshake wrote in the
	 * step that finished it, kept until cpg_dtls_session_release(). */
	bool hold_last_flight;
	bool holding;
	size_t n_held;
	struct held_datagram {
		uint8_t *data;
		size_t len;
	} held[HELD_DATAGRAMS_MAX];
};

/* The reason of the first error in OpenSSL's queue, which it then empties. */
static const char *openssl_reason(void)
{
	unsigned long e = ERR_peek_error();
	const char *r;

	ERR_clear_error();
	if (!e)
		return "unknown OpenSSL error";
	if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
		return "no PEM data in it";
	r = ERR_reason_error_string(e);
	return r ? r : "unknown OpenSSL error";
}

static const char *asn1_time_str(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "an unreadable date");
	return buf;
}

static const char *name_str(const X509_NAME *name, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n = -1;

	if (b && X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_read(b, buf, (int)len - 1);
	BIO_free(b);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return buf;
}

/* The IPv4 or IPv6 (family) subjectAltNames of cert, for messages only: the
 * decision is OpenSSL's (X509_VERIFY_PARAM_set1_ip, X509_check_ip). */
static const char *cert_ips(X509 *cert, int family, char *buf, size_t len)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int addr_len = family == AF_INET ? 4 : 16;
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		char ip[INET6_ADDRSTRLEN];
		int n;

		if (gn->type != GEN_IPADD || ASN1_STRING_length(gn->d.iPAddress) != addr_len)
			continue;
		inet_ntop(family, ASN1_STRING_get0_data(gn->d.iPAddress), ip, sizeof(ip));
		n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", ip);
		if (n < 0 || (size_t)n >= len - used) {
			/* Whole addresses only: a cut one reads as another. */
			buf[used] = '\0';
			break;
		}
		used += (size_t)n;
	}
	GENERAL_NAMES_free(names);
	return buf;
}

static const char *family_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

/* Whether cert has the IP subjectAltName addr (4 or 16 bytes: family). */
static bool cert_names_ip(X509 *cert, int family, const void *addr)
{
	int ok = X509_check_ip(cert, addr, family == AF_INET ? 4 : 16, 0);

	ERR_clear_error();
	return ok == 1;
}

/* ---- Context ---------------------------------------------------------- */

static int check_readable(const char *what, const char *path)
{
	FILE *f = fopen(path, "r");

	if (!f) {
		log_err("%s %s: %m", what, path);
		return -1;
	}
	fclose(f);
	return 0;
}

/* Narrow cfg's cipher_list (or our default) to our AEAD suites. */
static int set_ciphers(struct cpg_dtls_ctx *ctx, const char *wanted)
{
	const char *list = wanted ? wanted : default_cipher_list;
	STACK_OF(SSL_CIPHER) *sk;
	char kept[512] = "";
	size_t used = 0;

	if (!SSL_CTX_set_cipher_list(ctx->ssl_ctx, list)) {
		ERR_clear_error();
		log_err("cipher_list \"%s\" names no cipher suite OpenSSL knows", list);
		return -1;
	}
	sk = SSL_CTX_get_ciphers(ctx->ssl_ctx);
	for (int i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);

		if (cpg_cipher_from_suite(SSL_CIPHER_get_protocol_id(c)) == CPG_CIPHER_NONE)
			continue;
		used += snprintf(kept + used, sizeof(kept) - used, "%s%s", used ? ":" : "",
				 SSL_CIPHER_get_name(c));
		if (used >= sizeof(kept)) {
			log_err("cipher_list \"%s\" is too long", list);
			return -1;
		}
	}
	if (!used) {
		log_err("cipher_list \"%s\" leaves none of the suites campagnol accepts "
			"(ECDHE with AES-GCM or CHACHA20-POLY1305: %s)",
			list, default_cipher_list);
		return -1;
	}
	if (!SSL_CTX_set_cipher_list(ctx->ssl_ctx, kept)) {
		log_err("cannot set the cipher suites %s: %s", kept, openssl_reason());
		return -1;
	}
	ctx->cipher_list = strdup(kept);
	if (!ctx->cipher_list) {
		log_err("out of memory");
		return -1;
	}
	if (wanted && strcmp(kept, wanted))
		log_info("cipher_list \"%s\": using %s", wanted, kept);
	return 0;
}

static unsigned int count_store_certs(X509_STORE *store)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
	unsigned int n = 0;

	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++)
		if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) == X509_LU_X509)
			n++;
	return n;
}

/* A c_rehash link: 8 hex digits, a dot, a number ("5d8f2a1c.0"). */
static bool is_hash_link(const char *name)
{
	size_t i;

	for (i = 0; i < 8; i++)
		if (!name[i] || !strchr("0123456789abcdef", name[i]))
			return false;
	if (name[8] != '.' || !name[9])
		return false;
	for (i = 9; name[i]; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	return true;
}

static int load_cas(struct cpg_dtls_ctx *ctx, const char *file, const char *dir)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx->ssl_ctx);

	if (!file && !dir) {
		log_err("neither ca_certificates nor ca_certificates_dir is set");
		return -1;
	}
	if (file) {
		if (check_readable("ca_certificates", file))
			return -1;
		if (!SSL_CTX_load_verify_file(ctx->ssl_ctx, file)) {
			log_err("ca_certificates %s: %s", file, openssl_reason());
			return -1;
		}
		if (!count_store_certs(store)) {
			log_err("ca_certificates %s holds no certificate", file);
			return -1;
		}
	}
	if (dir) {
		DIR *d = opendir(dir);
		struct dirent *e;
		bool links = false;

		if (!d) {
			log_err("ca_certificates_dir %s: %m", dir);
			return -1;
		}
		while ((e = readdir(d)) && !links)
			links = is_hash_link(e->d_name);
		closedir(d);
		if (!links)
			log_warn("ca_certificates_dir %s holds no hashed certificate names: "
				 "run \"openssl rehash %s\"",
				 dir, dir);
		if (!SSL_CTX_load_verify_dir(ctx->ssl_ctx, dir)) {
			log_err("ca_certificates_dir %s: %s", dir, openssl_reason());
			return -1;
		}
	}
	return 0;
}

/*
 * Every CRL of the file must be current now: the original took an expired
 * CRL with a warning, and OpenSSL refuses it at verification time anyway,
 * so every handshake would fail with a less direct message. CRL_CHECK (not
 * CRL_CHECK_ALL): the peer's own certificate is checked against the CRL of
 * its issuer, as in the original; a chain through intermediate CAs would
 * otherwise need a CRL of every CA in crl_file. A revoked intermediate CA is
 * taken out of ca_certificates instead.
 */
static int load_crl(struct cpg_dtls_ctx *ctx, const char *path)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx->ssl_ctx);
	unsigned int n = 0;
	X509_CRL *crl;
	BIO *bio;
	int ret = -1;

	if (check_readable("crl_file", path))
		return -1;
	bio = BIO_new_file(path, "r");
	if (!bio) {
		log_err("crl_file %s: %s", path, openssl_reason());
		return -1;
	}
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL))) {
		const ASN1_TIME *last = X509_CRL_get0_lastUpdate(crl);
		const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
		char issuer[SUBJECT_LEN], when[64];

		name_str(X509_CRL_get_issuer(crl), issuer, sizeof(issuer));
		n++;
		if (next && X509_cmp_current_time(next) <= 0) {
			log_err("crl_file %s: the CRL of %s expired on %s (its nextUpdate); "
				"generate a new one",
				path, issuer, asn1_time_str(next, when, sizeof(when)));
			goto out;
		}
		if (!last || X509_cmp_current_time(last) >= 0) {
			log_err("crl_file %s: the CRL of %s is not valid before %s "
				"(its lastUpdate)",
				path, issuer, asn1_time_str(last, when, sizeof(when)));
			goto out;
		}
		if (!X509_STORE_add_crl(store, crl)) {
			log_err("crl_file %s: %s", path, openssl_reason());
			goto out;
		}
		X509_CRL_free(crl);
	}
	crl = NULL;
	if (!n) {
		log_err("crl_file %s holds no PEM CRL", path);
		goto out;
	}
	/* The loop ends on "no start line" after the last CRL. */
	ERR_clear_error();
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	ret = 0;
out:
	X509_CRL_free(crl);
	BIO_free(bio);
	return ret;
}

/* Never prompt on the terminal: an encrypted key is an error. */
static int refuse_passphrase(char *buf, int size, int rwflag, void *asked)
{
	*(bool *)asked = true;
	return -1;
}

static int load_cert_and_key(struct cpg_dtls_ctx *ctx, const char *cert_path,
			     const char *key_path)
{
	EVP_PKEY *pkey = NULL;
	bool asked = false;
	BIO *bio;
	X509 *cert;
	int ret = -1;

	if (check_readable("certificate", cert_path) || check_readable("key", key_path))
		return -1;
	if (!SSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, cert_path)) {
		log_err("certificate %s: %s", cert_path, openssl_reason());
		return -1;
	}
	cert = SSL_CTX_get0_certificate(ctx->ssl_ctx);
	bio = BIO_new_file(key_path, "r");
	if (bio)
		pkey = PEM_read_bio_PrivateKey(bio, NULL, refuse_passphrase, &asked);
	BIO_free(bio);
	if (!pkey) {
		if (asked)
			log_err("key %s is protected by a passphrase; campagnol needs it "
				"unencrypted, with mode 600",
				key_path);
		else
			log_err("key %s: no PEM private key in it (%s)", key_path,
				openssl_reason());
		goto out;
	}
	if (!X509_check_private_key(cert, pkey)) {
		ERR_clear_error();
		log_err("key %s does not match certificate %s", key_path, cert_path);
		goto out;
	}
	if (!SSL_CTX_use_PrivateKey(ctx->ssl_ctx, pkey) ||
	    !SSL_CTX_check_private_key(ctx->ssl_ctx)) {
		log_err("key %s with certificate %s: %s", key_path, cert_path, openssl_reason());
		goto out;
	}
	ret = 0;
out:
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return ret;
}

/* Our certificate names our address addr (family), the value of option. */
static int check_own_ip(X509 *cert, const char *path, int family, const void *addr,
			const char *option)
{
	char ip[INET6_ADDRSTRLEN], ips[128];

	if (cert_names_ip(cert, family, addr))
		return 0;
	inet_ntop(family, addr, ip, sizeof(ip));
	if (cert_ips(cert, family, ips, sizeof(ips))[0])
		log_err("certificate %s is for %s, not for our %s %s: peers would refuse it", path,
			ips, option, ip);
	else
		log_err("certificate %s has no %s subjectAltName, so it is not for our %s %s: "
			"peers would refuse it",
			path, family_name(family), option, ip);
	return -1;
}

/* What peers will check in our certificate, checked first here; the
 * RDV's names no VPN IP. */
static int check_own_cert(struct cpg_dtls_ctx *ctx, const char *path,
			  const struct cpg_config *cfg, bool names_vpn_ip)
{
	X509 *cert = SSL_CTX_get0_certificate(ctx->ssl_ctx);
	const ASN1_TIME *not_after = X509_get0_notAfter(cert);
	const ASN1_TIME *not_before = X509_get0_notBefore(cert);
	time_t soon = time(NULL) + (time_t)CPG_DTLS_CERT_WARN_DAYS * 86400;
	char when[64];
	STACK_OF(X509) *chain = NULL;
	X509_STORE_CTX *xs;
	int cmp;

	cmp = X509_cmp_current_time(not_after);
	if (cmp == 0) {
		log_err("certificate %s has an unreadable expiry date", path);
		return -1;
	}
	if (cmp < 0) {
		log_err("certificate %s expired on %s", path,
			asn1_time_str(not_after, when, sizeof(when)));
		return -1;
	}
	if (X509_cmp_time(not_after, &soon) < 0)
		log_warn("certificate %s expires on %s, in less than %d days", path,
			 asn1_time_str(not_after, when, sizeof(when)), CPG_DTLS_CERT_WARN_DAYS);
	if (X509_cmp_current_time(not_before) > 0)
		log_warn("certificate %s is not valid before %s: peers refuse it until then", path,
			 asn1_time_str(not_before, when, sizeof(when)));
	if (names_vpn_ip &&
	    (check_own_ip(cert, path, AF_INET, &cfg->vpn_ip, "vpn_ip") ||
	     (cpg_config_has_ip6(cfg) &&
	      check_own_ip(cert, path, AF_INET6, &cfg->vpn_ip6, "vpn_ip6"))))
		return -1;

	/* Peers sharing our CAs would refuse a certificate we do not accept
	 * ourselves; a warning, as peers may trust other CAs. */
	xs = X509_STORE_CTX_new();
	SSL_CTX_get0_chain_certs(ctx->ssl_ctx, &chain);
	if (xs && X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(ctx->ssl_ctx), cert, chain) &&
	    X509_verify_cert(xs) <= 0)
		log_warn("certificate %s does not verify against our own CAs: %s", path,
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs)));
	X509_STORE_CTX_free(xs);
	ERR_clear_error();
	return 0;
}

/*
 * The CA certificates we send after ours: those of its file, or else the
 * chain to our CAs, built here once. OpenSSL would build it at every
 * handshake otherwise, verifying our certificate's signature each time: a
 * sixth of what the RDV spends on a client's handshake. It is built as
 * OpenSSL builds it (root included; as far as it goes when incomplete), so
 * that peers get what they got before.
 */
static int build_own_chain(struct cpg_dtls_ctx *ctx, const char *path)
{
	STACK_OF(X509) *chain = NULL;

	SSL_CTX_get0_chain_certs(ctx->ssl_ctx, &chain);
	if (sk_X509_num(chain) > 0 ||
	    SSL_CTX_build_cert_chain(ctx->ssl_ctx, SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR |
							   SSL_BUILD_CHAIN_FLAG_CLEAR_ERROR) > 0)
		return 0;
	log_err("certificate %s: cannot build its chain: %s", path, openssl_reason());
	return -1;
}

static int cert_verify_cb(X509_STORE_CTX *xs, void *arg);
static int cookie_generate_cb(SSL *ssl, unsigned char *cookie, unsigned int *len);
static int cookie_verify_cb(SSL *ssl, const unsigned char *cookie, unsigned int len);
static int wbio_write(BIO *b, const char *data, int len);
static void info_cb(const SSL *ssl, int where, int ret);
static long wbio_ctrl(BIO *b, int cmd, long num, void *ptr);
static int wbio_create(BIO *b);

static BIO_METHOD *wbio_method_new(void)
{
	/* One type index for the process: indices are a small finite set. */
	static int type = -1;
	BIO_METHOD *m;

	if (type < 0)
		type = BIO_get_new_index();
	if (type < 0)
		return NULL;
	m = BIO_meth_new(type | BIO_TYPE_SOURCE_SINK, "campagnol datagram");
	if (m && (!BIO_meth_set_write(m, wbio_write) || !BIO_meth_set_ctrl(m, wbio_ctrl) ||
		  !BIO_meth_set_create(m, wbio_create))) {
		BIO_meth_free(m);
		m = NULL;
	}
	return m;
}

static long handshake_mtu(int tun_mtu)
{
	long mtu = (long)tun_mtu + (long)cpg_cipher_overhead(CPG_CIPHER_AES_128_GCM);

	if (mtu > CPG_DTLS_HANDSHAKE_MTU)
		mtu = CPG_DTLS_HANDSHAKE_MTU;
	return mtu < DTLS_MIN_MTU ? DTLS_MIN_MTU : mtu;
}

/* Whose certificate the context's sessions present. */
enum own_cert {
	OWN_CERT_MEMBER,	/* cfg's, naming our vpn_ip (and vpn_ip6) */
	OWN_CERT_RDV,		/* cfg's, naming no VPN IP */
	OWN_CERT_PER_SESSION,	/* each session's (cpg_dtls_session_use_cert) */
};

static struct cpg_dtls_ctx *ctx_new(const struct cpg_config *cfg, enum own_cert own)
{
	struct cpg_dtls_ctx *ctx = calloc(1, sizeof(*ctx));
	SSL_CTX *c;

	if (!ctx) {
		log_err("out of memory");
		return NULL;
	}
	ctx->refs = 1;
	ctx->handshake_timeout_ms = CPG_DTLS_HANDSHAKE_TIMEOUT_MS;
	ctx->mtu = handshake_mtu(cfg->tun_mtu);
	ctx->ssl_ctx = c = SSL_CTX_new(DTLS_method());
	ctx->wbio_method = wbio_method_new();
	if (!c || !ctx->wbio_method || RAND_bytes(ctx->cookie_secret, COOKIE_SECRET_LEN) != 1) {
		log_err("cannot set up OpenSSL's DTLS: %s", openssl_reason());
		goto fail;
	}
	if (!SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(c, DTLS1_2_VERSION)) {
		log_err("OpenSSL refuses DTLS 1.2: %s", openssl_reason());
		goto fail;
	}
	/*
	 * A rekey is a renegotiation (RFC 5746 secure renegotiation, which
	 * OpenSSL always does), a full handshake that moves the tunnel to the
	 * next epoch. OpenSSL 3 refuses the ones clients start unless told.
	 * No tickets and no session cache: every handshake has fresh ECDHE.
	 */
	SSL_CTX_set_options(c, SSL_OP_ALLOW_CLIENT_RENEGOTIATION | SSL_OP_NO_TICKET |
				       SSL_OP_NO_QUERY_MTU);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	/* cert_verify_cb sets verify_cb itself (verify_peer_chain). */
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_cert_verify_callback(c, cert_verify_cb, NULL);
	SSL_CTX_set_verify_depth(c, cfg->verify_depth);
	SSL_CTX_set_cookie_generate_cb(c, cookie_generate_cb);
	SSL_CTX_set_cookie_verify_cb(c, cookie_verify_cb);

	if (own != OWN_CERT_PER_SESSION && (!cfg->certificate || !cfg->key)) {
		log_err("certificate and key are mandatory in [SECURITY]");
		goto fail;
	}
	if (set_ciphers(ctx, cfg->cipher_list) ||
	    load_cas(ctx, cfg->ca_certificates, cfg->ca_certificates_dir) ||
	    (cfg->crl_file && load_crl(ctx, cfg->crl_file)))
		goto fail;
	if (own != OWN_CERT_PER_SESSION &&
	    (load_cert_and_key(ctx, cfg->certificate, cfg->key) ||
	     check_own_cert(ctx, cfg->certificate, cfg, own == OWN_CERT_MEMBER) ||
	     build_own_chain(ctx, cfg->certificate)))
		goto fail;
	ERR_clear_error();
	log_debug("DTLS context: %s, handshake MTU %ld", ctx->cipher_list, ctx->mtu);
	return ctx;
fail:
	ERR_clear_error();
	cpg_dtls_ctx_put(ctx);
	return NULL;
}

struct cpg_dtls_ctx *cpg_dtls_ctx_new(const struct cpg_config *cfg)
{
	return ctx_new(cfg, OWN_CERT_MEMBER);
}

struct cpg_dtls_ctx *cpg_dtls_ctx_new_rdv(const struct cpg_config *cfg)
{
	return ctx_new(cfg, OWN_CERT_RDV);
}

struct cpg_dtls_ctx *cpg_dtls_ctx_new_per_session_cert(const struct cpg_config *cfg)
{
	return ctx_new(cfg, OWN_CERT_PER_SESSION);
}

void cpg_dtls_ctx_put(struct cpg_dtls_ctx *ctx)
{
	if (!ctx || --ctx->refs)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	BIO_meth_free(ctx->wbio_method);
	OPENSSL_cleanse(ctx->cookie_secret, sizeof(ctx->cookie_secret));
	free(ctx->cipher_list);
	free(ctx);
}

void cpg_dtls_ctx_set_handshake_timeout(struct cpg_dtls_ctx *ctx, unsigned int ms)
{
	ctx->handshake_timeout_ms = ms;
}

const char *cpg_dtls_ctx_cipher_list(const struct cpg_dtls_ctx *ctx)
{
	return ctx->cipher_list;
}

X509_STORE *cpg_dtls_ctx_store(const struct cpg_dtls_ctx *ctx)
{
	return SSL_CTX_get_cert_store(ctx->ssl_ctx);
}

/* ---- Callbacks -------------------------------------------------------- */

static void set_reason(struct cpg_dtls_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_reason(struct cpg_dtls_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
}

/* The chain does not lead to one of our CAs. */
static bool unknown_ca_error(int err)
{
	return err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	       err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
	       err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
	       err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
}

/* The peer's certificate leaf does not name want (family). */
static void mismatch_reason(X509 *leaf, int family, const void *want, const char *subject,
			    char *buf, size_t len)
{
	char ips[128], ip[INET6_ADDRSTRLEN];

	inet_ntop(family, want, ip, sizeof(ip));
	if (leaf && cert_ips(leaf, family, ips, sizeof(ips))[0])
		snprintf(buf, len, "presented a certificate for %s, not %s (subject %s)", ips, ip,
			 subject);
	else
		snprintf(buf, len, "presented a certificate without an %s subjectAltName, "
			 "expected %s (subject %s)", family_name(family), ip, subject);
}

void cpg_dtls_refusal_reason(X509_STORE_CTX *xs, struct in_addr want_ip,
			     const struct in6_addr *want_ip6, char *buf, size_t len)
{
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	X509 *cert = X509_STORE_CTX_get_current_cert(xs);
	int err = X509_STORE_CTX_get_error(xs);
	char subject[SUBJECT_LEN] = "?", at[SUBJECT_LEN] = "";

	if (leaf)
		name_str(X509_get_subject_name(leaf), subject, sizeof(subject));
	/* Depth > 0: the problem is with a CA certificate of the chain. */
	if (cert && cert != leaf)
		name_str(X509_get_subject_name(cert), at, sizeof(at));
	/* Which address is missing: the IPv6 one only when the IPv4 one is there. */
	if (err == X509_V_ERR_IP_ADDRESS_MISMATCH && want_ip6 &&
	    !IN6_IS_ADDR_UNSPECIFIED(want_ip6) && leaf && cert_names_ip(leaf, AF_INET, &want_ip))
		mismatch_reason(leaf, AF_INET6, want_ip6, subject, buf, len);
	else if (err == X509_V_ERR_IP_ADDRESS_MISMATCH)
		mismatch_reason(leaf, AF_INET, &want_ip, subject, buf, len);
	else
		snprintf(buf, len, "certificate verify failed: %s (subject %s%s%s)%s",
			 X509_verify_cert_error_string(err), subject, at[0] ? ", at CA " : "", at,
			 unknown_ca_error(err) ? ": not issued by a CA we trust" : "");
}

bool cpg_dtls_verify_ip6(X509_STORE_CTX *xs, const struct in6_addr *want_ip6)
{
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);

	if (!want_ip6 || IN6_IS_ADDR_UNSPECIFIED(want_ip6) ||
	    (leaf && cert_names_ip(leaf, AF_INET6, want_ip6)))
		return true;
	/* As OpenSSL's own check of the IPv4 address reports it. */
	X509_STORE_CTX_set_current_cert(xs, leaf);
	X509_STORE_CTX_set_error_depth(xs, 0);
	X509_STORE_CTX_set_error(xs, X509_V_ERR_IP_ADDRESS_MISMATCH);
	return false;
}

/*
 * What a verification of a peer's chain expects (its VPN IP, and IPv6 VPN
 * address unless in6addr_any), and why it refused it: the handshake's and
 * cpg_dtls_session_recheck()'s, found by verify_cb in the X509_STORE_CTX's
 * app data (OpenSSL keeps index 0 of its ex_data for it; libssl uses an
 * index of its own).
 */
struct peer_check {
	struct in_addr ip;
	const struct in6_addr *ip6;
	bool refused;
	char *reason;
	size_t reason_len;
};

/* Keeps the first refusal; OpenSSL then aborts with a fatal alert. */
static int verify_cb(int ok, X509_STORE_CTX *xs)
{
	struct peer_check *c = X509_STORE_CTX_get_app_data(xs);

	if (ok || !c || c->refused)
		return ok;
	c->refused = true;
	cpg_dtls_refusal_reason(xs, c->ip, c->ip6, c->reason, c->reason_len);
	return 0;
}

/*
 * The one verification of a peer's chain, set up in xs (store, leaf, the
 * certificates it sent, the VPN IP in its parameters): OpenSSL's (which calls
 * verify_cb), then the check it cannot make itself: X509_VERIFY_PARAM holds
 * one IP address, the IPv4 one, so the IPv6 one is checked once everything
 * else has passed. 1 when the chain is accepted.
 */
static int verify_peer_chain(X509_STORE_CTX *xs, struct peer_check *c)
{
	int ok;

	X509_STORE_CTX_set_app_data(xs, c);
	X509_STORE_CTX_set_verify_cb(xs, verify_cb);
	ok = X509_verify_cert(xs);
	if (ok > 0 && !cpg_dtls_verify_ip6(xs, c->ip6))
		ok = verify_cb(0, xs);
	return ok;
}

static struct peer_check session_check(struct cpg_dtls_session *s, char *reason, size_t len)
{
	return (struct peer_check){
		.ip = s->peer_vpn_ip,
		.ip6 = &s->peer_vpn_ip6,
		.reason = reason,
		.reason_len = len,
	};
}

/* The handshake's verification of the peer's chain. */
static int cert_verify_cb(X509_STORE_CTX *xs, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct cpg_dtls_session *s = ssl ? SSL_get_app_data(ssl) : NULL;
	struct peer_check c;
	int ok;

	if (!s)
		return 0; /* every SSL of ours has its session */
	c = session_check(s, s->reason, sizeof(s->reason));
	ok = verify_peer_chain(xs, &c);
	s->verify_failed = c.refused;
	return ok;
}

/*
 * The earliest notAfter of chain (as verified: leaf to trust anchor), when
 * the first of its certificates expires; 0 when none is readable.
 */
static time_t chain_expiry(STACK_OF(X509) *chain)
{
	time_t now = time(NULL), first = 0;

	for (int i = 0; i < sk_X509_num(chain); i++) {
		int days, secs;
		time_t t;

		if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(sk_X509_value(chain, i))))
			continue;
		t = now + (time_t)days * 86400 + secs;
		if (!first || t < first)
			first = t;
	}
	ERR_clear_error();
	return first;
}

/*
 * The rekeys of s renegotiate with ctx: its certificate and key (a renewal)
 * and its CAs and CRL. The verification settings stay the session's.
 */
static void use_ctx(struct cpg_dtls_session *s, struct cpg_dtls_ctx *ctx)
{
	SSL_CTX *c = ctx->ssl_ctx;
	STACK_OF(X509) *chain = NULL;

	/* Not SSL_set_SSL_CTX(), which is for SNI: the credentials and the
	 * store, each of which the SSL takes a reference to. */
	if (!SSL_use_certificate(s->ssl, SSL_CTX_get0_certificate(c)) ||
	    !SSL_use_PrivateKey(s->ssl, SSL_CTX_get0_privatekey(c)) ||
	    !SSL_CTX_get0_chain_certs(c, &chain) || !SSL_set1_chain(s->ssl, chain) ||
	    !SSL_set1_verify_cert_store(s->ssl, SSL_CTX_get_cert_store(c)))
		log_warn("peer %s: its rekeys keep the credentials of before the reload: %s",
			 s->label, openssl_reason());
}

/* Internal errors of a recheck: the chain is refused, not trusted. */
static bool recheck_failed(X509_STORE_CTX *xs, char *why, size_t len, const char *what)
{
	snprintf(why, len, "cannot verify the peer's certificate again: %s: %s", what,
		 openssl_reason());
	X509_STORE_CTX_free(xs);
	return false;
}

bool cpg_dtls_session_recheck(struct cpg_dtls_session *s, struct cpg_dtls_ctx *ctx, char *why,
			      size_t len)
{
	X509 *leaf = SSL_get0_peer_certificate(s->ssl);
	X509_STORE *store = SSL_CTX_get_cert_store(ctx->ssl_ctx);
	X509_STORE_CTX *xs;
	struct peer_check c;
	int ok;

	why[0] = '\0';
	if (s->state != CPG_DTLS_HANDSHAKING && s->state != CPG_DTLS_ESTABLISHED)
		return true;
	/* What the handshake has still to verify, it verifies with ctx. */
	if (s->state == CPG_DTLS_HANDSHAKING && !SSL_set1_verify_cert_store(s->ssl, store)) {
		snprintf(why, len, "cannot switch the handshake to the new CAs and CRL: %s",
			 openssl_reason());
		return false;
	}
	if (!leaf)
		return s->state == CPG_DTLS_HANDSHAKING; /* nothing accepted yet */
	/* As libssl sets up its verification (ssl_verify_cert_chain): the
	 * peer is a TLS client when we are the server; the session's
	 * parameters hold the depth and the VPN IP. */
	xs = X509_STORE_CTX_new();
	if (!xs)
		return recheck_failed(xs, why, len, "out of memory");
	if (!X509_STORE_CTX_init(xs, store, leaf, SSL_get_peer_cert_chain(s->ssl)) ||
	    !X509_STORE_CTX_set_default(xs, s->role == CPG_DTLS_SERVER ? "ssl_client"
									 : "ssl_server") ||
	    !X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(xs), SSL_get0_param(s->ssl)))
		return recheck_failed(xs, why, len, "setting it up");
	X509_VERIFY_PARAM_set_auth_level(X509_STORE_CTX_get0_param(xs),
					 SSL_CTX_get_security_level(ctx->ssl_ctx));
	c = session_check(s, why, len);
	ok = verify_peer_chain(xs, &c);
	if (ok <= 0 && !c.refused)
		return recheck_failed(xs, why, len, "OpenSSL failed");
	if (ok > 0 && s->state == CPG_DTLS_ESTABLISHED) {
		s->peer_expiry = chain_expiry(X509_STORE_CTX_get0_chain(xs));
		use_ctx(s, ctx);
	}
	X509_STORE_CTX_free(xs);
	ERR_clear_error();
	return ok > 0;
}

time_t cpg_dtls_session_peer_expiry(const struct cpg_dtls_session *s)
{
	return s->peer_expiry;
}

static int cookie_compute(SSL *ssl, unsigned char *out, size_t *out_len)
{
	struct cpg_dtls_session *s = SSL_get_app_data(ssl);
	uint8_t msg[1 + 16 + 2];
	size_t n = 0;
	uint16_t port = htons(cpg_sockaddr_port(&s->peer));

	msg[n++] = (uint8_t)s->peer.sa.sa_family;
	if (s->peer.sa.sa_family == AF_INET6) {
		memcpy(msg + n, &s->peer.in6.sin6_addr, 16);
		n += 16;
	} else {
		memcpy(msg + n, &s->peer.in.sin_addr, 4);
		n += 4;
	}
	memcpy(msg + n, &port, 2);
	n += 2;
	return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, s->ctx->cookie_secret,
			 COOKIE_SECRET_LEN, msg, n, out, COOKIE_LEN, out_len) != NULL;
}

static int cookie_generate_cb(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
	size_t n;

	if (!cookie_compute(ssl, cookie, &n))
		return 0;
	*len = (unsigned int)n;
	return 1;
}

static int cookie_verify_cb(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
	unsigned char want[COOKIE_LEN];
	size_t n;

	return cookie_compute(ssl, want, &n) && len == n && !CRYPTO_memcmp(cookie, want, n);
}

/* Notes the first record of the next epoch we write: our Finished. */
static void note_first_data_epoch_record(struct cpg_dtls_session *s, const uint8_t *d,
					 size_t len)
{
	struct cpg_record_header h;

	while (!s->first_record_seen && cpg_record_parse_header(d, len, &h) == CPG_RECORD_OK) {
		size_t n = CPG_RECORD_HEADER_LEN + h.length;

		if (h.epoch == s->epoch + 1) {
			s->first_record_seen = true;
			if (n <= sizeof(s->first_record)) {
				memcpy(s->first_record, d, n);
				s->first_record_len = n;
			}
		}
		d += n;
		len -= n;
	}
}

/* Keep a datagram for later; false when it cannot be kept (send it now). */
static bool hold_datagram(struct cpg_dtls_session *s, const uint8_t *data, size_t len)
{
	struct held_datagram *h;

	if (s->n_held == HELD_DATAGRAMS_MAX)
		return false;
	h = &s->held[s->n_held];
	h->data = malloc(len);
	if (!h->data)
		return false;
	memcpy(h->data, data, len);
	h->len = len;
	s->n_held++;
	return true;
}

/* Send what was held, in order, and stop holding. */
static void release_held(struct cpg_dtls_session *s)
{
	for (size_t i = 0; i < s->n_held; i++) {
		s->send(s->send_arg, &s->peer, s->held[i].data, s->held[i].len);
		free(s->held[i].data);
	}
	s->n_held = 0;
	s->holding = false;
}

static void drop_held(struct cpg_dtls_session *s)
{
	for (size_t i = 0; i < s->n_held; i++)
		free(s->held[i].data);
	s->n_held = 0;
	s->holding = false;
}

static int wbio_write(BIO *b, const char *data, int len)
{
	struct cpg_dtls_session *s = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	note_first_data_epoch_record(s, (const uint8_t *)data, (size_t)len);
	if (!s->holding || !hold_datagram(s, (const uint8_t *)data, (size_t)len))
		s->send(s->send_arg, &s->peer, (const uint8_t *)data, (size_t)len);
	return len;
}

static long wbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	/* Writes leave at once: flushing succeeds, nothing is pending. Datagram
	 * ctrls (MTU queries) are not needed with SSL_OP_NO_QUERY_MTU. */
	return cmd == BIO_CTRL_FLUSH;
}

static int wbio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

/* ---- Session ---------------------------------------------------------- */

/* OpenSSL's word on when a handshake, a renegotiation included, starts and ends. */
static void info_cb(const SSL *ssl, int where, int ret)
{
	struct cpg_dtls_session *s = SSL_get_app_data(ssl);

	(void)ret;
	if ((where & SSL_CB_HANDSHAKE_START) && s->state == CPG_DTLS_ESTABLISHED &&
	    !s->renegotiating) {
		s->renegotiating = true;
		s->deadline = cpg_loop_now_ms() + s->timeout_ms;
	}
	if (where & SSL_CB_HANDSHAKE_DONE)
		s->handshake_done = true;
}

static void wipe_keys(struct cpg_dtls_session *s)
{
	cpg_keys_wipe(&s->keys);
	s->keys_valid = false;
}

static void fail(struct cpg_dtls_session *s, enum cpg_dtls_failure why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct cpg_dtls_session *s, enum cpg_dtls_failure why, const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
		va_end(ap);
	}
	s->state = CPG_DTLS_FAILED;
	s->failure = why;
	wipe_keys(s);
	ERR_clear_error();
	if (why == CPG_DTLS_FAIL_NONCE_CLASH)
		log_notice("peer %s: %s", s->label, s->reason);
	else
		log_warn("peer %s: %s", s->label, s->reason);
}

static void handshake_failed(struct cpg_dtls_session *s, int ssl_err)
{
	unsigned long e = ERR_peek_error();

	if (s->verify_failed) {
		fail(s, CPG_DTLS_FAIL_PEER_CERT, NULL);
	} else if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET) {
		/* OpenSSL reports a received alert as a reason past this offset. */
		fail(s, CPG_DTLS_FAIL_PEER_ALERT, "the peer refused the handshake: %s",
		     openssl_reason());
	} else if (ssl_err == SSL_ERROR_SSL || ssl_err == SSL_ERROR_SYSCALL) {
		fail(s, CPG_DTLS_FAIL_PROTOCOL, "handshake failed: %s", openssl_reason());
	} else {
		fail(s, CPG_DTLS_FAIL_INTERNAL, "handshake failed: SSL error %d", ssl_err);
	}
}

/*
 * The keys of the handshake that just finished, the first or a rekey, for
 * the next epoch. false when the session failed instead.
 */
static bool take_handshake_keys(struct cpg_dtls_session *s)
{
	uint16_t epoch = s->epoch + 1;
	int st;

	s->handshake_done = false;
	wipe_keys(s);
	st = cpg_keys_derive(s->ssl, epoch, &s->keys);
	if (st != CPG_KEYS_OK) {
		fail(s, CPG_DTLS_FAIL_INTERNAL, "cannot derive the record keys: %s",
		     cpg_keys_strerror(st));
		return false;
	}
	if (!s->first_record_len) {
		fail(s, CPG_DTLS_FAIL_INTERNAL, "our Finished record of epoch %u was not seen",
		     epoch);
		return false;
	}
	st = cpg_record_check_openssl_nonce(s->keys.cipher, s->first_record, s->first_record_len);
	OPENSSL_cleanse(s->first_record, sizeof(s->first_record));
	s->first_record_len = 0;
	s->first_record_seen = false;
	s->epoch = epoch;
	if (st == CPG_RECORD_ERR_NONCE_CLASH) {
		fail(s, CPG_DTLS_FAIL_NONCE_CLASH,
		     "OpenSSL's GCM nonces could meet the data plane's: handshake again");
		return false;
	}
	if (st != CPG_RECORD_OK) {
		fail(s, CPG_DTLS_FAIL_INTERNAL, "our Finished record is unreadable: %s",
		     cpg_record_strerror(st));
		return false;
	}
	s->keys_valid = true;
	return true;
}

/* The peer's certificate may be another one after a rekey (a renewal). */
static void note_peer(struct cpg_dtls_session *s)
{
	X509 *peer_cert = SSL_get0_peer_certificate(s->ssl);

	if (peer_cert)
		name_str(X509_get_subject_name(peer_cert), s->subject, sizeof(s->subject));
	s->peer_expiry = chain_expiry(SSL_get0_verified_chain(s->ssl));
}

static void established(struct cpg_dtls_session *s)
{
	if (!take_handshake_keys(s))
		return;
	note_peer(s);
	s->state = CPG_DTLS_ESTABLISHED;
	log_info("peer %s: DTLS 1.2 established, %s, %s", s->label,
		 SSL_CIPHER_get_name(SSL_get_current_cipher(s->ssl)), s->subject);
}

/* A renegotiation finished: the next epoch's keys are there to take. */
static void rekeyed(struct cpg_dtls_session *s)
{
	s->renegotiating = false;
	if (!take_handshake_keys(s))
		return;
	s->rekeys++;
	note_peer(s);
	log_debug("peer %s: rekeyed, epoch %u", s->label, s->epoch);
}

/* Reads what OpenSSL has after the handshake: alerts and retransmissions
 * (it answers a retransmitted Finished flight with its own). */
static void read_records(struct cpg_dtls_session *s)
{
	unsigned char buf[256];

	/* A rekey's last flight waits for the data plane, as the first's. */
	s->holding = s->hold_last_flight;
	while (s->state == CPG_DTLS_ESTABLISHED) {
		int ret, err;

		ERR_clear_error();
		ret = SSL_read(s->ssl, buf, sizeof(buf));
		/* OpenSSL also calls our HelloRequest a handshake: only one
		 * that wrote a Finished in the next epoch gave keys. */
		if (s->handshake_done && s->first_record_seen)
			rekeyed(s);
		s->handshake_done = false;
		if (ret > 0)
			continue; /* no application data goes through OpenSSL */
		err = SSL_get_error(s->ssl, ret);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
			break;
		if (err == SSL_ERROR_ZERO_RETURN) {
			s->state = CPG_DTLS_CLOSED;
			set_reason(s, "the peer closed the tunnel (close_notify)");
			wipe_keys(s);
			log_info("peer %s: %s", s->label, s->reason);
			break;
		}
		if (s->renegotiating)
			handshake_failed(s, err);
		else
			fail(s, CPG_DTLS_FAIL_PROTOCOL, "connection failed: %s", openssl_reason());
	}
	if (!s->keys_valid)
		release_held(s);
}

static void drive(struct cpg_dtls_session *s)
{
	if (s->state == CPG_DTLS_HANDSHAKING) {
		int ret, err;

		/* Held only if this step finishes the handshake. */
		s->holding = s->hold_last_flight;
		ERR_clear_error();
		ret = SSL_do_handshake(s->ssl);
		if (ret == 1) {
			established(s);
		} else {
			err = SSL_get_error(s->ssl, ret);
			if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
				handshake_failed(s, err);
		}
		if (s->state != CPG_DTLS_ESTABLISHED)
			release_held(s);
	}
	if (s->state == CPG_DTLS_ESTABLISHED)
		read_records(s);
	/* What OpenSSL left unread must not merge with the next datagram. */
	(void)BIO_reset(s->rbio);
	ERR_clear_error();
}

struct cpg_dtls_session *cpg_dtls_session_new(struct cpg_dtls_ctx *ctx, enum cpg_dtls_role role,
					      const union cpg_sockaddr *peer,
					      struct in_addr peer_vpn_ip, cpg_dtls_send_fn send,
					      void *send_arg)
{
	struct cpg_dtls_session *s = calloc(1, sizeof(*s));
	char addr[CPG_SOCKADDR_STRLEN], ip[INET_ADDRSTRLEN];
	BIO *rbio = NULL, *wbio = NULL;

	if (!s) {
		log_err("out of memory");
		return NULL;
	}
	ctx->refs++;
	s->ctx = ctx;
	s->role = role;
	s->state = CPG_DTLS_HANDSHAKING;
	s->peer = *peer;
	s->peer_vpn_ip = peer_vpn_ip;
	s->send = send;
	s->send_arg = send_arg;
	s->timeout_ms = ctx->handshake_timeout_ms;
	cpg_sockaddr_str(peer, addr, sizeof(addr));
	if (peer_vpn_ip.s_addr == INADDR_ANY)
		snprintf(s->label, sizeof(s->label), "%s", addr);
	else
		snprintf(s->label, sizeof(s->label), "%s (%s)", addr,
			 cpg_net_ip4_str(peer_vpn_ip, ip));

	s->ssl = SSL_new(ctx->ssl_ctx);
	rbio = BIO_new(BIO_s_mem());
	wbio = BIO_new(ctx->wbio_method);
	if (!s->ssl || !rbio || !wbio) {
		BIO_free(rbio);
		BIO_free(wbio);
		goto fail;
	}
	/* An empty read BIO means "no datagram yet", not end of file. */
	BIO_set_mem_eof_return(rbio, -1);
	BIO_set_data(wbio, s);
	SSL_set_bio(s->ssl, rbio, wbio);
	s->rbio = rbio;
	SSL_set_app_data(s->ssl, s);
	SSL_set_info_callback(s->ssl, info_cb);
	SSL_set_options(s->ssl, SSL_OP_NO_QUERY_MTU);
	/* Identity binding: OpenSSL's verification fails unless the peer's
	 * certificate has this iPAddress subjectAltName (the IPv6 one, which
	 * OpenSSL cannot check as well, is cert_verify_cb's). */
	if (!SSL_set_mtu(s->ssl, ctx->mtu) ||
	    (peer_vpn_ip.s_addr != INADDR_ANY &&
	     !X509_VERIFY_PARAM_set1_ip(SSL_get0_param(s->ssl),
					(const unsigned char *)&peer_vpn_ip, sizeof(peer_vpn_ip))))
		goto fail;
	if (role == CPG_DTLS_SERVER) {
		SSL_set_options(s->ssl, SSL_OP_COOKIE_EXCHANGE);
		SSL_set_accept_state(s->ssl);
	} else {
		SSL_set_connect_state(s->ssl);
	}
	return s;
fail:
	log_err("peer %s: cannot set up a DTLS session: %s", s->label, openssl_reason());
	cpg_dtls_session_free(s);
	return NULL;
}

int cpg_dtls_session_use_cert(struct cpg_dtls_session *s, X509 *cert, EVP_PKEY *key,
			      STACK_OF(X509) *chain)
{
	if (SSL_use_cert_and_key(s->ssl, cert, key, chain, 1) == 1)
		return 0;
	log_err("peer %s: cannot use the session's certificate: %s", s->label,
		openssl_reason());
	return -1;
}

enum cpg_dtls_state cpg_dtls_session_start(struct cpg_dtls_session *s)
{
	if (s->started || s->state != CPG_DTLS_HANDSHAKING)
		return s->state;
	s->started = true;
	s->deadline = cpg_loop_now_ms() + s->timeout_ms;
	if (s->role == CPG_DTLS_CLIENT)
		drive(s);
	return s->state;
}

/*
 * A record of an encrypted epoch too short for the explicit nonce and the
 * tag of the suite (of any suite we accept, before one is chosen). OpenSSL
 * 3 fails the whole connection on one, as an internal error, where it drops
 * any other record that does not open: whoever can send from the peer's
 * endpoint could close the tunnel with a single datagram.
 */
static bool cannot_be_sealed(const struct cpg_dtls_session *s, const struct cpg_record_header *h)
{
	const SSL_CIPHER *suite = SSL_get_current_cipher(s->ssl);
	enum cpg_cipher c = suite ? cpg_cipher_from_suite(SSL_CIPHER_get_protocol_id(suite))
				  : CPG_CIPHER_NONE;
	size_t min = CPG_RECORD_TAG_LEN;

	if (c != CPG_CIPHER_NONE)
		min += cpg_cipher_explicit_nonce_len(c);
	return h->epoch != 0 && h->length < min;
}

enum cpg_dtls_state cpg_dtls_session_input(struct cpg_dtls_session *s, const uint8_t *dgram,
					   size_t len)
{
	struct cpg_record_header h;
	bool fed = false;

	if (s->state != CPG_DTLS_HANDSHAKING && s->state != CPG_DTLS_ESTABLISHED)
		return s->state;
	/* The caller had its turn to install the keys. */
	if (s->holding && s->state == CPG_DTLS_ESTABLISHED)
		release_held(s);
	if (!s->started)
		cpg_dtls_session_start(s);
	/* Records one by one, in order, minus application_data and records
	 * that cannot be sealed; a malformed tail is dropped as OpenSSL would. */
	while (cpg_record_parse_header(dgram, len, &h) == CPG_RECORD_OK) {
		size_t n = CPG_RECORD_HEADER_LEN + h.length;

		if (h.type == CPG_RECORD_CT_APPLICATION_DATA)
			s->stray_data++;
		else if (!cannot_be_sealed(s, &h))
			fed |= BIO_write(s->rbio, dgram, (int)n) == (int)n;
		dgram += n;
		len -= n;
	}
	if (fed)
		drive(s);
	return s->state;
}

int64_t cpg_dtls_session_timeout_ms(const struct cpg_dtls_session *s)
{
	struct timeval tv;
	int64_t next = -1;

	if (s->state != CPG_DTLS_HANDSHAKING && s->state != CPG_DTLS_ESTABLISHED)
		return -1;
	/* Rounded up: handling a DTLS timer early does nothing. */
	if (DTLSv1_get_timeout(s->ssl, &tv) == 1)
		next = (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
	if ((s->state == CPG_DTLS_HANDSHAKING && s->started) || s->renegotiating) {
		uint64_t now = cpg_loop_now_ms();
		int64_t left = s->deadline > now ? (int64_t)(s->deadline - now) : 0;

		if (next < 0 || left < next)
			next = left;
	}
	return next;
}

enum cpg_dtls_state cpg_dtls_session_on_timeout(struct cpg_dtls_session *s)
{
	if (s->state == CPG_DTLS_HANDSHAKING && s->started && cpg_loop_now_ms() >= s->deadline) {
		fail(s, CPG_DTLS_FAIL_TIMEOUT, "handshake timed out after %u ms", s->timeout_ms);
		return s->state;
	}
	if (s->state == CPG_DTLS_ESTABLISHED && s->renegotiating &&
	    cpg_loop_now_ms() >= s->deadline) {
		fail(s, CPG_DTLS_FAIL_TIMEOUT, "rekey timed out after %u ms", s->timeout_ms);
		return s->state;
	}
	if (s->state != CPG_DTLS_HANDSHAKING && s->state != CPG_DTLS_ESTABLISHED)
		return s->state;
	if (s->holding && s->state == CPG_DTLS_ESTABLISHED)
		release_held(s);
	ERR_clear_error();
	if (DTLSv1_handle_timeout(s->ssl) < 0)
		fail(s, CPG_DTLS_FAIL_PROTOCOL, "retransmission failed: %s", openssl_reason());
	ERR_clear_error();
	return s->state;
}

void cpg_dtls_session_hold_last_flight(struct cpg_dtls_session *s)
{
	s->hold_last_flight = true;
}

void cpg_dtls_session_release(struct cpg_dtls_session *s)
{
	release_held(s);
}

void cpg_dtls_session_close(struct cpg_dtls_session *s)
{
	/* The peer learns that the handshake finished, then that we close. */
	release_held(s);
	if (s->state == CPG_DTLS_ESTABLISHED) {
		ERR_clear_error();
		/* Sends close_notify; we do not wait for the peer's. */
		SSL_shutdown(s->ssl);
		ERR_clear_error();
	}
	if (s->state == CPG_DTLS_HANDSHAKING || s->state == CPG_DTLS_ESTABLISHED) {
		s->state = CPG_DTLS_CLOSED;
		set_reason(s, "closed by us");
	}
	wipe_keys(s);
}

void cpg_dtls_session_free(struct cpg_dtls_session *s)
{
	if (!s)
		return;
	SSL_free(s->ssl);
	wipe_keys(s);
	drop_held(s);
	OPENSSL_cleanse(s->first_record, sizeof(s->first_record));
	cpg_dtls_ctx_put(s->ctx);
	free(s);
}

enum cpg_dtls_state cpg_dtls_session_state(const struct cpg_dtls_session *s)
{
	return s->state;
}

enum cpg_dtls_role cpg_dtls_session_role(const struct cpg_dtls_session *s)
{
	return s->role;
}

const union cpg_sockaddr *cpg_dtls_session_peer(const struct cpg_dtls_session *s)
{
	return &s->peer;
}

void cpg_dtls_session_set_peer(struct cpg_dtls_session *s, const union cpg_sockaddr *peer)
{
	s->peer = *peer;
}

struct in_addr cpg_dtls_session_peer_vpn_ip(const struct cpg_dtls_session *s)
{
	return s->peer_vpn_ip;
}

void cpg_dtls_session_expect_ip6(struct cpg_dtls_session *s, const struct in6_addr *peer_vpn_ip6)
{
	s->peer_vpn_ip6 = *peer_vpn_ip6;
}

struct in6_addr cpg_dtls_session_peer_vpn_ip6(const struct cpg_dtls_session *s)
{
	return s->peer_vpn_ip6;
}

enum cpg_dtls_failure cpg_dtls_session_failure(const struct cpg_dtls_session *s)
{
	return s->failure;
}

const char *cpg_dtls_session_reason(const struct cpg_dtls_session *s)
{
	return s->reason;
}

const char *cpg_dtls_session_cipher_name(const struct cpg_dtls_session *s)
{
	if (s->state != CPG_DTLS_ESTABLISHED && s->state != CPG_DTLS_CLOSED)
		return NULL;
	return SSL_CIPHER_get_name(SSL_get_current_cipher(s->ssl));
}

const char *cpg_dtls_session_peer_subject(const struct cpg_dtls_session *s)
{
	return s->subject;
}

X509 *cpg_dtls_session_peer_cert(const struct cpg_dtls_session *s)
{
	return s->subject[0] ? SSL_get0_peer_certificate(s->ssl) : NULL;
}

int cpg_dtls_session_rekey(struct cpg_dtls_session *s)
{
	int ret, err;

	if (s->state != CPG_DTLS_ESTABLISHED)
		return -EINVAL;
	if (s->renegotiating || s->keys_valid)
		return -EBUSY;
	if (s->epoch == UINT16_MAX)
		return -ERANGE;
	/* The keys were taken: what waited for them may go. */
	release_held(s);
	ERR_clear_error();
	if (!SSL_renegotiate(s->ssl)) {
		fail(s, CPG_DTLS_FAIL_INTERNAL, "cannot start a rekey: %s", openssl_reason());
		return -EIO;
	}
	s->renegotiating = true;
	s->deadline = cpg_loop_now_ms() + s->timeout_ms;
	/* Our ClientHello, or as a server a HelloRequest for one. */
	ret = SSL_do_handshake(s->ssl);
	err = SSL_get_error(s->ssl, ret);
	if (ret <= 0 && err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
		handshake_failed(s, err);
		return -EIO;
	}
	ERR_clear_error();
	return 0;
}

bool cpg_dtls_session_has_keys(const struct cpg_dtls_session *s)
{
	return s->state == CPG_DTLS_ESTABLISHED && s->keys_valid;
}

bool cpg_dtls_session_rekeying(const struct cpg_dtls_session *s)
{
	return s->state == CPG_DTLS_ESTABLISHED && s->renegotiating;
}

uint16_t cpg_dtls_session_epoch(const struct cpg_dtls_session *s)
{
	return s->epoch;
}

unsigned int cpg_dtls_session_rekeys(const struct cpg_dtls_session *s)
{
	return s->rekeys;
}

uint64_t cpg_dtls_session_stray_data(const struct cpg_dtls_session *s)
{
	return s->stray_data;
}

int cpg_dtls_session_take_keys(struct cpg_dtls_session *s, struct cpg_keys *out)
{
	if (s->state != CPG_DTLS_ESTABLISHED || !s->keys_valid)
		return -1;
	*out = s->keys;
	wipe_keys(s);
	return 0;
}

void cpg_dtls_session_set_send(struct cpg_dtls_session *s, cpg_dtls_send_fn send, void *send_arg)
{
	s->send = send;
	s->send_arg = send_arg;
}

int cpg_dtls_session_expect_name(struct cpg_dtls_session *s, const char *name)
{
	X509_VERIFY_PARAM *param = SSL_get0_param(s->ssl);
	unsigned char addr[16];
	int ok;

	/* An address is matched against iPAddress names, never against DNS ones. */
	if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1)
		ok = X509_VERIFY_PARAM_set1_ip_asc(param, name);
	else
		ok = X509_VERIFY_PARAM_set1_host(param, name, 0);
	ERR_clear_error();
	return ok ? 0 : -1;
}

bool cpg_dtls_listen(struct cpg_dtls_session *l, const uint8_t *dgram, size_t len,
		     const union cpg_sockaddr *from)
{
	BIO_ADDR *client = BIO_ADDR_new();
	int ret = -1;

	if (!client || l->role != CPG_DTLS_SERVER || l->started || len > INT_MAX) {
		BIO_ADDR_free(client);
		return false;
	}
	ERR_clear_error();
	/* What the last ClientHello left goes; the options and callbacks stay. */
	if (SSL_clear(l->ssl) && SSL_set_mtu(l->ssl, l->ctx->mtu)) {
		(void)BIO_reset(l->rbio);
		l->peer = *from;
		if (BIO_write(l->rbio, dgram, (int)len) == (int)len)
			ret = DTLSv1_listen(l->ssl, client);
	}
	BIO_ADDR_free(client);
	(void)BIO_reset(l->rbio);
	ERR_clear_error();
	if (ret != 1)
		return false;
	cpg_sockaddr_str(from, l->label, sizeof(l->label));
	l->started = true;
	l->deadline = cpg_loop_now_ms() + l->timeout_ms;
	drive(l);
	return true;
}

/* The addresses of family the peer's certificate names, up to max of them. */
size_t cpg_dtls_session_peer_ips(const struct cpg_dtls_session *s, int family, void *out,
				 size_t max)
{
	X509 *cert = SSL_get0_peer_certificate(s->ssl);
	GENERAL_NAMES *names;
	size_t addr_len = family == AF_INET ? 4 : 16, n = 0;

	if (!cert || s->state != CPG_DTLS_ESTABLISHED)
		return 0;
	names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; i < sk_GENERAL_NAME_num(names) && n < max; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		if (gn->type != GEN_IPADD || (size_t)ASN1_STRING_length(gn->d.iPAddress) != addr_len)
			continue;
		memcpy((uint8_t *)out + n++ * addr_len, ASN1_STRING_get0_data(gn->d.iPAddress),
		       addr_len);
	}
	GENERAL_NAMES_free(names);
	return n;
}


const char *cpg_dtls_state_name(enum cpg_dtls_state st)
{
	switch (st) {
	case CPG_DTLS_HANDSHAKING:
		return "handshaking";
	case CPG_DTLS_ESTABLISHED:
		return "established";
	case CPG_DTLS_CLOSED:
		return "closed";
	case CPG_DTLS_FAILED:
		return "failed";
	}
	return "unknown";
}

const char *cpg_dtls_failure_name(enum cpg_dtls_failure f)
{
	switch (f) {
	case CPG_DTLS_FAIL_NONE:
		return "none";
	case CPG_DTLS_FAIL_TIMEOUT:
		return "timeout";
	case CPG_DTLS_FAIL_PEER_CERT:
		return "peer certificate refused";
	case CPG_DTLS_FAIL_PEER_ALERT:
		return "refused by the peer";
	case CPG_DTLS_FAIL_PROTOCOL:
		return "protocol error";
	case CPG_DTLS_FAIL_NONCE_CLASH:
		return "nonce clash";
	case CPG_DTLS_FAIL_INTERNAL:
		return "internal error";
	}
	return "unknown";
}
