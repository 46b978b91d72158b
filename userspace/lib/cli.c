// SPDX-License-Identifier: GPL-3.0-or-later
#include "cli.h"

#include <errno.h>
#include <stdlib.h>

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
