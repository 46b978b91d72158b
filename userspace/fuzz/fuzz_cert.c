// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The peer certificate checks of a handshake: OpenSSL's verification as
 * dtls.c configures it (our CA, fuzz_pki.h's, CRL checking with
 * crl_file, verify_depth 9, the purpose of our role, the identity check: a
 * subjectAltName iPAddress equal to the VPN IP the RDV announced), with
 * the daemon's verify callback message for every refusal
 * (cpg_dtls_refusal_reason(): the subject and CA names, the certificate's
 * IPv4 addresses).
 *
 * Input:
 *   a DER certificate (what d2i_X509 takes), the peer's;
 *   4 bytes: the VPN IP the RDV announced, network order (zeros if short);
 *   1 optional byte: bit 0, we are the DTLS server (the peer's certificate
 *     must then be fit for a client); bit 1, check the CRL (crl_file set);
 *     bit 2, the RDV also announced an IPv6 VPN address:
 *   with bit 2, 16 bytes: that address (zeros if short);
 *   the rest: DER certificates the peer sends along (its chain), up to 4.
 *
 * The callback lets verification go on after each refusal, so that the
 * identity check runs whatever came before, and the verdict is compared
 * with a simple reference: the certificate names the IP when one of its
 * subjectAltName iPAddress entries is exactly those 4 bytes (no common name
 * fallback, no netmask form), and likewise for the IPv6 address (the
 * daemon's own check, cpg_dtls_verify_ip6()); an accepted certificate must
 * name both.
 * The time of the check is fixed, so that the seeds' dates keep meaning
 * the same thing.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dtls.h"
#include "fuzz.h"
#include "fuzz_pki.h"

/* 2027-06-01 00:00:00 UTC: inside the validity of the CA, its CRL and the
 * seeds' certificates (but the expired one's). */
#define FUZZ_CERT_TIME 1811808000
#define FUZZ_CERT_CHAIN_MAX 4
/* The daemon's default verify_depth (conf.c). */
#define FUZZ_CERT_DEPTH 9
/* dtls.c's REASON_LEN. */
#define FUZZ_REASON_LEN 384

#define OPT_SERVER 0x1
#define OPT_CRL 0x2
#define OPT_IP6 0x4

/* Our trust, with and without the CRL, built once as the daemon does. */
static X509_STORE *store, *store_crl;

struct verdict {
	struct in_addr want;
	struct in6_addr want6;	/* in6addr_any: no IPv6 check */
	bool refused;		/* the daemon's callback would have said no */
	bool mismatch;		/* among the reasons, the identity check */
	bool mismatch6;		/* among them, its IPv6 half */
	bool checking_ip6;	/* the callback runs for cpg_dtls_verify_ip6() */
};

static void *pem_read(const char *pem, bool crl)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	void *obj = NULL;

	if (b)
		obj = crl ? (void *)PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)
			  : (void *)PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!obj) {
		fprintf(stderr, "fuzz_cert: unreadable built-in %s\n", crl ? "CRL" : "CA");
		abort();
	}
	return obj;
}

static X509_STORE *store_new(X509 *ca, X509_CRL *crl)
{
	X509_STORE *s = X509_STORE_new();

	if (!s || !X509_STORE_add_cert(s, ca) || (crl && !X509_STORE_add_crl(s, crl))) {
		fprintf(stderr, "fuzz_cert: cannot build the trust store\n");
		abort();
	}
	if (crl)
		X509_STORE_set_flags(s, X509_V_FLAG_CRL_CHECK);
	return s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	X509 *ca = pem_read(fuzz_ca_pem, false);
	X509_CRL *crl = pem_read(fuzz_crl_pem, true);

	fuzz_quiet_logs();
	store = store_new(ca, NULL);
	store_crl = store_new(ca, crl);
	X509_free(ca);
	X509_CRL_free(crl);
	return 0;
}

/* The reference: one of cert's iPAddress subjectAltNames is exactly the
 * len bytes at ip. */
static bool names_addr(X509 *cert, const void *ip, int len)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	bool found = false;

	for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		found = gn->type == GEN_IPADD && ASN1_STRING_length(gn->d.iPAddress) == len &&
			!memcmp(ASN1_STRING_get0_data(gn->d.iPAddress), ip, (size_t)len);
	}
	GENERAL_NAMES_free(names);
	return found;
}

static bool names_ip(X509 *cert, struct in_addr ip)
{
	return names_addr(cert, &ip, 4);
}

/* "presented a certificate for A, B, not W (...)": A and B are whole
 * addresses of cert, IPv4 or IPv6 ones. */
static bool lists_own_ips(const char *reason, X509 *cert)
{
	static const char prefix[] = "presented a certificate for ";
	char list[FUZZ_REASON_LEN], *save = NULL, *ip;

	if (strncmp(reason, prefix, sizeof(prefix) - 1))
		return true;
	snprintf(list, sizeof(list), "%s", reason + sizeof(prefix) - 1);
	for (ip = strtok_r(list, ",", &save); ip; ip = strtok_r(NULL, ",", &save)) {
		struct in6_addr a6;
		struct in_addr a;

		ip += *ip == ' ';
		if (!strncmp(ip, "not ", 4))
			return true;
		if (inet_pton(AF_INET, ip, &a) == 1 ? !names_ip(cert, a)
		    : inet_pton(AF_INET6, ip, &a6) != 1 || !names_addr(cert, &a6, 16))
			return false;
	}
	return false;
}

/* The daemon's message for each refusal; then go on. */
static int verify_cb(int ok, X509_STORE_CTX *xs)
{
	struct verdict *v = X509_STORE_CTX_get_app_data(xs);
	char reason[FUZZ_REASON_LEN], want[INET_ADDRSTRLEN], want6[INET6_ADDRSTRLEN];
	int err = X509_STORE_CTX_get_error(xs);
	/* Called by hand after the IPv6 check, as dtls.c's cert_verify_cb. */
	bool ip6_refused = v->checking_ip6;

	if (ok)
		return ok;
	v->refused = true;
	memset(reason, 0x55, sizeof(reason));
	cpg_dtls_refusal_reason(xs, v->want, &v->want6, reason, sizeof(reason));
	if (!memchr(reason, '\0', sizeof(reason))) {
		fprintf(stderr, "fuzz_cert: the refusal reason is not terminated\n");
		abort();
	}
	if (ip6_refused && err != X509_V_ERR_IP_ADDRESS_MISMATCH) {
		fprintf(stderr, "fuzz_cert: the IPv6 check refused with error %d\n", err);
		abort();
	}
	if (err == X509_V_ERR_IP_ADDRESS_MISMATCH) {
		/* Going on after a refusal, both halves may fail: the message
		 * names the IPv4 address then (the daemon stops at the first). */
		*(ip6_refused ? &v->mismatch6 : &v->mismatch) = true;
		inet_ntop(AF_INET, &v->want, want, sizeof(want));
		inet_ntop(AF_INET6, &v->want6, want6, sizeof(want6));
		if (strncmp(reason, "presented a certificate ", 24) ||
		    !(strstr(reason, want) || (ip6_refused && strstr(reason, want6))) ||
		    !lists_own_ips(reason, X509_STORE_CTX_get0_cert(xs))) {
			fprintf(stderr, "fuzz_cert: the identity refusal says \"%s\"\n", reason);
			abort();
		}
	}
	return 1;
}

/* The peer's certificates after the leaf; NULL when none. */
static STACK_OF(X509) *read_chain(const uint8_t *p, size_t len)
{
	STACK_OF(X509) *chain = NULL;

	for (int i = 0; i < FUZZ_CERT_CHAIN_MAX && len; i++) {
		const uint8_t *start = p;
		X509 *c = d2i_X509(NULL, &p, (long)len);

		if (!c)
			break;
		len -= (size_t)(p - start);
		if ((!chain && !(chain = sk_X509_new_null())) || !sk_X509_push(chain, c)) {
			X509_free(c);
			break;
		}
	}
	return chain;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	X509 *cert = d2i_X509(NULL, &p, (long)size);
	struct verdict v = { .refused = false };
	struct fuzz_input in;
	STACK_OF(X509) *chain;
	X509_STORE_CTX *xs;
	const uint8_t *ip;
	uint8_t opts;
	size_t got;
	int ret;

	if (!cert) {
		ERR_clear_error();
		return 0;
	}
	in.data = p;
	in.size = size - (size_t)(p - data);
	ip = fuzz_take_bytes(&in, 4, &got);
	memcpy(&v.want, ip, got);
	opts = fuzz_take_u8(&in);
	if (opts & OPT_IP6) {
		ip = fuzz_take_bytes(&in, 16, &got);
		memcpy(&v.want6, ip, got);
	}
	chain = read_chain(in.data, in.size);

	/* As SSL_CTX_set_verify_depth(), SSL_set1_ip(), and OpenSSL's
	 * verification of the peer's certificate (ssl_verify_cert_chain). */
	xs = X509_STORE_CTX_new();
	if (!xs || !X509_STORE_CTX_init(xs, opts & OPT_CRL ? store_crl : store, cert, chain))
		goto out;
	X509_STORE_CTX_set_default(xs, opts & OPT_SERVER ? "ssl_client" : "ssl_server");
	X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(xs), FUZZ_CERT_DEPTH);
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(xs), FUZZ_CERT_TIME);
	if (!X509_VERIFY_PARAM_set1_ip(X509_STORE_CTX_get0_param(xs), (const unsigned char *)&v.want,
				       sizeof(v.want)))
		goto out;
	X509_STORE_CTX_set_app_data(xs, &v);
	X509_STORE_CTX_set_verify_cb(xs, verify_cb);
	ret = X509_verify_cert(xs);
	if (ret == 1 && !cpg_dtls_verify_ip6(xs, &v.want6)) {
		v.checking_ip6 = true;
		verify_cb(0, xs);
	}

	/* 1: the callback took every refusal, the identity check included. */
	if (ret == 1 && v.mismatch == names_ip(cert, v.want)) {
		fprintf(stderr, "fuzz_cert: OpenSSL says the certificate %s the VPN IP, "
			"the reference says the opposite\n", v.mismatch ? "does not name" : "names");
		abort();
	}
	if (ret == 1 && !IN6_IS_ADDR_UNSPECIFIED(&v.want6) &&
	    v.mismatch6 == names_addr(cert, &v.want6, 16)) {
		fprintf(stderr, "fuzz_cert: the IPv6 check says the certificate %s the address, "
			"the reference says the opposite\n", v.mismatch6 ? "does not name" : "names");
		abort();
	}
	if (ret == 1 && !v.refused &&
	    (!names_ip(cert, v.want) ||
	     (!IN6_IS_ADDR_UNSPECIFIED(&v.want6) && !names_addr(cert, &v.want6, 16)))) {
		fprintf(stderr, "fuzz_cert: a certificate without the VPN IPs was accepted\n");
		abort();
	}
out:
	X509_STORE_CTX_free(xs);
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	ERR_clear_error();
	return 0;
}
