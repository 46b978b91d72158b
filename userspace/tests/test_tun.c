/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Linux TUN backend against the real driver: names, MTU, transmit
 * queue, flags, errors, and packets both ways through a device configured
 * by the built-in up commands.
 *
 * Needs root and /dev/net/tun, and skips otherwise. The process moves into
 * a network namespace of its own before any test (unshare(CLONE_NEWNET)
 * needs no re-exec in a single-threaded process), so it never touches the
 * host's interfaces and everything it made vanishes when it exits. IPv6 is
 * off there so that the kernel queues no packets of its own on the devices.
 * Device state is read with ioctls: /sys/class/net would show the host's
 * namespace.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "ifcmd.h"
#include "log.h"
#include "tun.h"

#include "capture.h"

/* Bounds a wait for a packet that should be there at once. */
#define WAIT_MS 5000

static const char *skip_reason;

#define REQUIRE_ENV()                                     \
	do {                                              \
		if (skip_reason) {                        \
			print_message("skipped: %s\n", skip_reason); \
			skip();                           \
		}                                         \
	} while (0)

/* ---- Interface state through ioctls ---- */

static void if_request(const char *name, unsigned long request, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	assert_int_equal(ioctl(fd, request, ifr), 0);
	close(fd);
}

static int if_mtu(const char *name)
{
	struct ifreq ifr;

	if_request(name, SIOCGIFMTU, &ifr);
	return ifr.ifr_mtu;
}

static int if_txqlen(const char *name)
{
	struct ifreq ifr;

	if_request(name, SIOCGIFTXQLEN, &ifr);
	return ifr.ifr_qlen;
}

static int if_flags(const char *name)
{
	struct ifreq ifr;

	if_request(name, SIOCGIFFLAGS, &ifr);
	return ifr.ifr_flags;
}

static struct in_addr if_addr(const char *name)
{
	struct ifreq ifr;
	struct sockaddr_in sin;

	if_request(name, SIOCGIFADDR, &ifr);
	memcpy(&sin, &ifr.ifr_addr, sizeof(sin));
	return sin.sin_addr;
}

static struct in_addr ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static void wait_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
}

/* ---- Opening ---- */

static void test_open_template(void **state)
{
	struct cpg_tun_config tc = { .name = "cpgt%d", .mtu = 1400, .txqueue = 123,
				     .one_queue = true };
	struct cpg_tun a, b;
	struct ifreq ifr;
	int flags;

	REQUIRE_ENV();
	assert_int_equal(cpg_tun_open(&a, &tc), 0);
	assert_string_equal(a.name, "cpgt0");	/* a fresh namespace: the first */
	assert_int_equal(cpg_tun_open(&b, &tc), 0);
	assert_string_equal(b.name, "cpgt1");

	assert_int_equal(if_mtu(a.name), 1400);
	assert_int_equal(if_txqlen(a.name), 123);
	flags = fcntl(a.fd, F_GETFL);
	assert_true(flags >= 0 && (flags & O_NONBLOCK));
	flags = fcntl(a.fd, F_GETFD);
	assert_true(flags >= 0 && (flags & FD_CLOEXEC));
	memset(&ifr, 0, sizeof(ifr));
	assert_int_equal(ioctl(a.fd, TUNGETIFF, &ifr), 0);
	assert_int_equal(ifr.ifr_flags & (IFF_TUN | IFF_TAP | IFF_NO_PI), IFF_TUN | IFF_NO_PI);

	cpg_tun_close(&a);
	assert_int_equal(a.fd, -1);
	cpg_tun_close(&a);	/* twice is harmless */
	cpg_tun_close(&b);
	/* Closing destroys the devices the daemon created. */
	assert_int_equal(if_nametoindex("cpgt0"), 0);
	assert_int_equal(if_nametoindex("cpgt1"), 0);
}

static void test_driver_defaults(void **state)
{
	struct cpg_tun_config tc = { .name = "cpgdef" };
	struct cpg_tun t;

	REQUIRE_ENV();
	assert_int_equal(cpg_tun_open(&t, &tc), 0);
	assert_string_equal(t.name, "cpgdef");
	assert_int_equal(if_mtu(t.name), 1500);
	assert_int_equal(if_txqlen(t.name), 500);	/* the driver's own */
	cpg_tun_close(&t);
}

static void test_open_errors(void **state)
{
	struct cpg_tun_config tc = { .name = "cpgbusy", .mtu = 1400 };
	struct cpg_tun a, b;
	const char *log;

	REQUIRE_ENV();
	assert_int_equal(cpg_tun_open(&a, &tc), 0);
	capture_start();
	assert_int_equal(cpg_tun_open(&b, &tc), -1);
	log = capture_end();
	assert_int_equal(b.fd, -1);
	assert_non_null(strstr(log, "error: cannot create TUN device \"cpgbusy\": "
				    "Device or resource busy"));
	cpg_tun_close(&a);

	tc.name = "cpg-name-too-long";
	capture_start();
	assert_int_equal(cpg_tun_open(&b, &tc), -1);
	log = capture_end();
	assert_non_null(strstr(log, "\"cpg-name-too-long\" is too long"));

	/* A refused MTU fails the open, and takes the new device away. */
	tc.name = "cpgmtu";
	tc.mtu = 10;
	capture_start();
	assert_int_equal(cpg_tun_open(&b, &tc), -1);
	log = capture_end();
	assert_non_null(strstr(log, "cannot set the MTU of cpgmtu to 10: Invalid argument"));
	assert_int_equal(b.fd, -1);
	assert_int_equal(if_nametoindex("cpgmtu"), 0);
}

/* Without the device node, the message says what to check. */
static void test_no_tun_device(void **state)
{
	struct cpg_tun_config tc = { .name = "cpgnone" };
	struct cpg_tun t;
	int status;
	pid_t pid;

	REQUIRE_ENV();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* A private mount namespace where /dev/net is an empty tmpfs. */
		const char *log;

		if (unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("none", "/dev/net", "tmpfs", 0, NULL))
			_exit(2);
		capture_start();
		if (cpg_tun_open(&t, &tc) != -1 || t.fd != -1)
			_exit(3);
		log = capture_end();
		_exit(strstr(log, "error: cannot open /dev/net/tun: No such file or directory "
				  "(is the tun module loaded?)") ? 0 : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- Packets ---- */

static uint16_t ip_checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* An IPv4/UDP packet (UDP checksum 0: none) into buf; its length. */
static size_t build_udp(uint8_t *buf, struct in_addr src, uint16_t sport, struct in_addr dst,
			uint16_t dport, const char *payload)
{
	size_t plen = strlen(payload);
	struct iphdr iph = {
		.version = 4,
		.ihl = 5,
		.tot_len = htons((uint16_t)(sizeof(struct iphdr) + sizeof(struct udphdr) + plen)),
		.id = htons(1),
		.ttl = 64,
		.protocol = IPPROTO_UDP,
		.saddr = src.s_addr,
		.daddr = dst.s_addr,
	};
	struct udphdr udph = {
		.source = htons(sport),
		.dest = htons(dport),
		.len = htons((uint16_t)(sizeof(struct udphdr) + plen)),
	};

	iph.check = ip_checksum(&iph, sizeof(iph));
	memcpy(buf, &iph, sizeof(iph));
	memcpy(buf + sizeof(iph), &udph, sizeof(udph));
	memcpy(buf + sizeof(iph) + sizeof(udph), payload, plen);
	return sizeof(iph) + sizeof(udph) + plen;
}

static void config_for(struct cpg_config *cfg)
{
	cpg_config_defaults(cfg);
	cfg->vpn_ip = ip("10.77.0.1");
	cfg->network = ip("10.77.0.0");
	cfg->netmask = ip("255.255.255.0");
	cfg->broadcast = ip("10.77.0.255");
	cfg->prefix_len = 24;
	cfg->tun_mtu = 1400;
}

static void test_packets_both_ways(void **state)
{
	static const char out_msg[] = "to the tunnel";
	static const char in_msg[] = "from the tunnel";
	struct cpg_tun_config tc = { .name = "cpgio%d", .mtu = 1400 };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	struct sockaddr_in local = { .sin_family = AF_INET };
	struct sockaddr_in from;
	socklen_t slen = sizeof(local);
	struct cpg_ifcmd_vars vars = { 0 };
	struct cpg_config cfg;
	struct cpg_tun t;
	uint8_t buf[2048];
	struct iphdr iph;
	struct udphdr udph;
	ssize_t n;
	size_t len;
	int s;

	REQUIRE_ENV();
	config_for(&cfg);
	assert_int_equal(cpg_tun_open(&t, &tc), 0);
	assert_int_equal(cpg_tun_read(&t, buf, sizeof(buf)), 0);	/* nothing yet */

	/* The built-in commands give it its address, and the route with it. */
	vars.device = t.name;
	assert_int_equal(cpg_ifcmd_up(&cfg, &vars), 0);
	assert_true(if_flags(t.name) & IFF_UP);
	assert_int_equal(if_addr(t.name).s_addr, cfg.vpn_ip.s_addr);

	/* Host to tunnel: a datagram to a peer's VPN IP comes out of the fd. */
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	local.sin_addr = cfg.vpn_ip;
	assert_int_equal(bind(s, (struct sockaddr *)&local, sizeof(local)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&local, &slen), 0);
	to.sin_addr = ip("10.77.0.2");
	assert_int_equal(sendto(s, out_msg, strlen(out_msg), 0, (struct sockaddr *)&to,
				sizeof(to)),
			 (ssize_t)strlen(out_msg));
	wait_readable(t.fd);
	n = cpg_tun_read(&t, buf, sizeof(buf));
	assert_int_equal(n, sizeof(iph) + sizeof(udph) + strlen(out_msg));
	memcpy(&iph, buf, sizeof(iph));
	memcpy(&udph, buf + sizeof(iph), sizeof(udph));
	assert_int_equal(iph.version, 4);
	assert_int_equal(iph.protocol, IPPROTO_UDP);
	assert_int_equal(iph.saddr, cfg.vpn_ip.s_addr);
	assert_int_equal(iph.daddr, to.sin_addr.s_addr);
	assert_int_equal(udph.source, local.sin_port);
	assert_int_equal(udph.dest, htons(9));
	assert_memory_equal(buf + sizeof(iph) + sizeof(udph), out_msg, strlen(out_msg));
	assert_int_equal(cpg_tun_read(&t, buf, sizeof(buf)), 0);	/* only that one */

	/* Tunnel to host: a packet written to the fd reaches the socket. */
	len = build_udp(buf, ip("10.77.0.2"), 5555, cfg.vpn_ip, ntohs(local.sin_port), in_msg);
	assert_int_equal(cpg_tun_write(&t, buf, len), 0);
	wait_readable(s);
	slen = sizeof(from);
	n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &slen);
	assert_int_equal(n, strlen(in_msg));
	assert_memory_equal(buf, in_msg, strlen(in_msg));
	assert_int_equal(from.sin_addr.s_addr, ip("10.77.0.2").s_addr);
	assert_int_equal(from.sin_port, htons(5555));

	/* Not an IP packet: the driver refuses it. */
	memset(buf, 0, 40);
	errno = 0;
	assert_int_equal(cpg_tun_write(&t, buf, 40), -1);
	assert_int_equal(errno, EINVAL);

	/* A packet larger than the buffer is dropped, not cut short. */
	assert_int_equal(sendto(s, out_msg, strlen(out_msg), 0, (struct sockaddr *)&to,
				sizeof(to)),
			 (ssize_t)strlen(out_msg));
	wait_readable(t.fd);
	assert_int_equal(cpg_tun_read(&t, buf, 20), 0);
	assert_int_equal(cpg_tun_read(&t, buf, sizeof(buf)), 0);

	close(s);
	/* The built-in down command removes the address, then the device goes. */
	assert_int_equal(cpg_ifcmd_down_close(&cfg, &vars, &t), 0);
	assert_int_equal(t.fd, -1);
	assert_int_equal(if_nametoindex(t.name), 0);
	cpg_config_free(&cfg);
}

/* The kernel's IPv6 autoconfiguration would queue packets on the devices. */
static void disable_ipv6(void)
{
	static const char *const paths[] = { "/proc/sys/net/ipv6/conf/all/disable_ipv6",
					     "/proc/sys/net/ipv6/conf/default/disable_ipv6" };
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		FILE *f = fopen(paths[i], "w");

		if (!f)
			continue;	/* no IPv6 at all */
		fputs("1\n", f);
		fclose(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_template),
		cmocka_unit_test(test_driver_defaults),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_no_tun_device),
		cmocka_unit_test(test_packets_both_ways),
	};

	cpg_log_init("test_tun", LOG_INFO, false);
	if (geteuid() != 0)
		skip_reason = "needs root";
	else if (access("/dev/net/tun", R_OK | W_OK))
		skip_reason = "no usable /dev/net/tun";
	else if (unshare(CLONE_NEWNET))
		skip_reason = "cannot make a network namespace";
	else
		disable_ipv6();
	return cmocka_run_group_tests(tests, NULL, capture_teardown);
}
