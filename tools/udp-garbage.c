/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * udp-garbage: send COUNT malformed datagrams to a daemon's port, as fast as
 * possible or at a given rate, optionally as if they came from another
 * endpoint (a peer's, so that they get past the peer table's lookup). Each
 * datagram is of a kind drawn from a PRNG seeded by -S: the same seed sends
 * the same datagrams.
 *
 * Kinds ("data header": content type 23, version FE FD, the epoch of -e, a
 * random 48-bit sequence number):
 *   random     random bytes, 0 to MTU - 28 of them
 *   auth       data header, length right, random fragment of at least the
 *              largest AEAD overhead (37 bytes): fails authentication
 *   epoch      the same in another epoch
 *   type       another content type (anything but 23), FE FD, the epoch
 *   version    content type 23, another version, the epoch
 *   header     a data header cut short: 0 to 12 bytes
 *   short      data header, length right, fragment shorter than the
 *              smallest AEAD overhead (29 bytes)
 *   lie        data header whose length runs past the end of the datagram
 *   oversized  data header, length right, the datagram larger than the MTU
 *              allows, up to 65507 bytes (sent in IPv4 fragments)
 *   mutant     with -x: that record with 1 to 4 bytes changed, never its
 *              length field, or cut short (then the length lies)
 *   signal     only with -k: a first byte of 0 to 19 (the RDV protocol's and
 *              punches', docs/protocol.md 2.1), 1 to 64 bytes in all
 * A length field never says less than what follows it: every datagram holds
 * one record at most, so a receiver counts one drop per datagram.
 *
 * With -s the datagrams are written whole, IPv4 header included, on a raw
 * socket (as udp-replay does), and those larger than the MTU are split into
 * fragments here, since the kernel does not fragment for such a socket.
 *
 * The summary goes to stdout as key=value lines: sent, sent_KIND for each
 * kind, bytes, errors, seconds, rate (datagrams per second).
 *
 * Usage: udp-garbage [-s SRC_IP:PORT] [-n COUNT] [-r RATE] [-S SEED]
 *                    [-e EPOCH] [-m MTU] [-k KIND,...] [-x HEX] DST_IP:PORT
 */
#include <sys/types.h>		/* before the netinet headers, for the BSDs */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/in_systm.h>
#include <netinet/ip.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "bytes.h"
#include "log.h"
#include "sockaddr.h"
#include "prng.h"
#include "udptool.h"

/* Short names for udptool.h's. */
#define IP_HDR_LEN UDPTOOL_IP_HDR_LEN
#define UDP_HDR_LEN UDPTOOL_UDP_HDR_LEN
#define MAX_PAYLOAD UDPTOOL_MAX_PAYLOAD
#define DTLS_HDR_LEN 13
#define CT_APPLICATION_DATA 23
#define DTLS_1_2 0xfefd
/* AES-GCM's explicit nonce and tag; ChaCha20-Poly1305's tag. */
#define OVERHEAD_MAX 37
#define OVERHEAD_MIN 29
#define AUTH_MAX_FRAGMENT 1400
/* The pacer looks at the clock every this many datagrams. */
#define PACE_EVERY 16
/* Retries of a send the kernel has no buffer for, 1 ms apart. */
#define NOBUFS_RETRIES 1000

enum kind {
	K_RANDOM, K_AUTH, K_EPOCH, K_TYPE, K_VERSION, K_HEADER, K_SHORT, K_LIE, K_OVERSIZED,
	K_MUTANT, K_SIGNAL, KINDS,
};

/* Names, and weights: oversized datagrams are heavy (30 KiB on average),
 * rarer than the others. */
static const struct {
	const char *name;
	unsigned int weight;
} kinds[KINDS] = {
	[K_RANDOM] = { "random", 8 },
	[K_AUTH] = { "auth", 8 },
	[K_EPOCH] = { "epoch", 8 },
	[K_TYPE] = { "type", 8 },
	[K_VERSION] = { "version", 8 },
	[K_HEADER] = { "header", 8 },
	[K_SHORT] = { "short", 8 },
	[K_LIE] = { "lie", 8 },
	[K_OVERSIZED] = { "oversized", 1 },
	[K_MUTANT] = { "mutant", 8 },
	[K_SIGNAL] = { "signal", 8 },
};

struct garbage {
	uint64_t rng;
	uint16_t epoch;
	size_t mtu;
	unsigned int enabled;		/* bit per kind */
	unsigned int total_weight;
	const uint8_t *record;		/* -x */
	size_t record_len;
	uint8_t buf[MAX_PAYLOAD];
	uint64_t sent[KINDS];
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: udp-garbage [-s SRC_IP:PORT] [-n COUNT] [-r RATE] [-S SEED] [-e EPOCH]\n"
		"                   [-m MTU] [-k KIND,...] [-x HEX] DST_IP:PORT\n"
		"Send COUNT (default 1000) malformed datagrams to DST_IP:PORT, RATE per second\n"
		"(default 0: as fast as possible), of kinds drawn from a PRNG seeded with SEED\n"
		"(default 1): those of -k, else all of random auth epoch type version header\n"
		"short lie oversized, and mutant with -x (signal: only with -k). EPOCH (default 1) is the one a\n"
		"valid-looking record claims; MTU (default 1500) the path's, beyond which a\n"
		"datagram is oversized. HEX is a captured DTLS record (hex digits; blanks and\n"
		"':' ignored) to mutate. With -s, the datagrams claim SRC_IP:PORT as their\n"
		"source (raw socket: needs CAP_NET_RAW; the port may be in use). The summary\n"
		"goes to stdout as key=value lines.\n");
}

/* -k: a comma-separated list of kind names into a bit set. */
static int parse_kinds(const char *s, unsigned int *out)
{
	char list[256], *name, *save = NULL;
	int k;

	if (strlen(s) >= sizeof(list)) {
		log_err("-k: list too long");
		return -1;
	}
	strcpy(list, s);
	*out = 0;
	for (name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		for (k = 0; k < KINDS && strcmp(name, kinds[k].name); k++)
			;
		if (k == KINDS) {
			log_err("-k: no kind '%s'", name);
			return -1;
		}
		*out |= 1u << k;
	}
	return *out ? 0 : -1;
}

/* ---- The datagrams --------------------------------------------------------- */

/* A DTLS record header at p, its length field saying len. */
static void put_header(struct garbage *g, uint8_t *p, uint8_t type, uint16_t version,
		       uint16_t epoch, uint16_t len)
{
	p[0] = type;
	cpg_bytes_put_be16(p + 1, version);
	cpg_bytes_put_be16(p + 3, epoch);
	rng_fill(&g->rng, p + 5, 6);
	cpg_bytes_put_be16(p + 11, len);
}

/* A whole record of fragment length frag: header and random fragment. */
static size_t record(struct garbage *g, uint8_t type, uint16_t version, uint16_t epoch,
		     size_t frag)
{
	put_header(g, g->buf, type, version, epoch, (uint16_t)frag);
	rng_fill(&g->rng, g->buf + DTLS_HDR_LEN, frag);
	return DTLS_HDR_LEN + frag;
}

/* Anything but the value avoid, among 16 bits. */
static uint16_t other_than(struct garbage *g, uint16_t avoid)
{
	uint16_t v;

	do
		v = (uint16_t)rng_next(&g->rng);
	while (v == avoid);
	return v;
}

static size_t mutant(struct garbage *g)
{
	size_t len = g->record_len, n, i;

	memcpy(g->buf, g->record, len);
	if (len > 1 && rng_range(&g->rng, 0, 3) == 0)
		return rng_range(&g->rng, 0, len - 1);
	n = rng_range(&g->rng, 1, 4);
	for (i = 0; i < n; i++) {
		size_t at = rng_range(&g->rng, 0, len - 1);

		if (at == 11 || at == 12)
			continue;
		g->buf[at] ^= (uint8_t)rng_range(&g->rng, 1, 255);
	}
	return len;
}

/* One datagram of kind k in g->buf; its length. */
static size_t build(struct garbage *g, enum kind k)
{
	size_t room = g->mtu - IP_HDR_LEN - UDP_HDR_LEN, len;
	uint8_t type;

	switch (k) {
	case K_RANDOM:
		len = rng_range(&g->rng, 0, room);
		rng_fill(&g->rng, g->buf, len);
		return len;
	case K_AUTH:
		return record(g, CT_APPLICATION_DATA, DTLS_1_2, g->epoch,
			      rng_range(&g->rng, OVERHEAD_MAX, AUTH_MAX_FRAGMENT));
	case K_EPOCH:
		return record(g, CT_APPLICATION_DATA, DTLS_1_2, other_than(g, g->epoch),
			      rng_range(&g->rng, 0, AUTH_MAX_FRAGMENT));
	case K_TYPE:
		do
			type = (uint8_t)rng_next(&g->rng);
		while (type == CT_APPLICATION_DATA);
		return record(g, type, DTLS_1_2, g->epoch, rng_range(&g->rng, 0, AUTH_MAX_FRAGMENT));
	case K_VERSION:
		return record(g, CT_APPLICATION_DATA, other_than(g, DTLS_1_2), g->epoch,
			      rng_range(&g->rng, 0, AUTH_MAX_FRAGMENT));
	case K_HEADER:
		record(g, CT_APPLICATION_DATA, DTLS_1_2, g->epoch, 0);
		return rng_range(&g->rng, 0, DTLS_HDR_LEN - 1);
	case K_SHORT:
		return record(g, CT_APPLICATION_DATA, DTLS_1_2, g->epoch,
			      rng_range(&g->rng, 0, OVERHEAD_MIN - 1));
	case K_LIE:
		len = rng_range(&g->rng, 0, AUTH_MAX_FRAGMENT);
		record(g, CT_APPLICATION_DATA, DTLS_1_2, g->epoch, len);
		cpg_bytes_put_be16(g->buf + 11, (uint16_t)rng_range(&g->rng, len + 1, 65535));
		return DTLS_HDR_LEN + len;
	case K_OVERSIZED:
		return record(g, CT_APPLICATION_DATA, DTLS_1_2, g->epoch,
			      rng_range(&g->rng, room + 1, MAX_PAYLOAD) - DTLS_HDR_LEN);
	case K_SIGNAL:
		len = rng_range(&g->rng, 1, 64);
		rng_fill(&g->rng, g->buf, len);
		g->buf[0] = (uint8_t)rng_range(&g->rng, 0, 19);
		return len;
	case K_MUTANT:
	case KINDS:
		break;
	}
	return mutant(g);
}

static enum kind pick(struct garbage *g)
{
	size_t w = rng_range(&g->rng, 0, g->total_weight - 1);
	int k;

	for (k = 0; k < KINDS; k++) {
		if (!(g->enabled & (1u << k)))
			continue;
		if (w < kinds[k].weight)
			break;
		w -= kinds[k].weight;
	}
	return (enum kind)k;
}

/* ---- Sending --------------------------------------------------------------- */

/* sendto, again while the kernel has no buffer; 0 or -1 logged. */
static int send_one(int fd, const uint8_t *p, size_t len, const union cpg_sockaddr *dst)
{
	for (int i = 0; i < NOBUFS_RETRIES; i++) {
		if (sendto(fd, p, len, 0, &dst->sa, sizeof(dst->in)) == (ssize_t)len)
			return 0;
		if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
			break;
		usleep(1000);
	}
	log_err("sendto: %m");
	return -1;
}

/*
 * The UDP datagram of payload len as IPv4 packets claiming src, on a raw
 * socket: one, or fragments of at most mtu bytes when larger. The
 * identification of fragments, which must not be 0, comes from the PRNG
 * (drawn for each datagram: the same seed, the same datagrams); a packet
 * sent whole leaves it to the kernel.
 */
static int send_raw(struct garbage *g, int fd, const union cpg_sockaddr *src,
		    const union cpg_sockaddr *dst, const uint8_t *payload, size_t len)
{
	static uint8_t pkt[IP_HDR_LEN + UDP_HDR_LEN + MAX_PAYLOAD];
	size_t total = UDP_HDR_LEN + len, chunk_max = (g->mtu - IP_HDR_LEN) & ~(size_t)7, off;
	uint16_t id = (uint16_t)rng_range(&g->rng, 1, 65535);

	udptool_datagram(pkt, src, dst, payload, len);
	if (total <= chunk_max)
		id = 0;
	for (off = 0; off < total; off += chunk_max) {
		size_t chunk = total - off < chunk_max ? total - off : chunk_max;
		bool more = off + chunk < total;
		uint8_t *at = pkt + off;
		uint8_t saved[IP_HDR_LEN];

		/* Each fragment's header goes right before its data. */
		memcpy(saved, at, IP_HDR_LEN);
		udptool_ip_header(at, src, dst, chunk, id, (uint16_t)(off / 8 | (more ? IP_MF : 0)));
		if (send_one(fd, at, IP_HDR_LEN + chunk, dst) < 0)
			return -1;
		memcpy(at, saved, IP_HDR_LEN);
	}
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sleep until datagram number sent is due at rate per second from t0. */
static void pace(uint64_t t0, unsigned long sent, unsigned long rate)
{
	uint64_t due = t0 + (uint64_t)((double)sent * 1e9 / (double)rate), now = now_ns();
	struct timespec ts;

	if (due <= now)
		return;
	ts.tv_sec = (time_t)((due - now) / 1000000000u);
	ts.tv_nsec = (long)((due - now) % 1000000000u);
	nanosleep(&ts, NULL);
}

static void summary(const struct garbage *g, uint64_t bytes, int errors, uint64_t ns)
{
	double s = (double)ns / 1e9;
	uint64_t sent = 0;
	int k;

	for (k = 0; k < KINDS; k++)
		sent += g->sent[k];
	printf("sent=%" PRIu64 "\n", sent);
	for (k = 0; k < KINDS; k++)
		if (g->enabled & (1u << k))
			printf("sent_%s=%" PRIu64 "\n", kinds[k].name, g->sent[k]);
	printf("bytes=%" PRIu64 "\nerrors=%d\nseconds=%.3f\nrate=%.0f\n", bytes, errors, s,
	       s > 0 ? (double)sent / s : 0.0);
}

struct options {
	union cpg_sockaddr src, dst;
	bool spoof;
	unsigned long count, rate;
	uint64_t seed;
	const char *hex;
	bool kinds_given;
};

/* The command line into *o and g: 0, 1 after -h, or CPG_CLI_EXIT_USAGE after
 * a message. */
static int parse_options(int argc, char **argv, struct options *o, struct garbage *g)
{
	unsigned long v;
	int opt;

	while ((opt = getopt(argc, argv, "s:n:r:S:e:m:k:x:h")) != -1) {
		switch (opt) {
		case 's':
			if (udptool_parse_endpoint(optarg, "-s", &o->src) < 0)
				return CPG_CLI_EXIT_USAGE;
			o->spoof = true;
			break;
		case 'n':
			if (udptool_parse_ulong(optarg, "-n", 1, 4000000000ul, &o->count) < 0)
				return CPG_CLI_EXIT_USAGE;
			break;
		case 'r':
			if (udptool_parse_ulong(optarg, "-r", 0, 100000000ul, &o->rate) < 0)
				return CPG_CLI_EXIT_USAGE;
			break;
		case 'S':
			if (udptool_parse_ulong(optarg, "-S", 0, 4000000000ul, &v) < 0)
				return CPG_CLI_EXIT_USAGE;
			o->seed = v;
			break;
		case 'e':
			if (udptool_parse_ulong(optarg, "-e", 0, 65535, &v) < 0)
				return CPG_CLI_EXIT_USAGE;
			g->epoch = (uint16_t)v;
			break;
		case 'm':
			if (udptool_parse_ulong(optarg, "-m", 576, 65535, &v) < 0)
				return CPG_CLI_EXIT_USAGE;
			g->mtu = v;
			break;
		case 'k':
			if (parse_kinds(optarg, &g->enabled) < 0) {
				usage(stderr);
				return CPG_CLI_EXIT_USAGE;
			}
			o->kinds_given = true;
			break;
		case 'x':
			o->hex = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return CPG_CLI_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return CPG_CLI_EXIT_USAGE;
	}
	if (udptool_parse_endpoint(argv[optind], "destination", &o->dst) < 0)
		return CPG_CLI_EXIT_USAGE;
	return 0;
}

/* The kinds to send, with the record of -x: 0, or CPG_CLI_EXIT_USAGE after a
 * message. */
static int choose_kinds(const struct options *o, struct garbage *g)
{
	static uint8_t record_buf[MAX_PAYLOAD];

	if (o->hex) {
		long len = udptool_parse_hex(o->hex, "record", record_buf, sizeof(record_buf));

		if (len <= 0) {
			log_err("-x: no record");
			return CPG_CLI_EXIT_USAGE;
		}
		g->record = record_buf;
		g->record_len = (size_t)len;
		if (!o->kinds_given)
			g->enabled |= 1u << K_MUTANT;
	} else if (g->enabled & (1u << K_MUTANT)) {
		log_err("-k mutant needs a record (-x)");
		return CPG_CLI_EXIT_USAGE;
	}
	if (g->mtu > MAX_PAYLOAD + IP_HDR_LEN)
		g->enabled &= ~(1u << K_OVERSIZED);
	for (int k = 0; k < KINDS; k++)
		if (g->enabled & (1u << k))
			g->total_weight += kinds[k].weight;
	if (!g->total_weight) {
		log_err("no kind of datagram left to send");
		return CPG_CLI_EXIT_USAGE;
	}
	return 0;
}

/* Send o->count datagrams on fd, then the summary: 0, or 1 after a send
 * error. */
static int flood(const struct options *o, struct garbage *g, int fd)
{
	uint64_t bytes = 0, t0 = now_ns();
	int errors = 0;

	for (unsigned long i = 0; i < o->count; i++) {
		enum kind kind = pick(g);
		size_t len = build(g, kind);
		int rc;

		if (o->rate && i % PACE_EVERY == 0)
			pace(t0, i, o->rate);
		rc = o->spoof ? send_raw(g, fd, &o->src, &o->dst, g->buf, len)
			      : send_one(fd, g->buf, len, &o->dst);
		if (rc < 0) {
			errors++;
			break;
		}
		g->sent[kind]++;
		bytes += len;
	}
	summary(g, bytes, errors, now_ns() - t0);
	return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	static struct garbage g = {
		.epoch = 1,
		.mtu = 1500,
		.enabled = ((1u << KINDS) - 1) & ~(1u << K_MUTANT) & ~(1u << K_SIGNAL),
	};
	struct options o = { .count = 1000, .seed = 1 };
	int fd, status;

	cpg_log_init("udp-garbage", LOG_NOTICE, false);
	status = parse_options(argc, argv, &o, &g);
	if (!status)
		status = choose_kinds(&o, &g);
	if (status)
		return status == 1 ? 0 : status;
	rng_seed(&g.rng, o.seed);
	fd = o.spoof ? udptool_raw_socket() : socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		if (!o.spoof)
			log_err("socket: %m");
		return 1;
	}
	status = flood(&o, &g, fd);
	close(fd);
	return status;
}
