/*
 * http.h - the node's read-only HTTP server ([http] listen, DESIGN §10):
 * Prometheus metrics, the rollup, tree and status as JSON or CSV, and a
 * dashboard page, all from the typed read services (svc.h) rendered by
 * the same functions jzfpctl uses (render.h).
 *
 *   GET /metrics                 Prometheus text exposition (metrics.c)
 *   GET /api/status              = jzfpctl status --json
 *   GET /api/tree                = jzfpctl tree --json
 *   GET /api/rollup?level=&under=&year=&format=json|csv
 *                                = jzfpctl rollup --json / --format csv
 *   GET /api/proposals?state=&under=
 *                                = jzfpctl proposals --json (household ids,
 *                                  kinds, states, dates, counts)
 *   GET /                        the dashboard (dashboard.c)
 *
 * Each request runs on one of libmicrohttpd's threads and calls the read
 * services directly, as a reader thread does: its own LMDB read
 * transaction and the published view, never the loop's state, so a slow
 * client never holds up replication. Nothing personal is served: no route
 * answers a member, a name or an ID number. Anything but GET or HEAD of a
 * known path is 404 or 405; connections, connections per IP, request
 * memory, idle time and the memory of answers being sent are limited.
 */
#ifndef JZFP_HTTP_H
#define JZFP_HTTP_H

#include <stddef.h>

struct store;
struct config;
struct ident;
struct control;
struct http;

/*
 * Bind LISTEN ("127.0.0.1:8080", "[::1]:8080"; port 0 = any free port)
 * exactly, write the bound address (port resolved) into BOUND of BOUNDLEN
 * bytes, then start serving from ST, CFG, ID and the view of CTL, which
 * must outlive the server (BOUND may be a field of CFG: it is written
 * before any server thread starts). ERR receives a one-line reason on
 * failure. Returns 0 or an error.
 */
int http_open(struct http **out, const char *listen, char *bound, size_t boundlen, struct store *st,
              const struct config *cfg, const struct ident *id, struct control *ctl, char *err,
              size_t errlen);

/* The bound address, port resolved: "127.0.0.1:43117". */
const char *http_bound(const struct http *h);

/* Stop serving (waits for requests in progress) and free. Accepts NULL. */
void http_close(struct http **h);

#endif
