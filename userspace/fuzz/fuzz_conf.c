// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * campagnol.conf: the INI reader, then every option's parser and the
 * checks between options, as the daemon loads it (certificates required).
 * Files are read by name only after parsing succeeds, and the names in
 * the seeds point nowhere.
 */
#include <netdb.h>
#include <string.h>

#include "conf.h"
#include "ini.h"
#include "fuzz.h"

/*
 * Host names (server_host, override_local_addr) resolve to nothing here:
 * a fuzzer must not ask DNS servers, and the answer must not depend on
 * the machine. This one wins over the C library's when linked.
 */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	return EAI_NONAME;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cpg_config cfg;
	struct cpg_ini ini;

	memset(&cfg, 0, sizeof(cfg));
	if (cpg_ini_parse_buffer("fuzz.conf", (const char *)data, size, &ini))
		return 0;
	if (cpg_config_from_ini("fuzz.conf", &ini, CPG_CONFIG_NEED_SECURITY, &cfg) == 0)
		cpg_config_free(&cfg);
	cpg_ini_free(&ini);
	return 0;
}
