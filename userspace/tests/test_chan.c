/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The signalling channel: records both ways, the replay window, forgeries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "chan.h"
#include "cipher.h"

#define REC_MAX (CPG_CHAN_MAX_MSG + CPG_CHAN_OVERHEAD)

struct pair {
	struct cpg_chan client, server;
};

static void keys_for(enum cpg_cipher c, struct cpg_keys *client, struct cpg_keys *server)
{
	memset(client, 0, sizeof(*client));
	client->cipher = c;
	client->epoch = CPG_KEYS_EPOCH;
	for (size_t i = 0; i < sizeof(client->tx.key); i++) {
		client->tx.key[i] = (uint8_t)(0x10 + i);
		client->rx.key[i] = (uint8_t)(0x90 + i);
	}
	for (size_t i = 0; i < sizeof(client->tx.iv); i++) {
		client->tx.iv[i] = (uint8_t)(0x40 + i);
		client->rx.iv[i] = (uint8_t)(0xc0 + i);
	}
	*server = *client;
	server->tx = client->rx;
	server->rx = client->tx;
}

static void pair_init(struct pair *p, enum cpg_cipher c)
{
	struct cpg_keys ck, sk;

	keys_for(c, &ck, &sk);
	cpg_chan_init(&p->client, &ck);
	cpg_chan_init(&p->server, &sk);
}

static size_t seal(struct cpg_chan *c, const char *msg, uint8_t *rec)
{
	size_t len;

	assert_int_equal(cpg_chan_seal(c, (const uint8_t *)msg, strlen(msg), rec, REC_MAX, &len),
			 CPG_RECORD_OK);
	return len;
}

/* Opens a copy of rec, and checks what came out when it did. */
static int open_copy(struct cpg_chan *c, const uint8_t *rec, size_t len, const char *want)
{
	uint8_t copy[REC_MAX];
	uint8_t *msg;
	size_t msg_len;
	int st;

	memcpy(copy, rec, len);
	st = cpg_chan_open(c, copy, len, &msg, &msg_len);
	if (!st) {
		assert_int_equal(msg_len, strlen(want));
		assert_memory_equal(msg, want, msg_len);
	}
	return st;
}

static void test_both_ways(void **state)
{
	static const enum cpg_cipher ciphers[] = { CPG_CIPHER_AES_128_GCM, CPG_CIPHER_AES_256_GCM,
						   CPG_CIPHER_CHACHA20_POLY1305 };
	uint8_t rec[REC_MAX];
	struct cpg_record_header h;
	struct pair p;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++) {
		pair_init(&p, ciphers[i]);
		len = seal(&p.client, "HELLO", rec);
		assert_int_equal(len, 5 + cpg_cipher_overhead(ciphers[i]));
		assert_int_equal(cpg_record_parse_header(rec, len, &h), CPG_RECORD_OK);
		assert_int_equal(h.type, CPG_RECORD_CT_APPLICATION_DATA);
		assert_int_equal(h.epoch, CPG_KEYS_EPOCH);
		assert_true(h.seq == CPG_RECORD_DATA_SEQ_START);
		assert_int_equal(open_copy(&p.server, rec, len, "HELLO"), CPG_RECORD_OK);
		/* Our own direction's key does not open it. */
		assert_int_equal(open_copy(&p.client, rec, len, ""), CPG_RECORD_ERR_AUTH);
		len = seal(&p.server, "OK", rec);
		assert_int_equal(open_copy(&p.client, rec, len, "OK"), CPG_RECORD_OK);
		len = seal(&p.client, "PING", rec);
		assert_int_equal(cpg_record_parse_header(rec, len, &h), CPG_RECORD_OK);
		assert_true(h.seq == CPG_RECORD_DATA_SEQ_START + 1);
		cpg_chan_wipe(&p.client);
		cpg_chan_wipe(&p.server);
	}
}

static void test_replay_window(void **state)
{
	uint8_t recs[80][REC_MAX];
	size_t lens[80];
	struct pair p;

	(void)state;
	pair_init(&p, CPG_CIPHER_AES_128_GCM);
	for (int i = 0; i < 80; i++)
		lens[i] = seal(&p.client, "x", recs[i]);
	/* Out of order within the window: each once. */
	assert_int_equal(open_copy(&p.server, recs[70], lens[70], "x"), CPG_RECORD_OK);
	assert_int_equal(open_copy(&p.server, recs[10], lens[10], "x"), CPG_RECORD_OK);
	assert_int_equal(open_copy(&p.server, recs[10], lens[10], "x"), CPG_RECORD_ERR_REPLAY);
	assert_int_equal(open_copy(&p.server, recs[70], lens[70], "x"), CPG_RECORD_ERR_REPLAY);
	assert_int_equal(open_copy(&p.server, recs[6], lens[6], "x"), CPG_RECORD_ERR_STALE);
	assert_int_equal(open_copy(&p.server, recs[7], lens[7], "x"), CPG_RECORD_OK);
	assert_int_equal(open_copy(&p.server, recs[79], lens[79], "x"), CPG_RECORD_OK);
	assert_int_equal(open_copy(&p.server, recs[15], lens[15], "x"), CPG_RECORD_ERR_STALE);
	assert_int_equal(open_copy(&p.server, recs[16], lens[16], "x"), CPG_RECORD_OK);
}

static void test_forgeries(void **state)
{
	uint8_t rec[REC_MAX], big[REC_MAX + 1];
	struct pair p;
	size_t len;

	(void)state;
	pair_init(&p, CPG_CIPHER_CHACHA20_POLY1305);
	len = seal(&p.client, "ASK", rec);
	/* Every byte matters; a forgery moves nothing. */
	for (size_t i = 0; i < len; i++) {
		rec[i] ^= 0x01;
		assert_int_not_equal(open_copy(&p.server, rec, len, ""), CPG_RECORD_OK);
		rec[i] ^= 0x01;
	}
	/* A record forged far ahead does not push the real one out. */
	assert_int_equal(open_copy(&p.server, rec, len, "ASK"), CPG_RECORD_OK);
	/* One record, and nothing after it. */
	len = seal(&p.client, "BYE", rec);
	memcpy(big, rec, len);
	big[len] = 0;
	assert_int_equal(open_copy(&p.server, big, len + 1, ""), CPG_RECORD_ERR_MALFORMED);
	assert_int_equal(open_copy(&p.server, rec, len - 1, ""), CPG_RECORD_ERR_MALFORMED);
	assert_int_equal(open_copy(&p.server, rec, len, "BYE"), CPG_RECORD_OK);
	/* Too big to seal. */
	assert_int_equal(cpg_chan_seal(&p.client, big, CPG_CHAN_MAX_MSG + 1, rec, sizeof(rec),
				       &len), CPG_RECORD_ERR_TOO_BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_ways),
		cmocka_unit_test(test_replay_window),
		cmocka_unit_test(test_forgeries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
