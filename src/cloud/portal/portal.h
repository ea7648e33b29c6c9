/*
 * portal.h - kumod's web portal (docs/portal.md): the single-page app of
 * web/ (embedded in kumod at build time, portal/assets.h), sign-in with the
 * API token into a server-side session held by an HttpOnly, SameSite=Strict
 * cookie, CSRF and Origin checks on every change a session makes, a strict
 * Content-Security-Policy, and the VM's serial console over a WebSocket
 * (portal/console.h).
 *
 * portal_handle is kumod's http_handler. It answers /, /portal and
 * /portal/... itself:
 *   /portal/assets/...         the app's files (immutable: their names hold a hash)
 *   /portal/api/session        GET (who am I, the CSRF token), POST {"token"}
 *                              (sign in), DELETE (sign out)
 *   /portal/api/console/RG/VM  WebSocket: the VM's serial console
 *   /portal/anything-else      the app's index.html (its own routes)
 * and hands every other request to api_handle (api.h). A request there
 * with the session cookie and no Authorization header is checked here
 * (Host, session, and for anything but GET/HEAD the Origin and the
 * X-CSRF-Token header) and reaches api_handle with rq->session_auth set, or
 * is refused here with the API's error format (401 Unauthorized, 403
 * Forbidden).
 */
#ifndef KUMO_CLOUD_PORTAL_H
#define KUMO_CLOUD_PORTAL_H

#include "cloud/http.h"
#include "cloud/kumod.h"

struct portal;

/* The portal of k (k->cfg.portal_origin: the public origin behind a
 * proxy, "" for none). NULL when out of memory. */
struct portal *portal_start(struct kumod *k);
/* With k->stopping set: wait (up to a second) until the consoles' bridges
 * have told their browsers and closed, so that http_stop finds no upgraded
 * connection. */
void portal_quiesce(struct portal *p);
void portal_stop(struct portal *p);

/* The http_handler of kumod (ctx = struct kumod *, whose `portal` may be
 * NULL: then every request goes to api_handle as before). */
void portal_handle(void *ctx, const struct http_request *rq, struct http_response *rs);
/* Its http_authorize (http.h), decided on the headers before any body is
 * read: the portal's own paths (the app, sign-in; they check themselves),
 * a request with a live session cookie and no Authorization header, or
 * else api_authorized. */
bool portal_authorized(void *ctx, const struct http_request *rq);

#endif
