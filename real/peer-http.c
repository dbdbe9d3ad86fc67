/* peer-http.c — the seeds' HTTP API for minibit-peer (libsoup-3, json-glib).
 *
 *   POST /store_file {"filename": PATH}      store a file on the ring
 *   POST /fetch_file {"filename": NAME}      fetch it into DATA_DIR/downloads/
 *   POST /store_chunk {"hash", "data"(base64)}    POST /store_manifest {manifest}
 *   POST /update_manifest {"filename", "peer"[, "chunks"]}
 *   GET  /get_chunk/<hash>   GET /get_manifest/<filename>
 *   GET  /ping  {"status":"ok","peer":SELF_ID,"addr":our ring name,"members":N,
 *                "view":[member names],"chunks":N,"manifests":N}
 *   GET  /status  GET /metrics   what the peer is doing, and its counters
 *                (peer-observe.c; open like /ping)
 *   POST /shutdown           graceful shutdown; answers with the report
 *   MiniBit's POST /request_block, /have_blocks_info, /announce_block
 *
 * Every answer is JSON (but get_chunk's bytes).  Bad JSON, missing fields:
 * 400; a body too large: 413; a path outside DATA_DIR and MINIBIT_SHARE_DIRS:
 * 403; store_file's source is opened once beneath them, through no symbolic
 * link, and read with pread (safe-open.h): a link, FIFO, device or folder
 * is 400, a file that changed while it was read 409; store_file, fetch_file and shutdown only from loopback unless the
 * request carries "Authorization: Bearer $MINIBIT_TOKEN"; store_chunk,
 * store_manifest and update_manifest need that token when one is set, and
 * are loopback-only when none is (http-auth.h).  Requests meant for
 * the ring's server side go through the core as from pseudo nodes
 * (gateway.h), so HTTP and the wire share one set of rules; nothing stored
 * changes on a refusal.
 */
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "content/chunk.h"
#include "http-auth.h"
#include "json-fields.h"
#include "safe-open.h"
#define MB_REAL_PEER_INTERNAL
#include "peer-private.h"

#define SMALL_BODY (64 * 1024)
#define CHUNK_BODY (24 * 1024 * 1024)
#define MANIFEST_BODY (1024 * 1024)

/* ---- requests ---- */

/* The body as a JSON object, or NULL (answered: 413 or 400). */
static JsonObject *
parse_body (SoupServerMessage *msg, gsize limit, JsonParser **parser_out)
{
  g_autoptr (GError) err = NULL;
  JsonObject *o = mb_gateway_read_object (msg, limit, parser_out, &err);
  if (o)
    return o;
  if (g_error_matches (err, MB_GATEWAY_ERROR, MB_GATEWAY_ERROR_TOO_LARGE))
    mb_gateway_reply_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "request body too large");
  else if (g_error_matches (err, MB_GATEWAY_ERROR, MB_GATEWAY_ERROR_REFUSED))
    mb_gateway_reply_error (msg, SOUP_STATUS_BAD_REQUEST, err->message);
  else
    {
      gboolean parse = g_error_matches (err, MB_GATEWAY_ERROR, MB_GATEWAY_ERROR_NOT_JSON);
      g_autofree gchar *what = g_strdup_printf ("the body is not a JSON object%s%s",
                                                parse ? ": " : "", parse ? err->message : "");
      mb_gateway_reply_error (msg, SOUP_STATUS_BAD_REQUEST, what);
    }
  return NULL;
}

/* The non-empty string field, or NULL (answered: 400 naming it). */
static const char *
get_string (SoupServerMessage *msg, JsonObject *o, const char *field)
{
  g_autoptr (GError) err = NULL;
  const char *v = mb_json_fields_string (o, field, &err);
  if (!v)
    mb_gateway_reply_error (msg, SOUP_STATUS_BAD_REQUEST, err->message);
  return v;
}

/* FALSE if err is set (answered: 400 with its message). */
static gboolean
field_ok (SoupServerMessage *msg, GError *err)
{
  if (err == NULL)
    return TRUE;
  mb_gateway_reply_error (msg, SOUP_STATUS_BAD_REQUEST, err->message);
  return FALSE;
}

/* TRUE if msg may go on under rule (http-auth.h); else answered 403. */
static gboolean
authorized (MbPeerApp *app, SoupServerMessage *msg, MbHttpAuthRule rule)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  GInetAddress *ia = G_IS_INET_SOCKET_ADDRESS (remote)
    ? g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)) : NULL;
  const char *auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                   "Authorization");
  const char *why = NULL;
  if (mb_http_auth_check (rule, ia, auth, app->cfg.token, &why))
    return TRUE;
  mb_gateway_reply_error (msg, SOUP_STATUS_FORBIDDEN, why);
  return FALSE;
}

/* store_file's source, opened safely beneath DATA_DIR or a share dir
 * (safe-open.h): its descriptor and absolute path, or -1 (answered: 403
 * outside or denied, 404 missing, 400 a link, FIFO, device or folder).
 * The seed's "/app/data/..." means DATA_DIR. */
static int
open_source (MbPeerApp *app, SoupServerMessage *msg, const char *filename, struct stat *st,
             gchar **opened)
{
  g_autofree gchar *path = g_str_has_prefix (filename, "/app/data/")
    ? g_build_filename (app->cfg.data_dir, filename + strlen ("/app/data/"), NULL)
    : g_strdup (filename);
  g_autoptr (GPtrArray) roots = g_ptr_array_new ();
  g_ptr_array_add (roots, app->cfg.data_dir);
  for (guint i = 0; app->cfg.share_dirs[i]; i++)
    g_ptr_array_add (roots, app->cfg.share_dirs[i]);
  g_ptr_array_add (roots, NULL);
  g_autoptr (GError) err = NULL;
  int fd = mb_safe_open_beneath ((const char *const *) roots->pdata, path, MB_SAFE_OPEN_AUTO, st,
                                 opened, &err);
  if (fd >= 0)
    return fd;
  guint status = err->code == MB_SAFE_OPEN_ERROR_OUTSIDE ? SOUP_STATUS_FORBIDDEN
                 : err->code == MB_SAFE_OPEN_ERROR_DENIED ? SOUP_STATUS_FORBIDDEN
                 : err->code == MB_SAFE_OPEN_ERROR_NOT_FOUND ? SOUP_STATUS_NOT_FOUND
                 : err->code == MB_SAFE_OPEN_ERROR_SYMLINK ? SOUP_STATUS_BAD_REQUEST
                 : err->code == MB_SAFE_OPEN_ERROR_NOT_REGULAR ? SOUP_STATUS_BAD_REQUEST
                                                               : SOUP_STATUS_INTERNAL_SERVER_ERROR;
  g_autofree gchar *what = err->code == MB_SAFE_OPEN_ERROR_OUTSIDE
    ? g_strdup_printf ("%s (only DATA_DIR, %s, and MINIBIT_SHARE_DIRS)", err->message,
                       app->cfg.data_dir)
    : g_strdup (err->message);
  mb_gateway_reply_error (msg, status, what);
  return -1;
}

typedef struct {
  MbPeerApp *app;
  SoupServerMessage *msg;
  gchar *name;
  GBytes *shared;  /* store_file: the file's bytes, shared with the store */
  gint64 t0;       /* monotonic µs when the request came */
} Pending;

static Pending *
pending_new (MbPeerApp *app, SoupServerMessage *msg, const char *name)
{
  Pending *p = g_new0 (Pending, 1);
  p->app = app;
  p->msg = g_object_ref (msg);
  p->name = g_strdup (name);
  p->t0 = g_get_monotonic_time ();
  soup_server_message_pause (msg);
  return p;
}

static void
pending_done (Pending *p)
{
  if (p->shared)
    {
      mb_store_share_end (p->app->store, p->shared);
      g_bytes_unref (p->shared);
    }
  soup_server_message_unpause (p->msg);
  g_object_unref (p->msg);
  g_free (p->name);
  g_free (p);
}

/* ---- store_file / fetch_file ---- */

/* What a store did, success or not: the copies against R, the manifest's
 * owners against W, the version. */
static void
add_store_counts (JsonBuilder *b, const MbRingResult *r)
{
  mb_gateway_json_add_int (b, "replication", r->replication);
  mb_gateway_json_add_int (b, "chunks_placed", r->chunks_placed);
  mb_gateway_json_add_int (b, "chunks_failed", r->chunks_failed);
  mb_gateway_json_add_int (b, "chunks_short", r->chunks_short);
  mb_gateway_json_add_int (b, "copies_missing", r->copies_missing);
  mb_gateway_json_add_int (b, "handoffs", r->handoffs);
  mb_gateway_json_add_int (b, "manifest_owners", r->manifest_owners);
  mb_gateway_json_add_int (b, "write_quorum", r->write_quorum);
  mb_gateway_json_add_int (b, "manifest_copies", r->manifest_copies);
}

static void
on_stored (MbRingPeer *rp, const MbRingResult *r, gpointer data)
{
  Pending *p = data;
  if (!r->ok)
    {
      /* 409: a newer version is kept; 502: the ring could not hold R copies. */
      JsonBuilder *b = mb_gateway_json_begin ("error");
      mb_gateway_json_add_str (b, "error", r->error);
      mb_gateway_json_add_str (b, "filename", p->name);
      add_store_counts (b, r);
      json_builder_end_object (b);
      mb_gateway_reply_json (p->msg, r->stale ? SOUP_STATUS_CONFLICT : SOUP_STATUS_BAD_GATEWAY, b);
      p->app->counters.stores_failed++;
      g_warning ("%s", r->error);
    }
  else
    {
      JsonBuilder *b = mb_gateway_json_begin ("success");
      mb_gateway_json_add_str (b, "filename", p->name);
      mb_gateway_json_add_int (b, "size", (gint64) mb_manifest_size (r->manifest));
      mb_gateway_json_add_int (b, "chunks", mb_manifest_n_chunks (r->manifest));
      mb_gateway_json_add_int (b, "version", (gint64) r->version);
      add_store_counts (b, r);
      json_builder_end_object (b);
      mb_gateway_reply_json (p->msg, SOUP_STATUS_OK, b);
      p->app->counters.stores_ok++;
      g_message ("store_file %s: version %" G_GUINT64_FORMAT ", %u chunks, %u copies placed "
                 "(%u handed off), manifest on %u owners", p->name, r->version,
                 mb_manifest_n_chunks (r->manifest), r->chunks_placed, r->handoffs,
                 r->manifest_owners);
    }
  pending_done (p);
}

/* store_file's reading and hashing, on a worker thread: a large file's
 * SHA-256 and CRC passes would otherwise hold the main loop for seconds,
 * long enough on a busy machine for the other members' failure detectors
 * to take this peer for crashed and drop the copies in flight. */
typedef struct {
  Pending *p;
  int fd;
  struct stat st;
  gchar *path;
  guint32 chunk_size;
  GBytes *content;        /* out */
  MbManifest *manifest;   /* out */
} StoreRead;

static void
store_read_free (gpointer data)
{
  StoreRead *sr = data;
  if (sr->fd >= 0)
    close (sr->fd);
  g_free (sr->path);
  g_clear_pointer (&sr->content, g_bytes_unref);
  g_clear_pointer (&sr->manifest, mb_manifest_unref);
  g_free (sr);
}

static void
store_read_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
  StoreRead *sr = data;
  GError *err = NULL;
  sr->content = mb_safe_read_all (sr->fd, &sr->st, sr->path, &err);
  close (sr->fd);
  sr->fd = -1;
  if (sr->content)
    sr->manifest = mb_manifest_new_hashed (sr->p->name, sr->content, sr->chunk_size, &err);
  if (err)
    g_task_return_error (task, err);
  else
    g_task_return_boolean (task, TRUE);
}

static void
store_read_done (GObject *source, GAsyncResult *res, gpointer user)
{
  StoreRead *sr = g_task_get_task_data (G_TASK (res));
  Pending *p = sr->p;
  MbPeerApp *app = p->app;
  g_autoptr (GError) err = NULL;
  if (!g_task_propagate_boolean (G_TASK (res), &err))
    {
      guint status = g_error_matches (err, MB_SAFE_OPEN_ERROR, MB_SAFE_OPEN_ERROR_CHANGED)
                       ? SOUP_STATUS_CONFLICT
                     : err->domain == MB_SAFE_OPEN_ERROR ? SOUP_STATUS_INTERNAL_SERVER_ERROR
                                                         : SOUP_STATUS_BAD_REQUEST;
      mb_gateway_reply_error (p->msg, status, err->message);
      pending_done (p);
      return;
    }
  /* The copies kept at this peer stay in the file (no second copy): read
   * back by path later, they are verified against their ids then. */
  p->shared = g_bytes_ref (sr->content);
  mb_store_share_begin (app->store, sr->path, sr->content);
  mb_ringpeer_store_hashed (app->rp, g_steal_pointer (&sr->manifest), sr->content,
                           mb_clock_now (), on_stored, p);
  mbi_peer_rearm (app);
}

static void
http_store_file (MbPeerApp *app, SoupServerMessage *msg)
{
  if (!authorized (app, msg, MB_HTTP_AUTH_LOOPBACK_OR_TOKEN))
    return;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = parse_body (msg, SMALL_BODY, &parser);
  const char *filename = o ? get_string (msg, o, "filename") : NULL;
  if (!filename)
    return;
  struct stat st;
  g_autofree gchar *path = NULL;
  int fd = open_source (app, msg, filename, &st, &path);
  if (fd < 0)
    return;
  g_autofree gchar *name = g_path_get_basename (path);
  g_autoptr (GError) err = NULL;
  if (!mb_manifest_name_is_safe (name, &err))
    {
      close (fd);
      mb_gateway_reply_error (msg, SOUP_STATUS_BAD_REQUEST, err->message);
      return;
    }
  StoreRead *sr = g_new0 (StoreRead, 1);
  sr->p = pending_new (app, msg, name);
  sr->fd = fd;
  sr->st = st;
  sr->path = g_steal_pointer (&path);
  sr->chunk_size = app->cfg.chunk_size;
  GTask *task = g_task_new (NULL, NULL, store_read_done, NULL);
  g_task_set_task_data (task, sr, store_read_free);
  g_task_run_in_thread (task, store_read_thread);
  g_object_unref (task);
}

/* A fetch_file is the store's download of the file (written as the chunks
 * come) around the ring's fetch: begun before the fetch, ended with its
 * outcome.  The answer goes out when the store is done with the download
 * (on_written): the whole file, or why not.  A download that failed for
 * want of room says so (507) even when the fetch failed too (the fetch
 * then only saw chunks it could not keep); otherwise the fetch's own
 * failure is told (404: no owner had the manifest; 502: chunks missing). */
typedef struct {
  Pending *p;
  guint sources, redirects, manifests_read, chunks, chunks_swarm;
  guint64 version;
  gint64 t_chunks;    /* when the last chunk came */
  gchar *ring_error;  /* the fetch's failure, if it failed */
  guint ring_status;
} Fetch;

static void
on_written (const char *path, guint64 size, const GError *error, gpointer data)
{
  Fetch *f = data;
  Pending *p = f->p;
  if (path)
    p->app->counters.fetches_ok++;
  else
    p->app->counters.fetches_failed++;
  if (!path && g_error_matches (error, MB_STORE_ERROR, MB_STORE_ERROR_NO_SPACE))
    {
      g_autofree gchar *what = g_strdup_printf ("disk full: no room here for the download of "
                                                "%s (%s)", p->name, error->message);
      mb_gateway_reply_error (p->msg, SOUP_STATUS_INSUFFICIENT_STORAGE, what);
    }
  else if (!path && f->ring_error)
    mb_gateway_reply_error (p->msg, f->ring_status, f->ring_error);
  else if (!path)
    mb_gateway_reply_error (p->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error->message);
  else
    {
      JsonBuilder *b = mb_gateway_json_begin ("success");
      mb_gateway_json_add_str (b, "filename", p->name);
      mb_gateway_json_add_str (b, "path", path);
      mb_gateway_json_add_int (b, "size", (gint64) size);
      mb_gateway_json_add_int (b, "version", (gint64) f->version);
      mb_gateway_json_add_int (b, "manifests_read", f->manifests_read);
      mb_gateway_json_add_int (b, "sources", f->sources);
      mb_gateway_json_add_int (b, "chunks", f->chunks);
      mb_gateway_json_add_int (b, "chunks_swarm", f->chunks_swarm);
      mb_gateway_json_add_int (b, "redirects", f->redirects);
      json_builder_end_object (b);
      mb_gateway_reply_json (p->msg, SOUP_STATUS_OK, b);
      gint64 t = g_get_monotonic_time ();
      g_message ("fetch_file %s: %" G_GUINT64_FORMAT " bytes from %u sources (%u of %u chunks "
                 "through the swarm) in %.3f s (chunks in after %.3f s, file whole %.3f s later)",
                 p->name, size, f->sources, f->chunks_swarm, f->chunks,
                 (double) (t - p->t0) / 1e6, (double) (f->t_chunks - p->t0) / 1e6,
                 (double) (t - f->t_chunks) / 1e6);
    }
  pending_done (p);
  g_free (f->ring_error);
  g_free (f);
}

static void
on_fetched (MbRingPeer *rp, const MbRingResult *r, gpointer data)
{
  (void) rp;
  Fetch *f = data;
  Pending *p = f->p;
  MbStore *store = p->app->store;
  g_autofree gchar *name = g_strdup (p->name);
  gboolean ok = r->ok && r->manifest;
  if (!ok)
    {
      f->ring_error = g_strdup (r->error ? r->error : "fetch failed");
      /* 404: no copy of the manifest; 503: fewer copies than a read needs
       * (the one found may be an old version); 502: chunks missing. */
      f->ring_status = !r->lookups_failed ? SOUP_STATUS_BAD_GATEWAY
                       : r->manifests_read > 0 ? SOUP_STATUS_SERVICE_UNAVAILABLE
                                               : SOUP_STATUS_NOT_FOUND;
    }
  f->version = r->version;
  f->manifests_read = r->manifests_read;
  f->sources = r->sources;
  f->chunks = r->manifest ? mb_manifest_n_chunks (r->manifest) : 0;
  f->chunks_swarm = r->chunks_swarm;
  f->redirects = r->redirects;
  f->t_chunks = g_get_monotonic_time ();
  mb_store_download_end (store, name, ok); /* on_written answers (maybe at once) */
}

static void
http_fetch_file (MbPeerApp *app, SoupServerMessage *msg)
{
  if (!authorized (app, msg, MB_HTTP_AUTH_LOOPBACK_OR_TOKEN))
    return;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = parse_body (msg, SMALL_BODY, &parser);
  const char *filename = o ? get_string (msg, o, "filename") : NULL;
  if (!filename)
    return;
  g_autoptr (GError) err = NULL;
  if (!mb_manifest_name_is_safe (filename, &err))
    {
      mb_gateway_reply_error (msg, SOUP_STATUS_BAD_REQUEST, err->message);
      return;
    }
  Fetch *f = g_new0 (Fetch, 1);
  if (!mb_store_download_begin (app->store, filename, on_written, f, &err))
    {
      g_free (f);
      if (g_error_matches (err, MB_STORE_ERROR, MB_STORE_ERROR_BUSY))
        mb_gateway_reply_error (msg, SOUP_STATUS_CONFLICT,
                                "a fetch of this file is already running here");
      else
        mb_gateway_reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, err->message);
      return;
    }
  f->p = pending_new (app, msg, filename);
  mb_ringpeer_fetch_file (app->rp, filename, mb_clock_now (), on_fetched, f);
  mbi_peer_rearm (app);
}

/* ---- the ring's server side, through the core ---- */

/* Answers msg with the core's reply. */
static void
answer_from_core (SoupServerMessage *msg, const MbMessage *reply)
{
  if (!reply)
    {
      mb_gateway_reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "no answer");
      return;
    }
  switch (reply->type)
    {
    case MB_MSG_OK:
      {
        JsonBuilder *b = mb_gateway_json_begin ("success");
        mb_gateway_json_add_int (b, "count", reply->count);
        json_builder_end_object (b);
        mb_gateway_reply_json (msg, SOUP_STATUS_OK, b);
        return;
      }
    case MB_MSG_CHUNK:
      if (reply->data)
        {
          gsize n;
          const guint8 *d = g_bytes_get_data (reply->data, &n);
          soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
          soup_server_message_set_response (msg, "application/octet-stream", SOUP_MEMORY_COPY,
                                            (const char *) d, n);
        }
      else
        mb_gateway_reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "chunk without bytes");
      return;
    case MB_MSG_MANIFEST:
      {
        gchar *json = mb_manifest_to_json (reply->manifest);
        soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
        soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, json,
                                          strlen (json));
        return;
      }
    case MB_MSG_REDIRECT:
      {
        JsonBuilder *b = mb_gateway_json_begin ("error");
        mb_gateway_json_add_str (b, "error", "not here: ask the owner");
        mb_gateway_json_add_str (b, "owner", reply->addr);
        json_builder_end_object (b);
        mb_gateway_reply_json (msg, SOUP_STATUS_NOT_FOUND, b);
        return;
      }
    case MB_MSG_ERROR:
      {
        guint status = reply->code == MB_ERR_NOT_FOUND ? SOUP_STATUS_NOT_FOUND
                       : reply->code == MB_ERR_STALE ? SOUP_STATUS_CONFLICT
                       : reply->code == MB_ERR_LEAVING ? SOUP_STATUS_SERVICE_UNAVAILABLE
                       : reply->code == MB_ERR_NO_SPACE ? SOUP_STATUS_INSUFFICIENT_STORAGE
                       : reply->code == MB_ERR_INTERNAL ? SOUP_STATUS_INTERNAL_SERVER_ERROR
                                                        : SOUP_STATUS_BAD_REQUEST;
        const char *text = reply->text ? reply->text : mb_err_code_name (reply->code);
        g_autofree gchar *full = reply->code == MB_ERR_NO_SPACE
          ? g_strdup_printf ("disk full: this peer has no room left to keep it (%s)", text) : NULL;
        mb_gateway_reply_error (msg, status, full ? full : text);
        return;
      }
    default:
      mb_gateway_reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "unexpected answer");
    }
}

/* Feeds request (taken) to the core as from a pseudo node; answers msg. */
static void
ask_core (MbPeerApp *app, SoupServerMessage *msg, MbMessage *request)
{
  MbMessage *reply = mb_gateway_ask (app->gateway, request);
  answer_from_core (msg, reply);
  mb_message_free (reply);
  mb_message_free (request);
}

static void
http_store_chunk (MbPeerApp *app, SoupServerMessage *msg)
{
  if (!authorized (app, msg, MB_HTTP_AUTH_RING))
    return;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = parse_body (msg, CHUNK_BODY, &parser);
  const char *hash = o ? get_string (msg, o, "hash") : NULL;
  if (!hash)
    return;
  if (!mb_chunk_id_is_valid (hash))
    {
      mb_gateway_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
                              "field \"hash\" is not a chunk id: it must be 64 lowercase hex "
                              "digits (the SHA-256 of the data)");
      return;
    }
  g_autoptr (GError) err = NULL;
  GBytes *data = mb_json_fields_base64 (o, "data", &err);
  if (!field_ok (msg, err))
    return;
  MbMessage *m = mb_message_new (MB_MSG_STORE_CHUNK);
  m->chunk_id = g_strdup (hash);
  m->length = (guint32) g_bytes_get_size (data);
  m->data = data;
  ask_core (app, msg, m);
}

static void
http_store_manifest (MbPeerApp *app, SoupServerMessage *msg)
{
  if (!authorized (app, msg, MB_HTTP_AUTH_RING))
    return;
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) body = mb_gateway_read_body (msg, MANIFEST_BODY, &err);
  if (!body)
    {
      gboolean big = g_error_matches (err, MB_GATEWAY_ERROR, MB_GATEWAY_ERROR_TOO_LARGE);
      mb_gateway_reply_error (msg, big ? SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE
                                       : SOUP_STATUS_BAD_REQUEST,
                              big ? "manifest over 1 MiB" : err->message);
      return;
    }
  gsize len;
  const char *data = g_bytes_get_data (body, &len);
  MbManifest *mf = mb_manifest_from_json (data, (gssize) len, &err);
  if (!mf)
    {
      mb_gateway_reply_error (msg, SOUP_STATUS_BAD_REQUEST, err->message);
      return;
    }
  MbMessage *m = mb_message_new (MB_MSG_STORE_MANIFEST);
  m->manifest = mf;
  ask_core (app, msg, m);
}

static void
http_update_manifest (MbPeerApp *app, SoupServerMessage *msg)
{
  if (!authorized (app, msg, MB_HTTP_AUTH_RING))
    return;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = parse_body (msg, SMALL_BODY, &parser);
  const char *name = o ? get_string (msg, o, "filename") : NULL;
  if (!name)
    return;
  g_autoptr (GError) err = NULL;
  const char *peer = mb_json_fields_address (o, "peer", &err);
  g_autofree guint32 *idx = NULL;
  guint n = 0;
  if (peer)
    mb_json_fields_index_list (o, "chunks", G_MAXUINT32, &idx, &n, &err);
  if (!field_ok (msg, err))
    return;
  MbMessage *m = mb_message_new (MB_MSG_UPDATE_MANIFEST);
  m->file = g_strdup (name);
  m->addr = g_strdup (peer);
  if (n > 0)
    mb_message_set_indices (m, idx, n); /* none: every chunk */
  ask_core (app, msg, m);
}

static void
http_get_chunk (MbPeerApp *app, SoupServerMessage *msg, const char *hash)
{
  if (!mb_chunk_id_is_valid (hash))
    {
      mb_gateway_reply_error (msg, SOUP_STATUS_BAD_REQUEST,
                              "not a chunk id (64 lowercase hex digits)");
      return;
    }
  MbMessage *m = mb_message_new (MB_MSG_GET_CHUNK);
  m->chunk_id = g_strdup (hash);
  ask_core (app, msg, m);
}

static void
http_get_manifest (MbPeerApp *app, SoupServerMessage *msg, const char *name)
{
  g_autoptr (GError) err = NULL;
  if (!mb_manifest_name_is_safe (name, &err))
    {
      mb_gateway_reply_error (msg, SOUP_STATUS_BAD_REQUEST, err->message);
      return;
    }
  MbMessage *m = mb_message_new (MB_MSG_GET_MANIFEST);
  m->file = g_strdup (name);
  ask_core (app, msg, m);
}

/* ---- shutdown, ping ---- */

/* The leave's report; an error (502) if some key could not be confirmed
 * at R copies elsewhere (this peer keeps those). */
static void
on_shut (MbRingPeer *rp, const MbShutdownReport *r, gpointer data)
{
  Pending *p = data;
  gboolean all = r->chunks_failed == 0 && r->manifests_failed == 0;
  JsonBuilder *b = mb_gateway_json_begin (all ? "success" : "error");
  if (!all)
    {
      g_autofree gchar *why = g_strdup_printf (
        "%u chunks and %u manifests could not be confirmed at R copies on the members that "
        "stay; this peer keeps them", r->chunks_failed, r->manifests_failed);
      mb_gateway_json_add_str (b, "error", why);
    }
  mb_gateway_json_add_int (b, "manifests_redistributed", r->manifests_redistributed);
  mb_gateway_json_add_int (b, "manifests_confirmed", r->manifests_confirmed);
  mb_gateway_json_add_int (b, "manifests_failed", r->manifests_failed);
  mb_gateway_json_add_int (b, "chunks_redistributed", r->chunks_redistributed);
  mb_gateway_json_add_int (b, "chunks_confirmed", r->chunks_confirmed);
  mb_gateway_json_add_int (b, "chunks_failed", r->chunks_failed);
  mb_gateway_json_add_int (b, "bytes_moved", (gint64) r->bytes_moved);
  json_builder_end_object (b);
  mb_gateway_reply_json (p->msg, all ? SOUP_STATUS_OK : SOUP_STATUS_BAD_GATEWAY, b);
  pending_done (p);
}

static void
http_shutdown (MbPeerApp *app, SoupServerMessage *msg)
{
  if (!authorized (app, msg, MB_HTTP_AUTH_LOOPBACK_OR_TOKEN))
    return;
  if (app->shutting_down)
    {
      mb_gateway_reply_error (msg, SOUP_STATUS_CONFLICT, "already shutting down");
      return;
    }
  mbi_peer_shutdown (app, on_shut, pending_new (app, msg, ""));
}

static void
http_ping (MbPeerApp *app, SoupServerMessage *msg)
{
  JsonBuilder *b = mb_gateway_json_begin ("ok");
  mb_gateway_json_add_str (b, "peer", app->cfg.self_id);
  mb_gateway_json_add_str (b, "addr", app->addr);
  MbRing *view = mb_ringpeer_view (app->rp);
  mb_gateway_json_add_int (b, "members", mb_ring_n_members (view));
  /* the members' names (wire addresses), as this peer sees the ring */
  json_builder_set_member_name (b, "view");
  json_builder_begin_array (b);
  for (guint i = 0; i < mb_ring_n_members (view); i++)
    json_builder_add_string_value (b, mb_ring_member (view, i));
  json_builder_end_array (b);
  mb_gateway_json_add_int (b, "chunks", app->store->n_chunks);
  mb_gateway_json_add_int (b, "manifests", app->store->n_manifests);
  json_builder_end_object (b);
  mb_gateway_reply_json (msg, SOUP_STATUS_OK, b);
}

/* ---- MiniBit's endpoints, answered from the swarm's live state ----
 * The file's swarm (a fetch's, or one this peer serves) when it is in one,
 * else the store.  A peer's blocks are learnt only from its swarm
 * connection (BITFIELD and HAVE over the authenticated wire): the
 * blocks_info or announcement of an HTTP body is never taken, and the
 * answer says what this peer knows instead. */

static MbManifest *
manifest_for (MbPeerApp *app, SoupServerMessage *msg, JsonObject *o, const char **key)
{
  const char *name = get_string (msg, o, "filename");
  if (!name)
    return NULL;
  *key = mbi_peer_swarm_find (app, name);
  if (*key)
    return mb_manifest_copy (mb_peer_swarm_manifest (app->swarm, *key));
  MbManifest *m = mb_store_get_manifest (app->store, name);
  if (!m)
    mb_gateway_reply_error (msg, SOUP_STATUS_NOT_FOUND,
                            "this peer is in no swarm of that file and holds no manifest of it");
  return m;
}

static gint64
block_index (SoupServerMessage *msg, JsonObject *o, const MbManifest *m)
{
  g_autoptr (GError) err = NULL;
  gint64 i = -1;
  if (mb_manifest_n_chunks (m) == 0)
    g_set_error (&err, MB_JSON_FIELDS_ERROR, MB_JSON_FIELDS_ERROR_TYPE,
                 "field \"block_index\": the file has no blocks");
  else
    mb_json_fields_int (o, "block_index", 0, (gint64) mb_manifest_n_chunks (m) - 1, &i, &err);
  return field_ok (msg, err) ? i : -1;
}

static gboolean
holds_block (MbPeerApp *app, const char *key, const MbManifest *m, guint i)
{
  if (key)
    return mb_peer_has_piece (app->swarm, key, i);
  return mb_store_has_chunk (app->store, mb_manifest_chunk_id (m, i));
}

static void
minibit_have_blocks_info (MbPeerApp *app, SoupServerMessage *msg, const char *key,
                          const MbManifest *m)
{
  JsonBuilder *b = mb_gateway_json_begin ("success");
  mb_gateway_json_add_str (b, "filename", mb_manifest_name (m));
  json_builder_set_member_name (b, "in_swarm");
  json_builder_add_boolean_value (b, key != NULL);
  if (key)
    mb_gateway_json_add_str (b, "swarm", key);
  json_builder_set_member_name (b, "blocks_info");
  json_builder_begin_array (b);
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    json_builder_add_boolean_value (b, holds_block (app, key, m, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
  mb_gateway_reply_json (msg, SOUP_STATUS_OK, b);
}

static void
minibit_announce_block (MbPeerApp *app, SoupServerMessage *msg, const char *key, guint i,
                        const char *sender)
{
  MbPeerConnInfo ci;
  gboolean conn = key && mbi_peer_swarm_conn_of (app, key, sender, &ci);
  if (conn && mb_peer_remote_has_piece (app->swarm, key, ci.node, i))
    {
      JsonBuilder *b = mb_gateway_json_begin ("success");
      json_builder_set_member_name (b, "known");
      json_builder_add_boolean_value (b, TRUE);
      json_builder_end_object (b);
      mb_gateway_reply_json (msg, SOUP_STATUS_OK, b);
      return;
    }
  g_autofree gchar *what =
    g_strdup_printf ("not recorded: this peer learns a peer's blocks only from its swarm "
                     "connection (HAVE over the wire); %s %s", sender,
                     !key ? "cannot be in a swarm of that file here: this peer is in none"
                     : !conn ? "has no connection in this peer's swarm of that file"
                             : "has not announced that block on its connection");
  mb_gateway_reply_error (msg, SOUP_STATUS_CONFLICT, what);
}

static void
minibit_request_block (MbPeerApp *app, SoupServerMessage *msg, const char *key,
                       const MbManifest *m, guint i, const char *sender)
{
  MbPeerConnInfo ci;
  if (!key)
    {
      mb_gateway_reply_error (msg, SOUP_STATUS_NOT_FOUND,
                              "this peer is in no swarm of that file (a swarm forms while "
                              "peers fetch it)");
      return;
    }
  if (!mbi_peer_swarm_conn_of (app, key, sender, &ci) || ci.am_choking)
    {
      g_autofree gchar *what = g_strdup_printf ("choked: %s is not a connection this peer "
                                                "unchokes in the swarm of that file", sender);
      mb_gateway_reply_error (msg, SOUP_STATUS_FORBIDDEN, what);
      return;
    }
  GBytes *data = NULL;
  guint32 len;
  if (!mb_peer_has_piece (app->swarm, key, i)
      || !mb_store_get_chunk (app->store, mb_manifest_chunk_id (m, i), &data, &len, NULL)
      || !data)
    {
      mb_gateway_reply_error (msg, SOUP_STATUS_NOT_FOUND, "block not held here");
      return;
    }
  gsize n;
  const guint8 *d = g_bytes_get_data (data, &n);
  g_autofree gchar *b64 = g_base64_encode (d, n);
  g_bytes_unref (data);
  JsonBuilder *b = mb_gateway_json_begin ("success");
  mb_gateway_json_add_int (b, "block_index", i);
  mb_gateway_json_add_str (b, "block_data", b64);
  json_builder_end_object (b);
  mb_gateway_reply_json (msg, SOUP_STATUS_OK, b);
}

static void
http_minibit (MbPeerApp *app, SoupServerMessage *msg, const char *what)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = parse_body (msg, SMALL_BODY, &parser);
  if (!o)
    return;
  const char *key = NULL;
  g_autoptr (MbManifest) m = manifest_for (app, msg, o, &key);
  if (!m)
    return;
  if (strcmp (what, "have_blocks_info") == 0)
    {
      minibit_have_blocks_info (app, msg, key, m);
      return;
    }
  gint64 i = block_index (msg, o, m);
  if (i < 0)
    return;
  const char *sender = get_string (msg, o, "sender_id");
  if (!sender)
    return;
  if (strcmp (what, "announce_block") == 0)
    minibit_announce_block (app, msg, key, (guint) i, sender);
  else
    minibit_request_block (app, msg, key, m, (guint) i, sender);
}

/* ---- routing ---- */

static void
route (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
       gpointer data)
{
  MbPeerApp *app = data;
  const char *method = soup_server_message_get_method (msg);
  gboolean post = strcmp (method, "POST") == 0, get = strcmp (method, "GET") == 0;
  if (soup_server_message_get_status (msg) == SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE)
    return;
  struct { const char *path; gboolean post; void (*fn) (MbPeerApp *, SoupServerMessage *); } posts[] = {
    { "/store_file", TRUE, http_store_file },
    { "/fetch_file", TRUE, http_fetch_file },
    { "/store_chunk", TRUE, http_store_chunk },
    { "/store_manifest", TRUE, http_store_manifest },
    { "/update_manifest", TRUE, http_update_manifest },
    { "/shutdown", TRUE, http_shutdown },
    { "/ping", FALSE, http_ping },
    { "/status", FALSE, mbi_peer_http_status },
    { "/metrics", FALSE, mbi_peer_http_metrics },
  };
  for (guint i = 0; i < G_N_ELEMENTS (posts); i++)
    if (strcmp (path, posts[i].path) == 0)
      {
        if (posts[i].post ? !post : !get)
          mb_gateway_reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
                                  posts[i].post ? "use POST" : "use GET");
        else
          posts[i].fn (app, msg);
        return;
      }
  const char *minibit[] = { "request_block", "have_blocks_info", "announce_block" };
  for (guint i = 0; i < G_N_ELEMENTS (minibit); i++)
    if (path[0] == '/' && strcmp (path + 1, minibit[i]) == 0)
      {
        if (!post)
          mb_gateway_reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use POST");
        else
          http_minibit (app, msg, minibit[i]);
        return;
      }
  if (g_str_has_prefix (path, "/get_chunk/") || g_str_has_prefix (path, "/get_manifest/"))
    {
      if (!get)
        {
          mb_gateway_reply_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use GET");
          return;
        }
      if (g_str_has_prefix (path, "/get_chunk/"))
        http_get_chunk (app, msg, path + strlen ("/get_chunk/"));
      else
        {
          g_autofree gchar *name = g_uri_unescape_string (path + strlen ("/get_manifest/"), NULL);
          http_get_manifest (app, msg, name ? name : "");
        }
      return;
    }
  mb_gateway_reply_error (msg, SOUP_STATUS_NOT_FOUND, "no such endpoint");
}

static goffset
body_limit (const char *path, const char **what)
{
  *what = "request body too large";
  return g_strcmp0 (path, "/store_chunk") == 0 ? CHUNK_BODY
         : g_strcmp0 (path, "/store_manifest") == 0 ? MANIFEST_BODY : SMALL_BODY;
}

gboolean
mbi_peer_http_start (MbPeerApp *app, GError **error)
{
  static MbGatewayHttpConfig cfg = {
    .server_header = "minibit-peer ",
    .log_domain = NULL,
    .log_name = "http",
    .body_limit = body_limit,
    .route = route,
  };
  cfg.data = app;
  app->http = mb_gateway_http_new (&cfg, app->cfg.host, app->cfg.http_port, "host", error);
  if (app->http)
    mbi_peer_observe_start (app);
  return app->http != NULL;
}
