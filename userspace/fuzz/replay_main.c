// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * A harness without libFuzzer: runs LLVMFuzzerTestOneInput() once on each
 * file named, or on each file of each directory named, so that every
 * build (the sanitizers' included) replays the seed corpora and the
 * inputs that once found a bug. Fails when it finds no input at all: a
 * corpus that went missing is not a pass.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t size = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (size == cap) {
			uint8_t *bigger = realloc(buf, cap = cap ? 2 * cap : 4096);

			if (!bigger) {
				fprintf(stderr, "%s: out of memory\n", path);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = bigger;
		}
		n = fread(buf + size, 1, cap - size, f);
		size += n;
	} while (n);
	if (ferror(f)) {
		fprintf(stderr, "%s: read error\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, size);
	free(buf);
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Each regular file of dir, in name order; the count, or -1. */
static int replay_dir(const char *dir)
{
	struct dirent *e;
	char **names = NULL, path[4096];
	size_t n = 0, i;
	int count = 0;
	DIR *d = opendir(dir);

	if (!d) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		char **more;

		if (e->d_name[0] == '.')
			continue;
		more = realloc(names, (n + 1) * sizeof(*names));
		if (!more || !(more[n] = strdup(e->d_name))) {
			fprintf(stderr, "%s: out of memory\n", dir);
			names = more ? more : names;
			count = -1;
			break;
		}
		names = more;
		n++;
	}
	closedir(d);
	if (names)
		qsort(names, n, sizeof(*names), compare_names);
	for (i = 0; i < n; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (count >= 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode))
			count = replay_file(path) ? -1 : count + 1;
		free(names[i]);
	}
	free(names);
	return count;
}

int main(int argc, char **argv)
{
	int total = 0, i;

	LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		struct stat st;
		int n;

		if (stat(argv[i], &st)) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]) ? -1 : 1;
		if (n < 0)
			return 1;
		total += n;
	}
	if (!total) {
		fprintf(stderr, "%s: no input to replay\n", argv[0]);
		return 1;
	}
	printf("%s: %d inputs replayed\n", argv[0], total);
	return 0;
}
