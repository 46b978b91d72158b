/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bytes.h"
#include "log.h"
#include "relay_ctl.h"

/* The MAC attribute as it ends every control message. */
#define MAC_ATTR_LEN (CPG_PROTO_ATTR_HDR_LEN + CPG_MAC_LEN)

static int read_key(int fd, const char *path, struct relay_ctl_key *key)
{
	uint8_t extra;
	ssize_t n;

	key->len = 0;
	while (key->len < sizeof(key->bytes)) {
		n = read(fd, key->bytes + key->len, sizeof(key->bytes) - key->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("cannot read the relay secret %s: %m", path);
			return -1;
		}
		if (n == 0)
			break;
		key->len += (size_t)n;
	}
	if (key->len == sizeof(key->bytes) && read(fd, &extra, 1) > 0) {
		log_err("relay secret %s is longer than %d bytes", path, RELAY_CTL_KEY_MAX);
		return -1;
	}
	if (key->len < RELAY_CTL_KEY_MIN) {
		log_err("relay secret %s has %zu bytes, %d at least are needed: "
			"make one with '(umask 077; head -c 48 /dev/urandom | base64 > %s)'",
			path, key->len, RELAY_CTL_KEY_MIN, path);
		return -1;
	}
	return 0;
}

int relay_ctl_key_load(const char *path, struct relay_ctl_key *key)
{
	struct stat st;
	int fd, ret = -1;

	memset(key, 0, sizeof(*key));
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		log_err("cannot open the relay secret %s: %m", path);
		return -1;
	}
	if (fstat(fd, &st)) {
		log_err("cannot stat the relay secret %s: %m", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("relay secret %s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		log_err("relay secret %s is open to other users: 'chmod 600 %s'", path, path);
		goto out;
	}
	ret = read_key(fd, path, key);
out:
	close(fd);
	if (ret)
		relay_ctl_key_wipe(key);
	return ret;
}

void relay_ctl_key_wipe(struct relay_ctl_key *key)
{
	OPENSSL_cleanse(key, sizeof(*key));
}

uint64_t relay_ctl_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool relay_ctl_is_control(const uint8_t *buf, size_t len)
{
	return len >= 2 && buf[1] >= CPG_MSG_RELAY_HELLO && buf[1] <= CPG_MSG_RELAY_EXPIRED;
}

static int mac(const struct relay_ctl_key *key, const uint8_t *buf, size_t len,
	       uint8_t out[CPG_MAC_LEN])
{
	size_t out_len = 0;

	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key->bytes, key->len, buf, len, out,
		       CPG_MAC_LEN, &out_len) ||
	    out_len != CPG_MAC_LEN)
		return -1;
	return 0;
}

int relay_ctl_seal(struct relay_ctl_key *key, struct cpg_msg *m, uint64_t wall_ms, uint8_t *buf,
		   size_t size)
{
	int len;

	/* Strictly increasing even if the clock stalls or two go out in one
	 * millisecond: the receiver refuses a timestamp it has seen. */
	key->last_sent = wall_ms > key->last_sent ? wall_ms : key->last_sent + 1;
	m->timestamp = key->last_sent;
	m->present |= CPG_HAS(CPG_ATTR_TIMESTAMP) | CPG_HAS(CPG_ATTR_MAC);
	memset(m->mac, 0, sizeof(m->mac));
	len = cpg_msg_encode(m, buf, size);
	if (len < 0 || mac(key, buf, (size_t)len, m->mac))
		return -1;
	memcpy(buf + len - CPG_MAC_LEN, m->mac, CPG_MAC_LEN);
	return len;
}

/* The MAC attribute is the datagram's last: nothing unauthenticated follows. */
static bool mac_is_last(const uint8_t *buf, size_t len)
{
	const uint8_t *attr = buf + len - MAC_ATTR_LEN;

	return len >= CPG_PROTO_HDR_LEN + MAC_ATTR_LEN &&
	       cpg_bytes_get_be16(attr) == CPG_ATTR_MAC &&
	       cpg_bytes_get_be16(attr + 2) == CPG_MAC_LEN;
}

static bool mac_ok(const struct relay_ctl_key *key, const uint8_t *buf, size_t len,
		   const uint8_t *want)
{
	uint8_t copy[CPG_PROTO_MAX_MSG], got[CPG_MAC_LEN];

	memcpy(copy, buf, len);
	memset(copy + len - CPG_MAC_LEN, 0, CPG_MAC_LEN);
	return !mac(key, copy, len, got) && !CRYPTO_memcmp(got, want, CPG_MAC_LEN);
}

enum relay_ctl_verdict relay_ctl_open(const struct relay_ctl_key *key, const uint8_t *buf,
				      size_t len, uint64_t wall_ms, uint64_t *last_accepted,
				      struct cpg_msg *m)
{
	if (len > CPG_PROTO_MAX_MSG || !relay_ctl_is_control(buf, len) ||
	    cpg_msg_decode(m, buf, len) != CPG_DECODE_OK || !mac_is_last(buf, len))
		return RELAY_CTL_MALFORMED;
	if (!mac_ok(key, buf, len, m->mac))
		return RELAY_CTL_BAD_MAC;
	if (m->timestamp > wall_ms + RELAY_CTL_SKEW_MS ||
	    m->timestamp + RELAY_CTL_SKEW_MS < wall_ms)
		return RELAY_CTL_STALE;
	if (m->timestamp <= *last_accepted)
		return RELAY_CTL_REPLAYED;
	*last_accepted = m->timestamp;
	return RELAY_CTL_OK;
}

const char *relay_ctl_verdict_str(enum relay_ctl_verdict v)
{
	static const char *const names[] = {
		[RELAY_CTL_OK] = "ok",
		[RELAY_CTL_MALFORMED] = "malformed",
		[RELAY_CTL_BAD_MAC] = "bad MAC (another secret?)",
		[RELAY_CTL_STALE] = "timestamp off by more than 30 s (clocks in sync?)",
		[RELAY_CTL_REPLAYED] = "replayed",
	};

	if ((unsigned int)v < sizeof(names) / sizeof(names[0]))
		return names[v];
	return "unknown";
}
