/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * TAP-Windows through the Windows API (tap_windows.h). Windows and C
 * headers only: Cygwin builds it into the daemon, and MinGW can check it
 * on its own, with no POSIX for Cygwin to hide mistakes behind.
 *
 * The driver's documented interface:
 *  - each network adapter is a subkey of the class key below, with the
 *    ComponentId of its driver and its NetCfgInstanceId, a GUID; under
 *    that GUID in the connections key, Connection\Name is the name users
 *    (and netsh) know it by;
 *  - its device is \\.\Global\{GUID}.tap, which one handle at a time may
 *    hold;
 *  - DeviceIoControl codes CTL_CODE(FILE_DEVICE_UNKNOWN, n, METHOD_BUFFERED,
 *    FILE_ANY_ACCESS): GET_VERSION (2: major, minor, debug as three ULONGs),
 *    GET_MTU (3: a ULONG), SET_MEDIA_STATUS (6: a ULONG, 1 for connected),
 *    CONFIG_TUN (10, since 8.2: local address, network and netmask);
 *  - in TUN mode, each ReadFile and WriteFile is one bare IP packet.
 *
 * The handle is overlapped, because a synchronous handle serializes its
 * I/O: a read waiting for the host's next packet would hold up every
 * write. Each direction has an OVERLAPPED and an event of its own, and
 * waits beside a manual-reset stop event: once that is set, the transfer
 * in progress is cancelled (CancelIoEx) and waited for, since the kernel
 * owns the OVERLAPPED and the buffer until it completes, and later ones
 * fail at once.
 *
 * Names are read and compared as UTF-16, the registry's own, and handed
 * out as UTF-8, Cygwin's.
 */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0600	/* Vista: CancelIoEx, RegGetValueW, CompareStringOrdinal */
#endif
#include <windows.h>
#include <winioctl.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "tap_windows.h"

#define TAP_IOCTL(n) CTL_CODE(FILE_DEVICE_UNKNOWN, (n), METHOD_BUFFERED, FILE_ANY_ACCESS)
#define TAP_IOCTL_GET_VERSION TAP_IOCTL(2)
#define TAP_IOCTL_GET_MTU TAP_IOCTL(3)
#define TAP_IOCTL_SET_MEDIA_STATUS TAP_IOCTL(6)
#define TAP_IOCTL_CONFIG_TUN TAP_IOCTL(10)

#define NET_CLASS L"{4D36E972-E325-11CE-BFC1-08002BE10318}"
#define ADAPTERS_KEY L"SYSTEM\\CurrentControlSet\\Control\\Class\\" NET_CLASS
#define CONNECTIONS_KEY L"SYSTEM\\CurrentControlSet\\Control\\Network\\" NET_CLASS

/* Registry strings read here (ids, GUIDs, names), terminator included. */
#define WSTR_MAX 260
/* Room for Windows' message about an error. */
#define MSG_MAX 320

struct tapw_io {
	OVERLAPPED ov;
	DWORD error;		/* the last failure's, for cpg_tapw_last_error() */
};

struct cpg_tapw {
	HANDLE handle;
	HANDLE stop;		/* manual reset, set by cpg_tapw_cancel() */
	struct tapw_io rd, wr;
	ULONG version[3];
};

/* ---- Strings ---------------------------------------------------------------- */

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
}

static bool to_utf8(const wchar_t *w, char *out, size_t size)
{
	int cap = size > INT_MAX ? INT_MAX : (int)size;

	return WideCharToMultiByte(CP_UTF8, 0, w, -1, out, cap, NULL, NULL) > 0;
}

static bool from_utf8(const char *s, wchar_t *out, int count)
{
	return MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, out, count) > 0;
}

static bool same(const wchar_t *a, const wchar_t *b)
{
	return CompareStringOrdinal(a, -1, b, -1, TRUE) == CSTR_EQUAL;
}

/* a, b and c into dst (count wide characters): false when they do not fit. */
static bool join(wchar_t *dst, size_t count, const wchar_t *a, const wchar_t *b, const wchar_t *c)
{
	size_t la = wcslen(a), lb = wcslen(b), lc = wcslen(c);

	if (la + lb + lc >= count)
		return false;
	wmemcpy(dst, a, la);
	wmemcpy(dst + la, b, lb);
	wmemcpy(dst + la + lb, c, lc + 1);
	return true;
}

/* "Windows' message (error N)" in UTF-8. */
static void describe(DWORD code, char *buf, size_t size)
{
	wchar_t w[MSG_MAX];
	char text[3 * MSG_MAX];
	DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
				 code, 0, w, MSG_MAX, NULL);

	/* It ends in ".\r\n", which would break the sentence it goes in. */
	while (n > 0 && (w[n - 1] == L'\r' || w[n - 1] == L'\n' || w[n - 1] == L'.' ||
			 w[n - 1] == L' '))
		n--;
	w[n] = L'\0';
	if (n > 0 && to_utf8(w, text, sizeof(text)))
		snprintf(buf, size, "%s (error %lu)", text, (unsigned long)code);
	else
		snprintf(buf, size, "error %lu", (unsigned long)code);
}

static void ip4_str(uint32_t addr, char *buf, size_t size)
{
	const unsigned char *b = (const unsigned char *)&addr;	/* network order */

	snprintf(buf, size, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

/* ---- Finding the adapter ------------------------------------------------- */

/* The REG_SZ value of subkey\value under key, NUL-terminated. */
static LSTATUS reg_string(HKEY key, const wchar_t *subkey, const wchar_t *value, wchar_t *buf,
			  DWORD count)
{
	DWORD bytes = count * sizeof(wchar_t);

	return RegGetValueW(key, subkey, value, RRF_RT_REG_SZ, NULL, buf, &bytes);
}

/* The adapter's connection name, "" when it has none. */
static void connection_name(const wchar_t *guid, wchar_t *name, DWORD count)
{
	wchar_t key[WSTR_MAX + 128];
	const size_t size = sizeof(key) / sizeof(key[0]);

	name[0] = L'\0';
	if (!join(key, size, CONNECTIONS_KEY L"\\", guid, L"\\Connection") ||
	    reg_string(HKEY_LOCAL_MACHINE, key, L"Name", name, count) != ERROR_SUCCESS)
		name[0] = L'\0';
}

/* tapctl.exe and devcon create root-enumerated adapters: root\tap0901. */
static bool id_matches(const wchar_t *cid, const wchar_t *id)
{
	static const wchar_t root[] = L"root\\";
	const int n = (int)(sizeof(root) / sizeof(root[0])) - 1;

	if (same(cid, id))
		return true;
	return wcslen(cid) > (size_t)n &&
	       CompareStringOrdinal(cid, n, root, n, TRUE) == CSTR_EQUAL && same(cid + n, id);
}

/* What the search saw, for the message when it finds nothing to open. */
struct scan {
	const char *wanted_utf8, *id_utf8;
	const wchar_t *wanted;	/* NULL: the first that opens */
	const wchar_t *id;
	bool done;		/* the adapter named wanted was seen */
	unsigned int taps;	/* TAP-Windows adapters tried */
	char other_id[CPG_TAPW_NAME_MAX];	/* wanted's component id, not a TAP's */
	char failed[CPG_TAPW_NAME_MAX];	/* the first one that would not open */
	DWORD open_error;
	char list[256];		/* the TAP adapters' names, when wanted is none */
	size_t list_len;
};

static void list_add(struct scan *sc, const char *name)
{
	size_t room = sizeof(sc->list) - sc->list_len;
	int n = snprintf(sc->list + sc->list_len, room, "%s\"%s\"", sc->list_len ? ", " : "", name);

	if (n < 0 || (size_t)n >= room) {
		/* Cut short: end with an ellipsis that fits. */
		snprintf(sc->list + sizeof(sc->list) - 5, 5, "...");
		sc->list_len = sizeof(sc->list) - 1;
		return;
	}
	sc->list_len += (size_t)n;
}

/* The name to show for an adapter: its connection's, or its GUID. */
static void shown_name(const wchar_t *name, const wchar_t *guid, char *out, size_t size)
{
	if (!to_utf8(name[0] ? name : guid, out, size))
		snprintf(out, size, "?");
}

static HANDLE open_device(const wchar_t *guid, DWORD *error)
{
	wchar_t path[WSTR_MAX + 32];
	HANDLE h;

	if (!join(path, sizeof(path) / sizeof(path[0]), L"\\\\.\\Global\\", guid, L".tap")) {
		*error = ERROR_BAD_PATHNAME;
		return INVALID_HANDLE_VALUE;
	}
	h = CreateFileW(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
			FILE_ATTRIBUTE_SYSTEM | FILE_FLAG_OVERLAPPED, NULL);
	if (h == INVALID_HANDLE_VALUE)
		*error = GetLastError();
	return h;
}

/*
 * The adapter of class subkey sub, opened when it is the one wanted (or
 * any TAP adapter will do) and it opens: its handle, its names in info.
 * INVALID_HANDLE_VALUE otherwise, with what was seen in sc.
 */
static HANDLE try_adapter(HKEY adapters, const wchar_t *sub, struct scan *sc,
			  struct cpg_tapw_info *info)
{
	wchar_t cid[WSTR_MAX], guid[WSTR_MAX], name[WSTR_MAX];
	char shown[CPG_TAPW_NAME_MAX];
	bool tap;
	DWORD error;
	HANDLE h;

	/* Subkeys without both (such as "Properties") are no adapters. */
	if (reg_string(adapters, sub, L"ComponentId", cid, WSTR_MAX) != ERROR_SUCCESS ||
	    reg_string(adapters, sub, L"NetCfgInstanceId", guid, WSTR_MAX) != ERROR_SUCCESS)
		return INVALID_HANDLE_VALUE;
	tap = id_matches(cid, sc->id);
	connection_name(guid, name, WSTR_MAX);
	shown_name(name, guid, shown, sizeof(shown));
	if (sc->wanted && !same(name, sc->wanted) && !same(guid, sc->wanted)) {
		if (tap)
			list_add(sc, shown);
		return INVALID_HANDLE_VALUE;
	}
	if (sc->wanted)
		sc->done = true;	/* connection names are unique */
	if (!tap) {
		if (sc->wanted && !to_utf8(cid, sc->other_id, sizeof(sc->other_id)))
			snprintf(sc->other_id, sizeof(sc->other_id), "?");
		return INVALID_HANDLE_VALUE;
	}
	sc->taps++;
	h = open_device(guid, &error);
	if (h == INVALID_HANDLE_VALUE) {
		if (sc->taps == 1) {
			snprintf(sc->failed, sizeof(sc->failed), "%s", shown);
			sc->open_error = error;
		}
		return h;
	}
	snprintf(info->name, sizeof(info->name), "%s", shown);
	if (!to_utf8(guid, info->guid, sizeof(info->guid)))
		info->guid[0] = '\0';
	return h;
}

static const char *open_hint(DWORD error)
{
	switch (error) {
	case ERROR_GEN_FAILURE:		/* what the driver says when it is taken */
		return " (is another program, such as OpenVPN, using it?)";
	case ERROR_ACCESS_DENIED:
		return " (run campagnol as an administrator)";
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND:
		return " (is the adapter disabled?)";
	default:
		return "";
	}
}

/* The message for a search that opened nothing. */
static void not_found(const struct scan *sc, char *err, size_t size)
{
	const char *hint = open_hint(sc->open_error);
	char why[MSG_MAX];

	if (sc->taps) {
		describe(sc->open_error, why, sizeof(why));
		if (sc->taps == 1)
			set_err(err, size, "cannot open TAP-Windows adapter \"%s\": %s%s",
				sc->failed, why, hint);
		else
			set_err(err, size, "cannot open any of the %u TAP-Windows adapters (%s); "
				"the first, \"%s\": %s%s", sc->taps, sc->id_utf8, sc->failed, why,
				hint);
	} else if (sc->done) {
		set_err(err, size, "network adapter \"%s\" is not a TAP-Windows adapter (its "
			"driver is %s, not %s): set tun_device to a TAP-Windows adapter's name, "
			"or tap_id to its driver", sc->wanted_utf8, sc->other_id, sc->id_utf8);
	} else if (sc->wanted && sc->list_len) {
		set_err(err, size, "no TAP-Windows adapter (%s) named \"%s\": set tun_device "
			"to one of %s, or to tun%%d for the first free one", sc->id_utf8,
			sc->wanted_utf8, sc->list);
	} else {
		set_err(err, size, "no TAP-Windows adapter (%s) found: install the TAP-Windows "
			"driver (it comes with OpenVPN)", sc->id_utf8);
	}
}

/* ---- Device control ------------------------------------------------------- */

/* A TAP ioctl with buf as input and output, waited for. ERROR_SUCCESS or the error. */
static DWORD tap_ioctl(struct cpg_tapw *tap, DWORD code, void *buf, DWORD len)
{
	OVERLAPPED ov;
	DWORD n, error = ERROR_SUCCESS;

	memset(&ov, 0, sizeof(ov));
	ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
	if (!ov.hEvent)
		return GetLastError();
	if (!DeviceIoControl(tap->handle, code, buf, len, buf, len, NULL, &ov) &&
	    GetLastError() != ERROR_IO_PENDING)
		error = GetLastError();
	else if (!GetOverlappedResult(tap->handle, &ov, &n, TRUE))
		error = GetLastError();
	CloseHandle(ov.hEvent);
	return error;
}

static struct cpg_tapw *tapw_new(HANDLE h)
{
	struct cpg_tapw *tap = calloc(1, sizeof(*tap));

	if (!tap)
		return NULL;
	tap->handle = h;
	/* Manual reset, as overlapped I/O wants, and as a sticky stop needs. */
	tap->stop = CreateEventW(NULL, TRUE, FALSE, NULL);
	tap->rd.ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
	tap->wr.ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
	if (!tap->stop || !tap->rd.ov.hEvent || !tap->wr.ov.hEvent) {
		tap->handle = INVALID_HANDLE_VALUE;	/* the caller's still */
		cpg_tapw_close(tap);
		return NULL;
	}
	return tap;
}

struct cpg_tapw *cpg_tapw_open(const char *wanted, const char *component_id,
			       struct cpg_tapw_info *info, char *err, size_t err_size)
{
	wchar_t wwanted[WSTR_MAX], wid[WSTR_MAX], sub[WSTR_MAX];
	struct scan sc = { .wanted_utf8 = wanted, .id_utf8 = component_id, .id = wid };
	HANDLE h = INVALID_HANDLE_VALUE;
	struct cpg_tapw *tap;
	char why[MSG_MAX];
	HKEY adapters;
	LSTATUS st;
	DWORD error;
	ULONG mtu = 0;

	memset(info, 0, sizeof(*info));
	if (wanted && wanted[0] && !strchr(wanted, '%'))
		sc.wanted = wwanted;
	if (!from_utf8(component_id, wid, WSTR_MAX)) {
		set_err(err, err_size, "tap_id \"%s\" is not a driver's id", component_id);
		return NULL;
	}
	if (sc.wanted && !from_utf8(wanted, wwanted, WSTR_MAX)) {
		set_err(err, err_size, "tun_device \"%s\" is not an adapter's name", wanted);
		return NULL;
	}
	st = RegOpenKeyExW(HKEY_LOCAL_MACHINE, ADAPTERS_KEY, 0, KEY_READ, &adapters);
	if (st == ERROR_FILE_NOT_FOUND) {
		not_found(&sc, err, err_size);	/* no network adapter at all */
		return NULL;
	}
	if (st != ERROR_SUCCESS) {
		describe((DWORD)st, why, sizeof(why));
		set_err(err, err_size, "cannot list the network adapters in the registry: %s", why);
		return NULL;
	}
	for (DWORD i = 0; h == INVALID_HANDLE_VALUE && !sc.done; i++) {
		DWORD len = WSTR_MAX;

		st = RegEnumKeyExW(adapters, i, sub, &len, NULL, NULL, NULL, NULL);
		if (st == ERROR_NO_MORE_ITEMS)
			break;
		if (st == ERROR_SUCCESS)
			h = try_adapter(adapters, sub, &sc, info);
	}
	RegCloseKey(adapters);
	if (h == INVALID_HANDLE_VALUE) {
		not_found(&sc, err, err_size);
		return NULL;
	}

	tap = tapw_new(h);
	if (!tap) {
		CloseHandle(h);
		set_err(err, err_size, "TAP-Windows adapter \"%s\": out of memory", info->name);
		return NULL;
	}
	/* TAP-Windows answers this; anything else under that name would not. */
	error = tap_ioctl(tap, TAP_IOCTL_GET_VERSION, tap->version, sizeof(tap->version));
	if (error != ERROR_SUCCESS) {
		describe(error, why, sizeof(why));
		set_err(err, err_size, "TAP-Windows adapter \"%s\" does not tell its version: %s",
			info->name, why);
		cpg_tapw_close(tap);
		return NULL;
	}
	for (int i = 0; i < 3; i++)
		info->version[i] = tap->version[i];
	if (tap_ioctl(tap, TAP_IOCTL_GET_MTU, &mtu, sizeof(mtu)) == ERROR_SUCCESS)
		info->mtu = mtu;
	return tap;
}

int cpg_tapw_config_tun(struct cpg_tapw *tap, uint32_t local, uint32_t network,
			uint32_t netmask, char *err, size_t err_size)
{
	uint32_t addrs[3] = { local, network, netmask };
	char why[MSG_MAX], net[16], mask[16];
	DWORD error;

	if (tap->version[0] < 8 || (tap->version[0] == 8 && tap->version[1] < 2)) {
		set_err(err, err_size, "its driver, TAP-Windows %lu.%lu, has no TUN mode (8.2 "
			"and later have): update it (it comes with OpenVPN)",
			(unsigned long)tap->version[0], (unsigned long)tap->version[1]);
		return -1;
	}
	error = tap_ioctl(tap, TAP_IOCTL_CONFIG_TUN, addrs, sizeof(addrs));
	if (error == ERROR_SUCCESS)
		return 0;
	describe(error, why, sizeof(why));
	ip4_str(network, net, sizeof(net));
	ip4_str(netmask, mask, sizeof(mask));
	set_err(err, err_size, "cannot set TUN mode for %s/%s: %s", net, mask, why);
	return -1;
}

int cpg_tapw_set_connected(struct cpg_tapw *tap, bool connected, char *err, size_t err_size)
{
	ULONG status = connected;
	char why[MSG_MAX];
	DWORD error = tap_ioctl(tap, TAP_IOCTL_SET_MEDIA_STATUS, &status, sizeof(status));

	if (error == ERROR_SUCCESS)
		return 0;
	describe(error, why, sizeof(why));
	set_err(err, err_size, "cannot set its media status to %s: %s",
		connected ? "connected" : "disconnected", why);
	return -1;
}

/* ---- Packets -------------------------------------------------------------- */

static bool stopped(struct cpg_tapw *tap)
{
	return WaitForSingleObject(tap->stop, 0) == WAIT_OBJECT_0;
}

static int errno_of(DWORD error)
{
	switch (error) {
	case ERROR_MORE_DATA:		/* the driver's STATUS_BUFFER_OVERFLOW */
	case ERROR_INSUFFICIENT_BUFFER:
		return EMSGSIZE;
	case ERROR_OPERATION_ABORTED:	/* not ours: paused, or the cable is out */
		return ENETDOWN;
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_OUTOFMEMORY:
	case ERROR_NO_SYSTEM_RESOURCES:
	case ERROR_NOT_ENOUGH_QUOTA:
		return ENOBUFS;
	case ERROR_DEV_NOT_EXIST:
	case ERROR_DEVICE_NOT_CONNECTED:
	case ERROR_DEVICE_REMOVED:
	case ERROR_FILE_NOT_FOUND:
	case ERROR_INVALID_HANDLE:
		return ENODEV;
	default:
		return EIO;
	}
}

static int failed(struct cpg_tapw *tap, struct tapw_io *io, DWORD error)
{
	io->error = error;
	errno = stopped(tap) ? ECANCELED : errno_of(error);
	return -1;
}

/* One ReadFile, or WriteFile when out, waited for or cancelled. */
static int transfer(struct cpg_tapw *tap, struct tapw_io *io, bool out, void *buf, DWORD size,
		    DWORD *done)
{
	HANDLE waits[2] = { io->ov.hEvent, tap->stop };
	HANDLE event = io->ov.hEvent;
	BOOL ok;

	if (stopped(tap)) {
		errno = ECANCELED;
		return -1;
	}
	memset(&io->ov, 0, sizeof(io->ov));
	io->ov.hEvent = event;
	ok = out ? WriteFile(tap->handle, buf, size, NULL, &io->ov)
		   : ReadFile(tap->handle, buf, size, NULL, &io->ov);
	if (!ok && GetLastError() != ERROR_IO_PENDING)
		return failed(tap, io, GetLastError());
	/* Stopped, or the wait failed: the transfer must end before it is
	 * left, as the kernel writes into io->ov (and buf) until then. */
	if (!ok && WaitForMultipleObjects(2, waits, FALSE, INFINITE) != WAIT_OBJECT_0)
		CancelIoEx(tap->handle, &io->ov);
	if (!GetOverlappedResult(tap->handle, &io->ov, done, TRUE))
		return failed(tap, io, GetLastError());
	return 0;
}

int cpg_tapw_read(struct cpg_tapw *tap, void *buf, size_t size, size_t *len)
{
	DWORD n = 0;

	if (transfer(tap, &tap->rd, false, buf, size > MAXDWORD ? MAXDWORD : (DWORD)size, &n))
		return -1;
	*len = n;
	return 0;
}

int cpg_tapw_write(struct cpg_tapw *tap, const void *pkt, size_t len)
{
	DWORD n = 0;

	if (len > MAXDWORD) {
		errno = EMSGSIZE;
		return -1;
	}
	/* WriteFile takes a const buffer; transfer() shares ReadFile's type. */
	if (transfer(tap, &tap->wr, true, (void *)pkt, (DWORD)len, &n))
		return -1;
	if (n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

void cpg_tapw_last_error(struct cpg_tapw *tap, bool writes, char *buf, size_t size)
{
	describe(writes ? tap->wr.error : tap->rd.error, buf, size);
}

void cpg_tapw_cancel(struct cpg_tapw *tap)
{
	SetEvent(tap->stop);
}

void cpg_tapw_close(struct cpg_tapw *tap)
{
	if (!tap)
		return;
	if (tap->handle && tap->handle != INVALID_HANDLE_VALUE) {
		ULONG off = 0;

		/* So that Windows sees the adapter go down now, whatever the
		 * driver does on its own when the handle closes. */
		tap_ioctl(tap, TAP_IOCTL_SET_MEDIA_STATUS, &off, sizeof(off));
		CloseHandle(tap->handle);
	}
	if (tap->stop)
		CloseHandle(tap->stop);
	if (tap->rd.ov.hEvent)
		CloseHandle(tap->rd.ov.hEvent);
	if (tap->wr.ov.hEvent)
		CloseHandle(tap->wr.ov.hEvent);
	free(tap);
}
