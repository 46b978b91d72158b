/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * campagnol.conf's typed options (cpg_config_*), read out of the entries of
 * its syntax layer (ini.c). docs/man/campagnol.conf.5 is the user's side of
 * both files; the places where we knowingly differ from Campagnol 0.3.5 are
 * listed there.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conf.h"
#include "ini.h"
#include "log.h"

#define conf_err(...) cpg_ini_msg(LOG_ERR, __VA_ARGS__)
#define conf_warn(...) cpg_ini_msg(LOG_WARNING, __VA_ARGS__)

/* ---- Typed options ---- */

int cpg_config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "on", "1", "true" };
	static const char *const no[] = { "no", "off", "0", "false" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static const char *const data_plane_names[] = {
	[CPG_CONFIG_DATA_PLANE_AUTO] = "auto",
	[CPG_CONFIG_DATA_PLANE_KERNEL] = "kernel",
	[CPG_CONFIG_DATA_PLANE_USERSPACE] = "userspace",
};

int cpg_config_parse_data_plane(const char *s, enum cpg_config_data_plane *out)
{
	for (size_t i = 0; i < sizeof(data_plane_names) / sizeof(data_plane_names[0]); i++) {
		if (strcasecmp(s, data_plane_names[i]) == 0) {
			*out = (enum cpg_config_data_plane)i;
			return 0;
		}
	}
	return -1;
}

const char *cpg_config_data_plane_name(enum cpg_config_data_plane dp)
{
	if ((size_t)dp >= sizeof(data_plane_names) / sizeof(data_plane_names[0]))
		return "?";
	return data_plane_names[dp];
}

struct option;
typedef int (*option_parser)(const char *name, const struct option *opt,
			     const struct cpg_ini_entry *e, struct cpg_config *cfg);

struct option {
	const char *section;
	const char *key;
	option_parser parse;
	size_t offset;		/* of the field in struct cpg_config */
	long min;		/* integers and ports */
	long max;
};

static void *field(struct cpg_config *cfg, const struct option *opt)
{
	return (char *)cfg + opt->offset;
}

static int parse_string(const char *name, const struct option *opt,
			const struct cpg_ini_entry *e, struct cpg_config *cfg)
{
	char **dst = field(cfg, opt);
	char *s = strdup(e->value);

	if (!s) {
		conf_err(name, e->line, "out of memory");
		return -1;
	}
	free(*dst);
	*dst = s;
	return 0;
}

static int parse_bool(const char *name, const struct option *opt,
		      const struct cpg_ini_entry *e, struct cpg_config *cfg)
{
	struct cpg_ini_quoted q;

	if (cpg_config_parse_bool(e->value, field(cfg, opt)) == 0)
		return 0;
	conf_err(name, e->line, "%s: \"%s\" is not a boolean (yes/on/1/true or no/off/0/false)",
		 e->key, cpg_ini_quote(e->value, &q));
	return -1;
}

/* A decimal integer within opt's bounds. */
static int parse_long(const char *name, const struct option *opt,
		      const struct cpg_ini_entry *e, long *out)
{
	const char *s = e->value;
	struct cpg_ini_quoted q;
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	/* strtol would skip blanks a quoted value may hold. */
	if (!(isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '+') || *end != '\0' ||
	    end == s) {
		conf_err(name, e->line, "%s: \"%s\" is not an integer", e->key,
			 cpg_ini_quote(s, &q));
		return -1;
	}
	if ((errno == ERANGE && v == LONG_MIN) || v < opt->min) {
		conf_err(name, e->line, "%s: %s is below the minimum %ld", e->key,
			 cpg_ini_quote(s, &q), opt->min);
		return -1;
	}
	if (errno == ERANGE || v > opt->max) {
		conf_err(name, e->line, "%s: %s is above the maximum %ld", e->key,
			 cpg_ini_quote(s, &q), opt->max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_int(const char *name, const struct option *opt,
		     const struct cpg_ini_entry *e, struct cpg_config *cfg)
{
	long v;

	if (parse_long(name, opt, e, &v))
		return -1;
	*(int *)field(cfg, opt) = (int)v;
	return 0;
}

static int parse_port(const char *name, const struct option *opt,
		      const struct cpg_ini_entry *e, struct cpg_config *cfg)
{
	long v;

	if (parse_long(name, opt, e, &v))
		return -1;
	*(uint16_t *)field(cfg, opt) = (uint16_t)v;
	return 0;
}

/* KB/s, a non-negative float; 0 turns the limit off. */
static int parse_rate(const char *name, const struct option *opt,
		      const struct cpg_ini_entry *e, struct cpg_config *cfg)
{
	const char *s = e->value;
	struct cpg_ini_quoted q;
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (isspace((unsigned char)s[0]) || end == s || *end != '\0' || errno == ERANGE ||
	    !isfinite(v)) {
		conf_err(name, e->line, "%s: \"%s\" is not a number", e->key, cpg_ini_quote(s, &q));
		return -1;
	}
	if (v < 0) {
		conf_err(name, e->line, "%s: %s is below the minimum 0", e->key,
			 cpg_ini_quote(s, &q));
		return -1;
	}
	*(double *)field(cfg, opt) = v;
	return 0;
}

static int parse_data_plane(const char *name, const struct option *opt,
			    const struct cpg_ini_entry *e, struct cpg_config *cfg)
{
	struct cpg_ini_quoted q;

	if (cpg_config_parse_data_plane(e->value, field(cfg, opt)) == 0)
		return 0;
	conf_err(name, e->line, "%s: \"%s\" is not a data plane (auto, kernel or userspace)",
		 e->key, cpg_ini_quote(e->value, &q));
	return -1;
}

/* An IPv4 literal, or a host name resolved to its first IPv4 address. */
static int resolve_ipv4(const char *name, unsigned int line, const char *key, const char *host,
			struct in_addr *out)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res;
	struct cpg_ini_quoted q;
	int err;

	if (inet_pton(AF_INET, host, out) == 1)
		return 0;
	err = getaddrinfo(host, NULL, &hints, &res);
	if (err) {
		conf_err(name, line, "%s: cannot resolve \"%s\" to an IPv4 address: %s", key,
			 cpg_ini_quote(host, &q), gai_strerror(err));
		return -1;
	}
	*out = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
	freeaddrinfo(res);
	return 0;
}

static int parse_local_host(const char *name, const struct option *opt,
			    const struct cpg_ini_entry *e, struct cpg_config *cfg)
{
	if (resolve_ipv4(name, e->line, e->key, e->value, &cfg->local_ip))
		return -1;
	cfg->local_ip_set = true;
	return 0;
}

/* "IP port": the endpoint published instead of the real local one. */
static int parse_override(const char *name, const struct option *opt,
			  const struct cpg_ini_entry *e, struct cpg_config *cfg)
{
	static const struct option port_opt = { .min = 1, .max = 65535 };
	struct cpg_ini_entry port_entry = { .key = e->key, .line = e->line };
	size_t host_len = strcspn(e->value, " \t");
	const char *port = e->value + host_len;
	char host[NI_MAXHOST];
	struct cpg_ini_quoted q;
	long v;

	/* The original reads it only when use_local_addr is on; so do we. */
	if (!cfg->use_local_addr) {
		conf_warn(name, e->line, "%s: ignored because use_local_addr is off", e->key);
		return 0;
	}
	port += strspn(port, " \t");
	if (*port == '\0' || host_len >= sizeof(host)) {
		conf_err(name, e->line, "%s: \"%s\" is not \"IP port\"", e->key,
			 cpg_ini_quote(e->value, &q));
		return -1;
	}
	memcpy(host, e->value, host_len);
	host[host_len] = '\0';
	port_entry.value = (char *)port;
	if (resolve_ipv4(name, e->line, e->key, host, &cfg->override_ip) ||
	    parse_long(name, &port_opt, &port_entry, &v))
		return -1;
	cfg->override_port = (uint16_t)v;
	cfg->override_local_addr = true;
	return 0;
}

static int parse_ipv4(const char *name, const struct option *opt,
		      const struct cpg_ini_entry *e, struct cpg_config *cfg)
{
	struct cpg_ini_quoted q;

	if (inet_pton(AF_INET, e->value, field(cfg, opt)) == 1)
		return 0;
	conf_err(name, e->line, "%s: \"%s\" is not an IPv4 address (a.b.c.d)", e->key,
		 cpg_ini_quote(e->value, &q));
	return -1;
}

static struct in_addr prefix_to_netmask(unsigned int len)
{
	struct in_addr m = { .s_addr = len ? htonl(~UINT32_C(0) << (32 - len)) : 0 };

	return m;
}

/* "a.b.c.d/len": the network, netmask and broadcast address. */
static int parse_network(const char *name, const struct option *opt,
			 const struct cpg_ini_entry *e, struct cpg_config *cfg)
{
	const char *slash = strchr(e->value, '/');
	char addr[INET_ADDRSTRLEN];
	struct in_addr ip, mask;
	struct cpg_ini_quoted q;
	const char *p;
	unsigned int len = 0;

	if (!slash || (size_t)(slash - e->value) >= sizeof(addr))
		goto bad;
	memcpy(addr, e->value, (size_t)(slash - e->value));
	addr[slash - e->value] = '\0';
	if (inet_pton(AF_INET, addr, &ip) != 1)
		goto bad;
	/* One or two digits, as the original. */
	for (p = slash + 1; isdigit((unsigned char)*p) && p - slash <= 2; p++)
		len = len * 10 + (unsigned int)(*p - '0');
	if (p == slash + 1 || *p != '\0')
		goto bad;
	if (len > 32) {
		conf_err(name, e->line, "%s: prefix length %u is above 32", e->key, len);
		return -1;
	}
	if (len > 30) {
		conf_err(name, e->line, "%s: a /%u network has no room for a VPN address",
			 e->key, len);
		return -1;
	}
	mask = prefix_to_netmask(len);
	if (ip.s_addr & ~mask.s_addr) {
		char net[INET_ADDRSTRLEN];
		struct in_addr n = { .s_addr = ip.s_addr & mask.s_addr };

		conf_warn(name, e->line, "%s: %s has host bits set, using %s/%u", e->key,
			  cpg_ini_quote(e->value, &q), inet_ntop(AF_INET, &n, net, sizeof(net)),
			  len);
	}
	cfg->network.s_addr = ip.s_addr & mask.s_addr;
	cfg->prefix_len = len;
	cfg->netmask = mask;
	cfg->broadcast.s_addr = cfg->network.s_addr | ~mask.s_addr;
	return 0;
bad:
	conf_err(name, e->line, "%s: \"%s\" is not a network in CIDR notation (a.b.c.d/len)",
		 e->key, cpg_ini_quote(e->value, &q));
	return -1;
}

static int parse_ipv6(const char *name, const struct option *opt,
		      const struct cpg_ini_entry *e, struct cpg_config *cfg)
{
	struct cpg_ini_quoted q;

	if (inet_pton(AF_INET6, e->value, field(cfg, opt)) == 1)
		return 0;
	conf_err(name, e->line, "%s: \"%s\" is not an IPv6 address (e.g. fd00:cafe::1)", e->key,
		 cpg_ini_quote(e->value, &q));
	return -1;
}

/* Byte i of the netmask of a /len IPv6 prefix. */
static uint8_t ip6_mask_byte(unsigned int len, unsigned int i)
{
	if (len >= 8 * (i + 1))
		return 0xff;
	if (len <= 8 * i)
		return 0;
	return (uint8_t)(0xff << (8 - (len - 8 * i)));
}

/* a with the host bits of a /len prefix cleared. */
static struct in6_addr ip6_prefix(const struct in6_addr *a, unsigned int len)
{
	struct in6_addr p = *a;

	for (unsigned int i = 0; i < sizeof(p.s6_addr); i++)
		p.s6_addr[i] &= ip6_mask_byte(len, i);
	return p;
}

/*
 * "prefix/len", len 1..126. A /127 or /128 is refused: its all-zero address
 * is not a host's (RFC 4291's subnet-router anycast), which leaves at most
 * one VPN address and nobody to talk to.
 */
static int parse_network6(const char *name, const struct option *opt,
			  const struct cpg_ini_entry *e, struct cpg_config *cfg)
{
	const char *slash = strchr(e->value, '/');
	char addr[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN];
	struct cpg_ini_quoted q;
	struct in6_addr ip;
	unsigned int len = 0;
	const char *p;

	if (!slash || (size_t)(slash - e->value) >= sizeof(addr))
		goto bad;
	memcpy(addr, e->value, (size_t)(slash - e->value));
	addr[slash - e->value] = '\0';
	if (inet_pton(AF_INET6, addr, &ip) != 1)
		goto bad;
	/* One to three digits, no leading zero. */
	for (p = slash + 1; isdigit((unsigned char)*p) && p - slash <= 3; p++)
		len = len * 10 + (unsigned int)(*p - '0');
	if (p == slash + 1 || *p != '\0' || (slash[1] == '0' && p - slash > 2))
		goto bad;
	if (len == 0 || len > 128) {
		conf_err(name, e->line, "%s: prefix length %u is not within 1..128", e->key, len);
		return -1;
	}
	if (len > 126) {
		conf_err(name, e->line,
			 "%s: a /%u prefix has no room for two VPN addresses (the longest is /126)",
			 e->key, len);
		return -1;
	}
	cfg->network6 = ip6_prefix(&ip, len);
	cfg->prefix_len6 = len;
	if (!IN6_ARE_ADDR_EQUAL(&ip, &cfg->network6))
		conf_warn(name, e->line, "%s: %s has host bits set, using %s/%u", e->key,
			  cpg_ini_quote(e->value, &q),
			  inet_ntop(AF_INET6, &cfg->network6, net, sizeof(net)), len);
	return 0;
bad:
	conf_err(name, e->line, "%s: \"%s\" is not an IPv6 prefix (e.g. fd00:cafe::/64)", e->key,
		 cpg_ini_quote(e->value, &q));
	return -1;
}

bool cpg_config_has_ip6(const struct cpg_config *cfg)
{
	return !IN6_IS_ADDR_UNSPECIFIED(&cfg->vpn_ip6);
}

bool cpg_config_in_network6(const struct cpg_config *cfg, const struct in6_addr *ip)
{
	struct in6_addr prefix = ip6_prefix(ip, cfg->prefix_len6);

	return cfg->prefix_len6 && IN6_ARE_ADDR_EQUAL(&prefix, &cfg->network6);
}

#define OPT(sec, k, fn, fld, lo, hi) \
	{ .section = sec, .key = k, .parse = fn, \
	  .offset = offsetof(struct cpg_config, fld), .min = lo, .max = hi }
#define OPT_STR(sec, k, fld) OPT(sec, k, parse_string, fld, 0, 0)
#define OPT_BOOL(sec, k, fld) OPT(sec, k, parse_bool, fld, 0, 0)
#define OPT_INT(sec, k, fld, lo) OPT(sec, k, parse_int, fld, lo, INT_MAX)
#define OPT_PORT(sec, k, fld, lo) OPT(sec, k, parse_port, fld, lo, 65535)

/*
 * Every option, in the order they are read. use_local_addr precedes
 * override_local_addr, which depends on it. up and down are not here:
 * they accumulate instead of last-wins.
 */
static const struct option options[] = {
	OPT("NETWORK", "local_host", parse_local_host, local_ip, 0, 0),
	OPT_PORT("NETWORK", "local_port", local_port, 0),
	OPT_STR("NETWORK", "server_host", server_host),
	OPT_PORT("NETWORK", "server_port", server_port, 1),
	OPT("NETWORK", "tun_mtu", parse_int, tun_mtu, 150, 65535),
	OPT_STR("NETWORK", "interface", interface),
	OPT_BOOL("NETWORK", "use_local_addr", use_local_addr),
	OPT("NETWORK", "override_local_addr", parse_override, override_ip, 0, 0),
	OPT_STR("NETWORK", "tun_device", tun_device),
	OPT_STR("NETWORK", "tap_id", tap_id),
	OPT_STR("NETWORK", "control_socket", control_socket),
	OPT_STR("NETWORK", "metrics_listen", metrics_listen),

	OPT("VPN", "vpn_ip", parse_ipv4, vpn_ip, 0, 0),
	OPT("VPN", "network", parse_network, network, 0, 0),
	OPT("VPN", "vpn_ip6", parse_ipv6, vpn_ip6, 0, 0),
	OPT("VPN", "network6", parse_network6, network6, 0, 0),

	OPT_STR("SECURITY", "certificate", certificate),
	OPT_STR("SECURITY", "key", key),
	OPT_STR("SECURITY", "ca_certificates", ca_certificates),
	OPT_STR("SECURITY", "ca_certificates_dir", ca_certificates_dir),
	OPT_STR("SECURITY", "crl_file", crl_file),
	OPT_INT("SECURITY", "verify_depth", verify_depth, 1),
	OPT_STR("SECURITY", "cipher_list", cipher_list),
	OPT_INT("SECURITY", "rekey_interval", rekey_interval, 1),
	OPT_BOOL("SECURITY", "rdv_auth", rdv_auth),
	OPT_STR("SECURITY", "rdv_name", rdv_name),

	OPT_INT("CLIENT", "fifo_size", fifo_size, 1),
	OPT_INT("CLIENT", "txqueue", txqueue, 1),
	OPT_BOOL("CLIENT", "tun_one_queue", tun_one_queue),
	OPT("CLIENT", "client_max_rate", parse_rate, client_max_rate, 0, 0),
	OPT("CLIENT", "connection_max_rate", parse_rate, connection_max_rate, 0, 0),
	OPT_INT("CLIENT", "timeout", timeout, 5),
	OPT_INT("CLIENT", "keepalive", keepalive, 1),
	OPT_INT("CLIENT", "max_clients", max_clients, 1),
	OPT_INT("CLIENT", "direct_retry", direct_retry, 0),
	OPT("CLIENT", "data_plane", parse_data_plane, data_plane, 0, 0),

	OPT_BOOL("COMMANDS", "default_up", default_up),
	OPT_BOOL("COMMANDS", "default_down", default_down),
};

static const char *const sections[] = { "NETWORK", "VPN", "SECURITY", "CLIENT", "COMMANDS" };

static bool known_section(const char *section)
{
	size_t i;

	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (strcmp(section, sections[i]) == 0)
			return true;
	return false;
}

static bool is_command(const struct cpg_ini_entry *e)
{
	return strcmp(e->section, "COMMANDS") == 0 &&
	       (strcmp(e->key, "up") == 0 || strcmp(e->key, "down") == 0);
}

static bool known_key(const struct cpg_ini_entry *e)
{
	size_t i;

	if (is_command(e))
		return true;
	for (i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (strcmp(e->section, options[i].section) == 0 &&
		    strcmp(e->key, options[i].key) == 0)
			return true;
	return false;
}

/* Whether section/key is used as a ${key} parameter anywhere. */
static bool is_parameter(const struct cpg_ini *ini, const struct cpg_ini_entry *key)
{
	size_t i;

	for (i = 0; i < ini->n_entries; i++) {
		const struct cpg_ini_entry *e = &ini->entries[i];

		if (e->referenced && strcmp(e->section, key->section) == 0 &&
		    strcmp(e->key, key->key) == 0)
			return true;
	}
	return false;
}

/*
 * Unknown sections and keys are ignored, with one warning each. A key used
 * as a ${key} parameter is a helper variable (the original's manual shows
 * basedir in [SECURITY]), not a mistake.
 */
static void warn_unknown(const char *name, const struct cpg_ini *ini)
{
	struct cpg_ini_quoted qs, qk;
	size_t i;

	for (i = 0; i < ini->n_entries; i++) {
		const struct cpg_ini_entry *e = &ini->entries[i];

		if (!known_section(e->section)) {
			/* Once per run of the section, not per key. */
			if (i == 0 || strcmp(ini->entries[i - 1].section, e->section) != 0)
				conf_warn(name, e->line, "unknown section [%s], ignored",
					  cpg_ini_quote(e->section, &qs));
		} else if (!known_key(e) && !is_parameter(ini, e)) {
			/* A known section's name needs no quoting. */
			conf_warn(name, e->line, "unknown key \"%s\" in [%s], ignored",
				  cpg_ini_quote(e->key, &qk), e->section);
		}
	}
}

static int add_command(const char *name, const struct cpg_ini_entry *e, char ***list,
		       size_t *n)
{
	char **l = reallocarray(*list, *n + 1, sizeof(**list));

	if (!l) {
		conf_err(name, e->line, "out of memory");
		return -1;
	}
	*list = l;
	l[*n] = strdup(e->value);
	if (!l[*n]) {
		conf_err(name, e->line, "out of memory");
		return -1;
	}
	(*n)++;
	return 0;
}

static int read_commands(const char *name, const struct cpg_ini *ini, struct cpg_config *cfg)
{
	size_t i;

	for (i = 0; i < ini->n_entries; i++) {
		const struct cpg_ini_entry *e = &ini->entries[i];
		bool up;

		if (!is_command(e))
			continue;
		up = strcmp(e->key, "up") == 0;
		if (up ? add_command(name, e, &cfg->up, &cfg->n_up) :
			 add_command(name, e, &cfg->down, &cfg->n_down))
			return -1;
		/* The original runs them only in place of the default commands. */
		if (up ? cfg->default_up : cfg->default_down)
			conf_warn(name, e->line, "%s: not run because default_%s is on", e->key,
				  e->key);
	}
	return 0;
}

static int require(const char *name, const struct cpg_ini *ini, const char *section,
		   const char *key)
{
	if (cpg_ini_get(ini, section, key))
		return 0;
	conf_err(name, 0, "[%s] %s is mandatory", section, key);
	return -1;
}

/* Why ip, inside the VPN prefix, cannot be a peer's address; NULL if it can. */
static const char *ip6_unfit(const struct in6_addr *ip)
{
	if (IN6_IS_ADDR_LINKLOCAL(ip))
		return "link-local (fe80::/10)";
	if (IN6_IS_ADDR_MULTICAST(ip))
		return "multicast (ff00::/8)";
	if (IN6_IS_ADDR_LOOPBACK(ip))
		return "the loopback address";
	if (IN6_IS_ADDR_V4MAPPED(ip))
		return "IPv4-mapped (::ffff:0:0/96)";
	return NULL;
}

/* vpn_ip6 and network6: both or neither, the address a host's in the prefix. */
static int check_ip6(const char *name, const struct cpg_ini *ini, const struct cpg_config *cfg)
{
	const struct cpg_ini_entry *ip_e = cpg_ini_get(ini, "VPN", "vpn_ip6");
	const struct cpg_ini_entry *net_e = cpg_ini_get(ini, "VPN", "network6");
	char ip[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN];
	const char *problem;

	if (!ip_e && !net_e)
		return 0;
	if (!net_e) {
		conf_err(name, ip_e->line,
			 "vpn_ip6: needs network6, the IPv6 prefix it lies in (e.g. fd00:cafe::/64)");
		return -1;
	}
	if (!ip_e) {
		conf_err(name, net_e->line,
			 "network6: needs vpn_ip6, this peer's IPv6 address inside it");
		return -1;
	}
	inet_ntop(AF_INET6, &cfg->vpn_ip6, ip, sizeof(ip));
	inet_ntop(AF_INET6, &cfg->network6, net, sizeof(net));
	problem = ip6_unfit(&cfg->vpn_ip6);
	if (problem) {
		conf_err(name, ip_e->line, "vpn_ip6: %s is %s", ip, problem);
		return -1;
	}
	if (!cpg_config_in_network6(cfg, &cfg->vpn_ip6))
		problem = "outside the network";
	else if (IN6_ARE_ADDR_EQUAL(&cfg->vpn_ip6, &cfg->network6))
		problem = "the all-zero (subnet-router anycast) address of";
	if (problem) {
		conf_err(name, ip_e->line, "vpn_ip6: %s is %s %s/%u", ip, problem, net,
			 cfg->prefix_len6);
		return -1;
	}
	return 0;
}

/* The rules that involve several options. */
static int check_consistency(const char *name, const struct cpg_ini *ini, unsigned int need,
			     const struct cpg_config *cfg)
{
	const struct cpg_ini_entry *e;
	char ip[INET_ADDRSTRLEN], net[INET_ADDRSTRLEN];
	const char *problem = NULL;

	if (require(name, ini, "NETWORK", "server_host") || require(name, ini, "VPN", "vpn_ip") ||
	    require(name, ini, "VPN", "network"))
		return -1;
	if (need & CPG_CONFIG_NEED_SECURITY) {
		if (require(name, ini, "SECURITY", "certificate") ||
		    require(name, ini, "SECURITY", "key"))
			return -1;
		if (!cfg->ca_certificates && !cfg->ca_certificates_dir) {
			conf_err(name, 0, "[SECURITY] needs ca_certificates or "
				 "ca_certificates_dir (or both)");
			return -1;
		}
	}

	if ((cfg->vpn_ip.s_addr & cfg->netmask.s_addr) != cfg->network.s_addr)
		problem = "outside the network";
	else if (cfg->vpn_ip.s_addr == cfg->network.s_addr)
		problem = "the network address of";
	else if (cfg->vpn_ip.s_addr == cfg->broadcast.s_addr)
		problem = "the broadcast address of";
	if (problem) {
		e = cpg_ini_get(ini, "VPN", "vpn_ip");
		conf_err(name, e->line, "vpn_ip: %s is %s %s/%u",
			 inet_ntop(AF_INET, &cfg->vpn_ip, ip, sizeof(ip)), problem,
			 inet_ntop(AF_INET, &cfg->network, net, sizeof(net)), cfg->prefix_len);
		return -1;
	}
	if (check_ip6(name, ini, cfg))
		return -1;

	/* The RDV cannot give peers 0.0.0.0 as our local endpoint. */
	if (cfg->local_ip_set && cfg->local_ip.s_addr == htonl(INADDR_ANY) &&
	    cfg->use_local_addr && !cfg->override_local_addr) {
		e = cpg_ini_get(ini, "NETWORK", "local_host");
		conf_err(name, e->line,
			 "local_host: 0.0.0.0 needs use_local_addr = no or an override_local_addr");
		return -1;
	}
	return 0;
}

void cpg_config_defaults(struct cpg_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->server_port = 57888;
	cfg->tun_mtu = 1419;
	cfg->use_local_addr = true;
	/* NULL on a failed allocation; cpg_config_from_ini() reports it. */
	cfg->tun_device = strdup("tun%d");
	cfg->tap_id = strdup("tap0901");
	cfg->verify_depth = 9;
	cfg->rekey_interval = 120;
	cfg->rdv_auth = true;
	cfg->fifo_size = 20;
	cfg->timeout = 120;
	cfg->keepalive = 10;
	cfg->max_clients = 100;
	cfg->direct_retry = 60;
	cfg->data_plane = CPG_CONFIG_DATA_PLANE_AUTO;
	cfg->default_up = true;
	cfg->default_down = true;
}

void cpg_config_free(struct cpg_config *cfg)
{
	size_t i;

	free(cfg->server_host);
	free(cfg->interface);
	free(cfg->tun_device);
	free(cfg->tap_id);
	free(cfg->control_socket);
	free(cfg->metrics_listen);
	free(cfg->certificate);
	free(cfg->key);
	free(cfg->ca_certificates);
	free(cfg->ca_certificates_dir);
	free(cfg->crl_file);
	free(cfg->cipher_list);
	free(cfg->rdv_name);
	for (i = 0; i < cfg->n_up; i++)
		free(cfg->up[i]);
	free(cfg->up);
	for (i = 0; i < cfg->n_down; i++)
		free(cfg->down[i]);
	free(cfg->down);
	/* Zeroed, so that a second free or a free after a failed load is harmless. */
	memset(cfg, 0, sizeof(*cfg));
}

int cpg_config_from_ini(const char *name, const struct cpg_ini *ini, unsigned int need,
			struct cpg_config *cfg)
{
	size_t i;

	cpg_config_defaults(cfg);
	if (!cfg->tun_device || !cfg->tap_id) {
		conf_err(name, 0, "out of memory");
		goto fail;
	}
	warn_unknown(name, ini);
	for (i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		const struct option *opt = &options[i];
		const struct cpg_ini_entry *e = cpg_ini_get(ini, opt->section, opt->key);

		if (e && opt->parse(name, opt, e, cfg))
			goto fail;
	}
	if (read_commands(name, ini, cfg) || check_consistency(name, ini, need, cfg))
		goto fail;
	return 0;
fail:
	cpg_config_free(cfg);
	return -1;
}

int cpg_config_load(const char *path, unsigned int need, struct cpg_config *cfg)
{
	struct cpg_ini ini;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	if (cpg_ini_parse(path, &ini))
		return -1;
	ret = cpg_config_from_ini(path, &ini, need, cfg);
	cpg_ini_free(&ini);
	return ret;
}
