/* SPDX-License-Identifier: GPL-3.0-or-later */
/* GET /metrics over evhttp (prom_http.h). */
#include "prom_http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "log.h"
#include "prom.h"
#include "sockaddr.h"

/* A scraper that stalls is dropped after this long. */
#define HTTP_TIMEOUT_S 10
/* Scrapers at once: a few, the listen backlog. */
#define HTTP_BACKLOG 16

struct cpg_prom_http {
	struct evhttp *http;
	cpg_prom_write_fn write;
	void *arg;
};

int cpg_prom_http_listen(const char *what, const char *spec)
{
	union cpg_sockaddr addr;
	char str[CPG_SOCKADDR_STRLEN];
	int fd, one = 1;

	if (cpg_sockaddr_parse(spec, 0, &addr) || !cpg_sockaddr_port(&addr)) {
		log_err("invalid %s '%s': expected ADDR:PORT or [ADDR6]:PORT", what, spec);
		return -1;
	}
	fd = socket(addr.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		log_err("%s %s: socket: %m", what, spec);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, &addr.sa, cpg_sockaddr_len(&addr)) < 0 || listen(fd, HTTP_BACKLOG) < 0) {
		log_err("cannot listen for metrics on %s (%s): %m", spec, what);
		close(fd);
		return -1;
	}
	log_notice("metrics: http://%s/metrics", cpg_sockaddr_str(&addr, str, sizeof(str)));
	return fd;
}

/* The whole text, written into memory first: the write functions take a FILE. */
static void answer_metrics(struct evhttp_request *req, struct cpg_prom_http *h)
{
	struct evbuffer *body = evbuffer_new();
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (out) {
		h->write(out, h->arg);
		if (fclose(out))
			len = 0;
	}
	if (!body || !text || !len || evbuffer_add(body, text, len) < 0) {
		log_warn("metrics: out of memory for an answer");
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
	} else {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  CPG_PROM_CONTENT_TYPE);
		evhttp_send_reply(req, HTTP_OK, "OK", body);
	}
	if (body)
		evbuffer_free(body);
	free(text);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

	if (!path || strcmp(path, "/metrics")) {
		evhttp_send_error(req, HTTP_NOTFOUND, "Only /metrics is here");
		return;
	}
	answer_metrics(req, arg);
}

struct cpg_prom_http *cpg_prom_http_new(struct cpg_loop *loop, int fd, cpg_prom_write_fn write,
					void *arg)
{
	struct cpg_prom_http *h = calloc(1, sizeof(*h));

	if (!h || !(h->http = evhttp_new(loop->base))) {
		log_err("metrics: out of memory");
		free(h);
		close(fd);
		return NULL;
	}
	h->write = write;
	h->arg = arg;
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(h->http, HTTP_TIMEOUT_S);
	evhttp_set_gencb(h->http, on_request, h);
	if (!evhttp_accept_socket_with_handle(h->http, fd)) {
		log_err("metrics: cannot serve HTTP (libevent %s)", event_get_version());
		close(fd);
		cpg_prom_http_free(h);
		return NULL;
	}
	return h;
}

void cpg_prom_http_free(struct cpg_prom_http *h)
{
	if (!h)
		return;
	/* evhttp_free() closes the sockets it accepted on. */
	evhttp_free(h->http);
	free(h);
}
