/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * campagnol.conf: the original Campagnol's options.
 *
 * cpg_config_load() turns the entries ini.h reads out of the file's syntax,
 * those of the five sections, into a typed struct cpg_config with the
 * original's defaults, minimums and mandatory options. Errors are one log
 * line naming the file, the line and the problem.
 */
#ifndef CPG_CONF_H
#define CPG_CONF_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ini.h"

#define CPG_CONFIG_DEFAULT_FILE "/etc/campagnol.conf"

/* [CLIENT] data_plane: what carries the VPN packets (campagnol.conf(5)). */
enum cpg_config_data_plane {
	CPG_CONFIG_DATA_PLANE_AUTO,		/* campagnol.ko when it can, else userspace */
	CPG_CONFIG_DATA_PLANE_KERNEL,		/* campagnol.ko or nothing */
	CPG_CONFIG_DATA_PLANE_USERSPACE,	/* a TUN device and the daemon's own records */
};

struct cpg_config {
	/* [NETWORK] */
	struct in_addr local_ip;	/* auto-detected when local_host is absent */
	bool local_ip_set;		/* local_host given (0.0.0.0 allowed) */
	uint16_t local_port;		/* 0: ephemeral */
	char *server_host;		/* mandatory */
	uint16_t server_port;		/* 57888 */
	int tun_mtu;			/* 1419, min 150 */
	char *interface;		/* NULL: any */
	bool use_local_addr;		/* yes */
	bool override_local_addr;	/* "IP port" given */
	struct in_addr override_ip;
	uint16_t override_port;
	char *tun_device;		/* "tun%d" */
	char *tap_id;			/* Cygwin: "tap0901" */
	char *control_socket;		/* NULL: the device's default (status_socket.h) */
	char *metrics_listen;		/* ADDR:PORT of GET /metrics; NULL: none */

	/* [VPN] */
	struct in_addr vpn_ip;		/* mandatory */
	struct in_addr network;		/* mandatory, CIDR; host bits cleared */
	unsigned int prefix_len;
	struct in_addr netmask;
	struct in_addr broadcast;	/* computed */
	/* Optional, both or neither: this peer's IPv6 address on the VPN,
	 * another way to reach the peer named by vpn_ip. */
	struct in6_addr vpn_ip6;	/* in6addr_any: none */
	struct in6_addr network6;	/* host bits cleared */
	unsigned int prefix_len6;	/* 1..126; 0 when absent */

	/* [SECURITY] */
	char *certificate;		/* mandatory */
	char *key;			/* mandatory */
	char *ca_certificates;		/* at least one of these two */
	char *ca_certificates_dir;
	char *crl_file;
	int verify_depth;		/* 9 */
	char *cipher_list;		/* NULL: built-in default */
	int rekey_interval;		/* 120 s, min 1: new keys by renegotiation */
	bool rdv_auth;			/* yes: talk to the RDV over DTLS */
	char *rdv_name;			/* its certificate names it; NULL: server_host */

	/* [CLIENT] */
	int fifo_size;			/* 20, min 1 */
	int txqueue;			/* 0: driver default */
	bool tun_one_queue;		/* no */
	double client_max_rate;		/* KB/s, 0: unlimited */
	double connection_max_rate;	/* KB/s, 0: unlimited */
	int timeout;			/* 120 s, min 5 */
	int keepalive;			/* 10 s, min 1 */
	int max_clients;		/* 100, min 1 */
	int direct_retry;		/* 60 s between direct tries when relayed, 0: never */
	enum cpg_config_data_plane data_plane;	/* auto */

	/* [COMMANDS] */
	bool default_up;		/* yes */
	bool default_down;		/* yes */
	char **up;			/* accumulated, in file order */
	size_t n_up;
	char **down;
	size_t n_down;
};

/* Which mandatory options cpg_config_load() insists on. The tools that only
 * talk to the RDV do not need certificates. */
#define CPG_CONFIG_NEED_SECURITY 0x1

void cpg_config_defaults(struct cpg_config *cfg);
/* 0, or -1 after one error line. Unknown sections and keys: warnings. */
int cpg_config_load(const char *path, unsigned int need, struct cpg_config *cfg);
int cpg_config_from_ini(const char *name, const struct cpg_ini *ini, unsigned int need,
			struct cpg_config *cfg);
void cpg_config_free(struct cpg_config *cfg);

/* Whether cfg gives this peer an IPv6 VPN address (vpn_ip6 and network6). */
bool cpg_config_has_ip6(const struct cpg_config *cfg);
/* Whether ip lies in cfg's network6 (false without one). */
bool cpg_config_in_network6(const struct cpg_config *cfg, const struct in6_addr *ip);

/* "auto", "kernel" or "userspace", in any case. 0 or -1. */
int cpg_config_parse_data_plane(const char *s, enum cpg_config_data_plane *out);
/* The name cpg_config_parse_data_plane() reads back. */
const char *cpg_config_data_plane_name(enum cpg_config_data_plane dp);

/* Parse a boolean as the original: yes/on/1/true, no/off/0/false (any case).
 * 0 or -1. */
int cpg_config_parse_bool(const char *s, bool *out);

#endif
