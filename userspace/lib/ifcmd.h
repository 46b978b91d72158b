/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The [COMMANDS] section: shell commands run when the TUN device comes up
 * and when it goes down, with the original Campagnol's placeholders:
 *
 *   %D  the TUN device's name     %V  the VPN IP          %M  the TUN MTU
 *   %I  the local IP              %P  the local UDP port
 *   %N  the VPN network, CIDR (10.0.0.0/24)   %n  its netmask (255.255.255.0)
 *   %v  the IPv6 VPN IP (vpn_ip6)             %r  the IPv6 VPN network, CIDR
 *   %l  the IPv6 network's prefix length
 *   %%  a literal '%'
 *
 * Any other %x (and a '%' ending the command) is kept as written, with one
 * warning per command; so are %v, %r and %l when [VPN] has no vpn_ip6.
 * Every value is digits, dots, colons, hex letters and a slash, except %D,
 * which is single-quoted for the shell unless it is made of letters, digits,
 * '.', '_' and '-' only: the kernel names the device (from a template the
 * configuration gives), and nothing it says can reach the shell as syntax.
 *
 * As in the original, default_up/default_down (both on by default) select
 * this system's built-in commands *instead of* the up/down commands of the
 * configuration (conf.c warns about up/down lines that will not run). With
 * default_up off and no up line, nothing runs.
 *
 * The built-in commands of every system are compiled on every system, so
 * that each one's are tested as strings; the running system's are used.
 * Each uses that system's own tools (ifconfig(8) and route(8) of its man
 * pages, netsh on Windows) and does what 0.3.5 did there, unless noted:
 *
 *   linux    up:   ip link set dev %D mtu %M up
 *                  ip addr replace %V/%n broadcast + dev %D
 *            down: ip addr del %V/%n dev %D
 *     (0.3.5 ran ifconfig and ip route. replace, not add: a campagnol.ko
 *     device the daemon takes over after a crash still has the address.
 *     The kernel adds the route to the network with the address. Closing
 *     the TUN deletes a device the daemon created, with its address and
 *     route, so "down" only matters for a persistent device, which would
 *     otherwise keep the address after the daemon is gone.)
 *   freebsd, netbsd  up:   ifconfig %D inet %V %V mtu %M up
 *                          route add -net %N %V
 *                    down: ifconfig %D destroy
 *     (A point-to-point interface whose far end is its own address, and a
 *     route to the network through it. tun(4) interfaces outlive their
 *     descriptor, hence the destroy. FreeBSD's waits until the device is
 *     closed, so there it runs after the close: "down after close".)
 *   openbsd  up:   ifconfig %D inet %V %V up
 *                  route add -net %N %V
 *            down: none
 *     (TUNSIFINFO set the MTU; closing a /dev/tunN that the open created
 *     destroys the interface.)
 *   cygwin   up:   netsh interface ipv4 set address %D source=static \
 *                      address=%V mask=%n gateway=none store=active
 *                  netsh interface ipv4 set subinterface %D mtu=%M store=active
 *            down: netsh interface ipv4 delete address %D address=%V store=active
 *     (%D is the TAP-Windows adapter's name, often with blanks: it reaches
 *     netsh as one argument. The daemon put the adapter in TUN mode with
 *     the same address and netmask (the driver answers ARP for that address
 *     only); Windows adds the route to the network with the address.
 *     store=active: nothing outlives a reboot, or the daemon once down has
 *     run. 0.3.5 ran "netsh interface ip set address" and set the MTU in
 *     the registry, for good.)
 *
 * With vpn_ip6, the built-in commands give the device that address too,
 * after the IPv4 one (and take it away first):
 *
 *   linux    up:   ip -6 addr replace %v/%l dev %D
 *            down: ip -6 addr del %v/%l dev %D
 *   freebsd, netbsd, openbsd  up: ifconfig %D inet6 %v prefixlen 128
 *                                 route add -inet6 -net %r %v
 *     (As for IPv4: a host address on the point-to-point interface and a
 *     route to the network through it; destroying or closing the device
 *     takes both away. These are tested as strings here, never run: see
 *     docs/platforms/.)
 *   cygwin   none: the TAP-Windows adapter in TUN mode carries IPv4 only
 *     (it answers ARP for one address; it has no neighbour discovery).
 *
 * Commands run one after the other through /bin/sh -c, like system(), but
 * with every signal unblocked and at its default disposition in the child:
 * the daemon blocks its signals for a signalfd, and a command (or a daemon
 * it starts) must not inherit that. Each command is logged at info level;
 * one that fails is logged as a warning and the next one still runs, as in
 * the original.
 */
#ifndef CPG_IFCMD_H
#define CPG_IFCMD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "tun.h"

/* The values only known at run time; the others come from the config. */
struct cpg_ifcmd_vars {
	const char *device;		/* %D: the TUN device, as cpg_tun_open() named it */
	struct in_addr local_ip;	/* %I */
	uint16_t local_port;		/* %P: the port the UDP socket is bound to */
};

/* One system's built-in commands (see above). */
struct cpg_ifcmd_builtin {
	const char *system;		/* "linux", "freebsd", "netbsd", "openbsd", "cygwin" */
	const char *const *up;		/* NULL-terminated, possibly empty */
	const char *const *down;
	const char *const *up6;		/* for vpn_ip6, after up */
	const char *const *down6;	/* for vpn_ip6, before down */
	bool down_after_close;		/* see cpg_ifcmd_down_close() */
};

/* The built-in commands of system, one of the names above; NULL for another. */
const struct cpg_ifcmd_builtin *cpg_ifcmd_builtin(const char *system);

/* The running system's; with no commands on a system not named above. */
const struct cpg_ifcmd_builtin *cpg_ifcmd_host(void);

/*
 * The command templates to run when the device comes up (up true) or goes
 * down: builtin's when default_up/default_down is on, else the configured
 * ones. *n gets their number (possibly 0). cpg_ifcmd_up() and
 * cpg_ifcmd_down() run those of cpg_ifcmd_host().
 */
const char *const *cpg_ifcmd_commands(const struct cpg_ifcmd_builtin *builtin,
				      const struct cpg_config *cfg, bool up, size_t *n);

/*
 * The built-in commands for the IPv6 address that follow (up) or precede
 * (down) those of cpg_ifcmd_commands(): builtin's up6/down6 when the
 * configuration has vpn_ip6 and default_up/default_down is on; none
 * otherwise (configured commands say everything themselves).
 */
const char *const *cpg_ifcmd_commands6(const struct cpg_ifcmd_builtin *builtin,
				       const struct cpg_config *cfg, bool up, size_t *n);

/* tmpl with its placeholders replaced, to free(); NULL when out of memory. */
char *cpg_ifcmd_expand(const char *tmpl, const struct cpg_config *cfg,
		       const struct cpg_ifcmd_vars *vars);

/*
 * Run one command with /bin/sh -c and wait for it. Its exit status (0-255),
 * 128 + the signal number when a signal killed it, or -1 when it could not
 * be started (logged).
 */
int cpg_ifcmd_run(const char *cmd);

/*
 * Expand and run the up (or down) commands in order. Returns the number of
 * commands that failed (non-zero status, killed, not started or not
 * expanded), 0 when all succeeded; each failure was logged as a warning.
 */
int cpg_ifcmd_up(const struct cpg_config *cfg, const struct cpg_ifcmd_vars *vars);
int cpg_ifcmd_down(const struct cpg_config *cfg, const struct cpg_ifcmd_vars *vars);

/*
 * Shut the device: the down commands and cpg_tun_close() in the order this
 * system needs. The commands run while the device still exists, unless the
 * host's built-in commands are "down after close" (FreeBSD, where
 * "ifconfig tunN destroy" waits for the device to be closed: the daemon
 * would deadlock waiting for it), as in the original; configured down
 * commands follow the same order. cpg_tun_close() keeps tun->name, so
 * vars->device may point to it. Returns what cpg_ifcmd_down() returned.
 */
int cpg_ifcmd_down_close(const struct cpg_config *cfg, const struct cpg_ifcmd_vars *vars,
			 struct cpg_tun *tun);

#endif
