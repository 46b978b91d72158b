// SPDX-License-Identifier: GPL-3.0-or-later
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/opensslv.h>

int cpg_parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	/* strtoul() would take blanks, a sign and wrap "-1" around. */
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out > max ? -1 : 0;
}

/* The TUN device the userspace data plane drives on this system. */
#if defined(__linux__)
#define TUN_FLAVOUR "TUN: Linux /dev/net/tun with vnet header offloads"
#elif defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
#define TUN_FLAVOUR "TUN: tun(4)"
#elif defined(__CYGWIN__)
#define TUN_FLAVOUR "TAP-Windows"
#else
#define TUN_FLAVOUR "TUN"
#endif

/* CPG_BUILT_KERNEL_DATAPLANE: set by CMake for this file alone, so that every
 * program of one build says the same (userspace/CMakeLists.txt). */
#ifdef CPG_BUILT_KERNEL_DATAPLANE
#define DATA_PLANES "kernel (campagnol.ko via generic netlink), userspace (" TUN_FLAVOUR ")"
#else
#define DATA_PLANES "userspace (" TUN_FLAVOUR ")"
#endif

void cpg_print_version(FILE *out, const char *prog)
{
	const char *running = OpenSSL_version(OPENSSL_VERSION);

	fprintf(out, "%s %s\n", prog, CPG_VERSION);
	/* A distribution may update libcrypto under a program built earlier. */
	if (strcmp(running, OPENSSL_VERSION_TEXT))
		fprintf(out, "%s (built against %s)\n", running, OPENSSL_VERSION_TEXT);
	else
		fprintf(out, "%s\n", running);
	fprintf(out, "data planes: %s\n", DATA_PLANES);
}
