/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * cpg_refuse.so, an LD_PRELOAD shim for the selftests: it makes the kernel
 * seem to refuse the offloads the userspace data plane asks for, so that
 * netns/vpn_offload_fallback.sh can show each fallback on a kernel that
 * grants them all. It wraps ioctl(), setsockopt() and sendmsg() (the real
 * ones through dlsym(RTLD_NEXT)) and refuses, without calling the kernel,
 * what CPG_REFUSE names, a comma-separated list of:
 *
 *   vnet     TUNSETIFF asking for IFF_VNET_HDR: EINVAL (an old kernel)
 *   offload  every TUNSETOFFLOAD: EINVAL
 *   tso      TUNSETOFFLOAD of a set with TUN_F_TSO4 or TUN_F_TSO6: EINVAL
 *   gro      setsockopt(SOL_UDP, UDP_GRO): ENOPROTOOPT
 *   gso      sendmsg() with a UDP_SEGMENT control message: EIO (a device
 *            that cannot checksum: the kernel's own answer then)
 *
 * Everything else goes to the real call. Each refusal is written on
 * stderr ("cpg_refuse: ... refused"), and so is the list once loaded, so
 * that a test can count them. An unknown word stops the program at load:
 * a misspelt refusal would otherwise test nothing.
 *
 * It lives under selftests/ and is built by selftests/CMakeLists.txt for the
 * netns tests only, and never in a sanitizer build: ASan must come first
 * in LD_PRELOAD and would refuse to run behind it (the test skips there).
 */
#include <dlfcn.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

enum refusal {
	REFUSE_VNET = 1 << 0,
	REFUSE_OFFLOAD = 1 << 1,
	REFUSE_TSO = 1 << 2,
	REFUSE_GRO = 1 << 3,
	REFUSE_GSO = 1 << 4,
};

static const struct {
	const char *word;
	enum refusal bit;
} refusal_words[] = {
	{ "vnet", REFUSE_VNET }, { "offload", REFUSE_OFFLOAD }, { "tso", REFUSE_TSO },
	{ "gro", REFUSE_GRO },	 { "gso", REFUSE_GSO },
};

static unsigned int refused;
static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_setsockopt)(int, int, int, const void *, socklen_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);

/* The bit of one word of CPG_REFUSE, or 0 for an unknown one. */
static unsigned int refusal_bit(const char *word, size_t len)
{
	for (size_t i = 0; i < sizeof(refusal_words) / sizeof(refusal_words[0]); i++) {
		if (strlen(refusal_words[i].word) == len &&
		    memcmp(refusal_words[i].word, word, len) == 0)
			return refusal_words[i].bit;
	}
	return 0;
}

static void parse_refusals(const char *list)
{
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");
		unsigned int bit = refusal_bit(p, len);

		if (len > 0 && !bit) {
			dprintf(STDERR_FILENO, "cpg_refuse: unknown refusal \"%.*s\" in "
				"CPG_REFUSE (vnet, offload, tso, gro, gso)\n", (int)len, p);
			_exit(2);
		}
		refused |= bit;
		p += len;
		if (*p == ',')
			p++;
	}
}

/* At load, before the program runs (and before it has threads); or at the
 * first call, should another library's constructor make one before. */
__attribute__((constructor)) static void cpg_refuse_init(void)
{
	const char *list = getenv("CPG_REFUSE");

	if (real_ioctl)
		return;
	real_ioctl = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	real_setsockopt = (int (*)(int, int, int, const void *, socklen_t))
		dlsym(RTLD_NEXT, "setsockopt");
	real_sendmsg = (ssize_t (*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
	if (!real_ioctl || !real_setsockopt || !real_sendmsg) {
		dprintf(STDERR_FILENO, "cpg_refuse: dlsym: %s\n", dlerror());
		_exit(2);
	}
	parse_refusals(list ? list : "");
	dprintf(STDERR_FILENO, "cpg_refuse: loaded, refusing: %s\n",
		list && *list ? list : "nothing");
}

/* Write "cpg_refuse: WHAT refused (ERR)" and fail with ERR. */
static int refuse(const char *what, int err)
{
	dprintf(STDERR_FILENO, "cpg_refuse: %s refused (%s)\n", what, strerrorname_np(err));
	errno = err;
	return -1;
}

/* The ioctls the TUN device is set up with take a pointer (TUNSETIFF) or
 * an unsigned long (TUNSETOFFLOAD): one machine word either way. */
int ioctl(int fd, unsigned long request, ...)
{
	unsigned long arg;
	va_list ap;

	va_start(ap, request);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	cpg_refuse_init();

	if (request == TUNSETIFF && (refused & REFUSE_VNET)) {
		const struct ifreq *ifr = (const struct ifreq *)(uintptr_t)arg;

		if (ifr->ifr_flags & IFF_VNET_HDR)
			return refuse("TUNSETIFF with IFF_VNET_HDR", EINVAL);
	}
	if (request == TUNSETOFFLOAD) {
		if (refused & REFUSE_OFFLOAD)
			return refuse("TUNSETOFFLOAD", EINVAL);
		if ((refused & REFUSE_TSO) && (arg & (TUN_F_TSO4 | TUN_F_TSO6)))
			return refuse("TUNSETOFFLOAD with TSO", EINVAL);
	}
	return real_ioctl(fd, request, arg);
}

int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)
{
	cpg_refuse_init();
	if ((refused & REFUSE_GRO) && level == SOL_UDP && optname == UDP_GRO)
		return refuse("setsockopt UDP_GRO", ENOPROTOOPT);
	return real_setsockopt(fd, level, optname, optval, optlen);
}

static bool has_udp_segment(const struct msghdr *msg)
{
	for (const struct cmsghdr *c = CMSG_FIRSTHDR(msg); c;
	     c = CMSG_NXTHDR((struct msghdr *)msg, (struct cmsghdr *)c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_SEGMENT)
			return true;
	}
	return false;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	cpg_refuse_init();
	if ((refused & REFUSE_GSO) && msg && has_udp_segment(msg))
		return refuse("sendmsg with UDP_SEGMENT", EIO);
	return real_sendmsg(fd, msg, flags);
}
