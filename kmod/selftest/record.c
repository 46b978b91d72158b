// SPDX-License-Identifier: GPL-2.0
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * Self-tests of the record format, with CPG_SELFTEST=y: the known answers
 * of docs/dtls-records.md, which were computed from that text alone and
 * which the userspace data plane passes too, so that both data planes
 * write and read the same bytes. Included at the end of crypto.c, for its
 * nonce and transforms.
 */
#ifdef CPG_SELFTEST

#include <linux/printk.h>

#define CPG_KA_PLAIN	"campagnol record"
#define CPG_KA_PLAIN_LEN	(sizeof(CPG_KA_PLAIN) - 1)

/*
 * What the client seals at epoch 1, sequence number 2^47, and the nonce of
 * that record, worked out by hand from the IV and the sequence number.
 */
struct cpg_record_vector {
	const char *name;
	enum campagnol_cipher cipher;
	u8 key[CPG_KEY_MAX_LEN];
	u8 iv[CPG_IV_MAX_LEN];
	u8 nonce[CPG_NONCE_LEN];
	unsigned int len;
	u8 record[CPG_RECORD_HEADER_LEN + CPG_EXPLICIT_NONCE_LEN +
		  CPG_KA_PLAIN_LEN + CPG_TAG_LEN];
};

static const struct cpg_record_vector cpg_record_vectors[] __initconst = {
	{
		.name = "AES-128-GCM",
		.cipher = CAMPAGNOL_CIPHER_AES_128_GCM,
		.key = {
			0x42, 0x3c, 0x50, 0xf2, 0xf6, 0xb7, 0x2c, 0x38,
			0x36, 0x11, 0x3b, 0xa3, 0x2c, 0x79, 0x96, 0x01,
		},
		.iv = {
			0x53, 0x83, 0x8d, 0x6e,
		},
		.nonce = {
			0x53, 0x83, 0x8d, 0x6e, 0x00, 0x01, 0x80, 0x00,
			0x00, 0x00, 0x00, 0x00,
		},
		.len = 53,
		.record = {
			0x17, 0xfe, 0xfd, 0x00, 0x01, 0x80, 0x00, 0x00,
			0x00, 0x00, 0x00, 0x00, 0x28, 0x00, 0x01, 0x80,
			0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x08, 0xc4,
			0x2d, 0x8c, 0xc4, 0xff, 0xb5, 0x24, 0x22, 0x5f,
			0x0f, 0x5c, 0x4a, 0x3d, 0x3c, 0xc5, 0x96, 0x25,
			0x98, 0x49, 0xfb, 0xc7, 0x4b, 0x65, 0x1d, 0xe5,
			0x49, 0x42, 0x5d, 0x6f, 0xfa,
		},
	},
	{
		.name = "AES-256-GCM",
		.cipher = CAMPAGNOL_CIPHER_AES_256_GCM,
		.key = {
			0x94, 0x98, 0xa2, 0x20, 0x79, 0x47, 0x5a, 0xfc,
			0xe3, 0x77, 0x2b, 0x51, 0x45, 0xa3, 0xf6, 0x52,
			0xc0, 0x63, 0x81, 0xf3, 0x61, 0xb1, 0xa1, 0x47,
			0x32, 0x29, 0x36, 0xf2, 0xda, 0xb1, 0x8a, 0xf4,
		},
		.iv = {
			0x7f, 0x65, 0x81, 0xb5,
		},
		.nonce = {
			0x7f, 0x65, 0x81, 0xb5, 0x00, 0x01, 0x80, 0x00,
			0x00, 0x00, 0x00, 0x00,
		},
		.len = 53,
		.record = {
			0x17, 0xfe, 0xfd, 0x00, 0x01, 0x80, 0x00, 0x00,
			0x00, 0x00, 0x00, 0x00, 0x28, 0x00, 0x01, 0x80,
			0x00, 0x00, 0x00, 0x00, 0x00, 0xa1, 0x6b, 0xb7,
			0xde, 0x46, 0x21, 0xdd, 0x2e, 0x04, 0x99, 0x6d,
			0x6b, 0xf6, 0x2f, 0xbd, 0x7e, 0x2c, 0x0f, 0xca,
			0x19, 0x86, 0x75, 0x43, 0x54, 0x84, 0xf4, 0x7b,
			0x72, 0x77, 0x47, 0x97, 0xf2,
		},
	},
	{
		.name = "ChaCha20-Poly1305",
		.cipher = CAMPAGNOL_CIPHER_CHACHA20_POLY1305,
		.key = {
			0x42, 0x3c, 0x50, 0xf2, 0xf6, 0xb7, 0x2c, 0x38,
			0x36, 0x11, 0x3b, 0xa3, 0x2c, 0x79, 0x96, 0x01,
			0x5c, 0x60, 0x3c, 0xd2, 0x3c, 0x27, 0x78, 0x88,
			0x4a, 0x8c, 0xd4, 0xc5, 0xbd, 0x1f, 0x53, 0xe5,
		},
		.iv = {
			0x00, 0xab, 0x5d, 0x40, 0x50, 0x39, 0x63, 0xe6,
			0x47, 0xcc, 0xa0, 0xc7,
		},
		.nonce = {
			0x00, 0xab, 0x5d, 0x40, 0x50, 0x38, 0xe3, 0xe6,
			0x47, 0xcc, 0xa0, 0xc7,
		},
		.len = 45,
		.record = {
			0x17, 0xfe, 0xfd, 0x00, 0x01, 0x80, 0x00, 0x00,
			0x00, 0x00, 0x00, 0x00, 0x20, 0xfd, 0x53, 0x66,
			0xc6, 0xce, 0x38, 0x37, 0xd3, 0x03, 0x22, 0xa5,
			0x60, 0x4d, 0x9e, 0x89, 0x1f, 0xaf, 0x64, 0x74,
			0x43, 0x94, 0x12, 0xe8, 0xb3, 0xff, 0x04, 0xd7,
			0x86, 0x5d, 0x0c, 0x49, 0x40,
		},
	},
};

/* Epoch 1, sequence number 2^47, type 23, FE FD, 16 bytes of plaintext. */
static const u8 cpg_record_ka_aad[] __initconst = {
	0x00, 0x01, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x17, 0xfe, 0xfd, 0x00, 0x10,
};

/* The AEAD's work area, off the stack: scatterlists may not point there. */
struct cpg_record_buf {
	struct cpg_record_aad aad;
	u8 data[CPG_KA_PLAIN_LEN + CPG_TAG_LEN];
	u8 nonce[CPG_NONCE_LEN];
};

#define CPG_KA_FAIL(v, what) \
	pr_err("selftest: record %s: %s\n", (v)->name, what)

static bool __init cpg_record_selftest_header(const struct cpg_record_vector *v,
					      unsigned int *passed)
{
	const struct cpg_record_hdr *rec = (const void *)v->record;
	unsigned int frag_len = v->len - CPG_RECORD_HEADER_LEN;
	struct cpg_record_hdr hdr;
	struct cpg_record_aad aad;

	cpg_record_hdr_init(&hdr, 1, CPG_DATA_SEQ_START, frag_len);
	if (memcmp(&hdr, v->record, sizeof(hdr))) {
		CPG_KA_FAIL(v, "header written");
		return false;
	}
	(*passed)++;
	if (rec->type != CPG_CT_APPLICATION_DATA ||
	    rec->version != htons(CPG_DTLS_1_2) || ntohs(rec->epoch) != 1 ||
	    cpg_record_seq(rec) != CPG_DATA_SEQ_START ||
	    ntohs(rec->length) != frag_len) {
		CPG_KA_FAIL(v, "header read");
		return false;
	}
	(*passed)++;
	cpg_record_aad_init(&aad, 1, CPG_DATA_SEQ_START, CPG_KA_PLAIN_LEN);
	if (memcmp(&aad, cpg_record_ka_aad, sizeof(aad))) {
		CPG_KA_FAIL(v, "additional data");
		return false;
	}
	(*passed)++;
	return true;
}

/*
 * Seal len bytes of b->data in place, the tag behind them, or open len
 * bytes (the tag included); synchronously, as cpg_crypt() would.
 */
static int __init cpg_record_selftest_crypt(const struct cpg_key *key,
					    struct cpg_record_buf *b,
					    unsigned int len, bool encrypt)
{
	struct crypto_aead *aead = encrypt ? key->tx_aead : key->rx_aead;
	const struct cpg_key_dir *dir = encrypt ? &key->tx : &key->rx;
	struct scatterlist sg[2];
	struct aead_request *req;
	DECLARE_CRYPTO_WAIT(wait);
	int err;

	if (key->cipher == CAMPAGNOL_CIPHER_CHACHA20_POLY1305) {
		sg_init_one(sg, b->data, sizeof(b->data));
		return cpg_chachapoly_crypt(dir->chacha_key, b->nonce,
					    (const u8 *)&b->aad, sizeof(b->aad),
					    sg, encrypt ? len : len - CPG_TAG_LEN,
					    encrypt);
	}
	req = aead_request_alloc(aead, GFP_KERNEL);
	if (!req)
		return -ENOMEM;
	sg_init_table(sg, ARRAY_SIZE(sg));
	sg_set_buf(&sg[0], &b->aad, sizeof(b->aad));
	sg_set_buf(&sg[1], b->data, sizeof(b->data));
	aead_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG |
				  CRYPTO_TFM_REQ_MAY_SLEEP, crypto_req_done,
				  &wait);
	aead_request_set_ad(req, sizeof(b->aad));
	aead_request_set_crypt(req, sg, sg, len, b->nonce);
	err = encrypt ? crypto_aead_encrypt(req) : crypto_aead_decrypt(req);
	err = crypto_wait_req(err, &wait);
	aead_request_free(req);
	return err;
}

/* The record's nonce, its seal, its opening, and a forgery refused. */
static bool __init cpg_record_selftest_aead(const struct cpg_record_vector *v,
					    const struct cpg_key *key,
					    struct cpg_record_buf *b,
					    unsigned int *passed)
{
	const u8 *sealed = v->record + CPG_RECORD_HEADER_LEN +
			   cpg_cipher_explicit_nonce_len(v->cipher);

	cpg_make_nonce(b->nonce, key, &key->tx,
		       v->record + CPG_RECORD_HEADER_LEN, CPG_DATA_SEQ_START);
	if (memcmp(b->nonce, v->nonce, CPG_NONCE_LEN)) {
		CPG_KA_FAIL(v, "nonce");
		return false;
	}
	(*passed)++;
	cpg_record_aad_init(&b->aad, 1, CPG_DATA_SEQ_START, CPG_KA_PLAIN_LEN);
	memcpy(b->data, CPG_KA_PLAIN, CPG_KA_PLAIN_LEN);
	if (cpg_record_selftest_crypt(key, b, CPG_KA_PLAIN_LEN, true) ||
	    memcmp(b->data, sealed, sizeof(b->data))) {
		CPG_KA_FAIL(v, "sealed");
		return false;
	}
	(*passed)++;
	if (cpg_record_selftest_crypt(key, b, sizeof(b->data), false) ||
	    memcmp(b->data, CPG_KA_PLAIN, CPG_KA_PLAIN_LEN)) {
		CPG_KA_FAIL(v, "opened");
		return false;
	}
	(*passed)++;
	memcpy(b->data, sealed, sizeof(b->data));
	b->data[sizeof(b->data) - 1] ^= 1;
	if (cpg_record_selftest_crypt(key, b, sizeof(b->data),
				      false) != -EBADMSG) {
		CPG_KA_FAIL(v, "forgery opened");
		return false;
	}
	(*passed)++;
	return true;
}

static bool __init cpg_record_selftest_one(const struct cpg_record_vector *v,
					   struct cpg_record_buf *b,
					   unsigned int *passed)
{
	struct cpg_key *key;
	bool ok;

	if (!cpg_record_selftest_header(v, passed))
		return false;
	key = cpg_key_alloc();
	if (!key)
		return false;
	key->cipher = v->cipher;
	key->epoch = 1;
	memcpy(key->tx.key, v->key, sizeof(key->tx.key));
	memcpy(key->tx.iv, v->iv, sizeof(key->tx.iv));
	/* The peer is the client too: opening undoes our own seal. */
	key->rx = key->tx;
	ok = !cpg_key_setup(key, NULL);
	if (ok)
		ok = cpg_record_selftest_aead(v, key, b, passed);
	else
		CPG_KA_FAIL(v, "no transform");
	/* Not after a grace period: a load that fails unmaps the module. */
	cpg_key_free(key);
	return ok;
}

bool __init cpg_record_selftest(unsigned int *passed)
{
	struct cpg_record_buf *b = kmalloc(sizeof(*b), GFP_KERNEL);
	unsigned int i;
	bool ok = b;

	for (i = 0; ok && i < ARRAY_SIZE(cpg_record_vectors); i++)
		ok = cpg_record_selftest_one(&cpg_record_vectors[i], b, passed);
	kfree(b);
	return ok;
}

#undef CPG_KA_FAIL
#undef CPG_KA_PLAIN_LEN
#undef CPG_KA_PLAIN

#endif /* CPG_SELFTEST */
