/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * campagnol.conf's syntax layer; conf.c reads the typed options out of its
 * entries. docs/man/campagnol.conf.5 is the user's side of both files; the
 * places where we knowingly differ from Campagnol 0.3.5 are listed there.
 *
 * The syntax layer reads the whole file into memory and walks it once. A
 * value is a concatenation of pieces: unquoted runs (trimmed of blanks at
 * both ends, ended by a comment), quoted strings (kept verbatim, may span
 * lines) and escape sequences (kept verbatim). ${param} is expanded after
 * that, against the values of the same section already read, so a value
 * can only refer to what precedes it and expansion can never recurse;
 * other references are kept as written.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ini.h"
#include "log.h"
#include "hex.h"

/* A config file is a few kilobytes; these only stop runaway input. */
#define CONF_MAX_FILE_SIZE (1024 * 1024)
#define CONF_MAX_VALUE_LEN (64 * 1024)

/* One log line "name:line: message", or "name: message" when line is 0. */
void cpg_ini_msg(int prio, const char *name, unsigned int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		cpg_log_at(prio, "%s:%u: %s", name, line, msg);
	else
		cpg_log_at(prio, "%s: %s", name, msg);
}

#define conf_err(...) cpg_ini_msg(LOG_ERR, __VA_ARGS__)
#define conf_warn(...) cpg_ini_msg(LOG_WARNING, __VA_ARGS__)

/* The first len bytes of value at most. */
static const char *quote_n(const char *value, size_t len, struct cpg_ini_quoted *q)
{
	size_t n = 0, i;

	for (i = 0; i < len && value[i] && i < CPG_INI_QUOTE_LEN; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c == '"' || c == '\\')
			n += sprintf(q->s + n, "\\%c", c);
		else if (isprint(c))
			q->s[n++] = (char)c;
		else if (c == '\n')
			n += sprintf(q->s + n, "\\n");
		else
			n += sprintf(q->s + n, "\\x%02x", c);
	}
	if (i < len && value[i])
		n += sprintf(q->s + n, "...");
	q->s[n] = '\0';
	return q->s;
}

const char *cpg_ini_quote(const char *value, struct cpg_ini_quoted *q)
{
	return quote_n(value, SIZE_MAX, q);
}

/* ---- Growable string ---- */

struct sbuf {
	char *s;
	size_t len;
	size_t cap;
	bool oom;	/* sticky: checked once per token instead of per byte */
};

static void sb_push(struct sbuf *b, char c)
{
	if (b->oom)
		return;
	if (b->len + 2 > b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		char *s = realloc(b->s, cap);

		if (!s) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	b->s[b->len++] = c;
	b->s[b->len] = '\0';
}

static void sb_append(struct sbuf *b, const char *s, size_t len)
{
	while (len--)
		sb_push(b, *s++);
}

static void sb_reset(struct sbuf *b)
{
	b->len = 0;
	b->oom = false;
	if (b->s)
		b->s[0] = '\0';
}

/* Remove trailing blanks, never below keep (quoted or escaped bytes). */
static void sb_trim(struct sbuf *b, size_t keep)
{
	while (b->len > keep && (b->s[b->len - 1] == ' ' || b->s[b->len - 1] == '\t'))
		b->len--;
	if (b->s)
		b->s[b->len] = '\0';
}

/* The string, "" when nothing was pushed. */
static const char *sb_str(const struct sbuf *b)
{
	return b->s ? b->s : "";
}

/* ---- Reading the text ---- */

struct reader {
	const char *name;
	const char *p;
	const char *end;
	unsigned int line;
};

/* Next character without consuming it; "\r\n" reads as '\n'. */
static int rd_peek(const struct reader *r)
{
	if (r->p >= r->end)
		return EOF;
	if (r->p[0] == '\r' && r->p + 1 < r->end && r->p[1] == '\n')
		return '\n';
	return (unsigned char)r->p[0];
}

static int rd_next(struct reader *r)
{
	int c = rd_peek(r);

	if (c == EOF)
		return EOF;
	if (c == '\n') {
		r->p += r->p[0] == '\r' ? 2 : 1;
		r->line++;
	} else {
		r->p++;
	}
	return c;
}

static void rd_skip_line(struct reader *r)
{
	int c;

	do
		c = rd_next(r);
	while (c != EOF && c != '\n');
}

static bool is_blank(int c)
{
	return c == ' ' || c == '\t';
}

static bool is_comment(int c)
{
	return c == '#' || c == ';';
}

/*
 * The escape sequence after a backslash (the next character is neither EOF
 * nor a newline). C's escapes plus \# \; \[ \] \=; an unknown escape is kept
 * as written, backslash included, as the original did (Windows paths).
 */
static int read_escape(struct reader *r, struct sbuf *out)
{
	int c = rd_next(r);
	int v, d, i;

	switch (c) {
	case 'a':
		v = '\a';
		break;
	case 'b':
		v = '\b';
		break;
	case 'f':
		v = '\f';
		break;
	case 'n':
		v = '\n';
		break;
	case 'r':
		v = '\r';
		break;
	case 't':
		v = '\t';
		break;
	case 'v':
		v = '\v';
		break;
	case '\\': case '"': case '\'': case '?':
	case '#': case ';': case '[': case ']': case '=':
		v = c;
		break;
	case 'x':
		if (cpg_hex_value(rd_peek(r)) < 0) {
			sb_append(out, "\\x", 2);
			return 0;
		}
		v = cpg_hex_value(rd_next(r));
		if ((d = cpg_hex_value(rd_peek(r))) >= 0) {
			rd_next(r);
			v = v * 16 + d;
		}
		break;
	case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
		v = c - '0';
		for (i = 0; i < 2 && rd_peek(r) >= '0' && rd_peek(r) <= '7'; i++)
			v = v * 8 + rd_next(r) - '0';
		if (v > 0377) {
			conf_err(r->name, r->line, "octal escape \\%o is above \\377", v);
			return -1;
		}
		break;
	default:
		sb_push(out, '\\');
		v = c;
		break;
	}
	if (v == 0) {
		conf_err(r->name, r->line, "an escape sequence yields a NUL byte");
		return -1;
	}
	sb_push(out, (char)v);
	return 0;
}

/*
 * A section or key name: blanks around it are dropped, escapes work, a
 * line continuation does not. Stops after the terminator (']' or '=').
 * first: the name's first character, already consumed.
 */
static int read_name(struct reader *r, int first, int terminator, struct sbuf *out)
{
	const char *what = terminator == ']' ? "section header" : "key";
	unsigned int line = r->line;	/* a name never spans lines */
	struct cpg_ini_quoted q;
	size_t keep = 0;
	int c = first;

	for (;; c = rd_next(r)) {
		if (c == terminator)
			break;
		if (terminator == ']' && is_comment(c)) {
			conf_err(r->name, line, "'%c' in a section header (write \\%c)", c, c);
			return -1;
		}
		if (c == EOF || c == '\n' || is_comment(c)) {
			sb_trim(out, keep);
			if (terminator == ']')
				conf_err(r->name, line, "missing ']' in section header");
			else
				conf_err(r->name, line, "missing '=' after \"%s\"",
					 cpg_ini_quote(sb_str(out), &q));
			return -1;
		}
		if (c == '\\') {
			c = rd_peek(r);
			if (c == '\n' || c == EOF) {
				conf_err(r->name, line,
					 "line continuation is not allowed in a %s", what);
				return -1;
			}
			if (read_escape(r, out))
				return -1;
			keep = out->len;
			continue;
		}
		if (is_blank(c) && out->len == 0)
			continue;
		sb_push(out, (char)c);
	}
	sb_trim(out, keep);
	return 0;
}

/* The rest of a quoted string; the opening quote is consumed. */
static int read_quoted(struct reader *r, struct sbuf *out)
{
	unsigned int open_line = r->line;
	int c;

	for (;;) {
		c = rd_next(r);
		if (c == EOF) {
			conf_err(r->name, open_line, "unterminated quoted value");
			return -1;
		}
		if (c == '"')
			return 0;
		if (c != '\\') {
			sb_push(out, (char)c);
			continue;
		}
		c = rd_peek(r);
		if (c == EOF) {
			conf_err(r->name, open_line, "unterminated quoted value");
			return -1;
		}
		if (c == '\n') {
			/* Continuation: the newline goes, the next line is kept as is. */
			rd_next(r);
			continue;
		}
		if (read_escape(r, out))
			return -1;
	}
}

/* A value, from after the '=' to the end of its (last) line. */
static int read_value(struct reader *r, struct sbuf *out)
{
	size_t keep = 0;		/* quoted and escaped bytes survive trimming */
	bool run_start = true;		/* blanks here are not part of the value */
	int c;

	for (;;) {
		c = rd_next(r);
		if (c == EOF || c == '\n')
			break;
		if (is_comment(c)) {
			rd_skip_line(r);
			break;
		}
		if (c == '"') {
			sb_trim(out, keep);
			if (read_quoted(r, out))
				return -1;
			keep = out->len;
			run_start = true;
			continue;
		}
		if (c == '\\') {
			c = rd_peek(r);
			if (c == EOF) {
				conf_err(r->name, r->line, "'\\' at the end of the file");
				return -1;
			}
			if (c == '\n') {
				rd_next(r);
				sb_trim(out, keep);
				run_start = true;
				continue;
			}
			if (read_escape(r, out))
				return -1;
			keep = out->len;
			run_start = false;
			continue;
		}
		if (is_blank(c) && run_start)
			continue;
		run_start = false;
		sb_push(out, (char)c);
	}
	sb_trim(out, keep);
	return 0;
}

/* After ']': blanks and a comment may follow, nothing else. */
static int read_after_section(struct reader *r)
{
	int c;

	do
		c = rd_next(r);
	while (is_blank(c));
	if (is_comment(c)) {
		rd_skip_line(r);
	} else if (c != '\n' && c != EOF) {
		conf_err(r->name, r->line, "unexpected text after the section header");
		return -1;
	}
	return 0;
}

/* ---- ${param} expansion ---- */

static struct cpg_ini_entry *find_param(const struct cpg_ini *ini, const char *section,
					const char *name, size_t len)
{
	size_t i = ini->n_entries;

	while (i--) {
		struct cpg_ini_entry *e = &ini->entries[i];

		if (strcmp(e->section, section) == 0 && strncmp(e->key, name, len) == 0 &&
		    e->key[len] == '\0')
			return e;
	}
	return NULL;
}

/*
 * A reference that cannot be expanded (undefined, or without its closing
 * brace) is kept as written, with a warning: 0.3.5 kept it silently, and
 * up/down commands rely on that to pass "${VAR}" to the shell.
 */
static int expand(const char *name, unsigned int line, struct cpg_ini *ini,
		  const char *section, const char *raw, struct sbuf *out)
{
	const char *p = raw;

	while (*p) {
		if (strncmp(p, "$${", 3) == 0) {
			sb_append(out, "${", 2);
			p += 3;
		} else if (strncmp(p, "${", 2) == 0) {
			const char *param = p + 2;
			const char *end = strchr(param, '}');
			struct cpg_ini_entry *e = NULL;
			struct cpg_ini_quoted qp, qs;
			size_t len;

			if (!end) {
				conf_warn(name, line,
					  "unterminated \"${\" kept as written (\"$${\" writes a literal \"${\")");
				sb_append(out, p, strlen(p));
				p += strlen(p);
				continue;
			}
			len = (size_t)(end - param);
			if (len)
				e = find_param(ini, section, param, len);
			if (!e) {
				conf_warn(name, line,
					  "\"${%s}\" kept as written: not set earlier in [%s] (\"$${\" writes a literal \"${\")",
					  quote_n(param, len, &qp), cpg_ini_quote(section, &qs));
				sb_append(out, p, (size_t)(end + 1 - p));
			} else {
				e->referenced = true;
				sb_append(out, e->value, strlen(e->value));
			}
			p = end + 1;
		} else {
			sb_push(out, *p++);
		}
		if (out->len > CONF_MAX_VALUE_LEN) {
			conf_err(name, line, "value longer than %d bytes", CONF_MAX_VALUE_LEN);
			return -1;
		}
	}
	return 0;
}

/* ---- The entry list ---- */

static int ini_add(struct cpg_ini *ini, size_t *cap, const char *section, const char *key,
		   const char *value, unsigned int line)
{
	struct cpg_ini_entry *e;

	if (ini->n_entries == *cap) {
		size_t n = *cap ? 2 * *cap : 16;

		e = reallocarray(ini->entries, n, sizeof(*e));
		if (!e)
			return -1;
		ini->entries = e;
		*cap = n;
	}
	e = &ini->entries[ini->n_entries];
	e->section = strdup(section);
	e->key = strdup(key);
	e->value = strdup(value);
	e->line = line;
	e->referenced = false;
	if (!e->section || !e->key || !e->value) {
		free(e->section);
		free(e->key);
		free(e->value);
		return -1;
	}
	ini->n_entries++;
	return 0;
}

void cpg_ini_free(struct cpg_ini *ini)
{
	size_t i;

	for (i = 0; i < ini->n_entries; i++) {
		free(ini->entries[i].section);
		free(ini->entries[i].key);
		free(ini->entries[i].value);
	}
	free(ini->entries);
	ini->entries = NULL;
	ini->n_entries = 0;
}

const struct cpg_ini_entry *cpg_ini_get(const struct cpg_ini *ini, const char *section,
					const char *key)
{
	return find_param(ini, section, key, strlen(key));
}

/* The line a byte offset is on, for an error before the walk starts. */
static unsigned int line_of(const char *text, const char *at)
{
	unsigned int line = 1;

	for (; text < at; text++)
		line += *text == '\n';
	return line;
}

struct parser {
	struct reader r;
	struct cpg_ini *ini;
	size_t cap;		/* entries allocated */
	size_t total;		/* bytes of all values, bounded against ${} doubling */
	bool in_section;
	struct sbuf section;
	struct sbuf key;
	struct sbuf raw;	/* before expansion */
	struct sbuf value;
};

static int parse_section_line(struct parser *ps)
{
	struct reader *r = &ps->r;
	unsigned int line = r->line;
	int c;

	do
		c = rd_next(r);
	while (is_blank(c));
	if (c == '\n' || c == EOF) {
		conf_err(r->name, line, "missing ']' in section header");
		return -1;
	}
	sb_reset(&ps->section);
	if (c != ']' && read_name(r, c, ']', &ps->section))
		return -1;
	if (ps->section.oom) {
		conf_err(r->name, r->line, "out of memory");
		return -1;
	}
	if (ps->section.len == 0) {
		conf_err(r->name, r->line, "empty section name");
		return -1;
	}
	if (read_after_section(r))
		return -1;
	ps->in_section = true;
	return 0;
}

/* A "key = value" line, the key's first character consumed. */
static int parse_key_line(struct parser *ps, int first)
{
	struct reader *r = &ps->r;
	unsigned int line = r->line;
	struct cpg_ini_quoted q;
	const char *key;

	sb_reset(&ps->key);
	sb_reset(&ps->raw);
	sb_reset(&ps->value);
	if (read_name(r, first, '=', &ps->key) || read_value(r, &ps->raw))
		return -1;
	if (ps->key.oom || ps->raw.oom)
		goto oom;
	key = sb_str(&ps->key);
	if (!ps->in_section) {
		conf_err(r->name, line, "key \"%s\" outside of any section",
			 cpg_ini_quote(key, &q));
		return -1;
	}
	if (ps->raw.len == 0) {
		conf_err(r->name, line, "%s: empty value", cpg_ini_quote(key, &q));
		return -1;
	}
	if (ps->raw.len > CONF_MAX_VALUE_LEN) {
		conf_err(r->name, line, "%s: value longer than %d bytes", cpg_ini_quote(key, &q),
			 CONF_MAX_VALUE_LEN);
		return -1;
	}
	if (expand(r->name, line, ps->ini, ps->section.s, ps->raw.s, &ps->value))
		return -1;
	if (ps->value.oom)
		goto oom;
	ps->total += ps->value.len;
	if (ps->total > CONF_MAX_FILE_SIZE) {
		conf_err(r->name, line, "values add up to more than %d bytes",
			 CONF_MAX_FILE_SIZE);
		return -1;
	}
	if (ini_add(ps->ini, &ps->cap, ps->section.s, key, sb_str(&ps->value), line))
		goto oom;
	return 0;
oom:
	conf_err(r->name, line, "out of memory");
	return -1;
}

int cpg_ini_parse_buffer(const char *name, const char *text, size_t len, struct cpg_ini *ini)
{
	struct parser ps = {
		.r = { .name = name, .p = text, .end = text ? text + len : text, .line = 1 },
		.ini = ini,
	};
	const char *nul = len ? memchr(text, '\0', len) : NULL;
	int ret = -1;
	int c;

	ini->entries = NULL;
	ini->n_entries = 0;
	if (nul) {
		conf_err(name, line_of(text, nul), "NUL byte in the file");
		return -1;
	}
	for (;;) {
		c = rd_next(&ps.r);
		if (c == EOF)
			break;
		if (c == '\n' || is_blank(c))
			continue;
		if (is_comment(c)) {
			rd_skip_line(&ps.r);
		} else if (c == '[') {
			if (parse_section_line(&ps))
				goto out;
		} else if (c == ']') {
			conf_err(name, ps.r.line, "']' without '['");
			goto out;
		} else if (c == '=') {
			conf_err(name, ps.r.line, "missing key before '='");
			goto out;
		} else if (parse_key_line(&ps, c)) {
			goto out;
		}
	}
	ret = 0;
out:
	free(ps.section.s);
	free(ps.key.s);
	free(ps.raw.s);
	free(ps.value.s);
	if (ret)
		cpg_ini_free(ini);
	return ret;
}

int cpg_ini_parse(const char *path, struct cpg_ini *ini)
{
	FILE *f = fopen(path, "r");
	char *text;
	size_t len;
	int ret;

	ini->entries = NULL;
	ini->n_entries = 0;
	if (!f) {
		log_err("%s: %m", path);
		return -1;
	}
	/* One byte more than the limit tells a too large file from a full one. */
	text = malloc(CONF_MAX_FILE_SIZE + 1);
	if (!text) {
		fclose(f);
		log_err("%s: out of memory", path);
		return -1;
	}
	len = fread(text, 1, CONF_MAX_FILE_SIZE + 1, f);
	if (ferror(f)) {
		log_err("%s: %m", path);
		ret = -1;
	} else if (len > CONF_MAX_FILE_SIZE) {
		log_err("%s: larger than %d bytes", path, CONF_MAX_FILE_SIZE);
		ret = -1;
	} else {
		ret = cpg_ini_parse_buffer(path, text, len, ini);
	}
	free(text);
	fclose(f);
	return ret;
}
