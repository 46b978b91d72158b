/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * campagnol.conf parser: every syntax feature, every option's default and
 * bounds, and every error path. Error tests check the log line too (file,
 * line, problem), captured by pointing stderr at a temporary file.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "ini.h"
#include "log.h"

#include "capture.h"

#define NAME "t.conf"

/* The options every config must have, for the [NETWORK]/[VPN] tests. */
#define MANDATORY "[NETWORK]\nserver_host = rdv.example.org\n" \
		  "[VPN]\nvpn_ip = 10.0.0.1\nnetwork = 10.0.0.0/24\n"

/* Lines 1-3; vpn_ip and network follow. */
#define VPN_HEAD "[NETWORK]\nserver_host = h\n[VPN]\n"

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* ---- Helpers ---- */

static int ini_parse(const char *text, struct cpg_ini *ini)
{
	return cpg_ini_parse_buffer(NAME, text, strlen(text), ini);
}

/* Parse text that must be valid; entry i's value is checked by the caller. */
static void ini_ok(const char *text, struct cpg_ini *ini)
{
	capture_start();
	assert_int_equal(ini_parse(text, ini), 0);
	assert_string_equal(capture_end(), "");
}

/* text holds one key; its value must be expected. */
static void value_is(const char *text, const char *expected)
{
	struct cpg_ini ini;

	ini_ok(text, &ini);
	assert_int_equal(ini.n_entries, 1);
	assert_string_equal(ini.entries[0].value, expected);
	cpg_ini_free(&ini);
}

/* The syntax layer rejects text with one error line holding msg. */
static void ini_fails(const char *text, const char *msg)
{
	struct cpg_ini ini = { (void *)1, 42 };	/* must be reset, not freed */
	const char *log;

	capture_start();
	assert_int_equal(ini_parse(text, &ini), -1);
	log = capture_end();
	assert_null(ini.entries);
	assert_int_equal(ini.n_entries, 0);
	assert_non_null(strstr(log, msg));
	assert_int_equal(count_lines(log), 1);
}

static int config_parse(const char *text, unsigned int need, struct cpg_config *cfg)
{
	struct cpg_ini ini;
	int ret;

	if (ini_parse(text, &ini))
		return -1;
	ret = cpg_config_from_ini(NAME, &ini, need, cfg);
	cpg_ini_free(&ini);
	return ret;
}

/* A valid config, with no log output at all. */
static void config_ok(const char *text, unsigned int need, struct cpg_config *cfg)
{
	capture_start();
	assert_int_equal(config_parse(text, need, cfg), 0);
	assert_string_equal(capture_end(), "");
}

/*
 * An invalid config: -1, one error line holding msg, cfg left freeable.
 * Warnings are muted, so that "one line" means one error.
 */
static void config_fails(const char *text, unsigned int need, const char *msg)
{
	int level = cpg_log_level;
	struct cpg_config cfg;
	const char *log;

	cpg_log_level = LOG_ERR;
	capture_start();
	assert_int_equal(config_parse(text, need, &cfg), -1);
	log = capture_end();
	cpg_log_level = level;
	assert_non_null(strstr(log, msg));
	assert_int_equal(count_lines(log), 1);
	cpg_config_free(&cfg);
}

/* MANDATORY plus extra lines, which must fail with msg. */
static void option_fails(const char *extra, const char *msg)
{
	char text[1024];

	snprintf(text, sizeof(text), "%s%s", MANDATORY, extra);
	config_fails(text, 0, msg);
}

/* MANDATORY plus extra lines, which must be accepted silently. */
static void option_ok(const char *extra, struct cpg_config *cfg)
{
	char text[1024];

	snprintf(text, sizeof(text), "%s%s", MANDATORY, extra);
	config_ok(text, 0, cfg);
}

static void assert_ip(struct in_addr ip, const char *expected)
{
	char buf[INET_ADDRSTRLEN];

	assert_string_equal(inet_ntop(AF_INET, &ip, buf, sizeof(buf)), expected);
}

/* ---- Syntax ---- */

static void test_sections_and_keys(void **state)
{
	struct cpg_ini ini;

	ini_ok("[A]\n"
	       "k1 = v1\n"
	       "  k2=v2  \n"
	       "\t k 3 \t=\t a  few words \t\n"
	       "[ B c ]\n"
	       "k1 = other\n"
	       "[a]\n"
	       "k1 = lower\n",
	       &ini);
	assert_int_equal(ini.n_entries, 5);
	assert_string_equal(ini.entries[0].section, "A");
	assert_string_equal(ini.entries[0].key, "k1");
	assert_string_equal(ini.entries[0].value, "v1");
	assert_int_equal(ini.entries[0].line, 2);
	assert_string_equal(ini.entries[1].key, "k2");
	assert_string_equal(ini.entries[1].value, "v2");
	assert_string_equal(ini.entries[2].key, "k 3");
	assert_string_equal(ini.entries[2].value, "a  few words");
	assert_int_equal(ini.entries[2].line, 4);
	assert_string_equal(ini.entries[3].section, "B c");
	assert_string_equal(ini.entries[4].section, "a");
	/* Names are case-sensitive. */
	assert_string_equal(cpg_ini_get(&ini, "A", "k1")->value, "v1");
	assert_string_equal(cpg_ini_get(&ini, "a", "k1")->value, "lower");
	assert_string_equal(cpg_ini_get(&ini, "B c", "k1")->value, "other");
	assert_null(cpg_ini_get(&ini, "A", "K1"));
	assert_null(cpg_ini_get(&ini, "C", "k1"));
	cpg_ini_free(&ini);
}

static void test_empty_input(void **state)
{
	struct cpg_ini ini;

	ini_ok("", &ini);
	assert_int_equal(ini.n_entries, 0);
	cpg_ini_free(&ini);
	assert_int_equal(cpg_ini_parse_buffer(NAME, NULL, 0, &ini), 0);
	assert_int_equal(ini.n_entries, 0);
	cpg_ini_free(&ini);
	ini_ok("\n  \n# only a comment\n; another\n[S] ; comment after a section\n", &ini);
	assert_int_equal(ini.n_entries, 0);
	cpg_ini_free(&ini);
}

static void test_comments(void **state)
{
	struct cpg_ini ini;

	ini_ok("# hash comment\n"
	       "; semicolon comment\n"
	       "   # indented comment\n"
	       "[S]   # after a section\n"
	       "a = value # after a value\n"
	       "b = value; no blank needed\n"
	       "c = \"quoted # and ; kept\" # but this goes\n"
	       "d = \"q\";x\n"
	       "e = \\# and \\; escaped\n"
	       "f = x ; \"not a quote\n",
	       &ini);
	assert_int_equal(ini.n_entries, 6);
	assert_string_equal(ini.entries[0].value, "value");
	assert_string_equal(ini.entries[1].value, "value");
	assert_string_equal(ini.entries[2].value, "quoted # and ; kept");
	assert_string_equal(ini.entries[3].value, "q");
	assert_string_equal(ini.entries[4].value, "# and ; escaped");
	assert_string_equal(ini.entries[5].value, "x");
	cpg_ini_free(&ini);
}

static void test_quoting(void **state)
{
	value_is("[S]\nk = \"  spaces kept  \"\n", "  spaces kept  ");
	value_is("[S]\nk = \"a = [b]\"\n", "a = [b]");
	value_is("[S]\nk = \"\"x\n", "x");
	/* Pieces are concatenated; blanks between pieces go, inside quotes stay. */
	value_is("[S]\nk = aze \" rty \" uio\n", "aze rty uio");
	value_is("[S]\nk = aze\" rty\" uio \"p\"\n", "aze rtyuiop");
	value_is("[S]\nk = \"a\"\"b\"\n", "ab");
	value_is("[S]\nk = \"a\" b\n", "ab");
	value_is("[S]\nk = pre\"fix\"\n", "prefix");
}

/* The man page's [MULTILINE 1] and [MULTILINE 2] examples. */
static void test_multiline(void **state)
{
	struct cpg_ini ini;
	size_t i;

	ini_ok("[M1]\n"
	       "a = \"aze rty uio\"\n"
	       "b = aze \" rty \" uio\n"
	       "c = \"aze\"\\\n"
	       "    \" rty \"\\\n"
	       "    \"uio\"\n"
	       "d = aze\\\n"
	       "    \" rty \"\\\n"
	       "    uio\n"
	       "e = \"aze\\\n"
	       " rty \\\n"
	       "uio\"\n"
	       "[M2]\n"
	       "a = \"aze\\n  rty\\n uio\"\n"
	       "b = \"aze\n"
	       "  rty\n"
	       " uio\"\n"
	       "c = \"aze\\n\"\\\n"
	       "    \"  rty\\n\"\\\n"
	       "    \" uio\"\n"
	       "after = x\n",
	       &ini);
	assert_int_equal(ini.n_entries, 9);
	for (i = 0; i < 5; i++)
		assert_string_equal(ini.entries[i].value, "aze rty uio");
	for (i = 5; i < 8; i++)
		assert_string_equal(ini.entries[i].value, "aze\n  rty\n uio");
	/* Each key's line is where it starts; counting goes on across continuations. */
	assert_int_equal(ini.entries[2].line, 4);
	assert_int_equal(ini.entries[3].line, 7);
	assert_int_equal(ini.entries[4].line, 10);
	assert_int_equal(ini.entries[6].line, 15);
	assert_int_equal(ini.entries[8].line, 21);
	cpg_ini_free(&ini);
}

static void test_continuation(void **state)
{
	/* Blanks before the backslash and at the next line's start go. */
	value_is("[S]\nk = one   \\\n     two\n", "onetwo");
	value_is("[S]\nk = one \\\n  \" two\"\n", "one two");
	/* A continued line may itself be continued, and end with a comment. */
	value_is("[S]\nk = a\\\nb\\\nc # done\n", "abc");
	/* An empty continuation line ends the value. */
	value_is("[S]\nk = a\\\n\n", "a");
	/* A comment does not continue. */
	value_is("[S]\nk = a # comment \\\n", "a");
}

static void test_crlf(void **state)
{
	struct cpg_ini ini;

	ini_ok("[S]\r\na = 1\r\nb = \"x\r\ny\"\r\nc = p\\\r\nq\r\n", &ini);
	assert_int_equal(ini.n_entries, 3);
	assert_string_equal(ini.entries[0].value, "1");
	assert_string_equal(ini.entries[1].value, "x\ny");
	assert_string_equal(ini.entries[2].value, "pq");
	assert_int_equal(ini.entries[2].line, 5);
	cpg_ini_free(&ini);
}

static void test_escapes(void **state)
{
	value_is("[S]\nk = \\n\\t\\\\\\\"\\'\\?\n", "\n\t\\\"'?");
	value_is("[S]\nk = \\a\\b\\f\\r\\v\n", "\a\b\f\r\v");
	value_is("[S]\nk = \\#\\;\\[\\]\\=\n", "#;[]=");
	value_is("[S]\nk = \"\\#\\;\\[\\]\\=\\\"\"\n", "#;[]=\"");
	value_is("[S]\nk = \\x41\\x4a\\x4G\n", "AJ\x04G");
	value_is("[S]\nk = \\101\\60\\1011\n", "A0A1");
	value_is("[S]\nk = \"\\x41\\101\\n\"\n", "AA\n");
	/* Unknown escapes and \x without digits are kept as written. */
	value_is("[S]\nk = C:\\dir\\sub\n", "C:\\dir\\sub");
	value_is("[S]\nk = \\xZ\n", "\\xZ");
	value_is("[S]\nk = \"\\d\"\n", "\\d");
	/* Escaped blanks are not trimmed. */
	value_is("[S]\nk = a\\t\n", "a\t");
	value_is("[S]\nk = \\x20a\\x20\n", " a ");
	/* \$ is not an escape: $${ is the way to keep a ${. */
	value_is("[S]\nk = \\$\n", "\\$");
}

static void test_escaped_names(void **state)
{
	struct cpg_ini ini;

	ini_ok("[A\\]B\\x41]\nk\\=ey \\; x = v\n[ \\ sp ]\nz = 1\n", &ini);
	assert_int_equal(ini.n_entries, 2);
	assert_string_equal(ini.entries[0].section, "A]BA");
	assert_string_equal(ini.entries[0].key, "k=ey ; x");
	assert_string_equal(ini.entries[1].section, "\\ sp");
	cpg_ini_free(&ini);
}

static void test_expansion(void **state)
{
	struct cpg_ini ini;

	ini_ok("[SECURITY]\n"
	       "basedir = \"/etc/campagnol certs\"\n"
	       "certificate = ${basedir}/cert.pem   # expands\n"
	       "key = \"${basedir}/key.pem\"\n"
	       "literal = $${basedir} and $$ and $ and $x $\n"
	       "twice = ${basedir}${basedir}\n"
	       "[OTHER]\n"
	       "basedir = other\n"
	       "x = ${basedir}\n"
	       "[SECURITY]\n"
	       "reopened = ${basedir}\n"
	       "basedir = changed\n"
	       "after = ${basedir}\n"
	       "path = a\n"
	       "path = ${path}:b\n"
	       "chain = ${certificate}!\n",
	       &ini);
	assert_string_equal(cpg_ini_get(&ini, "SECURITY", "certificate")->value,
			    "/etc/campagnol certs/cert.pem");
	assert_string_equal(cpg_ini_get(&ini, "SECURITY", "key")->value,
			    "/etc/campagnol certs/key.pem");
	assert_string_equal(cpg_ini_get(&ini, "SECURITY", "literal")->value,
			    "${basedir} and $$ and $ and $x $");
	assert_string_equal(cpg_ini_get(&ini, "SECURITY", "twice")->value,
			    "/etc/campagnol certs/etc/campagnol certs");
	/* Only the same section counts, reopened or not. */
	assert_string_equal(cpg_ini_get(&ini, "OTHER", "x")->value, "other");
	assert_string_equal(cpg_ini_get(&ini, "SECURITY", "reopened")->value,
			    "/etc/campagnol certs");
	/* The value set last before the reference, and only that. */
	assert_string_equal(cpg_ini_get(&ini, "SECURITY", "after")->value, "changed");
	assert_string_equal(cpg_ini_get(&ini, "SECURITY", "path")->value, "a:b");
	/* A referenced value is already expanded. */
	assert_string_equal(cpg_ini_get(&ini, "SECURITY", "chain")->value,
			    "/etc/campagnol certs/cert.pem!");
	cpg_ini_free(&ini);
	/* A literal ${ after $${ is not expanded again by a later reference. */
	ini_ok("[S]\na = $${x}\nb = ${a}\n", &ini);
	assert_string_equal(ini.entries[1].value, "${x}");
	cpg_ini_free(&ini);
}

/* One warning line holding msg; the value keeps the reference as written. */
static void expansion_kept(const char *text, const char *key, const char *value, const char *msg)
{
	struct cpg_ini ini;
	const char *log;

	capture_start();
	assert_int_equal(ini_parse(text, &ini), 0);
	log = capture_end();
	assert_non_null(strstr(log, msg));
	assert_int_equal(count_lines(log), 1);
	assert_string_equal(cpg_ini_get(&ini, "S", key)->value, value);
	cpg_ini_free(&ini);
}

static void test_expansion_errors(void **state)
{
	expansion_kept("[S]\na = 1\nb = ${nope}\n", "b", "${nope}",
		       NAME ":3: \"${nope}\" kept as written");
	/* Defined later, or in another section: not expanded here. */
	expansion_kept("[S]\nb = ${a}\na = 1\n", "b", "${a}", NAME ":2: \"${a}\" kept");
	expansion_kept("[T]\na = 1\n[S]\nb = ${a}\n", "b", "${a}",
		       NAME ":4: \"${a}\" kept as written: not set earlier in [S]");
	expansion_kept("[S]\na = ${a}\n", "a", "${a}", NAME ":2: \"${a}\" kept");
	/* A shell variable in an up command reaches the shell (0.3.5 did so). */
	expansion_kept("[S]\nup = \"echo ${HOME} x\"\n", "up", "echo ${HOME} x",
		       NAME ":2: \"${HOME}\" kept");
	expansion_kept("[S]\na = x ${b\n", "a", "x ${b", NAME ":2: unterminated \"${\"");
	expansion_kept("[S]\na = ${}\n", "a", "${}", NAME ":2: \"${}\" kept");
	/* The line is the key's, even when the value spans lines. */
	expansion_kept("[S]\na = \"x\n\"${b}\n", "a", "x\n${b}", NAME ":2: \"${b}\" kept");
}

static void test_expansion_bomb(void **state)
{
	char text[4096];
	size_t n;
	int i;

	n = (size_t)snprintf(text, sizeof(text), "[S]\na = xxxxxxxxxxxxxxxx\n");
	for (i = 0; i < 14; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "a = ${a}${a}\n");
	ini_fails(text, "value longer than 65536 bytes");
	/* Many lines each under the limit still add up. */
	n = (size_t)snprintf(text, sizeof(text), "[S]\na = xxxxxxxxxxxxxxxx\n");
	for (i = 0; i < 11; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "a = ${a}${a}\n");
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "b = ${a}\n");
	ini_fails(text, "values add up to more than");
}

static void test_repeated_keys(void **state)
{
	struct cpg_ini ini;

	ini_ok("[S]\nk = 1\nother = x\nk = 2\n[T]\nk = t\n[S]\nk = 3\n", &ini);
	assert_int_equal(ini.n_entries, 5);
	assert_string_equal(ini.entries[0].value, "1");
	assert_string_equal(ini.entries[2].value, "2");
	assert_string_equal(ini.entries[4].value, "3");
	assert_int_equal(cpg_ini_get(&ini, "S", "k")->line, 8);
	assert_string_equal(cpg_ini_get(&ini, "S", "k")->value, "3");
	assert_string_equal(cpg_ini_get(&ini, "T", "k")->value, "t");
	cpg_ini_free(&ini);
}

static void test_syntax_errors(void **state)
{
	ini_fails("[S]\nk = \"never closed\n\n", NAME ":2: unterminated quoted value");
	ini_fails("[S]\nk = a \"b\\", NAME ":2: unterminated quoted value");
	ini_fails("[S]\nk = a\\", NAME ":2: '\\' at the end of the file");
	ini_fails("[S\nk = 1\n", NAME ":1: missing ']' in section header");
	ini_fails("[S]\n[\n", NAME ":2: missing ']' in section header");
	ini_fails("[", NAME ":1: missing ']' in section header");
	ini_fails("[]\n", NAME ":1: empty section name");
	ini_fails("\n[  ]\n", NAME ":2: empty section name");
	ini_fails("[S] junk\n", NAME ":1: unexpected text after the section header");
	ini_fails("[S]]\n", NAME ":1: unexpected text after the section header");
	ini_fails("[S#x]\n", NAME ":1: '#' in a section header");
	ini_fails("[S;x]\n", NAME ":1: ';' in a section header");
	ini_fails("[S\\\n]\n", NAME ":1: line continuation is not allowed");
	ini_fails("[S]\n]\n", NAME ":2: ']' without '['");
	ini_fails("[S]\nk\n", NAME ":2: missing '=' after \"k\"");
	ini_fails("[S]\nk # = 1\n", NAME ":2: missing '=' after \"k\"");
	ini_fails("[S]\nkey value", NAME ":2: missing '=' after \"key value\"");
	ini_fails("[S]\nk\\\n= 1\n", NAME ":2: line continuation is not allowed in a key");
	ini_fails("[S]\n = 1\n", NAME ":2: missing key before '='");
	ini_fails("k = 1\n[S]\n", NAME ":1: key \"k\" outside of any section");
	ini_fails("[S]\nk =\n", NAME ":2: k: empty value");
	ini_fails("[S]\nk = # comment\n", NAME ":2: k: empty value");
	ini_fails("[S]\nk = \"\"\n", NAME ":2: k: empty value");
	ini_fails("[S]\nk = a\\0b\n", NAME ":2: an escape sequence yields a NUL byte");
	ini_fails("[S]\nk = \"\\x00\"\n", NAME ":2: an escape sequence yields a NUL byte");
	ini_fails("[S]\nk = \\777\n", NAME ":2: octal escape \\777 is above \\377");
	ini_fails("[S]\n\\0 = 1\n", NAME ":2: an escape sequence yields a NUL byte");
}

static void test_nul_byte(void **state)
{
	static const char text[] = "[S]\na = 1\nb = x\0y\n";
	struct cpg_ini ini;

	capture_start();
	assert_int_equal(cpg_ini_parse_buffer(NAME, text, sizeof(text) - 1, &ini), -1);
	assert_non_null(strstr(capture_end(), NAME ":3: NUL byte in the file"));
}

static void test_error_message_is_one_line(void **state)
{
	struct cpg_config cfg;
	const char *log;

	/* Bad values and names holding a newline are quoted on the error's line. */
	option_fails("[NETWORK]\ntun_mtu = \"1\n2\"\n", "tun_mtu: \"1\\n2\" is not an integer");
	ini_fails("[S]\nk\\ny\n", NAME ":2: missing '=' after \"k\\ny\"");
	ini_fails("k\\x01 = 1\n", NAME ":1: key \"k\\x01\" outside of any section");

	capture_start();
	assert_int_equal(config_parse(MANDATORY "[X\\tY]\na = 1\n[VPN]\nb\\nc = 1\n", 0, &cfg),
			 0);
	log = capture_end();
	assert_non_null(strstr(log, NAME ":7: unknown section [X\\x09Y], ignored"));
	assert_non_null(strstr(log, NAME ":9: unknown key \"b\\nc\" in [VPN], ignored"));
	assert_int_equal(count_lines(log), 2);
	cpg_config_free(&cfg);
}

/* ---- Typed options ---- */

static void test_bool_spellings(void **state)
{
	static const char *const yes[] = { "yes", "YES", "Yes", "on", "ON", "1", "true", "TRUE",
					   "True" };
	static const char *const no[] = { "no", "NO", "No", "off", "Off", "0", "false",
					  "FALSE" };
	static const char *const bad[] = { "", "y", "n", "2", "enabled", "yes ", " no", "01" };
	bool b;
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		assert_int_equal(cpg_config_parse_bool(yes[i], &b), 0);
		assert_true(b);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		assert_int_equal(cpg_config_parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = true;
		assert_int_equal(cpg_config_parse_bool(bad[i], &b), -1);
		assert_true(b);
	}
}

static void test_bool_options(void **state)
{
	struct cpg_config cfg;

	option_ok("[NETWORK]\nuse_local_addr = Off\n"
		  "[CLIENT]\ntun_one_queue = TRUE\n"
		  "[COMMANDS]\ndefault_up = no\ndefault_down = 0\n",
		  &cfg);
	assert_false(cfg.use_local_addr);
	assert_true(cfg.tun_one_queue);
	assert_false(cfg.default_up);
	assert_false(cfg.default_down);
	cpg_config_free(&cfg);
	option_fails("[NETWORK]\nuse_local_addr = maybe\n",
		     NAME ":7: use_local_addr: \"maybe\" is not a boolean");
	option_fails("[CLIENT]\ntun_one_queue = 2\n", "tun_one_queue: \"2\" is not a boolean");
	option_fails("[COMMANDS]\ndefault_up = y\n", "default_up: \"y\" is not a boolean");
	option_fails("[COMMANDS]\ndefault_down = nope\n",
		     "default_down: \"nope\" is not a boolean");
}

static void test_defaults(void **state)
{
	struct cpg_config cfg;

	cpg_config_defaults(&cfg);
	assert_false(cfg.local_ip_set);
	assert_int_equal(cfg.local_ip.s_addr, 0);
	assert_int_equal(cfg.local_port, 0);
	assert_null(cfg.server_host);
	assert_int_equal(cfg.server_port, 57888);
	assert_int_equal(cfg.tun_mtu, 1419);
	assert_null(cfg.interface);
	assert_true(cfg.use_local_addr);
	assert_false(cfg.override_local_addr);
	assert_string_equal(cfg.tun_device, "tun%d");
	assert_string_equal(cfg.tap_id, "tap0901");
	assert_null(cfg.control_socket);
	assert_null(cfg.certificate);
	assert_null(cfg.key);
	assert_null(cfg.ca_certificates);
	assert_null(cfg.ca_certificates_dir);
	assert_null(cfg.crl_file);
	assert_int_equal(cfg.verify_depth, 9);
	assert_null(cfg.cipher_list);
	assert_int_equal(cfg.fifo_size, 20);
	assert_int_equal(cfg.txqueue, 0);
	assert_false(cfg.tun_one_queue);
	assert_true(cfg.client_max_rate == 0.0);
	assert_true(cfg.connection_max_rate == 0.0);
	assert_int_equal(cfg.timeout, 120);
	assert_int_equal(cfg.keepalive, 10);
	assert_int_equal(cfg.max_clients, 100);
	assert_int_equal(cfg.direct_retry, 60);
	assert_int_equal(cfg.data_plane, CPG_CONFIG_DATA_PLANE_AUTO);
	assert_true(cfg.default_up);
	assert_true(cfg.default_down);
	assert_int_equal(cfg.n_up, 0);
	assert_null(cfg.up);
	assert_int_equal(cfg.n_down, 0);
	assert_null(cfg.down);
	cpg_config_free(&cfg);
}

/* Only the mandatory options: everything else keeps its default. */
static void test_minimal_config(void **state)
{
	struct cpg_config cfg;

	config_ok(MANDATORY, 0, &cfg);
	assert_string_equal(cfg.server_host, "rdv.example.org");
	assert_ip(cfg.vpn_ip, "10.0.0.1");
	assert_ip(cfg.network, "10.0.0.0");
	assert_int_equal(cfg.prefix_len, 24);
	assert_ip(cfg.netmask, "255.255.255.0");
	assert_ip(cfg.broadcast, "10.0.0.255");
	assert_false(cfg.local_ip_set);
	assert_int_equal(cfg.local_port, 0);
	assert_int_equal(cfg.server_port, 57888);
	assert_int_equal(cfg.tun_mtu, 1419);
	assert_null(cfg.interface);
	assert_true(cfg.use_local_addr);
	assert_false(cfg.override_local_addr);
	assert_string_equal(cfg.tun_device, "tun%d");
	assert_string_equal(cfg.tap_id, "tap0901");
	assert_null(cfg.certificate);
	assert_int_equal(cfg.verify_depth, 9);
	assert_null(cfg.cipher_list);
	assert_int_equal(cfg.fifo_size, 20);
	assert_int_equal(cfg.txqueue, 0);
	assert_false(cfg.tun_one_queue);
	assert_true(cfg.client_max_rate == 0.0);
	assert_true(cfg.connection_max_rate == 0.0);
	assert_int_equal(cfg.timeout, 120);
	assert_int_equal(cfg.keepalive, 10);
	assert_int_equal(cfg.max_clients, 100);
	assert_true(cfg.default_up);
	assert_true(cfg.default_down);
	assert_int_equal(cfg.n_up, 0);
	assert_int_equal(cfg.n_down, 0);
	cpg_config_free(&cfg);
}

static void test_every_option(void **state)
{
	struct cpg_config cfg;

	config_ok("[NETWORK]\n"
		  "local_host = 192.168.0.4\n"
		  "local_port = 44556\n"
		  "server_host = 192.168.0.1\n"
		  "server_port = 34567\n"
		  "tun_mtu = 1400\n"
		  "interface = eth0\n"
		  "use_local_addr = yes\n"
		  "override_local_addr = 172.16.17.17 23456\n"
		  "tun_device = \"vpn 0\"\n"
		  "tap_id = tap0801\n"
		  "[VPN]\n"
		  "vpn_ip = 172.20.1.2\n"
		  "network = 172.20.0.0/16\n"
		  "[SECURITY]\n"
		  "certificate = /c/cert.pem\n"
		  "key = /c/key.pem\n"
		  "ca_certificates = /c/ca.pem\n"
		  "ca_certificates_dir = /c/ca.d\n"
		  "crl_file = /c/crl.pem\n"
		  "verify_depth = 1\n"
		  "cipher_list = RSA+HIGH:@STRENGTH\n"
		  "[CLIENT]\n"
		  "fifo_size = 50\n"
		  "txqueue = 100\n"
		  "tun_one_queue = yes\n"
		  "client_max_rate = 500\n"
		  "connection_max_rate = 100.5\n"
		  "timeout = 60\n"
		  "keepalive = 30\n"
		  "max_clients = 20\n"
		  "direct_retry = 0\n"
		  "data_plane = userspace\n"
		  "[COMMANDS]\n"
		  "default_up = no\n"
		  "default_down = no\n"
		  "up = \"ifconfig %D %V mtu %M up\"\n"
		  "down = \"echo closing %D!\"\n"
		  "up = \"ip route replace %N via %V || route add -net %N gw %V\"\n",
		  CPG_CONFIG_NEED_SECURITY, &cfg);
	assert_true(cfg.local_ip_set);
	assert_ip(cfg.local_ip, "192.168.0.4");
	assert_int_equal(cfg.local_port, 44556);
	assert_string_equal(cfg.server_host, "192.168.0.1");
	assert_int_equal(cfg.server_port, 34567);
	assert_int_equal(cfg.tun_mtu, 1400);
	assert_string_equal(cfg.interface, "eth0");
	assert_true(cfg.use_local_addr);
	assert_true(cfg.override_local_addr);
	assert_ip(cfg.override_ip, "172.16.17.17");
	assert_int_equal(cfg.override_port, 23456);
	assert_string_equal(cfg.tun_device, "vpn 0");
	assert_string_equal(cfg.tap_id, "tap0801");
	assert_ip(cfg.vpn_ip, "172.20.1.2");
	assert_ip(cfg.network, "172.20.0.0");
	assert_int_equal(cfg.prefix_len, 16);
	assert_ip(cfg.netmask, "255.255.0.0");
	assert_ip(cfg.broadcast, "172.20.255.255");
	assert_string_equal(cfg.certificate, "/c/cert.pem");
	assert_string_equal(cfg.key, "/c/key.pem");
	assert_string_equal(cfg.ca_certificates, "/c/ca.pem");
	assert_string_equal(cfg.ca_certificates_dir, "/c/ca.d");
	assert_string_equal(cfg.crl_file, "/c/crl.pem");
	assert_int_equal(cfg.verify_depth, 1);
	assert_string_equal(cfg.cipher_list, "RSA+HIGH:@STRENGTH");
	assert_int_equal(cfg.fifo_size, 50);
	assert_int_equal(cfg.txqueue, 100);
	assert_true(cfg.tun_one_queue);
	assert_true(cfg.client_max_rate == 500.0);
	assert_true(cfg.connection_max_rate == 100.5);
	assert_int_equal(cfg.timeout, 60);
	assert_int_equal(cfg.keepalive, 30);
	assert_int_equal(cfg.max_clients, 20);
	assert_int_equal(cfg.direct_retry, 0);
	assert_int_equal(cfg.data_plane, CPG_CONFIG_DATA_PLANE_USERSPACE);
	assert_false(cfg.default_up);
	assert_false(cfg.default_down);
	assert_int_equal(cfg.n_up, 2);
	assert_string_equal(cfg.up[0], "ifconfig %D %V mtu %M up");
	assert_string_equal(cfg.up[1], "ip route replace %N via %V || route add -net %N gw %V");
	assert_int_equal(cfg.n_down, 1);
	assert_string_equal(cfg.down[0], "echo closing %D!");
	cpg_config_free(&cfg);
}

static void test_last_wins(void **state)
{
	struct cpg_config cfg;

	/* Only the last value is read, as the original: an earlier bad one is harmless. */
	option_ok("[NETWORK]\ntun_mtu = junk\ntun_device = a\n"
		  "[CLIENT]\ntimeout = 30\n"
		  "[NETWORK]\ntun_mtu = 1300\ntun_device = b\n"
		  "[CLIENT]\ntimeout = 40\n",
		  &cfg);
	assert_int_equal(cfg.tun_mtu, 1300);
	assert_string_equal(cfg.tun_device, "b");
	assert_int_equal(cfg.timeout, 40);
	cpg_config_free(&cfg);
	option_fails("[NETWORK]\ntun_mtu = 1300\ntun_mtu = junk\n",
		     NAME ":8: tun_mtu: \"junk\" is not an integer");
}

/* control_socket: a path or "@name", taken as it is (the daemon checks it
 * when it opens the socket). */
static void test_control_socket(void **state)
{
	struct cpg_config cfg;

	option_ok("[NETWORK]\ncontrol_socket = \"@campagnol/office\"\n", &cfg);
	assert_string_equal(cfg.control_socket, "@campagnol/office");
	cpg_config_free(&cfg);
	option_ok("[NETWORK]\ncontrol_socket = /run/vpn/office.sock\n", &cfg);
	assert_string_equal(cfg.control_socket, "/run/vpn/office.sock");
	cpg_config_free(&cfg);
}

/* Each integer option: below its minimum, at it, and not a number. */
static void test_integer_bounds(void **state)
{
	static const struct {
		const char *section;
		const char *key;
		long min;
		size_t offset;
	} opts[] = {
		{ "NETWORK", "tun_mtu", 150, offsetof(struct cpg_config, tun_mtu) },
		{ "SECURITY", "verify_depth", 1, offsetof(struct cpg_config, verify_depth) },
		{ "CLIENT", "fifo_size", 1, offsetof(struct cpg_config, fifo_size) },
		{ "CLIENT", "txqueue", 1, offsetof(struct cpg_config, txqueue) },
		{ "CLIENT", "timeout", 5, offsetof(struct cpg_config, timeout) },
		{ "CLIENT", "keepalive", 1, offsetof(struct cpg_config, keepalive) },
		{ "CLIENT", "max_clients", 1, offsetof(struct cpg_config, max_clients) },
		{ "CLIENT", "direct_retry", 0, offsetof(struct cpg_config, direct_retry) },
	};
	static const char *const not_int[] = { "abc", "12abc", "1.5", "0x10", "\" 12\"",
					       "\"12 \"", "+", "-", "1e3" };
	char extra[256], msg[256];
	struct cpg_config cfg;
	size_t i, j;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		snprintf(extra, sizeof(extra), "[%s]\n%s = %ld\n", opts[i].section, opts[i].key,
			 opts[i].min - 1);
		snprintf(msg, sizeof(msg), NAME ":7: %s: %ld is below the minimum %ld",
			 opts[i].key, opts[i].min - 1, opts[i].min);
		option_fails(extra, msg);

		snprintf(extra, sizeof(extra), "[%s]\n%s = %ld\n", opts[i].section, opts[i].key,
			 opts[i].min);
		option_ok(extra, &cfg);
		assert_int_equal(*(int *)((char *)&cfg + opts[i].offset), opts[i].min);
		cpg_config_free(&cfg);

		snprintf(extra, sizeof(extra), "[%s]\n%s = +%ld\n", opts[i].section, opts[i].key,
			 opts[i].min + 7);
		option_ok(extra, &cfg);
		assert_int_equal(*(int *)((char *)&cfg + opts[i].offset), opts[i].min + 7);
		cpg_config_free(&cfg);

		snprintf(extra, sizeof(extra), "[%s]\n%s = -1\n", opts[i].section, opts[i].key);
		snprintf(msg, sizeof(msg), "%s: -1 is below the minimum", opts[i].key);
		option_fails(extra, msg);

		snprintf(extra, sizeof(extra), "[%s]\n%s = 2147483648\n", opts[i].section,
			 opts[i].key);
		snprintf(msg, sizeof(msg), "%s: 2147483648 is above the maximum", opts[i].key);
		option_fails(extra, msg);

		snprintf(extra, sizeof(extra), "[%s]\n%s = 99999999999999999999999\n",
			 opts[i].section, opts[i].key);
		snprintf(msg, sizeof(msg), "%s: 99999999999999999999999 is above the maximum",
			 opts[i].key);
		option_fails(extra, msg);

		for (j = 0; j < sizeof(not_int) / sizeof(not_int[0]); j++) {
			snprintf(extra, sizeof(extra), "[%s]\n%s = %s\n", opts[i].section,
				 opts[i].key, not_int[j]);
			snprintf(msg, sizeof(msg), "%s: \"", opts[i].key);
			option_fails(extra, msg);
			option_fails(extra, "is not an integer");
		}
	}
	option_fails("[NETWORK]\ntun_mtu = 65536\n", "tun_mtu: 65536 is above the maximum 65535");
	option_fails("[NETWORK]\ntun_mtu = 100\n",
		     NAME ":7: tun_mtu: 100 is below the minimum 150");
}

static void test_ports(void **state)
{
	struct cpg_config cfg;

	option_ok("[NETWORK]\nlocal_port = 0\nserver_port = 1\n", &cfg);
	assert_int_equal(cfg.local_port, 0);
	assert_int_equal(cfg.server_port, 1);
	cpg_config_free(&cfg);
	option_ok("[NETWORK]\nlocal_port = 65535\nserver_port = 65535\n", &cfg);
	assert_int_equal(cfg.local_port, 65535);
	assert_int_equal(cfg.server_port, 65535);
	cpg_config_free(&cfg);
	option_fails("[NETWORK]\nlocal_port = 65536\n",
		     NAME ":7: local_port: 65536 is above the maximum 65535");
	option_fails("[NETWORK]\nlocal_port = -1\n", "local_port: -1 is below the minimum 0");
	option_fails("[NETWORK]\nserver_port = 0\n", "server_port: 0 is below the minimum 1");
	option_fails("[NETWORK]\nserver_port = 70000\n", "server_port: 70000 is above");
	option_fails("[NETWORK]\nserver_port = http\n", "server_port: \"http\" is not an integer");
	option_fails("[NETWORK]\nlocal_port = 123abc\n",
		     "local_port: \"123abc\" is not an integer");
}

static void test_rates(void **state)
{
	static const char *const bad[] = { "fast", "1.5.2", "nan", "inf", "-inf", "1e999",
					   "\" 1\"", "10KB" };
	struct cpg_config cfg;
	char extra[128];
	size_t i;

	option_ok("[CLIENT]\nclient_max_rate = 0\nconnection_max_rate = 0.0\n", &cfg);
	assert_true(cfg.client_max_rate == 0.0);
	assert_true(cfg.connection_max_rate == 0.0);
	cpg_config_free(&cfg);
	option_ok("[CLIENT]\nclient_max_rate = 1.5\nconnection_max_rate = 1e3\n", &cfg);
	assert_true(cfg.client_max_rate == 1.5);
	assert_true(cfg.connection_max_rate == 1000.0);
	cpg_config_free(&cfg);
	option_fails("[CLIENT]\nclient_max_rate = -1\n",
		     NAME ":7: client_max_rate: -1 is below the minimum 0");
	option_fails("[CLIENT]\nconnection_max_rate = -0.5\n",
		     "connection_max_rate: -0.5 is below the minimum 0");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(extra, sizeof(extra), "[CLIENT]\nclient_max_rate = %s\n", bad[i]);
		option_fails(extra, "client_max_rate: \"");
		snprintf(extra, sizeof(extra), "[CLIENT]\nconnection_max_rate = %s\n", bad[i]);
		option_fails(extra, "is not a number");
	}
}

static void test_data_plane(void **state)
{
	static const struct {
		const char *value;
		enum cpg_config_data_plane dp;
	} good[] = {
		{ "auto", CPG_CONFIG_DATA_PLANE_AUTO },
		{ "kernel", CPG_CONFIG_DATA_PLANE_KERNEL },
		{ "userspace", CPG_CONFIG_DATA_PLANE_USERSPACE },
		{ "Kernel", CPG_CONFIG_DATA_PLANE_KERNEL },
		{ "\"USERSPACE\"", CPG_CONFIG_DATA_PLANE_USERSPACE },
	};
	static const char *const bad[] = { "user", "tun", "kernel ", "\"\"x", "0", "yes" };
	enum cpg_config_data_plane dp = CPG_CONFIG_DATA_PLANE_USERSPACE;
	struct cpg_config cfg;
	char extra[128];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(extra, sizeof(extra), "[CLIENT]\ndata_plane = %s\n", good[i].value);
		option_ok(extra, &cfg);
		assert_int_equal(cfg.data_plane, good[i].dp);
		cpg_config_free(&cfg);
	}
	/* The last one wins, as for every option. */
	option_ok("[CLIENT]\ndata_plane = kernel\ndata_plane = auto\n", &cfg);
	assert_int_equal(cfg.data_plane, CPG_CONFIG_DATA_PLANE_AUTO);
	cpg_config_free(&cfg);
	option_fails("[CLIENT]\ndata_plane = ebpf\n", NAME ":7: data_plane: \"ebpf\" is not a "
		     "data plane (auto, kernel or userspace)");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(extra, sizeof(extra), "[CLIENT]\ndata_plane = \"%s\"\n", bad[i]);
		option_fails(extra, "is not a data plane");
	}
	/* The command line's parser, and the names it reads back. */
	assert_int_equal(cpg_config_parse_data_plane("AUTO", &dp), 0);
	assert_int_equal(dp, CPG_CONFIG_DATA_PLANE_AUTO);
	assert_int_equal(cpg_config_parse_data_plane("", &dp), -1);
	assert_int_equal(cpg_config_parse_data_plane("kernel2", &dp), -1);
	assert_int_equal(dp, CPG_CONFIG_DATA_PLANE_AUTO);
	assert_string_equal(cpg_config_data_plane_name(CPG_CONFIG_DATA_PLANE_AUTO), "auto");
	assert_string_equal(cpg_config_data_plane_name(CPG_CONFIG_DATA_PLANE_KERNEL), "kernel");
	assert_string_equal(cpg_config_data_plane_name(CPG_CONFIG_DATA_PLANE_USERSPACE),
			    "userspace");
	assert_string_equal(cpg_config_data_plane_name((enum cpg_config_data_plane)7), "?");
}

static void test_strings(void **state)
{
	struct cpg_config cfg;

	option_ok("[NETWORK]\ninterface = \"Local Area Connection\"\ntun_device = cpg%d\n"
		  "[SECURITY]\ncipher_list = NULL\n",
		  &cfg);
	assert_string_equal(cfg.interface, "Local Area Connection");
	assert_string_equal(cfg.tun_device, "cpg%d");
	/* Only the option's value: "NULL" is a cipher list, not a null. */
	assert_string_equal(cfg.cipher_list, "NULL");
	cpg_config_free(&cfg);
}

static void test_local_host(void **state)
{
	struct cpg_config cfg;

	option_ok("[NETWORK]\nlocal_host = 192.168.0.4\n", &cfg);
	assert_true(cfg.local_ip_set);
	assert_ip(cfg.local_ip, "192.168.0.4");
	cpg_config_free(&cfg);
	/* A host name is resolved (from /etc/hosts here). */
	option_ok("[NETWORK]\nlocal_host = localhost\n", &cfg);
	assert_true(cfg.local_ip_set);
	assert_ip(cfg.local_ip, "127.0.0.1");
	cpg_config_free(&cfg);
	option_fails("[NETWORK]\nlocal_host = no-such-host.invalid\n",
		     NAME ":7: local_host: cannot resolve \"no-such-host.invalid\"");

	/* 0.0.0.0 cannot be published: it needs use_local_addr off or an override. */
	option_fails("[NETWORK]\nlocal_host = 0.0.0.0\n",
		     NAME ":7: local_host: 0.0.0.0 needs use_local_addr = no");
	option_fails("[NETWORK]\nlocal_host = 0.0.0.0\nuse_local_addr = yes\n",
		     "local_host: 0.0.0.0 needs");
	option_ok("[NETWORK]\nlocal_host = 0.0.0.0\nuse_local_addr = no\n", &cfg);
	assert_true(cfg.local_ip_set);
	assert_int_equal(cfg.local_ip.s_addr, 0);
	cpg_config_free(&cfg);
	option_ok("[NETWORK]\nlocal_host = 0.0.0.0\noverride_local_addr = 1.2.3.4 5\n", &cfg);
	assert_true(cfg.override_local_addr);
	cpg_config_free(&cfg);
}

static void test_override_local_addr(void **state)
{
	struct cpg_config cfg;
	const char *log;

	option_ok("[NETWORK]\noverride_local_addr = \"10.1.2.3 \t 4000\"\n", &cfg);
	assert_true(cfg.override_local_addr);
	assert_ip(cfg.override_ip, "10.1.2.3");
	assert_int_equal(cfg.override_port, 4000);
	cpg_config_free(&cfg);
	option_ok("[NETWORK]\noverride_local_addr = localhost 65535\n", &cfg);
	assert_ip(cfg.override_ip, "127.0.0.1");
	assert_int_equal(cfg.override_port, 65535);
	cpg_config_free(&cfg);

	option_fails("[NETWORK]\noverride_local_addr = 10.1.2.3\n",
		     NAME ":7: override_local_addr: \"10.1.2.3\" is not \"IP port\"");
	option_fails("[NETWORK]\noverride_local_addr = 10.1.2.3 port\n",
		     "override_local_addr: \"port\" is not an integer");
	option_fails("[NETWORK]\noverride_local_addr = 10.1.2.3 4000 5\n",
		     "override_local_addr: \"4000 5\" is not an integer");
	option_fails("[NETWORK]\noverride_local_addr = 10.1.2.3 0\n",
		     "override_local_addr: 0 is below the minimum 1");
	option_fails("[NETWORK]\noverride_local_addr = 10.1.2.3 65536\n",
		     "override_local_addr: 65536 is above the maximum 65535");
	option_fails("[NETWORK]\noverride_local_addr = no-such-host.invalid 5\n",
		     "override_local_addr: cannot resolve \"no-such-host.invalid\"");

	/* Ignored, even malformed, when use_local_addr is off (as the original). */
	capture_start();
	assert_int_equal(config_parse(MANDATORY "[NETWORK]\nuse_local_addr = no\n"
					"override_local_addr = garbage\n",
				      0, &cfg),
			 0);
	log = capture_end();
	assert_non_null(strstr(log, NAME ":8: override_local_addr: ignored because "
				    "use_local_addr is off"));
	assert_false(cfg.override_local_addr);
	cpg_config_free(&cfg);
}

static void test_vpn_network(void **state)
{
	static const char *const bad_cidr[] = {
		"10.0.0.0", "10.0.0.0/", "10.0.0.0/a", "10.0.0.0/024", "10.0.0.0/2x",
		"10.0.0/24", "x/24", "/24", "10.0.0.0/24/1", "10.0.0.0 /24", "10.0.0.0/-1",
		"10.0.0.0/+8",
	};
	char text[256], msg[256];
	struct cpg_config cfg;
	const char *log;
	size_t i;

	config_ok("[NETWORK]\nserver_host = h\n[VPN]\nvpn_ip = 10.9.8.7\n"
		  "network = 10.0.0.0/8\n",
		  0, &cfg);
	assert_ip(cfg.netmask, "255.0.0.0");
	assert_ip(cfg.broadcast, "10.255.255.255");
	assert_int_equal(cfg.prefix_len, 8);
	cpg_config_free(&cfg);
	config_ok("[NETWORK]\nserver_host = h\n[VPN]\nvpn_ip = 192.168.1.6\n"
		  "network = 192.168.1.4/30\n",
		  0, &cfg);
	assert_ip(cfg.netmask, "255.255.255.252");
	assert_ip(cfg.broadcast, "192.168.1.7");
	cpg_config_free(&cfg);
	config_ok("[NETWORK]\nserver_host = h\n[VPN]\nvpn_ip = 1.2.3.4\nnetwork = 0.0.0.0/0\n",
		  0, &cfg);
	assert_ip(cfg.netmask, "0.0.0.0");
	assert_ip(cfg.broadcast, "255.255.255.255");
	assert_int_equal(cfg.prefix_len, 0);
	cpg_config_free(&cfg);

	/* Host bits are cleared, with a warning. */
	capture_start();
	assert_int_equal(config_parse("[NETWORK]\nserver_host = h\n[VPN]\nvpn_ip = 10.0.0.1\n"
				      "network = 10.0.0.77/24\n",
				      0, &cfg),
			 0);
	log = capture_end();
	assert_non_null(strstr(log, NAME ":5: network: 10.0.0.77/24 has host bits set, "
				    "using 10.0.0.0/24"));
	assert_ip(cfg.network, "10.0.0.0");
	cpg_config_free(&cfg);

	for (i = 0; i < sizeof(bad_cidr) / sizeof(bad_cidr[0]); i++) {
		snprintf(text, sizeof(text),
			 "[NETWORK]\nserver_host = h\n[VPN]\nvpn_ip = 10.0.0.1\nnetwork = %s\n",
			 bad_cidr[i]);
		snprintf(msg, sizeof(msg),
			 NAME ":5: network: \"%s\" is not a network in CIDR notation",
			 bad_cidr[i]);
		config_fails(text, 0, msg);
	}
	config_fails(VPN_HEAD "vpn_ip = 10.0.0.1\nnetwork = 10.0.0.0/33\n",
		     0, NAME ":5: network: prefix length 33 is above 32");
	config_fails(VPN_HEAD "vpn_ip = 10.0.0.1\nnetwork = 10.0.0.0/31\n",
		     0, "network: a /31 network has no room");
	config_fails(VPN_HEAD "vpn_ip = 10.0.0.1\nnetwork = 10.0.0.1/32\n",
		     0, "network: a /32 network has no room");
}

static void test_vpn_ip(void **state)
{
	static const char *const bad_ip[] = { "10.0.0", "10.0.0.256", "10.0.0.1.2", "host",
					      "10.0.0.1/24", "::1", "010.0.0.1x" };
	char text[256], msg[256];
	size_t i;

	for (i = 0; i < sizeof(bad_ip) / sizeof(bad_ip[0]); i++) {
		snprintf(text, sizeof(text),
			 "[NETWORK]\nserver_host = h\n[VPN]\nvpn_ip = %s\nnetwork = 10.0.0.0/24\n",
			 bad_ip[i]);
		snprintf(msg, sizeof(msg), NAME ":4: vpn_ip: \"%s\" is not an IPv4 address",
			 bad_ip[i]);
		config_fails(text, 0, msg);
	}
	config_fails(VPN_HEAD "vpn_ip = 10.0.1.1\nnetwork = 10.0.0.0/24\n",
		     0, NAME ":4: vpn_ip: 10.0.1.1 is outside the network 10.0.0.0/24");
	config_fails(VPN_HEAD "vpn_ip = 10.0.0.0\nnetwork = 10.0.0.0/24\n",
		     0, NAME ":4: vpn_ip: 10.0.0.0 is the network address of 10.0.0.0/24");
	config_fails(VPN_HEAD "vpn_ip = 10.0.0.255\n"
		     "network = 10.0.0.0/24\n",
		     0, NAME ":4: vpn_ip: 10.0.0.255 is the broadcast address of 10.0.0.0/24");
}

static void assert_ip6(struct in6_addr ip, const char *expected)
{
	char buf[INET6_ADDRSTRLEN];

	assert_string_equal(inet_ntop(AF_INET6, &ip, buf, sizeof(buf)), expected);
}

/* Lines 1-5: MANDATORY; vpn_ip6 and network6 follow. */
#define IP6_CONF(ip6, net6) MANDATORY "vpn_ip6 = " ip6 "\nnetwork6 = " net6 "\n"

static void test_vpn_ip6_accepted(void **state)
{
	static const struct {
		const char *ip6, *net6, *want_ip, *want_net;
		unsigned int len;
	} good[] = {
		{ "fd00:cafe::1", "fd00:cafe::/64", "fd00:cafe::1", "fd00:cafe::", 64 },
		{ "FD00:CAFE:0:0::2", "fd00:cafe::/48", "fd00:cafe::2", "fd00:cafe::", 48 },
		{ "2001:db8::3", "2001:db8::/126", "2001:db8::3", "2001:db8::", 126 },
		{ "fd12:3456:789a:1::abcd", "fd12:3456:789a:1::/64", "fd12:3456:789a:1::abcd",
		  "fd12:3456:789a:1::", 64 },
		{ "2001:db8::1", "2000::/3", "2001:db8::1", "2000::", 3 },
		{ "8000::1", "8000::/1", "8000::1", "8000::", 1 },
	};
	char text[512];
	struct cpg_config cfg;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "%svpn_ip6 = %s\nnetwork6 = %s\n", MANDATORY,
			 good[i].ip6, good[i].net6);
		config_ok(text, 0, &cfg);
		assert_true(cpg_config_has_ip6(&cfg));
		assert_ip6(cfg.vpn_ip6, good[i].want_ip);
		assert_ip6(cfg.network6, good[i].want_net);
		assert_int_equal(cfg.prefix_len6, good[i].len);
		/* The IPv4 side is untouched. */
		assert_ip(cfg.vpn_ip, "10.0.0.1");
		cpg_config_free(&cfg);
	}

	/* Neither: a 0.3.5 config, no IPv6. */
	config_ok(MANDATORY, 0, &cfg);
	assert_false(cpg_config_has_ip6(&cfg));
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&cfg.vpn_ip6));
	assert_int_equal(cfg.prefix_len6, 0);
	cpg_config_free(&cfg);
}

static void test_network6_host_bits(void **state)
{
	struct cpg_config cfg;
	const char *log;

	capture_start();
	assert_int_equal(config_parse(IP6_CONF("fd00:cafe::1", "fd00:cafe::77/64"), 0, &cfg), 0);
	log = capture_end();
	assert_non_null(strstr(log, NAME ":7: network6: fd00:cafe::77/64 has host bits set, "
				    "using fd00:cafe::/64"));
	assert_ip6(cfg.network6, "fd00:cafe::");
	cpg_config_free(&cfg);

	/* A prefix length that is not a multiple of 8. */
	capture_start();
	assert_int_equal(config_parse(IP6_CONF("fd00:cafe:ff80::1", "fd00:cafe:ffff::/41"), 0,
				      &cfg),
			 0);
	log = capture_end();
	assert_non_null(strstr(log, "network6: fd00:cafe:ffff::/41 has host bits set, using "
				    "fd00:cafe:ff80::/41"));
	assert_ip6(cfg.network6, "fd00:cafe:ff80::");
	cpg_config_free(&cfg);
}

static void test_vpn_ip6_refused(void **state)
{
	static const char *const bad_ip[] = { "fd00:cafe::g", "fd00::cafe::1", "10.0.0.1",
					      "fd00:cafe::1/64", "fd00:cafe:1:2:3:4:5:6:7",
					      " fd00::1" };
	static const char *const bad_prefix[] = {
		"fd00:cafe::", "fd00:cafe::/", "fd00:cafe::/a", "fd00:cafe::/064", "fd00::/6x",
		"fd00:cafe::g/64", "/64", "fd00::/64/1", "fd00:: /64", "fd00::/-1", "fd00::/+8",
		"10.0.0.0/24", "fd00::/1280",
	};
	static const struct {
		const char *ip6, *net6, *msg;
	} bad[] = {
		{ "fd00:cafe::1", "fd00:cafe::/0", NAME ":7: network6: prefix length 0 is not "
						   "within 1..128" },
		{ "fd00:cafe::1", "fd00:cafe::/129", NAME ":7: network6: prefix length 129 is not "
						     "within 1..128" },
		{ "fd00:cafe::1", "fd00:cafe::/127", NAME ":7: network6: a /127 prefix has no room "
						     "for two VPN addresses (the longest is /126)" },
		{ "fd00:cafe::1", "fd00:cafe::1/128", "network6: a /128 prefix has no room" },
		{ "fd00:beef::1", "fd00:cafe::/64", NAME ":6: vpn_ip6: fd00:beef::1 is outside the "
						    "network fd00:cafe::/64" },
		{ "fd00:cafe::", "fd00:cafe::/64", NAME ":6: vpn_ip6: fd00:cafe:: is the all-zero "
						   "(subnet-router anycast) address of "
						   "fd00:cafe::/64" },
		{ "fe80::1", "fe80::/64", NAME ":6: vpn_ip6: fe80::1 is link-local (fe80::/10)" },
		{ "ff05::1", "ff05::/64", NAME ":6: vpn_ip6: ff05::1 is multicast (ff00::/8)" },
		{ "::1", "::/64", NAME ":6: vpn_ip6: ::1 is the loopback address" },
		{ "::ffff:10.0.0.1", "::ffff:0:0/96", NAME ":6: vpn_ip6: ::ffff:10.0.0.1 is "
						      "IPv4-mapped (::ffff:0:0/96)" },
		{ "::", "::/1", NAME ":6: vpn_ip6: :: is the all-zero (subnet-router anycast) "
				"address of ::/1" },
	};
	char text[512], msg[512];

	for (size_t i = 0; i < sizeof(bad_ip) / sizeof(bad_ip[0]); i++) {
		snprintf(text, sizeof(text), "%svpn_ip6 = \"%s\"\nnetwork6 = fd00::/64\n",
			 MANDATORY, bad_ip[i]);
		snprintf(msg, sizeof(msg), NAME ":6: vpn_ip6: \"%s\" is not an IPv6 address "
			 "(e.g. fd00:cafe::1)", bad_ip[i]);
		config_fails(text, 0, msg);
	}
	for (size_t i = 0; i < sizeof(bad_prefix) / sizeof(bad_prefix[0]); i++) {
		snprintf(text, sizeof(text), "%svpn_ip6 = fd00::1\nnetwork6 = \"%s\"\n", MANDATORY,
			 bad_prefix[i]);
		snprintf(msg, sizeof(msg), NAME ":7: network6: \"%s\" is not an IPv6 prefix "
			 "(e.g. fd00:cafe::/64)", bad_prefix[i]);
		config_fails(text, 0, msg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%svpn_ip6 = %s\nnetwork6 = %s\n", MANDATORY,
			 bad[i].ip6, bad[i].net6);
		config_fails(text, 0, bad[i].msg);
	}

	/* One without the other. */
	config_fails(MANDATORY "vpn_ip6 = fd00::1\n", 0,
		     NAME ":6: vpn_ip6: needs network6, the IPv6 prefix it lies in "
		     "(e.g. fd00:cafe::/64)");
	config_fails(MANDATORY "network6 = fd00::/64\n", 0,
		     NAME ":6: network6: needs vpn_ip6, this peer's IPv6 address inside it");
	/* In another section, it does not count. */
	config_fails(MANDATORY "network6 = fd00::/64\n[CLIENT]\nvpn_ip6 = fd00::1\n", 0,
		     "network6: needs vpn_ip6");
}

static void test_mandatory(void **state)
{
	config_fails("[VPN]\nvpn_ip = 10.0.0.1\nnetwork = 10.0.0.0/24\n", 0,
		     NAME ": [NETWORK] server_host is mandatory");
	config_fails("[NETWORK]\nserver_host = h\n[VPN]\nnetwork = 10.0.0.0/24\n", 0,
		     NAME ": [VPN] vpn_ip is mandatory");
	config_fails(VPN_HEAD "vpn_ip = 10.0.0.1\n", 0,
		     NAME ": [VPN] network is mandatory");
	/* In another section, it does not count. */
	config_fails("[NETWORK]\nserver_host = h\nvpn_ip = 10.0.0.1\n[VPN]\n"
		     "network = 10.0.0.0/24\n",
		     0, "[VPN] vpn_ip is mandatory");
	config_fails("", 0, "[NETWORK] server_host is mandatory");
}

static void test_security(void **state)
{
	struct cpg_config cfg;

	/* Without NEED_SECURITY nothing is needed, but what is given is read. */
	config_ok(MANDATORY "[SECURITY]\ncrl_file = crl.pem\n", 0, &cfg);
	assert_string_equal(cfg.crl_file, "crl.pem");
	assert_null(cfg.certificate);
	cpg_config_free(&cfg);

	config_fails(MANDATORY "[SECURITY]\nkey = k\nca_certificates = ca\n",
		     CPG_CONFIG_NEED_SECURITY, NAME ": [SECURITY] certificate is mandatory");
	config_fails(MANDATORY "[SECURITY]\ncertificate = c\nca_certificates = ca\n",
		     CPG_CONFIG_NEED_SECURITY, NAME ": [SECURITY] key is mandatory");
	config_fails(MANDATORY "[SECURITY]\ncertificate = c\nkey = k\n", CPG_CONFIG_NEED_SECURITY,
		     NAME ": [SECURITY] needs ca_certificates or ca_certificates_dir");

	config_ok(MANDATORY "[SECURITY]\ncertificate = c\nkey = k\nca_certificates_dir = d\n",
		  CPG_CONFIG_NEED_SECURITY, &cfg);
	assert_null(cfg.ca_certificates);
	assert_string_equal(cfg.ca_certificates_dir, "d");
	cpg_config_free(&cfg);
	config_ok(MANDATORY "[SECURITY]\ncertificate = c\nkey = k\nca_certificates = f\n",
		  CPG_CONFIG_NEED_SECURITY, &cfg);
	assert_string_equal(cfg.ca_certificates, "f");
	assert_null(cfg.ca_certificates_dir);
	cpg_config_free(&cfg);
}

static void test_commands(void **state)
{
	struct cpg_config cfg;
	const char *log;

	option_ok("[COMMANDS]\ndefault_up = no\ndefault_down = no\n"
		  "up = first\ndown = d1\nup = \"second %D\"\n[NETWORK]\nlocal_port = 1\n"
		  "[COMMANDS]\nup = third\ndown = d2\n",
		  &cfg);
	assert_int_equal(cfg.n_up, 3);
	assert_string_equal(cfg.up[0], "first");
	assert_string_equal(cfg.up[1], "second %D");
	assert_string_equal(cfg.up[2], "third");
	assert_int_equal(cfg.n_down, 2);
	assert_string_equal(cfg.down[0], "d1");
	assert_string_equal(cfg.down[1], "d2");
	cpg_config_free(&cfg);

	/* Expansion works on up and down as on any value. */
	option_ok("[COMMANDS]\ndefault_up = no\nip = /sbin/ip\nup = ${ip} link set %D up\n",
		  &cfg);
	assert_int_equal(cfg.n_up, 1);
	assert_string_equal(cfg.up[0], "/sbin/ip link set %D up");
	cpg_config_free(&cfg);

	/* With the default commands on, up/down are kept but will not run: say so. */
	capture_start();
	assert_int_equal(config_parse(MANDATORY "[COMMANDS]\nup = x\ndown = y\n", 0, &cfg), 0);
	log = capture_end();
	assert_non_null(strstr(log, NAME ":7: up: not run because default_up is on"));
	assert_non_null(strstr(log, NAME ":8: down: not run because default_down is on"));
	assert_int_equal(cfg.n_up, 1);
	assert_int_equal(cfg.n_down, 1);
	cpg_config_free(&cfg);
}

static void test_unknown_section_and_key(void **state)
{
	struct cpg_config cfg;
	const char *log;

	capture_start();
	assert_int_equal(config_parse(MANDATORY "[NETWORK]\nmtu = 1400\n"
					"[FOO]\na = 1\nb = 2\n[network]\nserver_port = 1\n",
				      0, &cfg),
			 0);
	log = capture_end();
	assert_non_null(strstr(log, NAME ":7: unknown key \"mtu\" in [NETWORK], ignored"));
	assert_non_null(strstr(log, NAME ":9: unknown section [FOO], ignored"));
	assert_non_null(strstr(log, NAME ":12: unknown section [network], ignored"));
	assert_int_equal(count_lines(log), 3);
	/* Ignored means ignored. */
	assert_int_equal(cfg.tun_mtu, 1419);
	assert_int_equal(cfg.server_port, 57888);
	cpg_config_free(&cfg);
}

/* A key used as ${key} is a helper variable, not an unknown key. */
static void test_helper_variables(void **state)
{
	struct cpg_config cfg;
	const char *log;

	capture_start();
	assert_int_equal(config_parse(MANDATORY "[SECURITY]\n"
					"basedir = /etc/campagnol\n"
					"basedir = /etc/cpg\n"
					"certificate = ${basedir}/cert.pem\n"
					"unused = x\n"
					"[CLIENT]\n"
					"basedir = y\n",
				      0, &cfg),
			 0);
	log = capture_end();
	assert_non_null(strstr(log, NAME ":10: unknown key \"unused\" in [SECURITY], ignored"));
	assert_non_null(strstr(log, NAME ":12: unknown key \"basedir\" in [CLIENT], ignored"));
	assert_int_equal(count_lines(log), 2);
	assert_string_equal(cfg.certificate, "/etc/cpg/cert.pem");
	cpg_config_free(&cfg);
}

static void test_free_is_safe(void **state)
{
	struct cpg_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cpg_config_free(&cfg);
	cpg_config_defaults(&cfg);
	cpg_config_free(&cfg);
	cpg_config_free(&cfg);	/* zeroed by the first */

	/* A load that fails late, after strings and commands were allocated. */
	capture_start();
	assert_int_equal(config_parse("[NETWORK]\nserver_host = h\ninterface = eth0\n"
				      "[SECURITY]\ncertificate = c\n"
				      "[COMMANDS]\ndefault_up = no\nup = a\nup = b\n"
				      "[VPN]\nvpn_ip = 10.0.0.1\nnetwork = 10.0.0.0/24\n",
				      CPG_CONFIG_NEED_SECURITY, &cfg),
			 -1);
	capture_end();
	assert_null(cfg.server_host);
	assert_null(cfg.up);
	cpg_config_free(&cfg);
}

/* ---- Files ---- */

#define TEMP_TEMPLATE "/tmp/test_conf.XXXXXX"

/*
 * cpg_config_load() on len bytes of text in a temporary file, removed before
 * the caller asserts anything. path receives the file's name. Output is
 * captured; capture_end() was called.
 */
static int load_temp(const char *text, size_t len, unsigned int need, struct cpg_config *cfg,
		     char path[sizeof(TEMP_TEMPLATE)])
{
	int fd, ret;

	strcpy(path, TEMP_TEMPLATE);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	if (text)
		assert_int_equal(write(fd, text, len), (ssize_t)len);
	else
		assert_int_equal(ftruncate(fd, (off_t)len), 0);
	close(fd);
	capture_start();
	ret = cpg_config_load(path, need, cfg);
	unlink(path);
	capture_end();
	return ret;
}

/* Campagnol 0.3.5's sample client/campagnol.conf, with the same options set. */
static const char original_sample[] =
	"#\n"
	"# The original sample configuration: the same options, comments rewritten.\n"
	"#\n"
	"\n"
	"[NETWORK]\n"
	"# Leave local_host unset to detect the address.\n"
	"#local_host = 192.168.0.4\n"
	"#local_host = 0.0.0.0\n"
	"#local_port=44556\n"
	"#use_local_addr = no\n"
	"#override_local_addr = 172.16.17.17 23456\n"
	"# The rendez-vous server (mandatory).\n"
	"server_host = 192.168.0.1\n"
	"#server_port = 34567\n"
	"#tun_mtu = 1400\n"
	"#interface = eth0\n"
	"#tun_device = \"Local Area Connection 3\"\n"
	"#tap_id = \"tap0801\"\n"
	"\n"
	"\n"
	"[VPN]\n"
	"# Our address on the VPN, and the VPN (same on every peer).\n"
	"vpn_ip = 10.0.0.1\n"
	"network=10.0.0.0/24\n"
	"\n"
	"\n"
	"[SECURITY]\n"
	"certificate = ./box1/certificate.pem\n"
	"key = ./box1/key.pem\n"
	"ca_certificates = ./box1/cacert.pem\n"
	"#ca_certificates_dir = ./box1/root_certs/\n"
	"crl_file = ./box1/crl.pem\n"
	"#verify_depth = 1\n"
	"#cipher_list = RSA+HIGH:@STRENGTH\n"
	"#cipher_list = CAMELLIA128-SHA\n"
	"#cipher_list = NULL\n"
	"\n"
	"\n"
	"[CLIENT]\n"
	"#fifo_size=50\n"
	"#txqueue=100\n"
	"#tun_one_queue=yes\n"
	"#client_max_rate = 500\n"
	"#connection_max_rate = 100\n"
	"#timeout = 120\n"
	"#keepalive = 30\n"
	"#max_clients = 20\n"
	"\n"
	"\n"
	"[COMMANDS]\n"
	"#default_up = no\n"
	"#default_down = no\n"
	"#up = \"echo configuring %D!\"\n"
	"#up = \"ifconfig %D %V mtu %M up\"\n"
	"#up = \"ip route replace %N via %V || route add -net %N gw %V\"\n"
	"#down = \"echo closing %D!\"\n";

static void check_original_sample(const struct cpg_config *cfg)
{
	assert_false(cfg->local_ip_set);
	assert_string_equal(cfg->server_host, "192.168.0.1");
	assert_int_equal(cfg->server_port, 57888);
	assert_ip(cfg->vpn_ip, "10.0.0.1");
	assert_ip(cfg->network, "10.0.0.0");
	assert_ip(cfg->netmask, "255.255.255.0");
	assert_ip(cfg->broadcast, "10.0.0.255");
	assert_string_equal(cfg->certificate, "./box1/certificate.pem");
	assert_string_equal(cfg->key, "./box1/key.pem");
	assert_string_equal(cfg->ca_certificates, "./box1/cacert.pem");
	assert_null(cfg->ca_certificates_dir);
	assert_string_equal(cfg->crl_file, "./box1/crl.pem");
	assert_int_equal(cfg->tun_mtu, 1419);
	assert_int_equal(cfg->n_up, 0);
}

static void test_original_sample(void **state)
{
	struct cpg_config cfg;

	config_ok(original_sample, CPG_CONFIG_NEED_SECURITY, &cfg);
	check_original_sample(&cfg);
	cpg_config_free(&cfg);
}

static void test_load_file(void **state)
{
	static const char bad_value[] = "[NETWORK]\nserver_host = h\ntun_mtu = 100\n";
	static const char bad_syntax[] = "[NETWORK\n";
	char path[sizeof(TEMP_TEMPLATE)];
	struct cpg_config cfg;
	char msg[128];

	assert_int_equal(load_temp(original_sample, strlen(original_sample),
				   CPG_CONFIG_NEED_SECURITY, &cfg, path),
			 0);
	assert_string_equal(captured, "");
	check_original_sample(&cfg);
	cpg_config_free(&cfg);

	/* Errors name the file. */
	assert_int_equal(load_temp(bad_value, strlen(bad_value), 0, &cfg, path), -1);
	snprintf(msg, sizeof(msg), "%s:3: tun_mtu: 100 is below the minimum 150", path);
	assert_non_null(strstr(captured, msg));
	cpg_config_free(&cfg);

	/* A syntax error: cfg was never filled, yet is safe to free. */
	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_equal(load_temp(bad_syntax, strlen(bad_syntax), 0, &cfg, path), -1);
	snprintf(msg, sizeof(msg), "%s:1: missing ']'", path);
	assert_non_null(strstr(captured, msg));
	cpg_config_free(&cfg);

	/* Too large: a sparse file one byte over the limit. */
	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_equal(load_temp(NULL, 1024 * 1024 + 1, 0, &cfg, path), -1);
	assert_non_null(strstr(captured, "larger than 1048576 bytes"));
	cpg_config_free(&cfg);

	/* Not a regular file. */
	memset(&cfg, 0xa5, sizeof(cfg));
	capture_start();
	assert_int_equal(cpg_config_load("/", 0, &cfg), -1);
	assert_non_null(strstr(capture_end(), "/: Is a directory"));
	cpg_config_free(&cfg);

	/* A missing file. */
	memset(&cfg, 0xa5, sizeof(cfg));
	capture_start();
	assert_int_equal(cpg_config_load("/nonexistent/campagnol.conf", 0, &cfg), -1);
	assert_non_null(strstr(capture_end(),
			       "/nonexistent/campagnol.conf: No such file or directory"));
	cpg_config_free(&cfg);
}

/* docs/campagnol.conf.example, next to this source, loads cleanly. */
static void test_example_file(void **state)
{
	const char *src = __FILE__;
	const char *tail = strstr(src, "userspace/tests/test_conf.c");
	struct cpg_config cfg;
	char path[4096];

	if (!tail || src[0] != '/')
		skip();
	snprintf(path, sizeof(path), "%.*sdocs/campagnol.conf.example", (int)(tail - src), src);
	if (access(path, R_OK) != 0)
		skip();
	capture_start();
	assert_int_equal(cpg_config_load(path, CPG_CONFIG_NEED_SECURITY, &cfg), 0);
	assert_string_equal(capture_end(), "");
	assert_string_equal(cfg.server_host, "rdv.example.org");
	assert_string_equal(cfg.certificate, "/etc/campagnol/certificate.pem");
	assert_string_equal(cfg.ca_certificates, "/etc/campagnol/cacert.pem");
	cpg_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sections_and_keys),
		cmocka_unit_test(test_empty_input),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_multiline),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_escaped_names),
		cmocka_unit_test(test_expansion),
		cmocka_unit_test(test_expansion_errors),
		cmocka_unit_test(test_expansion_bomb),
		cmocka_unit_test(test_repeated_keys),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_error_message_is_one_line),
		cmocka_unit_test(test_bool_spellings),
		cmocka_unit_test(test_bool_options),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_minimal_config),
		cmocka_unit_test(test_every_option),
		cmocka_unit_test(test_last_wins),
		cmocka_unit_test(test_control_socket),
		cmocka_unit_test(test_integer_bounds),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_data_plane),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_local_host),
		cmocka_unit_test(test_override_local_addr),
		cmocka_unit_test(test_vpn_network),
		cmocka_unit_test(test_vpn_ip),
		cmocka_unit_test(test_vpn_ip6_accepted),
		cmocka_unit_test(test_network6_host_bits),
		cmocka_unit_test(test_vpn_ip6_refused),
		cmocka_unit_test(test_mandatory),
		cmocka_unit_test(test_security),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_unknown_section_and_key),
		cmocka_unit_test(test_helper_variables),
		cmocka_unit_test(test_free_is_safe),
		cmocka_unit_test(test_original_sample),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_example_file),
	};

	cpg_log_init("test_conf", LOG_INFO, false);
	return cmocka_run_group_tests(tests, NULL, capture_teardown);
}
