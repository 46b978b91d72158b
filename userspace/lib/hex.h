/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Hexadecimal digits, for the parsers that read escapes and dumps. */
#ifndef CPG_HEX_H
#define CPG_HEX_H

/* The value of the hexadecimal digit c, or -1 if c is not one. */
static inline int cpg_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
