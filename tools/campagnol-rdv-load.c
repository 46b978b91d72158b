/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * campagnol-rdv-load: many simulated RDV clients in one process and one event
 * loop, to load and benchmark campagnol_rdv; and a fuzzer (--fuzz) that sends
 * it malformed and out-of-place datagrams.
 *
 * Each simulated client owns a UDP socket, registers (HELLO, retried every
 * 2 s until OK), PINGs on a phase of its own so the load is smooth, registers
 * again after RECONNECT, and may ASK for another simulated client. All state
 * is allocated up front: nothing is allocated per packet.
 *
 * With --ca-cert and --ca-key the clients authenticate (docs/protocol.md
 * section 12): each one first handshakes with the RDV, presenting a
 * certificate for its VPN IP that is made and signed here when the
 * handshake starts, then talks over a channel (chan.h). As on the RDV, a
 * client holds an SSL only during its handshake: afterwards, its keys.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli.h"
#include "bytes.h"
#include "chan.h"
#include "conf.h"
#include "daemon.h"
#include "dtls.h"
#include "evloop.h"
#include "log.h"
#include "net.h"
#include "prng.h"
#include "proto.h"
#include "record.h"

#define PROG "campagnol-rdv-load"

#define HELLO_RETRY_MS 2000
#define HELLO_WINDOW 128	/* HELLOs in flight at most: the RDV's socket buffer */
#define DEFAULT_HELLO_RATE 5000	/* per second */
#define DEFAULT_FUZZ_RATE 10000	/* datagrams per second */
#define PACER_TICK_MS 1
#define PACER_BURST 32		/* datagrams per tick at most */
#define ASK_TICK_MS 10
#define PROGRESS_MS 5000
#define DRAIN_MS 1000		/* after the run, replies still in flight */
#define BYE_PER_TICK 50
#define MISSED_PINGS_MAX 3	/* then the RDV has purged us: register again */
#define RX_BUF_LEN 2048		/* larger than any valid message, to see oversized ones */
#define FUZZ_SOCKETS 4
#define FUZZ_PROBES 5
#define FUZZ_PROBE_MS 300
#define FUZZ_MAX_LEN 600
#define DEFAULT_HANDSHAKES 64	/* in flight per process: the RDV takes 1024 at once */
/* The fds a process may open on the machines this is run on: more clients
 * take more processes (bench-rdv.sh spreads them). */
#define MAX_OPEN_FILES 20000
#define SPARE_FILES 64		/* stdio, epoll, signalfd, OpenSSL's reads */
#define CERT_SKEW_S 300		/* certificates valid from this long ago */
#define CERT_LIFETIME_S 86400	/* and for a day: the run is shorter */

/* ---------------------------------------------------------------------- */
/* Small helpers */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A human string as a key of the summary: "server full" -> "server_full". */
static const char *key_name(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < size; i++)
		buf[i] = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ? s[i] :
			 (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : '_';
	buf[i] = '\0';
	return buf;
}

/* "HOST[:PORT]": numeric forms first, then a host name. */
static int parse_server(const char *s, union cpg_sockaddr *out)
{
	char host[256];
	const char *colon;
	unsigned long port = CPG_RDV_DEFAULT_PORT;
	size_t len;

	if (cpg_sockaddr_parse(s, CPG_RDV_DEFAULT_PORT, out) == 0)
		return 0;
	colon = strrchr(s, ':');
	len = colon ? (size_t)(colon - s) : strlen(s);
	if (len == 0 || len >= sizeof(host))
		return -1;
	if (colon && (cpg_parse_ulong(colon + 1, 65535, &port) || port == 0))
		return -1;
	memcpy(host, s, len);
	host[len] = '\0';
	return cpg_net_resolve(host, (uint16_t)port, out, NULL);
}

/* ---------------------------------------------------------------------- */
/* Options */

struct options {
	union cpg_sockaddr server;
	union cpg_sockaddr bind;
	uint32_t base_ip;		/* host order */
	uint32_t clients;
	unsigned int duration_s;
	unsigned int asks_per_sec;
	unsigned int rate;		/* registrations started/s, or fuzz datagrams/s */
	unsigned long fuzz;		/* datagrams; 0: load mode */
	uint64_t seed;
	bool local_ep;
	bool quiet;
	/* Authentication: the CA that signs the clients' certificates, the
	 * CAs that verify the RDV's, and the name it must carry. */
	const char *ca_cert, *ca_key, *rdv_ca;
	char rdv_name[256];
	unsigned int handshakes;	/* in flight at most */
	unsigned int steady_after_s;	/* PING and ASK RTTs count from then on */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " -s SERVER[:PORT] [options]\n"
		"Simulate many RDV clients from one process (load mode), or send malformed\n"
		"datagrams to the RDV (--fuzz).\n\n"
		"  -s, --server HOST[:PORT]  RDV server (port %d when absent)\n"
		"  -n, --clients N           simulated clients (default 1000)\n"
		"  -b, --base IP             VPN IP of the first client, the others follow\n"
		"                            (default 10.128.0.1)\n"
		"  -D, --duration SECONDS    run time (default 30)\n"
		"  -a, --asks N              ASKs per second between random registered clients\n"
		"                            (default 0)\n"
		"  -r, --rate N              registrations started per second at most (HELLOs,\n"
		"                            or handshakes with --ca-cert; default %d), or\n"
		"                            with --fuzz datagrams per second (default %d)\n"
		"  -l, --local-endpoint      publish each socket's address as LOCAL_ENDPOINT\n"
		"      --bind IP             local address of the sockets (default any of\n"
		"                            the server's family: -s may be IPv6)\n"
		"      --fuzz N              send N malformed datagrams instead; the VPN IPs\n"
		"                            they carry are those of -b/-n\n"
		"      --seed S              seed of the random choices: what --fuzz sends,\n"
		"                            who ASKs for whom (default 1)\n"
		"      --ca-cert FILE        authenticate (campagnol_rdv without --no-auth):\n"
		"                            each client handshakes with a certificate for\n"
		"                            its VPN IP that this CA signs here, in memory\n"
		"      --ca-key FILE         the key of --ca-cert (PEM, unencrypted)\n"
		"      --rdv-ca FILE         the CAs that verify the RDV's certificate\n"
		"                            (default --ca-cert)\n"
		"      --rdv-name NAME       the name the RDV's certificate carries (default\n"
		"                            the server's IP address)\n"
		"      --handshakes N        handshakes in flight at most (default %d)\n"
		"      --steady-after S      PING and ASK round trips count only from S\n"
		"                            seconds into the run, once all registered\n"
		"                            (default 0: all of them)\n"
		"  -q, --quiet               no progress lines\n"
		"  -v, -d                    verbose / debug logging\n"
		"  -h, --help                this help\n\n"
		"One process simulates %d clients at most (one socket each): run several,\n"
		"with disjoint -b ranges, for more. The summary goes to stdout as\n"
		"key=value lines. Exit status: 0 when every client registered and stayed\n"
		"registered (fuzz: the RDV still answers), 1 otherwise, 2 for bad usage.\n",
		CPG_RDV_DEFAULT_PORT, DEFAULT_HELLO_RATE, DEFAULT_FUZZ_RATE, DEFAULT_HANDSHAKES,
		MAX_OPEN_FILES - SPARE_FILES);
}

/* optarg, a number from min to max, into *v; false after "WHAT, not 'ARG'". */
static bool number_arg(const char *what, unsigned long min, unsigned long max, unsigned long *v)
{
	if (!cpg_parse_ulong(optarg, max, v) && *v >= min)
		return true;
	log_err("%s, not '%s'", what, optarg);
	return false;
}

enum {
	OPT_BIND = 256, OPT_FUZZ, OPT_SEED, OPT_CA_CERT, OPT_CA_KEY, OPT_RDV_CA, OPT_RDV_NAME,
	OPT_HANDSHAKES, OPT_STEADY_AFTER,
};

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "clients", required_argument, NULL, 'n' },
		{ "base", required_argument, NULL, 'b' },
		{ "duration", required_argument, NULL, 'D' },
		{ "asks", required_argument, NULL, 'a' },
		{ "rate", required_argument, NULL, 'r' },
		{ "local-endpoint", no_argument, NULL, 'l' },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "fuzz", required_argument, NULL, OPT_FUZZ },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "ca-cert", required_argument, NULL, OPT_CA_CERT },
		{ "ca-key", required_argument, NULL, OPT_CA_KEY },
		{ "rdv-ca", required_argument, NULL, OPT_RDV_CA },
		{ "rdv-name", required_argument, NULL, OPT_RDV_NAME },
		{ "handshakes", required_argument, NULL, OPT_HANDSHAKES },
		{ "steady-after", required_argument, NULL, OPT_STEADY_AFTER },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *server = NULL;
	struct in_addr ip;
	unsigned long v;
	int level = LOG_NOTICE;
	int opt;

	memset(o, 0, sizeof(*o));
	o->clients = 1000;
	o->base_ip = 0x0a800001;	/* 10.128.0.1 */
	o->duration_s = 30;
	o->seed = 1;
	o->handshakes = DEFAULT_HANDSHAKES;
	cpg_sockaddr_set_in(&o->bind, (struct in_addr){ .s_addr = htonl(INADDR_ANY) }, 0);

	while ((opt = getopt_long(argc, argv, "s:n:b:D:a:r:lqvdh", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			server = optarg;
			break;
		case 'n':
			if (!number_arg("-n: a number of clients from 1 to 1000000", 1, 1000000, &v))
				return -1;
			o->clients = (uint32_t)v;
			break;
		case 'b':
			if (inet_pton(AF_INET, optarg, &ip) != 1) {
				log_err("-b: not an IPv4 address: '%s'", optarg);
				return -1;
			}
			o->base_ip = ntohl(ip.s_addr);
			break;
		case 'D':
			if (!number_arg("-D: a duration in seconds (at least 1)", 1, 86400 * 365,
					&v))
				return -1;
			o->duration_s = (unsigned int)v;
			break;
		case 'a':
			if (!number_arg("-a: asks per second from 0 to 1000000", 0, 1000000, &v))
				return -1;
			o->asks_per_sec = (unsigned int)v;
			break;
		case 'r':
			if (!number_arg("-r: a rate per second from 1 to 10000000", 1, 10000000, &v))
				return -1;
			o->rate = (unsigned int)v;
			break;
		case 'l':
			o->local_ep = true;
			break;
		case OPT_BIND:
			if (cpg_sockaddr_parse(optarg, 0, &o->bind) ||
			    cpg_sockaddr_port(&o->bind)) {
				log_err("--bind: not an IP address: '%s'", optarg);
				return -1;
			}
			break;
		case OPT_FUZZ:
			if (!number_arg("--fuzz: a number of datagrams (at least 1)", 1, ULONG_MAX,
					&v))
				return -1;
			o->fuzz = v;
			break;
		case OPT_SEED:
			if (!number_arg("--seed: a non-negative number", 0, ULONG_MAX, &v))
				return -1;
			o->seed = v;
			break;
		case OPT_CA_CERT:
			o->ca_cert = optarg;
			break;
		case OPT_CA_KEY:
			o->ca_key = optarg;
			break;
		case OPT_RDV_CA:
			o->rdv_ca = optarg;
			break;
		case OPT_RDV_NAME:
			if (snprintf(o->rdv_name, sizeof(o->rdv_name), "%s", optarg) >=
			    (int)sizeof(o->rdv_name)) {
				log_err("--rdv-name: too long");
				return -1;
			}
			break;
		case OPT_HANDSHAKES:
			if (!number_arg("--handshakes: a number from 1 to 100000", 1, 100000, &v))
				return -1;
			o->handshakes = (unsigned int)v;
			break;
		case OPT_STEADY_AFTER:
			if (!number_arg("--steady-after: seconds", 0, 86400 * 365, &v))
				return -1;
			o->steady_after_s = (unsigned int)v;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			if (level < LOG_INFO)
				level = LOG_INFO;
			break;
		case 'd':
			level = LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	cpg_log_init(PROG, level, false);
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (!server) {
		log_err("the RDV server is required (-s HOST[:PORT])");
		return -1;
	}
	if (parse_server(server, &o->server)) {
		log_err("-s: not a server address: '%s'", server);
		return -1;
	}
	/* An IPv6 server: the clients' sockets are IPv6 too, unless --bind. */
	if (o->server.sa.sa_family == AF_INET6 && o->bind.sa.sa_family == AF_INET &&
	    o->bind.in.sin_addr.s_addr == htonl(INADDR_ANY)) {
		memset(&o->bind, 0, sizeof(o->bind));
		o->bind.in6.sin6_family = AF_INET6;
		o->bind.in6.sin6_addr = in6addr_any;
	}
	if (o->bind.sa.sa_family != o->server.sa.sa_family) {
		log_err("--bind: not of the server's family");
		return -1;
	}
	if ((uint64_t)o->base_ip + o->clients - 1 > UINT32_MAX) {
		log_err("-b/-n: %u clients from the base address run past 255.255.255.255",
			o->clients);
		return -1;
	}
	if (!o->rate)
		o->rate = o->fuzz ? DEFAULT_FUZZ_RATE : DEFAULT_HELLO_RATE;
	if (!o->ca_cert != !o->ca_key) {
		log_err("--ca-cert and --ca-key go together");
		return -1;
	}
	if ((o->rdv_ca || o->rdv_name[0]) && !o->ca_cert) {
		log_err("--rdv-ca and --rdv-name need --ca-cert and --ca-key");
		return -1;
	}
	if (o->ca_cert && o->fuzz) {
		log_err("--fuzz sends plaintext: it takes no --ca-cert");
		return -1;
	}
	if (!o->fuzz && o->clients > MAX_OPEN_FILES - SPARE_FILES) {
		log_err("-n: %u clients need %u open files, more than the %d one process may "
			"have: spread them over several processes",
			o->clients, o->clients + SPARE_FILES, MAX_OPEN_FILES);
		return -1;
	}
	/* The name campagnol-pki rdv gives an RDV reached by its address. */
	if (o->ca_cert && !o->rdv_name[0])
		inet_ntop(o->server.sa.sa_family,
			  o->server.sa.sa_family == AF_INET ? (const void *)&o->server.in.sin_addr
							    : (const void *)&o->server.in6.sin6_addr,
			  o->rdv_name, sizeof(o->rdv_name));
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Round-trip times: exact min/avg/max, p99 from a histogram */

/* Three ranges of 1000 buckets: 10 us each up to 10 ms, 1 ms each up to
 * 1.01 s, 10 ms each up to 11.01 s (a handshake's retransmissions), the
 * last one open-ended. */
#define RTT_RANGES 3
#define RTT_RANGE_BUCKETS 1000
static const uint64_t rtt_width_us[RTT_RANGES] = { 10, 1000, 10000 };

struct rtt_stats {
	uint64_t count;
	uint64_t sum_us;
	uint64_t min_us;
	uint64_t max_us;
	uint32_t hist[RTT_RANGES * RTT_RANGE_BUCKETS];
};

static void rtt_add(struct rtt_stats *r, uint64_t us)
{
	uint64_t from = 0, b = 0;
	unsigned int i;

	if (!r->count || us < r->min_us)
		r->min_us = us;
	if (us > r->max_us)
		r->max_us = us;
	r->count++;
	r->sum_us += us;
	for (i = 0; i < RTT_RANGES; i++) {
		uint64_t to = from + RTT_RANGE_BUCKETS * rtt_width_us[i];

		if (us < to || i == RTT_RANGES - 1) {
			b = i * RTT_RANGE_BUCKETS + (us - from) / rtt_width_us[i];
			break;
		}
		from = to;
	}
	if (b >= RTT_RANGES * RTT_RANGE_BUCKETS)
		b = RTT_RANGES * RTT_RANGE_BUCKETS - 1;
	r->hist[b]++;
}

/* Upper bound of the bucket holding the 99th percentile, capped by max. */
static uint64_t rtt_p99(const struct rtt_stats *r)
{
	uint64_t want = (r->count * 99 + 99) / 100, seen = 0, upper = 0;
	size_t b;

	for (b = 0; b < RTT_RANGES * RTT_RANGE_BUCKETS; b++) {
		upper += rtt_width_us[b / RTT_RANGE_BUCKETS];
		seen += r->hist[b];
		if (seen >= want)
			break;
	}
	return upper < r->max_us ? upper : r->max_us;
}

static void rtt_print(const char *name, const struct rtt_stats *r)
{
	uint64_t avg = r->count ? r->sum_us / r->count : 0;

	printf("%s_rtt_samples=%" PRIu64 "\n", name, r->count);
	printf("%s_rtt_ms_min=%.3f\n", name, r->min_us / 1000.0);
	printf("%s_rtt_ms_avg=%.3f\n", name, avg / 1000.0);
	printf("%s_rtt_ms_p99=%.3f\n", name, (r->count ? rtt_p99(r) : 0) / 1000.0);
	printf("%s_rtt_ms_max=%.3f\n", name, r->max_us / 1000.0);
}

/* ---------------------------------------------------------------------- */
/* Authentication: the clients' certificates, made here */

struct auth {
	struct cpg_dtls_ctx *ctx;	/* verifies the RDV; no certificate of its own */
	X509 *ca;
	STACK_OF(X509) *chain;		/* the CA: what clients send after theirs */
	EVP_PKEY *ca_key;
	EVP_PKEY *key;			/* every client's: one key, not thousands */
	STACK_OF(X509_EXTENSION) *exts;	/* what every certificate has */
};

/* Never prompt on the terminal: an encrypted key is an error. */
static int no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return -1;
}

static const char *openssl_error(void)
{
	const char *why = ERR_reason_error_string(ERR_peek_last_error());

	return why ? why : "unknown error";
}

static X509 *read_cert(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	X509 *x = b ? PEM_read_bio_X509(b, NULL, no_passphrase, NULL) : NULL;

	if (!x)
		log_err("%s: no PEM certificate read (%s)", path, openssl_error());
	BIO_free(b);
	return x;
}

static EVP_PKEY *read_key(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;

	if (!k)
		log_err("%s: no unencrypted PEM key read (%s)", path, openssl_error());
	BIO_free(b);
	return k;
}

static void auth_free(struct auth *a)
{
	if (!a)
		return;
	cpg_dtls_ctx_put(a->ctx);
	X509_free(a->ca);
	sk_X509_pop_free(a->chain, X509_free);
	EVP_PKEY_free(a->ca_key);
	EVP_PKEY_free(a->key);
	sk_X509_EXTENSION_pop_free(a->exts, X509_EXTENSION_free);
	free(a);
}

static bool add_ext(struct auth *a, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v3, nid, value);

	if (e && sk_X509_EXTENSION_push(a->exts, e))
		return true;
	X509_EXTENSION_free(e);
	return false;
}

/* The extensions of campagnol-pki's [ peer_ext ] but the subjectAltName,
 * which is each certificate's own. */
static bool make_common_exts(struct auth *a)
{
	X509 *tmpl = X509_new();
	X509V3_CTX v3;
	bool ok;

	a->exts = sk_X509_EXTENSION_new_null();
	ok = a->exts && tmpl && X509_set_pubkey(tmpl, a->key);
	if (ok) {
		/* The subject key identifier is the shared key's. */
		X509V3_set_ctx(&v3, a->ca, tmpl, NULL, NULL, 0);
		ok = add_ext(a, &v3, NID_basic_constraints, "critical,CA:FALSE") &&
		     add_ext(a, &v3, NID_key_usage, "critical,digitalSignature") &&
		     add_ext(a, &v3, NID_ext_key_usage, "clientAuth,serverAuth") &&
		     add_ext(a, &v3, NID_subject_key_identifier, "hash") &&
		     add_ext(a, &v3, NID_authority_key_identifier, "keyid");
	}
	X509_free(tmpl);
	return ok;
}

static struct auth *auth_new(const struct options *o)
{
	struct auth *a = calloc(1, sizeof(*a));
	struct cpg_config cfg;

	if (!a) {
		log_err("out of memory");
		return NULL;
	}
	a->ca = read_cert(o->ca_cert);
	a->ca_key = a->ca ? read_key(o->ca_key) : NULL;
	if (!a->ca_key)
		goto fail;
	if (!X509_check_private_key(a->ca, a->ca_key)) {
		log_err("%s is not the key of %s", o->ca_key, o->ca_cert);
		goto fail;
	}
	/* Built once, not by OpenSSL at each handshake (its verification of
	 * the client's certificate would be half of the tool's work). */
	a->chain = sk_X509_new_null();
	if (!a->chain || !sk_X509_push(a->chain, a->ca) || !X509_up_ref(a->ca)) {
		log_err("out of memory");
		goto fail;
	}
	a->key = EVP_EC_gen("P-256");
	if (!a->key || !make_common_exts(a)) {
		log_err("cannot make the clients' key and extensions: %s", openssl_error());
		goto fail;
	}
	cpg_config_defaults(&cfg);
	cfg.ca_certificates = strdup(o->rdv_ca ? o->rdv_ca : o->ca_cert);
	a->ctx = cfg.ca_certificates ? cpg_dtls_ctx_new_per_session_cert(&cfg) : NULL;
	cpg_config_free(&cfg);
	if (!a->ctx)
		goto fail;
	ERR_clear_error();
	return a;
fail:
	ERR_clear_error();
	auth_free(a);
	return NULL;
}

/*
 * A certificate for the client of VPN IP ip, as campagnol-pki issue makes
 * one (the subjectAltName IP:ip is what the RDV reads), valid for a day.
 * Its serial number, 2^32 + ip, is not one of campagnol-pki's. NULL after
 * logging.
 */
static X509 *auth_cert(const struct auth *a, struct in_addr ip)
{
	char addr[INET_ADDRSTRLEN], cn[INET_ADDRSTRLEN + 8], san[INET_ADDRSTRLEN + 8];
	X509 *x = X509_new();
	X509_EXTENSION *e = NULL;
	X509V3_CTX v3;
	bool ok;
	int i;

	cpg_net_ip4_str(ip, addr);
	snprintf(cn, sizeof(cn), "load-%s", addr);
	snprintf(san, sizeof(san), "IP:%s", addr);
	ok = x && X509_set_version(x, X509_VERSION_3) &&
	     ASN1_INTEGER_set_uint64(X509_get_serialNumber(x),
				     (UINT64_C(1) << 32) + ntohl(ip.s_addr)) &&
	     X509_set_issuer_name(x, X509_get_subject_name(a->ca)) &&
	     X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
					(const unsigned char *)cn, -1, -1, 0) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -CERT_SKEW_S) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), CERT_LIFETIME_S) &&
	     X509_set_pubkey(x, a->key);
	for (i = 0; ok && i < sk_X509_EXTENSION_num(a->exts); i++)
		ok = X509_add_ext(x, sk_X509_EXTENSION_value(a->exts, i), -1);
	if (ok) {
		X509V3_set_ctx(&v3, a->ca, x, NULL, NULL, 0);
		e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
		ok = e && X509_add_ext(x, e, -1) && X509_sign(x, a->ca_key, EVP_sha256()) > 0;
	}
	X509_EXTENSION_free(e);
	if (!ok) {
		log_err("cannot make the certificate of %s: %s", addr, openssl_error());
		ERR_clear_error();
		X509_free(x);
		return NULL;
	}
	return x;
}

/* ---------------------------------------------------------------------- */
/* Load mode */

enum client_state {
	CLIENT_IDLE,		/* waiting to retry after a NOK */
	CLIENT_QUEUED,		/* waiting for the pacer: a handshake or a HELLO */
	CLIENT_HANDSHAKING,	/* with --ca-cert, before its first HELLO */
	CLIENT_HELLO_SENT,
	CLIENT_REGISTERED,
};

struct client {
	struct cpg_loop_io io;
	struct cpg_loop_timer timer;	/* HELLO retry, NOK back-off or next PING */
	struct sim *sim;
	int fd;
	uint32_t index;
	uint32_t reg_pos;	/* in sim->registered while registered */
	struct in_addr vpn_ip;
	uint8_t state;
	uint8_t missed_pings;	/* in a row */
	bool in_queue;		/* has an entry in the HELLO ring */
	bool ping_pending;
	bool ask_pending;
	uint32_t hello_id, ping_id, ask_id;
	uint64_t hello_us, ping_us, ask_us;
	/* With --ca-cert: the handshake while it lasts, then its keys. */
	struct cpg_dtls_session *hs;
	uint64_t hs_us;
	bool keyed;
	struct cpg_chan chan;
};

struct counters {
	uint64_t hello_sent, hello_timeouts, ok, ok_dup;
	uint64_t nok[CPG_REASON_MAX + 2];	/* last: unknown reasons */
	uint64_t ping_sent, pong, pong_late, ping_unanswered;
	uint64_t reconnect, lost_registrations;
	uint64_t ask_sent, ans, fwd, close_sent, bye_sent;
	uint64_t rej[CPG_REASON_MAX + 2];
	uint64_t malformed[CPG_DECODE_ERR_MAX + 1], unexpected, foreign, other_port;
	/* OKs by the family of their PUBLIC_ENDPOINT; mapped: an IPv4 one
	 * written as IPv6 (::ffff:a.b.c.d), which clients must never get. */
	uint64_t ok_public_ipv4, ok_public_ipv6, ok_public_mapped;
	uint64_t send_errors;
	uint64_t hs_started, hs_done, hs_failed;
	uint64_t bad_records;	/* from the RDV, not opened by the channel */
	uint64_t plaintext;	/* plaintext messages but RECONNECT, with --ca-cert */
};

enum sim_phase { PHASE_RUN, PHASE_DRAIN, PHASE_BYE, PHASE_DONE };

struct sim {
	struct cpg_loop loop;
	const struct options *opt;
	struct client *clients;
	uint32_t n;
	uint32_t *ring;		/* clients waiting to send a HELLO, FIFO */
	uint32_t ring_head, ring_len;
	uint32_t *registered;	/* indexes of registered clients, any order */
	uint32_t n_registered;
	uint32_t hello_in_flight;
	uint32_t hs_in_flight;
	struct auth *auth;	/* NULL: the plaintext protocol */
	uint64_t all_registered_ms;	/* since start_ms, when all first were; 0: not yet */
	uint32_t bye_next;
	uint32_t ping_interval_ms;
	uint32_t next_request_id;
	uint64_t start_ms;
	uint64_t pacer_ms;	/* last pacer tick */
	uint64_t asker_ms;	/* last asker tick */
	double pacer_credit;
	double ask_credit;
	enum sim_phase phase;
	bool broken;		/* a timer could not be armed */
	uint64_t rng;
	uint32_t final_registered;
	struct cpg_loop_timer pacer, asker, progress, phase_timer;
	struct counters c;
	struct rtt_stats hello_rtt, ping_rtt, ask_rtt, hs_rtt;
	uint8_t tx[CPG_PROTO_MAX_MSG];
	uint8_t rx[RX_BUF_LEN];
};

/* The round trips of the steady phase (--steady-after), not those of a
 * registration rush. */
static void steady_rtt_add(const struct sim *s, struct rtt_stats *r, uint64_t us)
{
	if (cpg_loop_now_ms() - s->start_ms >= (uint64_t)s->opt->steady_after_s * 1000)
		rtt_add(r, us);
}

static void sim_sendto(struct sim *s, struct client *c, const uint8_t *buf, size_t len,
		       const char *what)
{
	if (sendto(c->fd, buf, len, 0, &s->opt->server.sa, cpg_sockaddr_len(&s->opt->server)) <
	    0) {
		/* The first one says why; a flood of them would say nothing more. */
		if (!s->c.send_errors)
			log_warn("sendto %s: %s", what, strerror(errno));
		s->c.send_errors++;
	}
}

/* m, in a record of c's channel with --ca-cert. */
static void sim_send(struct sim *s, struct client *c, const struct cpg_msg *m)
{
	uint8_t rec[CPG_CHAN_MAX_MSG + CPG_CHAN_OVERHEAD];
	int len = cpg_msg_encode(m, s->tx, sizeof(s->tx));
	size_t rec_len;

	/* Padded as clients pad: the RDV answers no more than it gets. */
	if (len >= 0)
		len = cpg_msg_pad(s->tx, (size_t)len, sizeof(s->tx), cpg_msg_request_len(m->type));
	if (len < 0) {
		log_err("cannot encode a %s message", cpg_msg_type_str(m->type));
		s->c.send_errors++;
		return;
	}
	if (!s->auth) {
		sim_sendto(s, c, s->tx, (size_t)len, cpg_msg_type_str(m->type));
		return;
	}
	if (!c->keyed || cpg_chan_seal(&c->chan, s->tx, (size_t)len, rec, sizeof(rec), &rec_len)) {
		if (!s->c.send_errors)
			log_warn("cannot seal a %s message", cpg_msg_type_str(m->type));
		s->c.send_errors++;
		return;
	}
	sim_sendto(s, c, rec, rec_len, cpg_msg_type_str(m->type));
}

/* The timer heap grows only up to one timer per client and a few more; if
 * even that fails the run is void. */
static void sim_arm(struct sim *s, struct cpg_loop_timer *t, uint64_t delay_ms)
{
	if (cpg_loop_timer_arm(&s->loop, t, delay_ms)) {
		log_err("cannot arm a timer: out of memory");
		s->broken = true;
		cpg_loop_stop(&s->loop);
	}
}

static uint32_t sim_request_id(struct sim *s)
{
	return ++s->next_request_id;
}

static void reg_add(struct sim *s, struct client *c)
{
	c->reg_pos = s->n_registered;
	s->registered[s->n_registered++] = c->index;
}

static void reg_remove(struct sim *s, struct client *c)
{
	uint32_t last = s->registered[--s->n_registered];

	s->registered[c->reg_pos] = last;
	s->clients[last].reg_pos = c->reg_pos;
}

static void pacer_kick(struct sim *s)
{
	if (!cpg_loop_timer_pending(&s->pacer) && s->phase == PHASE_RUN)
		sim_arm(s, &s->pacer, 0);
}

static void client_hs_end(struct sim *s, struct client *c)
{
	cpg_dtls_session_free(c->hs);
	c->hs = NULL;
	s->hs_in_flight--;
}

/* The RDV has no channel for c any more: the next registration handshakes. */
static void client_forget_keys(struct client *c)
{
	if (c->keyed)
		cpg_chan_wipe(&c->chan);
	c->keyed = false;
}

/* Leave whatever state c is in and wait for the pacer to send a HELLO, or
 * to start a handshake. */
static void client_enqueue(struct sim *s, struct client *c)
{
	if (c->state == CLIENT_REGISTERED)
		reg_remove(s, c);
	else if (c->state == CLIENT_HELLO_SENT)
		s->hello_in_flight--;
	else if (c->state == CLIENT_HANDSHAKING)
		client_hs_end(s, c);
	cpg_loop_timer_cancel(&s->loop, &c->timer);
	c->state = CLIENT_QUEUED;
	c->ping_pending = false;
	c->ask_pending = false;
	c->missed_pings = 0;
	/* A client whose old entry is still in the ring reuses it: the ring
	 * then never holds more than one entry per client. */
	if (!c->in_queue) {
		c->in_queue = true;
		s->ring[(s->ring_head + s->ring_len) % s->n] = c->index;
		s->ring_len++;
	}
	pacer_kick(s);
}

static void client_send_hello(struct sim *s, struct client *c)
{
	struct cpg_msg m;
	socklen_t alen = sizeof(m.local_ep);

	c->hello_id = sim_request_id(s);
	cpg_msg_init(&m, CPG_MSG_HELLO, c->hello_id);
	m.vpn_ip = c->vpn_ip;
	m.present = CPG_HAS(CPG_ATTR_VPN_IP);
	if (s->opt->local_ep &&
	    getsockname(c->fd, &m.local_ep.sa, &alen) == 0 && m.local_ep.sa.sa_family == AF_INET) {
		if (m.local_ep.in.sin_addr.s_addr == htonl(INADDR_ANY))
			m.local_ep.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		m.present |= CPG_HAS(CPG_ATTR_LOCAL_ENDPOINT);
	}
	c->state = CLIENT_HELLO_SENT;
	s->hello_in_flight++;
	s->c.hello_sent++;
	c->hello_us = now_us();
	sim_send(s, c, &m);
	sim_arm(s, &c->timer, HELLO_RETRY_MS);
}

static void hs_send(void *arg, const union cpg_sockaddr *to, const uint8_t *dgram, size_t len)
{
	struct client *c = arg;

	(void)to;
	sim_sendto(c->sim, c, dgram, len, "handshake");
}

/*
 * Acts on c's handshake after any call into it, as rdvlink.c does for the
 * daemon, but keeps only the keys once it has finished: the RDV frees its
 * side on our first record, the HELLO that follows at once.
 */
static void client_hs_update(struct sim *s, struct client *c, uint64_t t)
{
	char ip[INET_ADDRSTRLEN];
	struct cpg_keys keys;
	int64_t ms;

	switch (cpg_dtls_session_state(c->hs)) {
	case CPG_DTLS_HANDSHAKING:
		ms = cpg_dtls_session_timeout_ms(c->hs);
		if (ms >= 0)
			sim_arm(s, &c->timer, (uint64_t)ms);
		return;
	case CPG_DTLS_ESTABLISHED:
		if (cpg_dtls_session_take_keys(c->hs, &keys) < 0)
			break;
		cpg_chan_init(&c->chan, &keys);
		cpg_keys_wipe(&keys);
		c->keyed = true;
		client_hs_end(s, c);
		s->c.hs_done++;
		rtt_add(&s->hs_rtt, t - c->hs_us);
		client_send_hello(s, c);
		return;
	case CPG_DTLS_CLOSED:
	case CPG_DTLS_FAILED:
		break;
	}
	if (!s->c.hs_failed++)
		log_notice("%s: handshake failed (%s), retrying every %d ms",
			   cpg_net_ip4_str(c->vpn_ip, ip), cpg_dtls_session_reason(c->hs),
			   HELLO_RETRY_MS);
	client_hs_end(s, c);
	c->state = CLIENT_IDLE;
	sim_arm(s, &c->timer, HELLO_RETRY_MS);
}

/* A handshake with a certificate for c's VPN IP, made for it now. */
static void client_handshake(struct sim *s, struct client *c)
{
	struct in_addr any = { .s_addr = INADDR_ANY };
	X509 *cert = auth_cert(s->auth, c->vpn_ip);

	c->hs = cert ? cpg_dtls_session_new(s->auth->ctx, CPG_DTLS_CLIENT, &s->opt->server, any,
					    hs_send, c)
		     : NULL;
	if (!c->hs || cpg_dtls_session_use_cert(c->hs, cert, s->auth->key, s->auth->chain) ||
	    cpg_dtls_session_expect_name(c->hs, s->opt->rdv_name)) {
		log_err("cannot start a handshake (--rdv-name '%s')", s->opt->rdv_name);
		X509_free(cert);
		cpg_dtls_session_free(c->hs);
		c->hs = NULL;
		s->broken = true;
		cpg_loop_stop(&s->loop);
		return;
	}
	X509_free(cert);
	c->state = CLIENT_HANDSHAKING;
	s->hs_in_flight++;
	s->c.hs_started++;
	c->hs_us = now_us();
	cpg_dtls_session_start(c->hs);
	client_hs_update(s, c, c->hs_us);
}

/* Starts queued registrations at the configured rate: HELLO_WINDOW HELLOs
 * and --handshakes handshakes in flight at most. */
static void on_pacer(struct cpg_loop *loop, void *arg)
{
	struct sim *s = arg;
	uint64_t now = cpg_loop_now_ms();

	s->pacer_credit += (double)(now - s->pacer_ms) * s->opt->rate / 1000.0;
	if (s->pacer_credit > PACER_BURST)
		s->pacer_credit = PACER_BURST;
	s->pacer_ms = now;

	while (s->ring_len && s->pacer_credit >= 1.0 && s->hello_in_flight < HELLO_WINDOW) {
		struct client *c = &s->clients[s->ring[s->ring_head]];
		bool handshake = s->auth && !c->keyed;

		if (handshake && c->state == CLIENT_QUEUED && s->hs_in_flight >= s->opt->handshakes)
			break;	/* the next tick sees whether one has ended */
		s->ring_head = (s->ring_head + 1) % s->n;
		s->ring_len--;
		c->in_queue = false;
		if (c->state != CLIENT_QUEUED)
			continue;	/* registered meanwhile by a late OK */
		if (handshake)
			client_handshake(s, c);
		else
			client_send_hello(s, c);
		s->pacer_credit -= 1.0;
	}
	if (s->ring_len)
		sim_arm(s, &s->pacer, PACER_TICK_MS);
}

/* Delay to this client's next PING slot: the clients' phases are spread
 * evenly over the interval, whenever each registered. */
static uint64_t client_ping_delay(struct sim *s, struct client *c)
{
	uint64_t interval = s->ping_interval_ms;
	uint64_t phase = (uint64_t)c->index * interval / s->n;
	uint64_t now = cpg_loop_now_ms();
	uint64_t since = (now - s->start_ms + interval - phase) % interval;

	return interval - since;
}

static void client_ping(struct sim *s, struct client *c)
{
	struct cpg_msg m;

	if (c->ping_pending) {
		s->c.ping_unanswered++;
		if (++c->missed_pings >= MISSED_PINGS_MAX) {
			/* The RDV has purged us by now: do what a real client does. */
			log_info("%s: %u PINGs unanswered, registering again",
				 inet_ntoa(c->vpn_ip), c->missed_pings);
			s->c.lost_registrations++;
			client_forget_keys(c);
			client_enqueue(s, c);
			return;
		}
	}
	c->ping_id = sim_request_id(s);
	cpg_msg_init(&m, CPG_MSG_PING, c->ping_id);
	c->ping_pending = true;
	c->ping_us = now_us();
	s->c.ping_sent++;
	sim_send(s, c, &m);
	sim_arm(s, &c->timer, s->ping_interval_ms);
}

static void on_client_timer(struct cpg_loop *loop, void *arg)
{
	struct client *c = arg;
	struct sim *s = c->sim;

	if (s->phase != PHASE_RUN)
		return;
	switch (c->state) {
	case CLIENT_HANDSHAKING:
		cpg_dtls_session_on_timeout(c->hs);
		client_hs_update(s, c, now_us());
		break;
	case CLIENT_HELLO_SENT:
		s->c.hello_timeouts++;
		client_enqueue(s, c);
		break;
	case CLIENT_IDLE:
		client_enqueue(s, c);
		break;
	case CLIENT_REGISTERED:
		client_ping(s, c);
		break;
	default:
		break;
	}
}

static void client_on_ok(struct sim *s, struct client *c, const struct cpg_msg *m, uint64_t t)
{
	if (c->state != CLIENT_HELLO_SENT && c->state != CLIENT_QUEUED) {
		s->c.ok_dup++;	/* the answer to a HELLO we had given up on */
		return;
	}
	if (c->state == CLIENT_HELLO_SENT) {
		s->hello_in_flight--;
		if (m->request_id == c->hello_id)
			rtt_add(&s->hello_rtt, t - c->hello_us);
	}
	s->c.ok++;
	if (m->public_ep.sa.sa_family == AF_INET)
		s->c.ok_public_ipv4++;
	else if (IN6_IS_ADDR_V4MAPPED(&m->public_ep.in6.sin6_addr))
		s->c.ok_public_mapped++;
	else
		s->c.ok_public_ipv6++;
	/* All clients get the same interval; follow the RDV's wish if sane. */
	if ((m->present & CPG_HAS(CPG_ATTR_PING_INTERVAL)) && m->ping_interval >= 100 &&
	    m->ping_interval <= 60000)
		s->ping_interval_ms = m->ping_interval;
	c->state = CLIENT_REGISTERED;
	c->missed_pings = 0;
	c->ping_pending = false;
	reg_add(s, c);
	sim_arm(s, &c->timer, client_ping_delay(s, c));
	if (s->n_registered == s->n && !s->all_registered_ms) {
		s->all_registered_ms = cpg_loop_now_ms() - s->start_ms;
		if (!s->all_registered_ms)
			s->all_registered_ms = 1;
		log_info("all %u clients registered after %" PRIu64 " ms", s->n,
			 s->all_registered_ms);
	}
}

static void client_on_nok(struct sim *s, struct client *c, const struct cpg_msg *m)
{
	unsigned int reason = (m->present & CPG_HAS(CPG_ATTR_REASON)) ? m->reason : 0;
	unsigned int slot = reason <= CPG_REASON_MAX ? reason : CPG_REASON_MAX + 1;

	if (!s->c.nok[slot]++)
		log_notice("%s: NOK (%s), retrying every %d ms", inet_ntoa(c->vpn_ip),
			   cpg_reason_str(reason), HELLO_RETRY_MS);
	if (c->state != CLIENT_HELLO_SENT)
		return;
	s->hello_in_flight--;
	c->state = CLIENT_IDLE;
	sim_arm(s, &c->timer, HELLO_RETRY_MS);
}

static void client_on_ans(struct sim *s, struct client *c, const struct cpg_msg *m, uint64_t t)
{
	struct cpg_msg cm;

	s->c.ans++;
	if (c->ask_pending && m->request_id == c->ask_id)
		steady_rtt_add(s, &s->ask_rtt, t - c->ask_us);
	c->ask_pending = false;
	/* Nobody punches here: tell the RDV so that it can drop the session,
	 * as a client whose punching failed would. */
	cpg_msg_init(&cm, CPG_MSG_CLOSE, sim_request_id(s));
	cm.peer_vpn_ip = m->peer_vpn_ip;
	cm.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP);
	if (m->present & CPG_HAS(CPG_ATTR_SESSION)) {
		cm.session = m->session;
		cm.present |= CPG_HAS(CPG_ATTR_SESSION);
	}
	cm.reason = CPG_REASON_PUNCH_FAILED;
	cm.present |= CPG_HAS(CPG_ATTR_REASON);
	s->c.close_sent++;
	sim_send(s, c, &cm);
}

static void client_input(struct sim *s, struct client *c, const uint8_t *buf, size_t len,
			 uint64_t t)
{
	enum cpg_decode_err err;
	struct cpg_msg m;
	unsigned int reason;

	err = cpg_msg_decode(&m, buf, len);
	if (err != CPG_DECODE_OK) {
		if (err > CPG_DECODE_ERR_MAX)
			err = CPG_DECODE_ERR_MAX;
		if (!s->c.malformed[err]++)
			log_warn("%s: malformed reply (%s), %zu bytes", inet_ntoa(c->vpn_ip),
				 cpg_decode_err_str(err), len);
		return;
	}
	switch (m.type) {
	case CPG_MSG_OK:
		client_on_ok(s, c, &m, t);
		break;
	case CPG_MSG_NOK:
		client_on_nok(s, c, &m);
		break;
	case CPG_MSG_PONG:
		if (c->state == CLIENT_REGISTERED && c->ping_pending &&
		    m.request_id == c->ping_id) {
			s->c.pong++;
			steady_rtt_add(s, &s->ping_rtt, t - c->ping_us);
			c->ping_pending = false;
			c->missed_pings = 0;
		} else {
			s->c.pong_late++;
		}
		break;
	case CPG_MSG_RECONNECT:
		s->c.reconnect++;
		/* Authenticated, it means the RDV has no channel for us. */
		if (s->auth && c->state != CLIENT_HANDSHAKING)
			client_forget_keys(c);
		if ((c->state == CLIENT_REGISTERED ||
		     (s->auth && c->state == CLIENT_HELLO_SENT)) && s->phase == PHASE_RUN) {
			log_info("%s: RECONNECT, registering again", inet_ntoa(c->vpn_ip));
			client_enqueue(s, c);
		}
		break;
	case CPG_MSG_ANS:
		client_on_ans(s, c, &m, t);
		break;
	case CPG_MSG_FWD:
		s->c.fwd++;
		break;
	case CPG_MSG_REJ:
		reason = (m.present & CPG_HAS(CPG_ATTR_REASON)) ? m.reason : 0;
		s->c.rej[reason <= CPG_REASON_MAX ? reason : CPG_REASON_MAX + 1]++;
		c->ask_pending = false;
		break;
	default:
		if (!s->c.unexpected++)
			log_warn("%s: unexpected %s from the RDV", inet_ntoa(c->vpn_ip),
				 cpg_msg_type_str(m.type));
		break;
	}
}

/* A datagram from the RDV's port: a message, or with --ca-cert the
 * handshake's records, the channel's, and RECONNECT, the one message that
 * comes in plaintext (docs/protocol.md section 12.1). */
static void client_datagram(struct sim *s, struct client *c, uint8_t *buf, size_t len,
			    uint64_t t)
{
	struct cpg_record_header h;
	uint8_t *msg;
	size_t msg_len;

	if (!s->auth) {
		client_input(s, c, buf, len, t);
		return;
	}
	if (cpg_proto_is_ours(buf, len)) {
		if (len >= CPG_PROTO_HDR_LEN && buf[1] == CPG_MSG_RECONNECT)
			client_input(s, c, buf, len, t);
		else
			s->c.plaintext++;
		return;
	}
	if (cpg_record_parse_header(buf, len, &h)) {
		s->c.bad_records++;
		return;
	}
	if (h.type != CPG_RECORD_CT_APPLICATION_DATA) {
		if (c->hs && s->phase == PHASE_RUN) {
			cpg_dtls_session_input(c->hs, buf, len);
			client_hs_update(s, c, t);
		}
		return;
	}
	if (!c->keyed || cpg_chan_open(&c->chan, buf, len, &msg, &msg_len) != CPG_RECORD_OK) {
		s->c.bad_records++;
		return;
	}
	client_input(s, c, msg, msg_len, t);
}

static void on_client_readable(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct client *c = arg;
	struct sim *s = c->sim;

	for (;;) {
		union cpg_sockaddr from;
		socklen_t alen = sizeof(from);
		ssize_t n = recvfrom(fd, s->rx, sizeof(s->rx), 0, &from.sa, &alen);

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_debug("recvfrom: %s", strerror(errno));
			return;
		}
		if (!cpg_sockaddr_equal(&from, &s->opt->server)) {
			/* The RDV's NAT probe comes from another port of its. */
			if (cpg_sockaddr_same_host(&from, &s->opt->server))
				s->c.other_port++;
			else
				s->c.foreign++;
			continue;
		}
		client_datagram(s, c, s->rx, (size_t)n, now_us());
	}
}

static void on_asker(struct cpg_loop *loop, void *arg)
{
	struct sim *s = arg;
	uint64_t now = cpg_loop_now_ms();

	/* By the clock, not by ticks: a late tick must not lose asks. */
	s->ask_credit += (double)(now - s->asker_ms) * s->opt->asks_per_sec / 1000.0;
	if (s->ask_credit > s->opt->asks_per_sec / 10.0 + 1.0)
		s->ask_credit = s->opt->asks_per_sec / 10.0 + 1.0;
	s->asker_ms = now;
	while (s->ask_credit >= 1.0) {
		struct client *asker, *target;
		struct cpg_msg m;
		uint32_t i, j;

		s->ask_credit -= 1.0;
		if (s->n_registered < 2)
			continue;	/* nobody to ask for yet: this ask is skipped */
		i = rng_below(&s->rng, s->n_registered);
		j = rng_below(&s->rng, s->n_registered - 1);
		if (j >= i)
			j++;
		asker = &s->clients[s->registered[i]];
		target = &s->clients[s->registered[j]];
		asker->ask_id = sim_request_id(s);
		cpg_msg_init(&m, CPG_MSG_ASK, asker->ask_id);
		m.peer_vpn_ip = target->vpn_ip;
		m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP);
		asker->ask_pending = true;
		asker->ask_us = now_us();
		s->c.ask_sent++;
		sim_send(s, asker, &m);
	}
	sim_arm(s, &s->asker, ASK_TICK_MS);
}

static uint64_t sum_array(const uint64_t *a, size_t n)
{
	uint64_t sum = 0;

	while (n--)
		sum += a[n];
	return sum;
}

static void on_progress(struct cpg_loop *loop, void *arg)
{
	struct sim *s = arg;

	fprintf(stderr,
		PROG ": t=%" PRIu64 "s registered=%u/%u handshakes=%" PRIu64 " hello=%" PRIu64
		" nok=%" PRIu64
		" pings=%" PRIu64 " pongs=%" PRIu64 " unanswered=%" PRIu64 " reconnect=%" PRIu64
		" ask=%" PRIu64 " ans=%" PRIu64 " fwd=%" PRIu64 " rej=%" PRIu64
		" malformed=%" PRIu64 "\n",
		(cpg_loop_now_ms() - s->start_ms) / 1000, s->n_registered, s->n, s->c.hs_done,
		s->c.hello_sent,
		sum_array(s->c.nok, CPG_REASON_MAX + 2), s->c.ping_sent, s->c.pong,
		s->c.ping_unanswered, s->c.reconnect, s->c.ask_sent, s->c.ans, s->c.fwd,
		sum_array(s->c.rej, CPG_REASON_MAX + 2),
		sum_array(s->c.malformed, CPG_DECODE_ERR_MAX + 1));
	sim_arm(s, &s->progress, PROGRESS_MS);
}

/* Run -> drain (stop sending, collect late replies) -> bye -> done. */
static void on_phase_timer(struct cpg_loop *loop, void *arg)
{
	struct sim *s = arg;
	uint32_t i, sent = 0;

	switch (s->phase) {
	case PHASE_RUN:
		s->phase = PHASE_DRAIN;
		cpg_loop_timer_cancel(loop, &s->pacer);
		cpg_loop_timer_cancel(loop, &s->asker);
		for (i = 0; i < s->n; i++)
			cpg_loop_timer_cancel(loop, &s->clients[i].timer);
		sim_arm(s, &s->phase_timer, DRAIN_MS);
		break;
	case PHASE_DRAIN:
		s->final_registered = s->n_registered;
		for (i = 0; i < s->n; i++)
			if (s->clients[i].state == CLIENT_REGISTERED && s->clients[i].ping_pending)
				s->c.ping_unanswered++;
		s->phase = PHASE_BYE;
		/* fall through */
	case PHASE_BYE:
		/* Leave politely, in small bursts the RDV's socket buffer holds. */
		while (s->bye_next < s->n_registered && sent < BYE_PER_TICK) {
			struct client *c = &s->clients[s->registered[s->bye_next++]];
			struct cpg_msg m;

			cpg_msg_init(&m, CPG_MSG_BYE, sim_request_id(s));
			sim_send(s, c, &m);
			s->c.bye_sent++;
			sent++;
		}
		if (s->bye_next < s->n_registered) {
			sim_arm(s, &s->phase_timer, 1);
		} else {
			s->phase = PHASE_DONE;
			cpg_loop_stop(loop);
		}
		break;
	case PHASE_DONE:
		break;
	}
}

static void on_signal(struct cpg_loop *loop, int signo, void *arg)
{
	struct sim *s = arg;

	if (s->phase == PHASE_RUN) {
		log_notice("%s: ending the run early", strsignal(signo));
		cpg_loop_timer_cancel(loop, &s->phase_timer);
		on_phase_timer(loop, s);
	} else {
		cpg_loop_stop(loop);
	}
}

static void sim_free(struct sim *s)
{
	uint32_t i;

	if (s->clients) {
		for (i = 0; i < s->n; i++) {
			struct client *c = &s->clients[i];

			if (c->fd < 0)
				continue;
			cpg_loop_del_fd(&s->loop, &c->io);
			close(c->fd);
		}
		for (i = 0; i < s->n; i++) {
			cpg_dtls_session_free(s->clients[i].hs);
			client_forget_keys(&s->clients[i]);
		}
	}
	auth_free(s->auth);
	cpg_loop_destroy(&s->loop);
	free(s->clients);
	free(s->ring);
	free(s->registered);
	free(s);
}

static struct sim *sim_new(const struct options *o)
{
	struct sim *s = calloc(1, sizeof(*s));
	uint32_t i;

	if (!s) {
		log_err("out of memory");
		return NULL;
	}
	s->opt = o;
	s->n = o->clients;
	s->ping_interval_ms = CPG_PING_INTERVAL_MS;
	rng_seed(&s->rng, o->seed);
	if (cpg_loop_init(&s->loop)) {
		free(s);
		return NULL;
	}
	if (o->ca_cert) {
		s->auth = auth_new(o);
		if (!s->auth) {
			sim_free(s);
			return NULL;
		}
	}
	s->clients = calloc(s->n, sizeof(*s->clients));
	s->ring = calloc(s->n, sizeof(*s->ring));
	s->registered = calloc(s->n, sizeof(*s->registered));
	if (!s->clients || !s->ring || !s->registered) {
		log_err("out of memory for %u clients", s->n);
		sim_free(s);
		return NULL;
	}
	for (i = 0; i < s->n; i++)
		s->clients[i].fd = -1;
	for (i = 0; i < s->n; i++) {
		struct client *c = &s->clients[i];

		c->sim = s;
		c->index = i;
		c->vpn_ip.s_addr = htonl(o->base_ip + i);
		c->state = CLIENT_IDLE;
		cpg_loop_timer_init(&c->timer, on_client_timer, c);
		c->fd = cpg_net_udp_socket(&o->bind, NULL);
		if (c->fd < 0) {
			log_err("cannot create the socket of client %u of %u", i + 1, s->n);
			sim_free(s);
			return NULL;
		}
		if (cpg_loop_add_fd(&s->loop, &c->io, c->fd, CPG_LOOP_READ, on_client_readable,
				    c)) {
			log_err("cannot watch the socket of client %u of %u", i + 1, s->n);
			close(c->fd);
			c->fd = -1;
			sim_free(s);
			return NULL;
		}
	}
	cpg_loop_timer_init(&s->pacer, on_pacer, s);
	cpg_loop_timer_init(&s->asker, on_asker, s);
	cpg_loop_timer_init(&s->progress, on_progress, s);
	cpg_loop_timer_init(&s->phase_timer, on_phase_timer, s);
	return s;
}

/* "NAME=total", then "NAME_reason=count" for each reason counted; counts
 * has CPG_REASON_MAX + 2 slots, the last for reasons we do not know. */
static void print_by_reason(const char *name, const uint64_t *counts)
{
	char key[64];
	unsigned int r;

	printf("%s=%" PRIu64 "\n", name, sum_array(counts, CPG_REASON_MAX + 2));
	for (r = 0; r <= CPG_REASON_MAX; r++)
		if (counts[r])
			printf("%s_%s=%" PRIu64 "\n", name,
			       key_name(cpg_reason_str(r), key, sizeof(key)), counts[r]);
	if (counts[CPG_REASON_MAX + 1])
		printf("%s_unknown_reason=%" PRIu64 "\n", name, counts[CPG_REASON_MAX + 1]);
}

static void sim_print_summary(const struct sim *s)
{
	char key[64];
	const struct counters *c = &s->c;
	uint64_t answered = c->ans + sum_array(c->rej, CPG_REASON_MAX + 2);
	int e;

	printf("mode=load\n");
	printf("auth=%s\n", s->auth ? "yes" : "no");
	printf("clients=%u\n", s->n);
	printf("registered=%u\n", s->final_registered);
	/* 0: never all at once. */
	printf("all_registered_s=%.3f\n", s->all_registered_ms / 1000.0);
	printf("duration_s=%.1f\n", (cpg_loop_now_ms() - s->start_ms) / 1000.0);
	printf("handshakes=%" PRIu64 "\n", c->hs_started);
	printf("handshakes_done=%" PRIu64 "\n", c->hs_done);
	printf("handshake_failures=%" PRIu64 "\n", c->hs_failed);
	printf("bad_records=%" PRIu64 "\n", c->bad_records);
	printf("plaintext=%" PRIu64 "\n", c->plaintext);
	printf("hello=%" PRIu64 "\n", c->hello_sent);
	printf("hello_timeouts=%" PRIu64 "\n", c->hello_timeouts);
	printf("ok=%" PRIu64 "\n", c->ok);
	printf("ok_dup=%" PRIu64 "\n", c->ok_dup);
	print_by_reason("nok", c->nok);
	printf("pings=%" PRIu64 "\n", c->ping_sent);
	printf("pongs=%" PRIu64 "\n", c->pong);
	printf("pongs_late=%" PRIu64 "\n", c->pong_late);
	printf("pings_unanswered=%" PRIu64 "\n", c->ping_unanswered);
	printf("reconnect=%" PRIu64 "\n", c->reconnect);
	printf("lost_registrations=%" PRIu64 "\n", c->lost_registrations);
	printf("ask=%" PRIu64 "\n", c->ask_sent);
	printf("ans=%" PRIu64 "\n", c->ans);
	printf("fwd=%" PRIu64 "\n", c->fwd);
	print_by_reason("rej", c->rej);
	printf("asks_unanswered=%" PRIu64 "\n",
	       c->ask_sent > answered ? c->ask_sent - answered : 0);
	printf("close=%" PRIu64 "\n", c->close_sent);
	printf("bye=%" PRIu64 "\n", c->bye_sent);
	printf("malformed=%" PRIu64 "\n", sum_array(c->malformed, CPG_DECODE_ERR_MAX + 1));
	for (e = 1; e <= CPG_DECODE_ERR_MAX; e++)
		if (c->malformed[e])
			printf("malformed_%s=%" PRIu64 "\n",
			       key_name(cpg_decode_err_str((enum cpg_decode_err)e), key,
					sizeof(key)),
			       c->malformed[e]);
	printf("unexpected=%" PRIu64 "\n", c->unexpected);
	printf("foreign=%" PRIu64 "\n", c->foreign);
	printf("other_port=%" PRIu64 "\n", c->other_port);
	printf("ok_public_ipv4=%" PRIu64 "\n", c->ok_public_ipv4);
	printf("ok_public_ipv6=%" PRIu64 "\n", c->ok_public_ipv6);
	printf("ok_public_mapped=%" PRIu64 "\n", c->ok_public_mapped);
	printf("send_errors=%" PRIu64 "\n", c->send_errors);
	rtt_print("handshake", &s->hs_rtt);
	rtt_print("hello", &s->hello_rtt);
	rtt_print("ping", &s->ping_rtt);
	rtt_print("ask", &s->ask_rtt);
}

/* All registered at the end, nobody had to register again, and PINGs went
 * unanswered at most 2 + 0.1 % of the time (a loaded RDV may drop a few). */
static bool sim_succeeded(const struct sim *s)
{
	const struct counters *c = &s->c;

	return s->final_registered == s->n && !c->reconnect && !c->lost_registrations &&
	       c->ping_unanswered <= 2 + c->ping_sent / 1000;
}

static int run_load(const struct options *o)
{
	struct sim *s;
	sigset_t sigs;
	uint32_t i;
	bool ok;
	int rc;

	if (cpg_daemon_raise_nofile(o->clients + SPARE_FILES, "one socket per simulated client"))
		return 1;
	s = sim_new(o);
	if (!s)
		return 1;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	if (cpg_loop_watch_signals(&s->loop, &sigs, on_signal, s)) {
		sim_free(s);
		return 1;
	}
	s->start_ms = cpg_loop_now_ms();
	s->pacer_ms = s->start_ms;
	s->asker_ms = s->start_ms;
	for (i = 0; i < s->n; i++)
		client_enqueue(s, &s->clients[i]);
	if (o->asks_per_sec)
		sim_arm(s, &s->asker, ASK_TICK_MS);
	if (!o->quiet)
		sim_arm(s, &s->progress, PROGRESS_MS);
	sim_arm(s, &s->phase_timer, (uint64_t)o->duration_s * 1000);

	rc = cpg_loop_run(&s->loop);
	if (s->phase < PHASE_BYE) {
		/* Stopped by a second signal or an epoll error: count what we have. */
		s->final_registered = s->n_registered;
	}
	sim_print_summary(s);
	ok = rc == 0 && !s->broken && sim_succeeded(s);
	printf("result=%s\n", ok ? "ok" : "fail");
	fflush(stdout);
	sim_free(s);
	return ok ? 0 : 1;
}

/* ---------------------------------------------------------------------- */
/* Fuzz mode */

enum fuzz_kind {
	FUZZ_RANDOM,		/* random bytes, random length */
	FUZZ_TRUNCATED,		/* valid messages cut at every length */
	FUZZ_VERSION,		/* valid message, wrong version byte */
	FUZZ_TYPE,		/* valid message, unknown type byte */
	FUZZ_DUPLICATE,		/* an attribute twice */
	FUZZ_UNKNOWN_MANDATORY,	/* an attribute nobody knows, flagged mandatory */
	FUZZ_UNKNOWN_OPTIONAL,	/* the same without the flag: may be accepted */
	FUZZ_ATTR_PAST_END,	/* an attribute length pointing past the end */
	FUZZ_BAD_VALUE,		/* an attribute of the wrong length or content */
	FUZZ_TRAILING,		/* a valid message followed by a partial attribute */
	FUZZ_RESERVED,		/* valid message, reserved bytes set */
	FUZZ_SERVER_TYPES,	/* valid messages clients never send */
	FUZZ_CLIENT_TYPES,	/* valid client messages from an unknown endpoint */
	FUZZ_KINDS,
};

static const char *const fuzz_kind_names[FUZZ_KINDS] = {
	"random", "truncated", "version", "type", "duplicate", "unknown_mandatory",
	"unknown_optional", "attr_past_end", "bad_value", "trailing", "reserved",
	"server_types", "client_types",
};

struct fuzz {
	struct cpg_loop loop;
	const struct options *opt;
	int fds[FUZZ_SOCKETS + 1];	/* the last one only probes */
	struct cpg_loop_io ios[FUZZ_SOCKETS + 1];
	struct cpg_loop_timer tick;
	uint64_t rng;
	uint64_t sent, send_errors;
	uint64_t per_kind[FUZZ_KINDS];
	uint64_t replies[CPG_MSG_TYPE_MAX + 1];
	uint64_t replies_malformed;
	uint64_t tick_ms;
	double credit;
	unsigned int trunc_type;	/* cursor of FUZZ_TRUNCATED */
	unsigned int trunc_len;
	unsigned int probes;
	bool probing;
	bool alive;
	bool broken;		/* the timer could not be armed */
	uint8_t tx[FUZZ_MAX_LEN + 64];
	uint8_t rx[RX_BUF_LEN];
};

/* A VPN IP of the -b/-n range, so that fuzzed HELLOs and ASKs name real
 * clients: a HELLO must then get NOK, never steal the address. */
static struct in_addr fuzz_vpn_ip(struct fuzz *f)
{
	return (struct in_addr){ .s_addr = htonl(f->opt->base_ip +
						 rng_below(&f->rng, f->opt->clients)) };
}

static void fuzz_endpoint(struct fuzz *f, union cpg_sockaddr *ep)
{
	struct in_addr ip = { .s_addr = htonl(0x7f000001 + rng_below(&f->rng, 256)) };

	cpg_sockaddr_set_in(ep, ip, (uint16_t)(1 + rng_below(&f->rng, 65535)));
}

/* A valid message of type with every attribute the type may carry. */
static int fuzz_valid(struct fuzz *f, uint8_t type, uint8_t *buf, size_t size)
{
	struct cpg_msg m;

	cpg_msg_init(&m, type, (uint32_t)rng_next(&f->rng));
	m.vpn_ip = fuzz_vpn_ip(f);
	m.peer_vpn_ip = fuzz_vpn_ip(f);
	fuzz_endpoint(f, &m.local_ep);
	fuzz_endpoint(f, &m.public_ep);
	fuzz_endpoint(f, &m.peer_ep);
	m.session = (uint32_t)rng_next(&f->rng);
	m.role = (uint8_t)(1 + rng_below(&f->rng, 2));
	m.reason = (uint8_t)rng_below(&f->rng, CPG_REASON_MAX + 1);
	m.flags = (uint8_t)rng_below(&f->rng, 4);
	m.ping_interval = CPG_PING_INTERVAL_MS;
	switch (type) {
	case CPG_MSG_HELLO:
		m.present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_LOCAL_ENDPOINT);
		break;
	case CPG_MSG_OK:
		m.present = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT) | CPG_HAS(CPG_ATTR_PING_INTERVAL);
		break;
	case CPG_MSG_NOK:
		m.present = CPG_HAS(CPG_ATTR_REASON);
		break;
	case CPG_MSG_PONG:
		m.present = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT);
		break;
	case CPG_MSG_ASK:
		m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP);
		break;
	case CPG_MSG_ANS:
	case CPG_MSG_FWD:
		m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_ENDPOINT) |
			    CPG_HAS(CPG_ATTR_SESSION) | CPG_HAS(CPG_ATTR_ROLE) |
			    CPG_HAS(CPG_ATTR_FLAGS);
		break;
	case CPG_MSG_REJ:
		m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_REASON);
		break;
	case CPG_MSG_PUNCH:
		m.present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_VPN_IP) |
			    CPG_HAS(CPG_ATTR_SESSION) | CPG_HAS(CPG_ATTR_FLAGS);
		break;
	case CPG_MSG_PUNCH_KEEPALIVE:
		m.present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_VPN_IP);
		break;
	case CPG_MSG_CLOSE:
		m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_SESSION) |
			    CPG_HAS(CPG_ATTR_REASON);
		break;
	default:	/* PING, BYE, RECONNECT: header only */
		break;
	}
	return cpg_msg_encode(&m, buf, size);
}

/* Offsets of the attributes of a well-formed encoded message. */
static unsigned int fuzz_attrs(const uint8_t *buf, int len, int *offs, unsigned int max)
{
	unsigned int n = 0;
	int off = CPG_PROTO_HDR_LEN;

	while (off + CPG_PROTO_ATTR_HDR_LEN <= len && n < max) {
		offs[n++] = off;
		off += CPG_PROTO_ATTR_HDR_LEN + cpg_bytes_get_be16(buf + off + 2);
	}
	return n;
}

/* A valid message of a random type that has attributes. */
static int fuzz_valid_with_attrs(struct fuzz *f, uint8_t *buf, size_t size)
{
	static const uint8_t types[] = {
		CPG_MSG_HELLO, CPG_MSG_OK, CPG_MSG_NOK, CPG_MSG_PONG, CPG_MSG_ASK,
		CPG_MSG_ANS, CPG_MSG_FWD, CPG_MSG_REJ, CPG_MSG_PUNCH,
		CPG_MSG_PUNCH_KEEPALIVE, CPG_MSG_CLOSE,
	};

	return fuzz_valid(f, types[rng_below(&f->rng, sizeof(types))], buf, size);
}

static uint8_t fuzz_any_type(struct fuzz *f)
{
	return (uint8_t)(1 + rng_below(&f->rng, CPG_MSG_TYPE_MAX));
}

static int fuzz_put_attr(uint8_t *buf, int off, uint16_t type, const uint8_t *val, uint16_t len)
{
	cpg_bytes_put_be16(buf + off, type);
	cpg_bytes_put_be16(buf + off + 2, len);
	memcpy(buf + off + CPG_PROTO_ATTR_HDR_LEN, val, len);
	return off + CPG_PROTO_ATTR_HDR_LEN + len;
}

/* An attribute the RDV must refuse: a wrong length, an endpoint of an
 * unknown family or with a length that does not match its family, an
 * out-of-range enum, a zero or broadcast VPN IP. */
static int fuzz_bad_value(struct fuzz *f, uint8_t *buf)
{
	static const uint8_t types[] = { CPG_MSG_HELLO, CPG_MSG_ASK, CPG_MSG_CLOSE };
	uint8_t val[32];
	struct in_addr ip;
	uint16_t atype, alen;
	int off = CPG_PROTO_HDR_LEN;

	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (uint8_t)rng_next(&f->rng);
	buf[0] = CPG_PROTO_VERSION;
	buf[1] = types[rng_below(&f->rng, sizeof(types))];
	memset(buf + 2, 0, 2);
	memcpy(buf + 4, val, 4);
	switch (rng_below(&f->rng, 7)) {
	case 0:	/* an address of the wrong length */
		atype = buf[1] == CPG_MSG_HELLO ? CPG_ATTR_VPN_IP : CPG_ATTR_PEER_VPN_IP;
		alen = (uint16_t)(rng_below(&f->rng, 2) ? rng_below(&f->rng, 4) :
							  5 + rng_below(&f->rng, 12));
		break;
	case 1:	/* an endpoint of an unknown family */
		atype = CPG_ATTR_LOCAL_ENDPOINT;
		val[0] = (uint8_t)(rng_below(&f->rng, 2) ? 0 : 7 + rng_below(&f->rng, 249));
		alen = 8;
		break;
	case 2:	/* an endpoint whose length does not match its family */
		atype = CPG_ATTR_LOCAL_ENDPOINT;
		val[0] = rng_below(&f->rng, 2) ? CPG_EP_FAMILY_INET : CPG_EP_FAMILY_INET6;
		alen = val[0] == CPG_EP_FAMILY_INET ? 20 : 8;
		if (rng_below(&f->rng, 2))
			alen = (uint16_t)rng_below(&f->rng, 8);
		break;
	case 3:	/* enums out of range, u32/u8 of the wrong size */
		atype = rng_below(&f->rng, 2) ? CPG_ATTR_REASON : CPG_ATTR_ROLE;
		val[0] = (uint8_t)(rng_below(&f->rng, 2) ? 0 : 200 + rng_below(&f->rng, 56));
		alen = (uint16_t)(rng_below(&f->rng, 2) ? 1 : rng_below(&f->rng, 6));
		break;
	case 4:
		atype = rng_below(&f->rng, 2) ? CPG_ATTR_SESSION : CPG_ATTR_PING_INTERVAL;
		alen = (uint16_t)rng_below(&f->rng, 9);
		break;
	case 5:	/* VPN IPs no client may have */
		atype = buf[1] == CPG_MSG_HELLO ? CPG_ATTR_VPN_IP : CPG_ATTR_PEER_VPN_IP;
		memset(val, rng_below(&f->rng, 2) ? 0 : 0xff, 4);
		alen = 4;
		break;
	default: /* mandatory flag on a known attribute, with a value from the
		  * clients' range so that a HELLO accepted anyway gets NOK */
		atype = (uint16_t)(CPG_ATTR_F_MANDATORY | (1 + rng_below(&f->rng, CPG_ATTR_MAX)));
		ip = fuzz_vpn_ip(f);
		memcpy(val, &ip, 4);
		alen = 4;
		break;
	}
	off = fuzz_put_attr(buf, off, atype, val, alen);
	/* Sometimes the attribute the type needs comes after the bad one. */
	if (rng_below(&f->rng, 2) && buf[1] != CPG_MSG_HELLO) {
		ip = fuzz_vpn_ip(f);
		off = fuzz_put_attr(buf, off, CPG_ATTR_PEER_VPN_IP, (const uint8_t *)&ip, 4);
	}
	return off;
}

/* One fuzzed datagram into f->tx; returns its length. */
static int fuzz_build(struct fuzz *f, enum fuzz_kind kind)
{
	static const uint8_t versions[] = { 0, 2, 19, 20, 23, 0xff };
	static const uint8_t server_types[] = {
		CPG_MSG_OK, CPG_MSG_NOK, CPG_MSG_PONG, CPG_MSG_ANS, CPG_MSG_FWD, CPG_MSG_REJ,
		CPG_MSG_RECONNECT, CPG_MSG_PUNCH, CPG_MSG_PUNCH_KEEPALIVE,
	};
	static const uint8_t client_types[] = {
		CPG_MSG_HELLO, CPG_MSG_PING, CPG_MSG_ASK, CPG_MSG_CLOSE, CPG_MSG_BYE,
	};
	uint8_t *buf = f->tx;
	const size_t size = CPG_PROTO_MAX_MSG;
	int offs[16], len, i, off;
	unsigned int n;
	uint16_t atype, alen;

	switch (kind) {
	case FUZZ_RANDOM:
		len = (int)rng_below(&f->rng, FUZZ_MAX_LEN + 1);
		for (i = 0; i < len; i++)
			buf[i] = (uint8_t)rng_next(&f->rng);
		/* Half of them get past the version check, some past the type's. */
		if (len > 0 && rng_below(&f->rng, 2))
			buf[0] = CPG_PROTO_VERSION;
		if (len > 1 && rng_below(&f->rng, 2))
			buf[1] = fuzz_any_type(f);
		return len;
	case FUZZ_TRUNCATED:
		len = fuzz_valid(f, (uint8_t)(1 + f->trunc_type), buf, size);
		if (len <= 0)
			return len;
		i = (int)f->trunc_len;
		if (++f->trunc_len >= (unsigned int)len) {
			f->trunc_len = 0;
			f->trunc_type = (f->trunc_type + 1) % CPG_MSG_TYPE_MAX;
		}
		return i;
	case FUZZ_VERSION:
		len = fuzz_valid(f, fuzz_any_type(f), buf, size);
		if (len > 0)
			buf[0] = versions[rng_below(&f->rng, sizeof(versions))];
		return len;
	case FUZZ_TYPE:
		len = fuzz_valid(f, fuzz_any_type(f), buf, size);
		if (len > 0 && rng_below(&f->rng, 4))
			buf[1] = (uint8_t)(CPG_MSG_TYPE_MAX + 1 +
					   rng_below(&f->rng, 255 - CPG_MSG_TYPE_MAX));
		else if (len > 0)
			buf[1] = 0;
		return len;
	case FUZZ_DUPLICATE:
		len = fuzz_valid_with_attrs(f, buf, size);
		n = len > 0 ? fuzz_attrs(buf, len, offs, 16) : 0;
		if (!n)
			return len;
		i = (int)rng_below(&f->rng, n);
		alen = (uint16_t)(CPG_PROTO_ATTR_HDR_LEN + cpg_bytes_get_be16(buf + offs[i] + 2));
		/* The copy goes last, or right after the original. */
		if (rng_below(&f->rng, 2)) {
			memcpy(buf + len, buf + offs[i], alen);
		} else {
			off = offs[i] + alen;
			memmove(buf + off + alen, buf + off, (size_t)(len - off));
			memcpy(buf + off, buf + offs[i], alen);
		}
		return len + alen;
	case FUZZ_UNKNOWN_MANDATORY:
	case FUZZ_UNKNOWN_OPTIONAL:
		len = fuzz_valid(f, fuzz_any_type(f), buf, size);
		if (len <= 0)
			return len;
		atype = (uint16_t)(CPG_ATTR_MAX + 1 + rng_below(&f->rng, 0x7fff - CPG_ATTR_MAX));
		if (kind == FUZZ_UNKNOWN_MANDATORY)
			atype |= CPG_ATTR_F_MANDATORY;
		alen = (uint16_t)rng_below(&f->rng, 17);
		/* Before the known attributes or after them. */
		off = rng_below(&f->rng, 2) ? CPG_PROTO_HDR_LEN : len;
		memmove(buf + off + CPG_PROTO_ATTR_HDR_LEN + alen, buf + off, (size_t)(len - off));
		for (i = 0; i < alen; i++)
			buf[off + CPG_PROTO_ATTR_HDR_LEN + i] = (uint8_t)rng_next(&f->rng);
		cpg_bytes_put_be16(buf + off, atype);
		cpg_bytes_put_be16(buf + off + 2, alen);
		return len + CPG_PROTO_ATTR_HDR_LEN + alen;
	case FUZZ_ATTR_PAST_END:
		len = fuzz_valid_with_attrs(f, buf, size);
		n = len > 0 ? fuzz_attrs(buf, len, offs, 16) : 0;
		if (!n)
			return len;
		off = offs[rng_below(&f->rng, n)];
		/* One byte past the end, a little more, or as far as it goes. */
		switch (rng_below(&f->rng, 3)) {
		case 0:
			alen = (uint16_t)(len - off - CPG_PROTO_ATTR_HDR_LEN + 1);
			break;
		case 1:
			alen = (uint16_t)(len - off + rng_below(&f->rng, 64));
			break;
		default:
			alen = 0xffff;
			break;
		}
		cpg_bytes_put_be16(buf + off + 2, alen);
		return len;
	case FUZZ_BAD_VALUE:
		return fuzz_bad_value(f, buf);
	case FUZZ_TRAILING:
		len = fuzz_valid(f, fuzz_any_type(f), buf, size);
		if (len <= 0)
			return len;
		n = 1 + rng_below(&f->rng, CPG_PROTO_ATTR_HDR_LEN - 1);
		for (i = 0; i < (int)n; i++)
			buf[len + i] = (uint8_t)rng_next(&f->rng);
		return len + (int)n;
	case FUZZ_RESERVED:
		len = fuzz_valid(f, fuzz_any_type(f), buf, size);
		if (len > 0) {
			buf[2] = (uint8_t)rng_next(&f->rng);
			buf[3] = (uint8_t)(1 + rng_below(&f->rng, 255));
		}
		return len;
	case FUZZ_SERVER_TYPES:
		return fuzz_valid(f, server_types[rng_below(&f->rng, sizeof(server_types))], buf,
				  size);
	case FUZZ_CLIENT_TYPES:
		return fuzz_valid(f, client_types[rng_below(&f->rng, sizeof(client_types))], buf,
				  size);
	case FUZZ_KINDS:
		break;
	}
	return -1;
}

static void fuzz_send(struct fuzz *f, int fd, const uint8_t *buf, size_t len)
{
	if (sendto(fd, buf, len, 0, &f->opt->server.sa, cpg_sockaddr_len(&f->opt->server)) < 0) {
		if (!f->send_errors)
			log_warn("sendto: %s", strerror(errno));
		f->send_errors++;
	}
}

static void fuzz_probe(struct fuzz *f)
{
	struct cpg_msg m;
	int len;

	cpg_msg_init(&m, CPG_MSG_PING, (uint32_t)rng_next(&f->rng));
	len = cpg_msg_encode(&m, f->tx, sizeof(f->tx));
	/* The RDV drops an unpadded PING unanswered. */
	if (len > 0)
		len = cpg_msg_pad(f->tx, (size_t)len, sizeof(f->tx), cpg_msg_request_len(m.type));
	if (len > 0)
		fuzz_send(f, f->fds[FUZZ_SOCKETS], f->tx, (size_t)len);
	f->probes++;
}

static void fuzz_arm(struct fuzz *f, uint64_t delay_ms)
{
	if (cpg_loop_timer_arm(&f->loop, &f->tick, delay_ms)) {
		log_err("cannot arm a timer: out of memory");
		f->broken = true;
		cpg_loop_stop(&f->loop);
	}
}

static void on_fuzz_tick(struct cpg_loop *loop, void *arg)
{
	struct fuzz *f = arg;
	uint64_t now = cpg_loop_now_ms();

	if (f->probing) {
		/* A PING from a stranger gets RECONNECT from a live RDV. */
		if (f->alive || f->probes >= FUZZ_PROBES) {
			cpg_loop_stop(loop);
			return;
		}
		fuzz_probe(f);
		fuzz_arm(f, FUZZ_PROBE_MS);
		return;
	}
	f->credit += (double)(now - f->tick_ms) * f->opt->rate / 1000.0;
	if (f->credit > PACER_BURST)
		f->credit = PACER_BURST;
	f->tick_ms = now;
	while (f->credit >= 1.0 && f->sent < f->opt->fuzz) {
		enum fuzz_kind kind = (enum fuzz_kind)rng_below(&f->rng, FUZZ_KINDS);
		int len = fuzz_build(f, kind);

		if (len < 0) {
			log_err("cannot build a %s datagram", fuzz_kind_names[kind]);
			len = 0;
		}
		fuzz_send(f, f->fds[f->sent % FUZZ_SOCKETS], f->tx, (size_t)len);
		f->per_kind[kind]++;
		f->sent++;
		f->credit -= 1.0;
	}
	if (f->sent < f->opt->fuzz) {
		fuzz_arm(f, PACER_TICK_MS);
		return;
	}
	/* Let the replies to the last datagrams come in, then probe. */
	f->probing = true;
	fuzz_arm(f, DRAIN_MS / 2);
}

static void on_fuzz_readable(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct fuzz *f = arg;

	for (;;) {
		union cpg_sockaddr from;
		socklen_t alen = sizeof(from);
		ssize_t n = recvfrom(fd, f->rx, sizeof(f->rx), 0, &from.sa, &alen);
		struct cpg_msg m;

		if (n < 0)
			return;
		if (!cpg_sockaddr_equal(&from, &f->opt->server))
			continue;
		if (cpg_msg_decode(&m, f->rx, (size_t)n) != CPG_DECODE_OK) {
			f->replies_malformed++;
			continue;
		}
		if (m.type <= CPG_MSG_TYPE_MAX)
			f->replies[m.type]++;
		if (fd == f->fds[FUZZ_SOCKETS] && f->probing)
			f->alive = true;
	}
}

static void on_fuzz_signal(struct cpg_loop *loop, int signo, void *arg)
{
	log_notice("%s: stopping", strsignal(signo));
	cpg_loop_stop(loop);
}

static int run_fuzz(const struct options *o)
{
	struct fuzz *f = calloc(1, sizeof(*f));
	char key[64];
	sigset_t sigs;
	unsigned int i, t;
	int rc = 1;

	if (!f) {
		log_err("out of memory");
		return 1;
	}
	f->opt = o;
	rng_seed(&f->rng, o->seed);
	for (i = 0; i <= FUZZ_SOCKETS; i++)
		f->fds[i] = -1;
	if (cpg_loop_init(&f->loop)) {
		free(f);
		return 1;
	}
	for (i = 0; i <= FUZZ_SOCKETS; i++) {
		f->fds[i] = cpg_net_udp_socket(&o->bind, NULL);
		if (f->fds[i] < 0)
			goto out;
		if (cpg_loop_add_fd(&f->loop, &f->ios[i], f->fds[i], CPG_LOOP_READ,
				    on_fuzz_readable, f)) {
			close(f->fds[i]);
			f->fds[i] = -1;
			goto out;
		}
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	if (cpg_loop_watch_signals(&f->loop, &sigs, on_fuzz_signal, f))
		goto out;
	cpg_loop_timer_init(&f->tick, on_fuzz_tick, f);
	f->tick_ms = cpg_loop_now_ms();
	fuzz_arm(f, 0);
	if (cpg_loop_run(&f->loop) || f->broken)
		goto out;

	printf("mode=fuzz\n");
	printf("seed=%" PRIu64 "\n", o->seed);
	printf("sent=%" PRIu64 "\n", f->sent);
	printf("send_errors=%" PRIu64 "\n", f->send_errors);
	for (i = 0; i < FUZZ_KINDS; i++)
		printf("sent_%s=%" PRIu64 "\n", fuzz_kind_names[i], f->per_kind[i]);
	for (t = 1; t <= CPG_MSG_TYPE_MAX; t++)
		if (f->replies[t])
			printf("replies_%s=%" PRIu64 "\n",
			       key_name(cpg_msg_type_str(t), key, sizeof(key)), f->replies[t]);
	printf("replies_malformed=%" PRIu64 "\n", f->replies_malformed);
	printf("rdv_alive=%d\n", f->alive ? 1 : 0);
	fflush(stdout);
	if (!f->alive)
		log_err("the RDV did not answer a PING after the fuzzing");
	rc = f->alive ? 0 : 1;
out:
	for (i = 0; i <= FUZZ_SOCKETS; i++) {
		if (f->fds[i] < 0)
			continue;
		cpg_loop_del_fd(&f->loop, &f->ios[i]);
		close(f->fds[i]);
	}
	cpg_loop_destroy(&f->loop);
	free(f);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o;

	cpg_log_init(PROG, LOG_NOTICE, false);
	if (parse_options(argc, argv, &o))
		return CPG_CLI_EXIT_USAGE;
	return o.fuzz ? run_fuzz(&o) : run_load(&o);
}
