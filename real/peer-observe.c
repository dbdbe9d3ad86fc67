/* peer-observe.c — what minibit-peer tells about itself: GET /status (JSON)
 * and GET /metrics (the Prometheus text exposition format, version 0.0.4),
 * and the count of HTTP requests by endpoint and status class behind them.
 *
 * Every number comes from a real code path: the transport's stats (bytes
 * and frames on the wire, connections), the store's counts (chunks and
 * manifests held), the ring peer's stats (hand-offs, leave moves, repairs,
 * ...) and its operations in progress (mb_ringpeer_progress), and the
 * app's counters (MbPeerCounters: store_file and fetch_file outcomes as
 * answered, HTTP requests as finished).  Counters only grow.
 *
 * Neither output holds the token or the cluster secret: only the peer's
 * name, its ring address, its view and numbers.  Both are read endpoints,
 * open like GET /ping, get_chunk and get_manifest (README.md, "Status and
 * metrics").
 */
#include <json-glib/json-glib.h>
#include <string.h>

#define MB_REAL_PEER_INTERNAL
#include "peer-private.h"

/* ---- HTTP requests by endpoint and status class ---- */

static const char *const endpoints[MBI_HTTP_ENDPOINTS] = {
  "store_file", "fetch_file", "store_chunk", "store_manifest", "update_manifest",
  "get_chunk", "get_manifest", "shutdown", "ping", "status", "metrics",
  "request_block", "have_blocks_info", "announce_block", "other",
};

static guint
endpoint_of (const char *path)
{
  if (!path || path[0] != '/')
    return MBI_HTTP_ENDPOINTS - 1;
  const char *p = path + 1;
  if (g_str_has_prefix (p, "get_chunk/"))
    return 5;
  if (g_str_has_prefix (p, "get_manifest/"))
    return 6;
  for (guint i = 0; i < MBI_HTTP_ENDPOINTS - 1; i++)
    if (i != 5 && i != 6 && strcmp (p, endpoints[i]) == 0)
      return i;
  return MBI_HTTP_ENDPOINTS - 1;
}

static void
on_request_finished (SoupServer *server, SoupServerMessage *msg, gpointer data)
{
  (void) server;
  MbPeerApp *app = data;
  GUri *uri = soup_server_message_get_uri (msg);
  guint status = soup_server_message_get_status (msg);
  guint cls = status >= 100 && status < 600 ? status / 100 : 0;
  app->counters.http[endpoint_of (uri ? g_uri_get_path (uri) : NULL)][cls]++;
}

void
mbi_peer_observe_start (MbPeerApp *app)
{
  app->counters.started_us = g_get_monotonic_time ();
  g_signal_connect (app->http, "request-finished", G_CALLBACK (on_request_finished), app);
}

/* ---- GET /status ---- */

static void
add_uint (JsonBuilder *b, const char *key, guint64 v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_int_value (b, (gint64) MIN (v, (guint64) G_MAXINT64));
}

static void
add_bool (JsonBuilder *b, const char *key, gboolean v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_boolean_value (b, v);
}

/* "swarms": each swarm this peer is in (a fetch's, or one it serves), with
 * every connection's choke and interest flags and rates: the choking, as
 * the core's tit-for-tat decides it. */
static void
status_swarms (MbPeerApp *app, JsonBuilder *b)
{
  json_builder_set_member_name (b, "swarms");
  json_builder_begin_array (b);
  g_autoptr (GPtrArray) keys = g_ptr_array_new ();
  if (app->swarm)
    mb_peer_swarm_keys (app->swarm, keys);
  guint64 now = mb_clock_now ();
  for (guint i = 0; i < keys->len; i++)
    {
      const char *key = keys->pdata[i];
      MbPeerStats st;
      mb_peer_stats (app->swarm, key, &st);
      json_builder_begin_object (b);
      mb_gateway_json_add_str (b, "key", key);
      mb_gateway_json_add_str (b, "filename",
                               mb_manifest_name (mb_peer_swarm_manifest (app->swarm, key)));
      add_bool (b, "serving_only", mb_peer_swarm_serving_only (app->swarm, key));
      /* it stopped fetching: its store cannot keep what it gets (the reason,
       * which names local paths, goes to the fetch's reply, not to this
       * open endpoint) */
      add_bool (b, "store_failed", mb_peer_swarm_store_error (app->swarm, key) != NULL);
      add_uint (b, "pieces", st.pieces);
      add_uint (b, "pieces_total", st.n_pieces);
      add_uint (b, "bytes_up", st.bytes_up);
      add_uint (b, "bytes_down", st.bytes_down);
      add_bool (b, "endgame", st.endgame);
      add_uint (b, "requests_timed_out", st.requests_timed_out);
      add_uint (b, "stalls", st.stalls);
      add_uint (b, "silent_closes", st.silent_closes);
      g_autoptr (GArray) conns = g_array_new (FALSE, FALSE, sizeof (MbPeerConnInfo));
      mb_peer_conns (app->swarm, key, now, conns);
      json_builder_set_member_name (b, "connections");
      json_builder_begin_array (b);
      for (guint k = 0; k < conns->len; k++)
        {
          const MbPeerConnInfo *c = &g_array_index (conns, MbPeerConnInfo, k);
          json_builder_begin_object (b);
          mb_gateway_json_add_str (b, "peer", c->name ? c->name : "");
          mb_gateway_json_add_str (b, "addr", c->addr ? c->addr : "");
          add_bool (b, "established", c->established);
          add_bool (b, "am_choking", c->am_choking);
          add_bool (b, "am_interested", c->am_interested);
          add_bool (b, "peer_choking", c->peer_choking);
          add_bool (b, "peer_interested", c->peer_interested);
          add_bool (b, "optimistic", c->optimistic);
          add_uint (b, "down_bytes_s", c->down_bytes_s);
          add_uint (b, "up_bytes_s", c->up_bytes_s);
          add_uint (b, "remote_pieces", c->remote_pieces);
          add_uint (b, "requests_out", c->requests_out);
          add_uint (b, "uploads_queued", c->uploads_queued);
          add_bool (b, "stalled", c->stalled);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

void
mbi_peer_http_status (MbPeerApp *app, SoupServerMessage *msg)
{
  MbTransportStats ts;
  mb_transport_get_stats (app->transport, &ts);
  MbRingPeerStats rs;
  mb_ringpeer_stats (app->rp, &rs);
  const MbPeerCounters *c = &app->counters;

  JsonBuilder *b = mb_gateway_json_begin ("ok");
  mb_gateway_json_add_str (b, "peer", app->cfg.self_id);
  mb_gateway_json_add_str (b, "addr", app->addr);
  add_uint (b, "uptime_ms", (guint64) (g_get_monotonic_time () - c->started_us) / 1000);
  add_uint (b, "replication", app->cfg.replication);
  json_builder_set_member_name (b, "leaving");
  json_builder_add_boolean_value (b, app->shutting_down || mb_ringpeer_is_leaving (app->rp));

  MbRing *view = mb_ringpeer_view (app->rp);
  json_builder_set_member_name (b, "members");
  json_builder_begin_array (b);
  for (guint i = 0; i < mb_ring_n_members (view); i++)
    json_builder_add_string_value (b, mb_ring_member (view, i));
  json_builder_end_array (b);

  json_builder_set_member_name (b, "held");
  json_builder_begin_object (b);
  add_uint (b, "chunks", app->store->n_chunks);
  add_uint (b, "chunk_bytes", app->store->chunk_bytes);
  add_uint (b, "manifests", app->store->n_manifests);
  json_builder_end_object (b);

  /* the stores and fetches running here, oldest first */
  g_autoptr (GArray) ops = mb_ringpeer_progress (app->rp);
  json_builder_set_member_name (b, "transfers");
  json_builder_begin_array (b);
  for (guint i = 0; i < ops->len; i++)
    {
      const MbRingOpProgress *p = &g_array_index (ops, MbRingOpProgress, i);
      json_builder_begin_object (b);
      mb_gateway_json_add_str (b, "kind", p->kind);
      mb_gateway_json_add_str (b, "filename", p->name);
      add_uint (b, "chunks_done", p->chunks_done);
      add_uint (b, "chunks_total", p->chunks_total);
      add_uint (b, "bytes", p->bytes);
      add_uint (b, "bytes_total", p->bytes_total);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  status_swarms (app, b);
  mbi_peer_unchokes_json (app, b);

  json_builder_set_member_name (b, "wire");
  json_builder_begin_object (b);
  add_uint (b, "bytes_sent", ts.bytes_out);
  add_uint (b, "bytes_received", ts.bytes_in);
  add_uint (b, "frames_sent", ts.frames_out);
  add_uint (b, "writes", ts.writes);
  add_uint (b, "frames_received", ts.frames_in);
  add_uint (b, "reads", ts.reads);
  add_uint (b, "connections_open", ts.connections_open);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "counters");
  json_builder_begin_object (b);
  add_uint (b, "stores_ok", c->stores_ok);
  add_uint (b, "stores_failed", c->stores_failed);
  add_uint (b, "fetches_ok", c->fetches_ok);
  add_uint (b, "fetches_failed", c->fetches_failed);
  add_uint (b, "store_handoffs", rs.handoffs);
  add_uint (b, "leave_chunks_moved", rs.leave_chunks_moved);
  add_uint (b, "leave_manifests_moved", rs.leave_manifests_moved);
  add_uint (b, "leave_bytes_moved", rs.leave_bytes_moved);
  add_uint (b, "repairs", rs.repairs_started);
  add_uint (b, "repair_bytes", rs.repair_bytes);
  add_uint (b, "requests_served", rs.requests_served);
  add_uint (b, "rpc_timeouts", rs.rpc_timeouts);
  add_uint (b, "rpc_deadlines_extended", rs.rpc_extended);
  add_uint (b, "copies_held_for_uplink", rs.uplink_held);
  json_builder_end_object (b);

  json_builder_end_object (b);
  mb_gateway_reply_json (msg, SOUP_STATUS_OK, b);
}

/* ---- GET /metrics ---- */

static void
family (GString *s, const char *name, const char *type, const char *help)
{
  g_string_append_printf (s, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One family of a single sample. */
static void
metric (GString *s, const char *name, const char *type, const char *help, guint64 v)
{
  family (s, name, type, help);
  g_string_append_printf (s, "%s %" G_GUINT64_FORMAT "\n", name, v);
}

void
mbi_peer_http_metrics (MbPeerApp *app, SoupServerMessage *msg)
{
  MbTransportStats ts;
  mb_transport_get_stats (app->transport, &ts);
  MbRingPeerStats rs;
  mb_ringpeer_stats (app->rp, &rs);
  const MbPeerCounters *c = &app->counters;
  GString *s = g_string_sized_new (8192);

  /* the wire */
  metric (s, "minibit_wire_bytes_sent_total", "counter", "Bytes written to wire connections.",
          ts.bytes_out);
  metric (s, "minibit_wire_bytes_received_total", "counter",
          "Bytes read from wire connections.", ts.bytes_in);
  metric (s, "minibit_wire_frames_sent_total", "counter", "Frames written, handshakes included.",
          ts.frames_out);
  metric (s, "minibit_wire_frames_received_total", "counter",
          "Frames decoded, handshakes included.", ts.frames_in);
  metric (s, "minibit_wire_writes_total", "counter",
          "Write calls that wrote something (small frames go together).", ts.writes);
  metric (s, "minibit_wire_reads_total", "counter",
          "Read calls that read something (up to 128 KiB each).", ts.reads);
  metric (s, "minibit_wire_connections_open", "gauge", "Wire connections open now, both ways.",
          ts.connections_open);
  family (s, "minibit_wire_connections_total", "counter",
          "Wire connections established, by direction.");
  g_string_append_printf (s, "minibit_wire_connections_total{direction=\"accepted\"} %"
                          G_GUINT64_FORMAT "\n", ts.connections_accepted);
  g_string_append_printf (s, "minibit_wire_connections_total{direction=\"dialled\"} %"
                          G_GUINT64_FORMAT "\n", ts.connections_dialled);
  metric (s, "minibit_wire_connections_refused_total", "counter",
          "Incoming connections closed at once (over the limit, or not loopback without a "
          "secret).", ts.connections_refused);
  metric (s, "minibit_wire_connections_dropped_total", "counter",
          "Connections dropped for bad input, slowness or memory.", ts.connections_dropped);
  metric (s, "minibit_wire_write_stalls_total", "counter",
          "Connections dropped because their writes made no progress for the write stall "
          "time (a peer that stopped reading); also in minibit_wire_connections_dropped_total.",
          ts.write_stalls);
  metric (s, "minibit_wire_slow_drains_total", "counter",
          "Connections dropped because over 4 MiB queued for them drained below the minimum "
          "rate (a peer reading a trickle); also in minibit_wire_connections_dropped_total.",
          ts.slow_drains);
  metric (s, "minibit_wire_uplink_stuck_total", "counter",
          "Times a connection writing with no progress for 100 ms had its unsent bytes (up to "
          "1 MiB) left out of the uplink backlog (so the other connections' data goes on).",
          ts.uplink_stuck);
  metric (s, "minibit_wire_connect_failures_total", "counter", "Failed connect attempts.",
          ts.connect_failures);
  metric (s, "minibit_wire_auth_failures_total", "counter",
          "Handshakes refused and frames with a bad MAC.", ts.auth_failures);
  metric (s, "minibit_wire_dialback_failures_total", "counter",
          "Accepted connections whose claimed address did not confirm them.",
          ts.dialback_failures);

  /* what is held */
  metric (s, "minibit_chunks_held", "gauge", "Chunks held by this peer.", app->store->n_chunks);
  metric (s, "minibit_chunk_bytes_held", "gauge", "Bytes of the chunks held by this peer.",
          app->store->chunk_bytes);
  metric (s, "minibit_manifests_held", "gauge", "Manifests held by this peer.",
          app->store->n_manifests);
  metric (s, "minibit_ring_members", "gauge", "Members in this peer's view of the ring.",
          mb_ring_n_members (mb_ringpeer_view (app->rp)));

  /* operations */
  family (s, "minibit_stores_total", "counter",
          "POST /store_file requests that started a store, answered, by result (ok: 200).");
  g_string_append_printf (s, "minibit_stores_total{result=\"ok\"} %" G_GUINT64_FORMAT "\n",
                          c->stores_ok);
  g_string_append_printf (s, "minibit_stores_total{result=\"failed\"} %" G_GUINT64_FORMAT "\n",
                          c->stores_failed);
  family (s, "minibit_fetches_total", "counter",
          "POST /fetch_file requests that started a fetch, answered, by result (ok: 200).");
  g_string_append_printf (s, "minibit_fetches_total{result=\"ok\"} %" G_GUINT64_FORMAT "\n",
                          c->fetches_ok);
  g_string_append_printf (s, "minibit_fetches_total{result=\"failed\"} %" G_GUINT64_FORMAT "\n",
                          c->fetches_failed);
  g_autoptr (GArray) ops = mb_ringpeer_progress (app->rp);
  guint running[2] = { 0, 0 };
  for (guint i = 0; i < ops->len; i++)
    running[strcmp (g_array_index (ops, MbRingOpProgress, i).kind, "fetch") == 0]++;
  family (s, "minibit_transfers_running", "gauge", "Stores and fetches in progress here.");
  g_string_append_printf (s, "minibit_transfers_running{kind=\"store\"} %u\n", running[0]);
  g_string_append_printf (s, "minibit_transfers_running{kind=\"fetch\"} %u\n", running[1]);
  metric (s, "minibit_store_handoffs_total", "counter",
          "Chunk copies of stores acknowledged by members after the owners (hinted hand-off).",
          rs.handoffs);
  family (s, "minibit_leave_moved_total", "counter",
          "Copies handed over by this peer's graceful leave, by what they are.");
  g_string_append_printf (s, "minibit_leave_moved_total{what=\"chunks\"} %" G_GUINT64_FORMAT
                          "\n", rs.leave_chunks_moved);
  g_string_append_printf (s, "minibit_leave_moved_total{what=\"manifests\"} %" G_GUINT64_FORMAT
                          "\n", rs.leave_manifests_moved);
  metric (s, "minibit_leave_bytes_moved_total", "counter",
          "Bytes of the copies handed over by this peer's graceful leave.",
          rs.leave_bytes_moved);
  metric (s, "minibit_repairs_total", "counter",
          "Chunk or manifest copies made to restore R after crashes.", rs.repairs_started);
  metric (s, "minibit_repair_bytes_total", "counter", "Bytes of those repairs.",
          rs.repair_bytes);
  metric (s, "minibit_ring_requests_served_total", "counter",
          "Ring requests served (store, get, update of chunks and manifests).",
          rs.requests_served);
  metric (s, "minibit_ring_redirects_sent_total", "counter",
          "Manifest requests answered with a redirect to the owner.", rs.redirects_sent);
  metric (s, "minibit_ring_rpc_timeouts_total", "counter", "Ring requests that timed out.",
          rs.rpc_timeouts);
  metric (s, "minibit_ring_rpc_deadlines_extended_total", "counter",
          "Ring request deadlines moved on: the target was still answering the requests "
          "sent before them (a slow link).", rs.rpc_extended);
  metric (s, "minibit_ring_copies_held_for_uplink_total", "counter",
          "Chunk copies that waited, unsent, for the uplink's backlog to fall to 512 KiB.",
          rs.uplink_held);
  metric (s, "minibit_ring_refused_chunks_total", "counter",
          "Chunks refused: content that did not match its id.", rs.refused_chunks);
  metric (s, "minibit_ring_refused_manifests_total", "counter",
          "Inconsistent manifests refused.", rs.refused_manifests);
  metric (s, "minibit_ring_stale_refused_total", "counter",
          "Manifests refused as older than (or losing to) the one held.", rs.stale_refused);
  metric (s, "minibit_ring_read_repairs_total", "counter",
          "Older manifest copies a fetch's read found and replaced.", rs.read_repairs);

  /* the swarm (fetches of popular files) */
  MbPeerTotals st = { 0 };
  guint n_swarms = 0, n_conns = 0, n_unchoked = 0;
  if (app->swarm)
    {
      mb_peer_totals (app->swarm, &st);
      g_autoptr (GPtrArray) keys = g_ptr_array_new ();
      mb_peer_swarm_keys (app->swarm, keys);
      n_swarms = keys->len;
      for (guint i = 0; i < keys->len; i++)
        {
          g_autoptr (GArray) conns = g_array_new (FALSE, FALSE, sizeof (MbPeerConnInfo));
          mb_peer_conns (app->swarm, keys->pdata[i], mb_clock_now (), conns);
          for (guint k = 0; k < conns->len; k++)
            {
              const MbPeerConnInfo *ci = &g_array_index (conns, MbPeerConnInfo, k);
              n_conns += ci->established;
              n_unchoked += ci->established && !ci->am_choking;
            }
        }
    }
  metric (s, "minibit_swarm_bytes_up_total", "counter",
          "Piece payload this peer sent in swarms (to other fetchers).", st.bytes_up);
  metric (s, "minibit_swarm_bytes_down_total", "counter",
          "Piece payload this peer received in swarms.", st.bytes_down);
  metric (s, "minibit_swarm_pieces_total", "counter",
          "Pieces got through swarms, verified and stored.", st.pieces_stored);
  metric (s, "minibit_swarm_bad_pieces_total", "counter",
          "Pieces got through swarms that failed verification (discarded).", st.bad_pieces);
  metric (s, "minibit_swarm_requests_timed_out_total", "counter",
          "Block requests given back because their connection sent no block for the "
          "request timeout (20 s).", st.requests_timed_out);
  metric (s, "minibit_swarm_stalls_total", "counter",
          "Swarm connections stalled: requests out and no block for the request timeout.",
          st.stalls);
  metric (s, "minibit_swarm_silent_closes_total", "counter",
          "Stalled swarm connections closed because they stayed silent as long again.",
          st.silent_closes);
  metric (s, "minibit_swarms_joined_total", "counter",
          "Swarms joined (fetches, and files served to fetchers).", st.swarms_joined);
  metric (s, "minibit_swarms", "gauge", "Swarms this peer is in now.", n_swarms);
  metric (s, "minibit_swarm_connections", "gauge",
          "Established swarm connections, over all swarms.", n_conns);
  metric (s, "minibit_swarm_unchoked", "gauge",
          "Swarm connections this peer unchokes (uploads to) now.", n_unchoked);

  /* HTTP */
  family (s, "minibit_http_requests_total", "counter",
          "HTTP requests finished, by endpoint and status class.");
  static const char *const classes[MBI_HTTP_CLASSES] = { "none", "1xx", "2xx", "3xx", "4xx",
                                                         "5xx" };
  for (guint e = 0; e < MBI_HTTP_ENDPOINTS; e++)
    for (guint k = 0; k < MBI_HTTP_CLASSES; k++)
      if (c->http[e][k] > 0)
        g_string_append_printf (s, "minibit_http_requests_total{endpoint=\"%s\",code=\"%s\"} %"
                                G_GUINT64_FORMAT "\n", endpoints[e], classes[k], c->http[e][k]);
  metric (s, "minibit_uptime_seconds", "gauge", "Seconds since this peer started.",
          (guint64) (g_get_monotonic_time () - c->started_us) / G_USEC_PER_SEC);

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  gsize len = s->len;
  soup_server_message_set_response (msg, "text/plain; version=0.0.4; charset=utf-8",
                                    SOUP_MEMORY_TAKE, g_string_free (s, FALSE), len);
}
