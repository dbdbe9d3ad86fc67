/* peer-swarm.c — minibit-peer's swarm half: the core's swarm peer (MbPeer,
 * the code the simulator runs, unchanged) on the same transport as the
 * ring peer, so that a fetch_file of a file many peers want is its swarm
 * (mb_ringpeer_set_swarm, core/ring/ringpeer.h; core/swarm/peer.h "swarms
 * of ring files").
 *
 * Its host is the gateway's (the transport's: HTTP pseudo nodes never
 * reach it), with the transport's uplink flow control when the transport
 * offers it, but without `disconnect`: a TCP connection carries the ring's
 * requests and pings too, so the swarm never closes one; it closes its
 * connection in a swarm with a goodbye (HANDSHAKE code 3) instead.  Its peer id is SELF_ID and its address our ring name; its
 * tracker is the tracker's wire address when a tracker is set (it registers
 * each swarm it fetches there, under the swarm's key), else none (a swarm
 * then forms from the manifest's holders alone).  Routing (peer-main.c):
 * ring messages go to the ring peer; the swarm's family, and PEER_LISTs of
 * a swarm (file not ""), come here.  Invariants: its timer is its own
 * expiry driver, re-armed after every call into it (mbi_peer_rearm re-arms
 * both); it is freed after the ring peer (which holds it) and before the
 * gateway, store and transport it uses.
 */
#define MB_REAL_PEER_INTERNAL
#include "peer-private.h"

#include <string.h>

static guint64
sp_next (gconstpointer obj)
{
  return mb_peer_next_expiry (obj);
}

static void
sp_handle (gpointer obj, guint64 now)
{
  mb_peer_handle_expiry (obj, now);
}

/* An environment knob for experiments: a whole number in [0, max] into
 * *out; unset or empty leaves *out; anything else is ignored with a warning. */
static void
env_uint (const char *name, guint64 max, guint64 *out)
{
  const char *v = g_getenv (name);
  if (v == NULL || *v == '\0')
    return;
  gchar *end = NULL;
  guint64 x = g_ascii_strtoull (v, &end, 10);
  if (g_ascii_isdigit (*v) && end != NULL && *end == '\0' && x <= max)
    *out = x;
  else
    g_warning ("%s=%s is not 0-%" G_GUINT64_FORMAT ": ignored", name, v, max);
}

void
mbi_peer_swarm_start (MbPeerApp *app)
{
  mb_gateway_set_uplink_rate (app->gateway, app->cfg.uplink_rate);
  app->swarm_host = *mb_gateway_host (app->gateway);
  app->swarm_host.disconnect = NULL;
  const MbHost *host = &app->swarm_host;
  MbNodeId tracker = MB_NODE_NONE;
  if (app->cfg.tracker_set)
    {
      g_autofree gchar *addr = mb_transport_addr_join (app->cfg.tracker_host,
                                                       (guint16) (app->cfg.tracker_port + 1));
      tracker = host->resolve (host->ctx, mb_transport_self (app->transport), addr);
    }
  MbPeerConfig pcfg;
  mb_peer_config_init (&pcfg);
  /* MiniBit's tracker-assigned initial blocks are generated content: never
   * in a real swarm. */
  pcfg.accept_initial_blocks = FALSE;
  /* For experiments (tools/emulate, README "Emulation"): the choker's extra
   * upload slots while the uplink runs dry, 0-64 (default the core's 8),
   * and the request timeout in ms (0: never; default the core's 20 s); */
  guint64 extra = pcfg.max_extra_slots;
  env_uint ("MINIBIT_SWARM_MAX_EXTRA_SLOTS", 64, &extra);
  pcfg.max_extra_slots = (guint) extra;
  /* ... and super seeding (BEP 16: a seed shows each peer one piece at a
   * time), 0 or 1 (default the core's: off) */
  guint64 super_seeding = pcfg.super_seeding ? 1 : 0;
  env_uint ("MINIBIT_SWARM_SUPER_SEEDING", 1, &super_seeding);
  pcfg.super_seeding = super_seeding != 0;
  guint64 timeout_ms = pcfg.request_timeout_us / 1000;
  env_uint ("MINIBIT_SWARM_REQUEST_TIMEOUT_MS", 3600000, &timeout_ms);
  pcfg.request_timeout_us = timeout_ms * 1000;
  app->swarm = mb_peer_new (host, mb_transport_self (app->transport), app->cfg.self_id,
                            app->addr, tracker, &pcfg, app->store, g_rand_new ());
  app->swarm_timer = mb_expiry_driver_new (app->swarm, sp_next, sp_handle, NULL);
  mbi_peer_unchokes_start (app);
  if (!app->cfg.no_swarm)
    mb_ringpeer_set_swarm (app->rp, app->swarm);
}

void
mbi_peer_swarm_free (MbPeerApp *app)
{
  mb_expiry_driver_free (app->swarm_timer);
  app->swarm_timer = NULL;
  mbi_peer_unchokes_free (app);
  mb_peer_free (app->swarm);
  app->swarm = NULL;
}

gboolean
mbi_peer_swarm_receive (MbPeerApp *app, MbNodeId from, const MbMessage *msg)
{
  gboolean mine = mb_message_family (msg->type) == MB_FAMILY_SWARM
                  || (msg->type == MB_MSG_PEER_LIST && msg->file && msg->file[0]);
  if (!mine || !app->swarm)
    return FALSE;
  mb_peer_receive (app->swarm, from, msg, mb_clock_now ());
  return TRUE;
}

void
mbi_peer_swarm_on_gone (MbPeerApp *app, MbNodeId node)
{
  if (app->swarm)
    mb_peer_on_disconnect (app->swarm, node, mb_clock_now ());
}

void
mbi_peer_swarm_on_uplink_ready (MbPeerApp *app)
{
  if (app->swarm)
    {
      mb_peer_on_uplink_ready (app->swarm, mb_clock_now ());
      mbi_peer_rearm (app);
    }
}

void
mbi_peer_swarm_leave (MbPeerApp *app)
{
  if (app->swarm)
    {
      mb_peer_leave (app->swarm, mb_clock_now ());
      mbi_peer_rearm (app);
    }
}

const char *
mbi_peer_swarm_find (MbPeerApp *app, const char *file)
{
  if (!app->swarm || !file)
    return NULL;
  g_autoptr (GPtrArray) keys = g_ptr_array_new ();
  mb_peer_swarm_keys (app->swarm, keys);
  const char *serving = NULL;
  for (guint i = 0; i < keys->len; i++)
    {
      const char *k = keys->pdata[i];
      const MbManifest *m = mb_peer_swarm_manifest (app->swarm, k);
      if (strcmp (k, file) != 0 && strcmp (mb_manifest_name (m), file) != 0)
        continue;
      if (!mb_peer_swarm_serving_only (app->swarm, k))
        return k;
      serving = serving ? serving : k;
    }
  return serving;
}

gboolean
mbi_peer_swarm_conn_of (MbPeerApp *app, const char *key, const char *name, MbPeerConnInfo *out)
{
  g_autoptr (GArray) conns = g_array_new (FALSE, FALSE, sizeof (MbPeerConnInfo));
  if (!app->swarm || !mb_peer_conns (app->swarm, key, mb_clock_now (), conns))
    return FALSE;
  for (guint i = 0; i < conns->len; i++)
    {
      MbPeerConnInfo *c = &g_array_index (conns, MbPeerConnInfo, i);
      if (c->established && c->name && strcmp (c->name, name) == 0)
        {
          *out = *c;
          return TRUE;
        }
    }
  return FALSE;
}
