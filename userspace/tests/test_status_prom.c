/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of the Prometheus text format and of status answers as metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "prom.h"
#include "status_answer.h"
#include "status_prom.h"

/* What call wrote to out, into text (NUL-terminated, to free). */
#define CAPTURE(text, call) do {						\
	size_t len_ = 0;							\
	FILE *out = open_memstream(&(text), &len_);				\
										\
	assert_non_null(out);							\
	call;									\
	assert_int_equal(fclose(out), 0);					\
} while (0)

static void label_values_escaped(void **state)
{
	char *text = NULL;

	(void)state;
	CAPTURE(text, cpg_prom_label_value(out, "a\\b\"c\nd e"));
	assert_string_equal(text, "\"a\\\\b\\\"c\\nd e\"");
	free(text);
}

static void samples_and_families(void **state)
{
	struct cpg_prom_label labels[] = {
		{ "interface", "tun0" }, { "cn", NULL }, { "peer", "10.0.0.2" },
	};
	char *text = NULL;

	(void)state;
	CAPTURE(text, {
		cpg_prom_family(out, "x_total", "counter", "Back\\slash,\nnewline \"quoted\".");
		cpg_prom_sample(out, "x_total", labels, 3, 42);
		cpg_prom_sample(out, "x_total", NULL, 0, 0);
		cpg_prom_sample_milli(out, "y_seconds", labels, 1, 1234567);
		cpg_prom_sample_milli(out, "y_seconds", NULL, 0, 5);
	});
	assert_string_equal(text,
			    "# HELP x_total Back\\\\slash,\\nnewline \"quoted\".\n"
			    "# TYPE x_total counter\n"
			    "x_total{interface=\"tun0\",peer=\"10.0.0.2\"} 42\n"
			    "x_total 0\n"
			    "y_seconds{interface=\"tun0\"} 1234.567\n"
			    "y_seconds 0.005\n");
	free(text);
}

static void subject_cns(void **state)
{
	char cn[32];

	(void)state;
	assert_string_equal(status_prom_subject_cn("CN=alice,O=Example", cn, sizeof(cn)), "alice");
	assert_string_equal(status_prom_subject_cn("O=Ex\\,ample,CN=bob\\, jr", cn, sizeof(cn)),
			    "bob, jr");
	assert_string_equal(status_prom_subject_cn("CN=\\C3\\A9t\\C3\\A9", cn, sizeof(cn)),
			    "\xc3\xa9t\xc3\xa9");
	assert_string_equal(status_prom_subject_cn("O=x+CN=y", cn, sizeof(cn)), "y");
	assert_null(status_prom_subject_cn("O=CN\\=x", cn, sizeof(cn)));
	assert_null(status_prom_subject_cn("CN=", cn, sizeof(cn)));
	assert_null(status_prom_subject_cn("CN=far-too-long-for-the-buffer-given", cn, 8));
}

static const char answer_text[] =
	"campagnol version=0.4.0 format=1 pid=1\n"
	"interface device=tun0 registered=yes peers=2 max_peers=100 tunnels_up=3 "
	"registrations=1 rdv_rtt_ms=12 drop_full=7\n"
	"peer vpn_ip=10.0.0.2 path=relayed state=established rx_bytes=840 rx_packets=10 "
	"drop_replay=2 handshakes=2 last_rekey=100 subject=O=Ex,CN=a%5C%22b%5C%5Cc\n"
	"peer vpn_ip=10.0.0.3 state=handshaking\n"
	"end\n";

static void answer_as_metrics(void **state)
{
	struct status_answer a;
	const char *why = NULL;
	char *text = NULL;

	(void)state;
	assert_int_equal(status_answer_parse(&a, strdup(answer_text), &why), 0);
	CAPTURE(text, status_prom_write(out, &a, 1, 1000000));
	status_answer_free(&a);
	/* One HELP per family, before its samples. */
	assert_non_null(strstr(text, "# TYPE campagnol_tunnels_up gauge\n"
				     "campagnol_tunnels_up{interface=\"tun0\"} 1\n"));
	assert_non_null(strstr(text, "campagnol_rdv_rtt_seconds{interface=\"tun0\"} 0.012\n"));
	assert_non_null(strstr(text, "campagnol_dropped_total{interface=\"tun0\",reason=\"full\"} 7\n"));
	assert_non_null(strstr(text, "campagnol_peer_received_bytes_total{interface=\"tun0\","
				     "peer=\"10.0.0.2\",cn=\"a\\\"b\\\\c\"} 840\n"));
	assert_non_null(strstr(text, "campagnol_peer_dropped_packets_total{interface=\"tun0\","
				     "peer=\"10.0.0.2\",cn=\"a\\\"b\\\\c\",reason=\"replay\"} 2\n"));
	assert_non_null(strstr(text, "campagnol_peer_relayed{interface=\"tun0\",peer=\"10.0.0.2\","
				     "cn=\"a\\\"b\\\\c\"} 1\n"));
	assert_non_null(strstr(text, "campagnol_peer_up{interface=\"tun0\",peer=\"10.0.0.3\"} 0\n"));
	assert_non_null(strstr(text, "campagnol_peer_last_handshake_timestamp_seconds{"
				     "interface=\"tun0\",peer=\"10.0.0.2\",cn=\"a\\\"b\\\\c\"} "
				     "999900\n"));
	/* Not up: no handshake count, no path. */
	assert_null(strstr(text, "campagnol_peer_handshakes_total{interface=\"tun0\","
				 "peer=\"10.0.0.3\""));
	assert_null(strstr(text, "campagnol_peer_relayed{interface=\"tun0\",peer=\"10.0.0.3\""));
	/* The drops by reason: one family, one HELP. */
	assert_null(strstr(strstr(text, "# HELP campagnol_peer_dropped_packets_total") + 1,
			   "# HELP campagnol_peer_dropped_packets_total"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(label_values_escaped),
		cmocka_unit_test(samples_and_families),
		cmocka_unit_test(subject_cns),
		cmocka_unit_test(answer_as_metrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
