/* scenario-keys.c — what may appear in a scenario file, and loading it.
 *
 * The file is a GKeyFile.  What may appear in it is one table, `groups`:
 * each group names its keys, and each key its kind (size, rate, ...), the
 * field it fills (an offset into the group's struct), whether it is required
 * and an example for messages.  Free-form groups ([latency], [expect]) check
 * their keys with a function instead.  Validation walks that table in its
 * own order (so [network] is known before [latency] and [peers.*], classes
 * before [event.*], [ring] and [publish.*] before [fetch.*]), then each
 * group's `finish` does cross-key checks.  Groups of a concept of their own
 * keep their keys, defaults and checks in their own file: [swarm] in
 * scenario-swarm.c; [ring], [publish.*] and [fetch.*] in scenario-ring.c.  The whole file (scenario.c)
 * calls mbi_scenario_check_groups and mbi_scenario_load_groups; an override
 * (--set) is checked against the same table by mbi_scenario_check_override.
 */
#include "scenario.h"
#define MB_SIM_SCENARIO_INTERNAL
#include "scenario-private.h"

#include <stddef.h>
#include <string.h>

#include "units.h"
#include "swarm/peer.h"
#include "swarm/tracker.h"

G_STATIC_ASSERT (sizeof (MbScenarioStrategy) == sizeof (gint));
G_STATIC_ASSERT (sizeof (MbStopRule) == sizeof (gint));
G_STATIC_ASSERT (sizeof (MbAction) == sizeof (gint));
G_STATIC_ASSERT (sizeof (MbRingRole) == sizeof (gint));

/* ---- the table of groups and keys ----------------------------------------- */

typedef struct {
  const char *name;       /* "file"; for multi groups the prefix, "peers" */
  gboolean multi;         /* [name.<id>], zero or more, in file order */
  gboolean required;      /* a single group checked even when absent */
  const MbKeySpec *keys;  /* NULL: free-form keys, checked by free_key */
  /* Sets defaults; returns the struct that keys' offsets point into. */
  gpointer (*open) (MbLoad *ld, const char *id);
  /* ld is NULL when checking an override: syntax only. */
  gboolean (*free_key) (MbLoad *ld, const char *where, const char *group, const char *key,
                        const char *value, GError **error);
  /* Cross-key checks after all keys are read (runs for absent groups too). */
  gboolean (*finish) (MbLoad *ld, const char *group, gpointer target, GError **error);
  const char *display;    /* "[peers.<class>]" */
} MbGroupSpec;

static const char *const stop_choices[] = { "all-complete", "duration", NULL };
static const char *const strategy_choices[] = { "tft", "freerider", "altruist", "bittyrant",
                                                 "propshare", NULL };
static const char *const action_choices[] = { "shutdown", "crash", "add", "partition", NULL };
static const char *const ring_role_choices[] = { "member", "client", NULL };

#define SC(f) offsetof (MbScenario, f)
static const MbKeySpec scenario_keys[] = {
  { "name", MB_KIND_STRING, SC (name), FALSE, "flash-crowd", NULL },
  { "seed", MB_KIND_U64, SC (seed), FALSE, "1", NULL },
  { "duration", MB_KIND_DURATION, SC (duration), FALSE, "24h", NULL },
  { "stop", MB_KIND_ENUM, SC (stop), FALSE, "all-complete", stop_choices },
  { "sample_interval", MB_KIND_DURATION, SC (sample_interval), FALSE, "10s", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define FI(f) offsetof (MbFileConfig, f)
static const MbKeySpec file_keys[] = {
  { "size", MB_KIND_SIZE, FI (size), FALSE, "100MiB", NULL }, /* see mb_finish_file */
  { "piece_size", MB_KIND_SIZE, FI (piece_size), FALSE, "256KiB", NULL },
  { "block_size", MB_KIND_SIZE, FI (block_size), FALSE, "16KiB", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define TR(f) offsetof (MbScenarioTracker, f)
static const MbKeySpec tracker_keys[] = {
  { "peer_list_size", MB_KIND_COUNT, TR (peer_list_size), FALSE, "5", NULL },
  { "announce_interval", MB_KIND_DURATION, TR (announce_interval), FALSE, "5min", NULL },
  { "peer_timeout", MB_KIND_DURATION, TR (peer_timeout), FALSE, "30min", NULL },
  { "initial_share", MB_KIND_PROBABILITY, TR (initial_share), FALSE, "0.1", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define NW(f) offsetof (MbNetworkConfig, f)
static const MbKeySpec network_keys[] = {
  { "latency", MB_KIND_RANGE, NW (latency), FALSE, "50ms", NULL },
  { "loss", MB_KIND_PROBABILITY, NW (loss), FALSE, "0.01", NULL },
  { "overhead", MB_KIND_PROBABILITY, NW (overhead), FALSE, "4.6%", NULL },
  { "link_queue", MB_KIND_SIZE, NW (link_queue), FALSE, "128KiB", NULL },
  { "regions", MB_KIND_NAME_LIST, NW (regions), FALSE, "eu, us, asia", NULL },
  { "jitter", MB_KIND_DURATION, NW (jitter), FALSE, "5ms", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define CH(f) offsetof (MbChurnConfig, f)
static const MbKeySpec churn_keys[] = {
  { "session", MB_KIND_DIST, CH (session), TRUE, "exponential 30min", NULL },
  { "leave_graceful", MB_KIND_PROBABILITY, CH (leave_graceful), FALSE, "0.9", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define PC(f) offsetof (MbPeerClass, f)
static const MbKeySpec peer_keys[] = {
  { "count", MB_KIND_COUNT, PC (count), TRUE, "100", NULL },
  { "upload", MB_KIND_RATE, PC (upload), TRUE, "10Mbit", NULL },
  { "download", MB_KIND_RATE, PC (download), TRUE, "50Mbit", NULL },
  { "strategy", MB_KIND_ENUM, PC (strategy), FALSE, "tft", strategy_choices },
  { "initial_share", MB_KIND_PROBABILITY, PC (initial_share), FALSE, "1", NULL },
  { "arrival", MB_KIND_ARRIVAL, PC (arrival), FALSE, "poisson", NULL },
  { "arrival_rate", MB_KIND_PER_SECOND, PC (arrival.rate), FALSE, "2/s", NULL },
  { "arrival_start", MB_KIND_DURATION, PC (arrival.start), FALSE, "10min", NULL },
  { "region", MB_KIND_NAME, PC (region_name), FALSE, "eu", NULL },
  { "seed_time", MB_KIND_DIST, PC (seed_time), FALSE, "30min", NULL },
  { "abort", MB_KIND_DIST, PC (abort), FALSE, "exponential 2h", NULL },
  { "churn", MB_KIND_BOOL, PC (churn), FALSE, "yes", NULL },
  { "ring", MB_KIND_ENUM, PC (ring), FALSE, "client", ring_role_choices },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define EV(f) offsetof (MbScenarioEvent, f)
static const MbKeySpec event_keys[] = {
  { "at", MB_KIND_DURATION, EV (at), TRUE, "10min", NULL },
  { "action", MB_KIND_ENUM, EV (action), TRUE, "crash", action_choices },
  { "count", MB_KIND_COUNT, EV (count), FALSE, "10", NULL },
  { "class", MB_KIND_NAME, EV (class_name), FALSE, "fast", NULL },
  { "interval", MB_KIND_DURATION, EV (interval), FALSE, "10s", NULL },
  { "repeat", MB_KIND_COUNT, EV (repeat), FALSE, "5", NULL },
  { "every", MB_KIND_DURATION, EV (every), FALSE, "2min", NULL },
  { "groups", MB_KIND_COUNT, EV (groups), FALSE, "2", NULL },
  { "until", MB_KIND_DURATION, EV (until), FALSE, "20min", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

static gpointer mb_open_scenario (MbLoad *ld, const char *id);
static gpointer mb_open_file (MbLoad *ld, const char *id);
static gpointer mb_open_tracker (MbLoad *ld, const char *id);
static gpointer mb_open_network (MbLoad *ld, const char *id);
static gpointer mb_open_none (MbLoad *ld, const char *id);
static gpointer mb_open_churn (MbLoad *ld, const char *id);
static gpointer mb_open_class (MbLoad *ld, const char *id);
static gpointer mb_open_event (MbLoad *ld, const char *id);
static gboolean mb_finish_scenario (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_finish_file (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_finish_tracker (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_finish_network (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_finish_latency (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_finish_class (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_finish_event (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_latency_key (MbLoad *ld, const char *where, const char *group,
                                const char *key, const char *value, GError **error);

/* Validation runs in this order.  A new group is one row here plus its
 * struct (or, with multi = TRUE, an array) in MbScenario.  [file] is not
 * `required` here as [ring] makes it optional: mb_finish_file checks. */
static const MbGroupSpec groups[] = {
  { "scenario", FALSE, FALSE, scenario_keys, mb_open_scenario, NULL, mb_finish_scenario,
    "[scenario]" },
  { "file", FALSE, FALSE, file_keys, mb_open_file, NULL, mb_finish_file, "[file]" },
  { "tracker", FALSE, FALSE, tracker_keys, mb_open_tracker, NULL, mb_finish_tracker,
    "[tracker]" },
  { "network", FALSE, FALSE, network_keys, mb_open_network, NULL, mb_finish_network,
    "[network]" },
  { "latency", FALSE, FALSE, NULL, mb_open_none, mb_latency_key, mb_finish_latency,
    "[latency]" },
  { "churn", FALSE, FALSE, churn_keys, mb_open_churn, NULL, NULL, "[churn]" },
  { "swarm", FALSE, FALSE, mbi_scenario_swarm_keys, mbi_scenario_open_swarm, NULL,
    mbi_scenario_finish_swarm, "[swarm]" },
  { "ring", FALSE, FALSE, mbi_scenario_ring_keys, mbi_scenario_open_ring, NULL,
    mbi_scenario_finish_ring, "[ring]" },
  { "peers", TRUE, FALSE, peer_keys, mb_open_class, NULL, mb_finish_class, "[peers.<class>]" },
  { "event", TRUE, FALSE, event_keys, mb_open_event, NULL, mb_finish_event, "[event.<name>]" },
  { "publish", TRUE, FALSE, mbi_scenario_publish_keys, mbi_scenario_open_publish, NULL,
    mbi_scenario_finish_publish, "[publish.<name>]" },
  { "fetch", TRUE, FALSE, mbi_scenario_fetch_keys, mbi_scenario_open_fetch, NULL,
    mbi_scenario_finish_fetch, "[fetch.<name>]" },
  { "expect", FALSE, FALSE, NULL, mb_open_none, mbi_scenario_expect_key, NULL, "[expect]" },
};

/* The spec for a group name; *id gets the part after "peers." (multi). */
static const MbGroupSpec *
mb_group_find (const char *group, const char **id)
{
  for (guint i = 0; i < G_N_ELEMENTS (groups); i++)
    {
      const MbGroupSpec *gs = &groups[i];
      gsize n = strlen (gs->name);
      if (!gs->multi && strcmp (group, gs->name) == 0)
        return gs;
      if (gs->multi && strncmp (group, gs->name, n) == 0 && group[n] == '.')
        {
          *id = group + n + 1;
          return gs;
        }
    }
  return NULL;
}

static const MbKeySpec *
mb_key_find (const MbGroupSpec *gs, const char *key)
{
  for (const MbKeySpec *k = gs->keys; k->key != NULL; k++)
    if (strcmp (k->key, key) == 0)
      return k;
  return NULL;
}

/* Checks that a group exists in the table (and a multi group's id). */
static const MbGroupSpec *
mb_group_check (const char *where, const char *group, GError **error)
{
  const char *id = NULL;
  const MbGroupSpec *gs = mb_group_find (group, &id);
  if (gs == NULL)
    {
      GString *known = g_string_new (NULL);
      for (guint i = 0; i < G_N_ELEMENTS (groups); i++)
        g_string_append_printf (known, "%s%s", i ? ", " : "", groups[i].display);
      mbi_scenario_fail (error, MB_SCENARIO_ERROR_UNKNOWN_GROUP, where, group, NULL,
                        "unknown group; known groups: %s", known->str);
      g_string_free (known, TRUE);
      return NULL;
    }
  if (gs->multi && !mbi_scenario_is_name (id))
    {
      mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, where, group, NULL,
                        "\"%s\" is not a name for %s; " NAME_FORM ", e.g. [%s.fast]", id,
                        gs->display, gs->name);
      return NULL;
    }
  return gs;
}

static gboolean
mb_fail_unknown_key (GError **error, const char *where, const MbGroupSpec *gs,
                     const char *group, const char *key)
{
  GString *known = g_string_new (NULL);
  for (const MbKeySpec *k = gs->keys; k->key != NULL; k++)
    g_string_append_printf (known, "%s%s", k == gs->keys ? "" : ", ", k->key);
  mbi_scenario_fail (error, MB_SCENARIO_ERROR_UNKNOWN_KEY, where, group, key,
                    "unknown key; known keys: %s", known->str);
  g_string_free (known, TRUE);
  return FALSE;
}

/* ---- loading one group ---------------------------------------------------- */

static gboolean
mb_load_has (const MbLoad *ld, const char *group, const char *key)
{
  return ld->present && g_key_file_has_key (ld->kf, group, key, NULL);
}

gboolean
mbi_scenario_load_has (const MbLoad *ld, const char *group, const char *key)
{
  return mb_load_has (ld, group, key);
}

static gboolean
mb_load_key (MbLoad *ld, const MbGroupSpec *gs, const char *group, gpointer target,
             const char *key, const char *value, GError **error)
{
  if (gs->keys == NULL)
    return gs->free_key (ld, ld->where, group, key, value, error);
  const MbKeySpec *spec = mb_key_find (gs, key);
  if (spec == NULL)
    return mb_fail_unknown_key (error, ld->where, gs, group, key);
  GError *inner = NULL;
  if (!mbi_scenario_value_parse (spec, value, (guint8 *) target + spec->offset, &inner))
    return mbi_scenario_fail_wrap (error, inner, ld->where, group, key);
  return TRUE;
}

static gboolean
mb_load_keys (MbLoad *ld, const MbGroupSpec *gs, const char *group, gpointer target,
              GError **error)
{
  gsize n = 0;
  g_auto (GStrv) keys = ld->present ? g_key_file_get_keys (ld->kf, group, &n, NULL) : NULL;
  for (gsize i = 0; i < n; i++)
    {
      g_autofree gchar *value = g_key_file_get_value (ld->kf, group, keys[i], NULL);
      if (!mb_load_key (ld, gs, group, target, keys[i], g_strstrip (value), error))
        return FALSE;
    }
  for (const MbKeySpec *k = gs->keys; k != NULL && k->key != NULL; k++)
    if (k->required && !mb_load_has (ld, group, k->key))
      return mbi_scenario_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, k->key,
                               "required key is missing; write e.g. %s = %s", k->key, k->example);
  return TRUE;
}

static gboolean
mb_load_group (MbLoad *ld, const MbGroupSpec *gs, const char *group, const char *id,
               GError **error)
{
  ld->present = g_key_file_has_group (ld->kf, group);
  gpointer target = gs->open (ld, id);
  if ((ld->present || gs->required) && !mb_load_keys (ld, gs, group, target, error))
    return FALSE;
  return gs->finish == NULL || gs->finish (ld, group, target, error);
}

/* ---- opening groups: defaults --------------------------------------------- */

static gpointer
mb_open_scenario (MbLoad *ld, const char *id G_GNUC_UNUSED)
{
  MbScenario *sc = ld->sc;
  sc->seed = 1;
  sc->duration = G_GUINT64_CONSTANT (24) * 3600 * G_USEC_PER_SEC;
  sc->stop = MB_STOP_ALL_COMPLETE;
  sc->sample_interval = 10 * G_USEC_PER_SEC;
  return sc;
}

static gpointer
mb_open_file (MbLoad *ld, const char *id G_GNUC_UNUSED)
{
  MbFileConfig *f = &ld->sc->file;
  MbPeerConfig peer;
  mb_peer_config_init (&peer);
  f->piece_size = 256 * 1024;
  f->block_size = peer.block_size;
  return f;
}

static gpointer
mb_open_tracker (MbLoad *ld, const char *id G_GNUC_UNUSED)
{
  /* The core's defaults: a scenario overrides only what it sets. */
  MbScenarioTracker *t = &ld->sc->tracker;
  MbTrackerConfig tracker;
  mb_tracker_config_init (&tracker);
  MbPeerConfig peer;
  mb_peer_config_init (&peer);
  t->peer_list_size = tracker.peer_list_size;
  t->announce_interval = peer.announce_interval_us;
  t->peer_timeout = tracker.peer_timeout_us;
  t->initial_share = tracker.initial_share;
  return t;
}

static gpointer
mb_open_network (MbLoad *ld, const char *id G_GNUC_UNUSED)
{
  MbNetworkConfig *n = &ld->sc->network;
  n->latency.lo = n->latency.hi = 50 * 1000;
  return n;
}

static gpointer
mb_open_none (MbLoad *ld G_GNUC_UNUSED, const char *id G_GNUC_UNUSED)
{
  return NULL;
}

static gpointer
mb_open_churn (MbLoad *ld, const char *id G_GNUC_UNUSED)
{
  MbChurnConfig *c = &ld->sc->churn;
  c->enabled = ld->present;
  c->leave_graceful = 1.0;
  return c;
}

static gpointer
mb_open_class (MbLoad *ld, const char *id)
{
  MbPeerClass c = { 0 };
  c.name = g_strdup (id);
  c.strategy = MB_SCENARIO_STRATEGY_TFT;
  c.arrival.kind = MB_ARRIVAL_AT;
  c.seed_time.kind = MB_DIST_NONE; /* forever */
  c.abort.kind = MB_DIST_NONE;     /* never */
  g_array_append_val (ld->classes, c);
  return &g_array_index (ld->classes, MbPeerClass, ld->classes->len - 1);
}

static gpointer
mb_open_event (MbLoad *ld, const char *id)
{
  MbScenarioEvent e = { 0 };
  e.name = g_strdup (id);
  e.class_index = -1;
  e.repeat = 1;
  e.groups = 2;
  g_array_append_val (ld->events, e);
  return &g_array_index (ld->events, MbScenarioEvent, ld->events->len - 1);
}

/* ---- finishing groups: cross-key checks ----------------------------------- */

static gboolean
mb_finish_scenario (MbLoad *ld, const char *group, gpointer t G_GNUC_UNUSED, GError **error)
{
  MbScenario *sc = ld->sc;
  if (sc->name == NULL)
    {
      gchar *base = g_path_get_basename (sc->path);
      if (g_str_has_suffix (base, ".ini") && strlen (base) > 4)
        base[strlen (base) - 4] = '\0';
      sc->name = base;
    }
  if (sc->duration == 0)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "duration",
                             "must be above 0; write e.g. duration = 24h");
  if (sc->sample_interval == 0)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "sample_interval",
                             "must be above 0; write e.g. sample_interval = 10s");
  return TRUE;
}

static gboolean
mb_finish_file (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbFileConfig *f = t;
  if (!mb_load_has (ld, group, "size"))
    {
      if (!ld->present && g_key_file_has_group (ld->kf, "ring"))
        return TRUE; /* no swarm file: size and n_pieces stay 0 */
      return mbi_scenario_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, "size",
                               "required key is missing; write e.g. size = 100MiB%s",
                               ld->present ? "" : " ([file] is required unless [ring] is present)");
    }
  if (f->size == 0)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "size",
                             "the file must not be empty; write e.g. size = 100MiB");
  if (f->piece_size == 0 || f->piece_size > G_MAXUINT32)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "piece_size",
                             "must be from 1B to 4GiB; write e.g. piece_size = 256KiB");
  if (f->block_size == 0 || f->piece_size % f->block_size != 0)
    {
      g_autofree gchar *b = mb_units_format_size (f->block_size);
      g_autofree gchar *p = mb_units_format_size (f->piece_size);
      return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "block_size",
                               "%s does not divide piece_size %s; write e.g. block_size = 16KiB",
                               b, p);
    }
  guint64 n = f->size / f->piece_size + (f->size % f->piece_size != 0);
  if (n > G_MAXUINT32)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "piece_size",
                             "too small for the file (more than 2^32 pieces)");
  f->n_pieces = (guint) n;
  return TRUE;
}

static gboolean
mb_finish_tracker (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbScenarioTracker *tr = t;
  if (tr->peer_list_size == 0)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "peer_list_size",
                             "must be at least 1; write e.g. peer_list_size = 5");
  return TRUE;
}

static gboolean
mb_finish_network (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbNetworkConfig *n = t;
  /* 1 GiB at 1 kbit/s is 100 days: no arrival time can overflow */
  if (n->link_queue > (G_GUINT64_CONSTANT (1) << 30))
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "link_queue",
                             "at most 1GiB; write e.g. link_queue = 128KiB");
  n->n_regions = n->regions ? g_strv_length (n->regions) : 0;
  if (n->n_regions == 0)
    {
      if (mb_load_has (ld, group, "jitter"))
        return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "jitter",
                                 "applies only with regions; without them write a range, "
                                 "e.g. latency = 20ms..120ms");
      n->latency_model = n->latency.lo == n->latency.hi ? MB_LATENCY_CONSTANT
                                                        : MB_LATENCY_UNIFORM;
      return TRUE;
    }
  if (mb_load_has (ld, group, "latency"))
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "latency",
                             "with regions, give latencies in [latency] instead, "
                             "e.g. eu.us = 80ms");
  n->latency_model = MB_LATENCY_REGIONS;
  n->latency_matrix = g_new0 (guint64, n->n_regions * n->n_regions);
  ld->pair_given = g_new0 (guint8, n->n_regions * n->n_regions);
  return TRUE;
}

static gint
mb_region_index (const MbNetworkConfig *n, const char *name)
{
  for (guint i = 0; i < n->n_regions; i++)
    if (strcmp (n->regions[i], name) == 0)
      return (gint) i;
  return -1;
}

static gboolean
mb_fail_no_region (GError **error, const char *where, const char *group, const char *key,
                   const MbNetworkConfig *n, const char *name)
{
  g_autofree gchar *list = g_strjoinv (", ", n->regions);
  return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, where, group, key,
                           "\"%s\" is not a region; regions are: %s", name, list);
}

static gboolean
mb_latency_key (MbLoad *ld, const char *where, const char *group, const char *key,
                const char *value, GError **error)
{
  g_auto (GStrv) pair = g_strsplit (key, ".", -1);
  if (g_strv_length (pair) != 2 || !mbi_scenario_is_name (pair[0])
      || !mbi_scenario_is_name (pair[1]))
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, where, group, key,
                             "not a pair of regions; write e.g. eu.us = 80ms");
  guint64 v = 0;
  GError *inner = NULL;
  if (!mb_units_parse_duration (value, &v, &inner))
    return mbi_scenario_fail_wrap (error, inner, where, group, key);
  const MbNetworkConfig *n = ld ? &ld->sc->network : NULL;
  if (n == NULL || n->n_regions == 0)
    return TRUE; /* an override, or no regions: mb_finish_latency reports it */
  gint from = mb_region_index (n, pair[0]), to = mb_region_index (n, pair[1]);
  if (from < 0 || to < 0)
    return mb_fail_no_region (error, where, group, key, n, from < 0 ? pair[0] : pair[1]);
  n->latency_matrix[from * n->n_regions + to] = v;
  ld->pair_given[from * n->n_regions + to] = 1;
  return TRUE;
}

static gboolean
mb_finish_latency (MbLoad *ld, const char *group, gpointer t G_GNUC_UNUSED, GError **error)
{
  MbNetworkConfig *n = &ld->sc->network;
  if (n->n_regions == 0)
    return !ld->present
           || mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, NULL,
                                "region latencies need regions in [network], "
                                "e.g. regions = eu, us");
  guint r = n->n_regions;
  for (guint i = 0; i < r; i++)
    for (guint j = i; j < r; j++)
      {
        gboolean ij = ld->pair_given[i * r + j], ji = ld->pair_given[j * r + i];
        if (!ij && !ji)
          {
            g_autofree gchar *key = g_strdup_printf ("%s.%s", n->regions[i], n->regions[j]);
            return mbi_scenario_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, key,
                                     "missing; every pair of regions needs a latency "
                                     "(one direction serves both), e.g. %s = 80ms", key);
          }
        if (!ij)
          n->latency_matrix[i * r + j] = n->latency_matrix[j * r + i];
        if (!ji)
          n->latency_matrix[j * r + i] = n->latency_matrix[i * r + j];
      }
  return TRUE;
}

static gboolean
mb_finish_class_arrival (MbLoad *ld, const char *group, MbPeerClass *c, GError **error)
{
  if (c->arrival.kind == MB_ARRIVAL_POISSON)
    {
      if (!mb_load_has (ld, group, "arrival_rate"))
        return mbi_scenario_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, "arrival_rate",
                                 "arrival = poisson needs a rate; write e.g. arrival_rate = 2/s");
      return TRUE;
    }
  static const char *const poisson_only[] = { "arrival_rate", "arrival_start" };
  for (guint i = 0; i < G_N_ELEMENTS (poisson_only); i++)
    if (mb_load_has (ld, group, poisson_only[i]))
      return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, poisson_only[i],
                               "applies only with arrival = poisson");
  return TRUE;
}

static gboolean
mb_finish_class_region (MbLoad *ld, const char *group, MbPeerClass *c, GError **error)
{
  const MbNetworkConfig *n = &ld->sc->network;
  if (n->n_regions == 0)
    return c->region_name == NULL
           || mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "region",
                                "no regions are set; add e.g. regions = eu, us to [network]");
  if (c->region_name == NULL)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, "region",
                             "required when [network] has regions; write e.g. region = %s",
                             n->regions[0]);
  gint r = mb_region_index (n, c->region_name);
  if (r < 0)
    return mb_fail_no_region (error, ld->where, group, "region", n, c->region_name);
  c->region = (guint) r;
  return TRUE;
}

static gboolean
mb_finish_class (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbPeerClass *c = t;
  if (!mb_finish_class_arrival (ld, group, c, error)
      || !mb_finish_class_region (ld, group, c, error))
    return FALSE;
  if (c->churn && !ld->sc->churn.enabled)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "churn",
                             "churn = yes needs a [churn] group, e.g. session = exponential 30min");
  if (mb_load_has (ld, group, "ring") && !ld->sc->ring.enabled)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "ring",
                             "applies only with a [ring] group, e.g. replication = 3");
  return TRUE;
}

gint
mbi_scenario_class_index (const MbLoad *ld, const char *name)
{
  for (guint i = 0; i < ld->classes->len; i++)
    if (strcmp (g_array_index (ld->classes, MbPeerClass, i).name, name) == 0)
      return (gint) i;
  return -1;
}

gboolean
mbi_scenario_fail_no_class (GError **error, const MbLoad *ld, const char *group,
                            const char *key, const char *name)
{
  GString *list = g_string_new (NULL);
  for (guint i = 0; i < ld->classes->len; i++)
    g_string_append_printf (list, "%s%s", i ? ", " : "",
                            g_array_index (ld->classes, MbPeerClass, i).name);
  mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, key,
                    "\"%s\" is not a class; classes are: %s", name, list->str);
  g_string_free (list, TRUE);
  return FALSE;
}

/* Keys that must not appear with this action. */
static gboolean
mb_finish_event_forbid (MbLoad *ld, const char *group, const char *const *keys,
                        const char *applies, GError **error)
{
  for (guint i = 0; keys[i] != NULL; i++)
    if (mb_load_has (ld, group, keys[i]))
      return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, keys[i],
                               "applies only to action = %s", applies);
  return TRUE;
}

static gboolean
mb_finish_partition (MbLoad *ld, const char *group, MbScenarioEvent *e, GError **error)
{
  static const char *const peer_keys_only[] = { "count", "class", "interval", NULL };
  static const char *const crash_only[] = { "repeat", "every", NULL };
  if (!mb_finish_event_forbid (ld, group, peer_keys_only, "shutdown, crash or add", error)
      || !mb_finish_event_forbid (ld, group, crash_only, "crash", error))
    return FALSE;
  if (!mb_load_has (ld, group, "until"))
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, "until",
                             "action = partition needs an end; write e.g. until = 20min");
  if (e->until <= e->at)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "until",
                             "must be after at");
  if (e->groups < 2)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "groups",
                             "must be at least 2; write e.g. groups = 2");
  return TRUE;
}

/* repeat and every (crash): each repetition is a whole round of `count`
 * peers, so rounds must not overlap. */
static gboolean
mb_finish_event_repeat (MbLoad *ld, const char *group, MbScenarioEvent *e, GError **error)
{
  if (e->repeat == 0)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "repeat",
                             "must be at least 1; write e.g. repeat = 5");
  if (e->repeat == 1)
    return TRUE; /* every, if given, has nothing to space */
  if (!mb_load_has (ld, group, "every"))
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, "every",
                             "repeat = %u needs the time between rounds; write e.g. every = 2min",
                             e->repeat);
  guint64 round = 0, twice = 0;
  if (!g_uint64_checked_mul (&round, e->count - 1, e->interval))
    round = G_MAXUINT64;
  if (e->every > round)
    return TRUE;
  g_autofree gchar *r = mb_units_format_duration (round);
  g_autofree gchar *eg = round > 0 && g_uint64_checked_mul (&twice, round, 2)
                           ? mb_units_format_duration (twice) : g_strdup ("2min");
  return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "every",
                           "must be longer than one round, (count - 1) * interval = %s; "
                           "write e.g. every = %s", r, eg);
}

static gboolean
mb_finish_event (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbScenarioEvent *e = t;
  if (e->action == MB_ACTION_PARTITION)
    return mb_finish_partition (ld, group, e, error);
  static const char *const partition_only[] = { "groups", "until", NULL };
  static const char *const crash_only[] = { "repeat", "every", NULL };
  if (!mb_finish_event_forbid (ld, group, partition_only, "partition", error)
      || (e->action != MB_ACTION_CRASH
          && !mb_finish_event_forbid (ld, group, crash_only, "crash", error)))
    return FALSE;
  if (!mb_load_has (ld, group, "count") || e->count == 0)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, "count",
                             "%s; write e.g. count = 10",
                             mb_load_has (ld, group, "count") ? "must be at least 1"
                                                              : "required key is missing");
  if (e->action == MB_ACTION_ADD && e->class_name == NULL)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, "class",
                             "action = add needs a class; write e.g. class = %s",
                             ld->classes->len ? g_array_index (ld->classes, MbPeerClass, 0).name
                                              : "fast");
  if (e->class_name != NULL && (e->class_index = mbi_scenario_class_index (ld, e->class_name)) < 0)
    return mbi_scenario_fail_no_class (error, ld, group, "class", e->class_name);
  return e->action != MB_ACTION_CRASH || mb_finish_event_repeat (ld, group, e, error);
}

/* ---- the whole file: every group ------------------------------------------ */

gboolean
mbi_scenario_check_groups (MbLoad *ld, GError **error)
{
  g_auto (GStrv) names = g_key_file_get_groups (ld->kf, NULL);
  for (guint i = 0; names[i] != NULL; i++)
    if (mb_group_check (ld->where, names[i], error) == NULL)
      return FALSE;
  return TRUE;
}

gboolean
mbi_scenario_load_groups (MbLoad *ld, GError **error)
{
  g_auto (GStrv) names = g_key_file_get_groups (ld->kf, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (groups); i++)
    {
      const MbGroupSpec *gs = &groups[i];
      if (!gs->multi)
        {
          if (!mb_load_group (ld, gs, gs->name, NULL, error))
            return FALSE;
          continue;
        }
      for (guint j = 0; names[j] != NULL; j++)
        {
          const char *id = NULL;
          if (mb_group_find (names[j], &id) == gs && !mb_load_group (ld, gs, names[j], id, error))
            return FALSE;
        }
    }
  if (ld->classes->len == 0)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, NULL, NULL,
                             "no [peers.<class>] group; add one, e.g. [peers.leechers] with count, "
                             "upload and download");
  return TRUE;
}

/* ---- overrides ------------------------------------------------------------ */

/* "peers.fast.upload" -> group "peers.fast", key "upload"; "latency.eu.us" ->
 * "latency", "eu.us".  Unknown first words split at the last dot. */
gboolean
mbi_scenario_split_override (const char *lhs, gchar **group, gchar **key)
{
  const char *dot = strchr (lhs, '.');
  if (dot == NULL)
    return FALSE;
  g_autofree gchar *first = g_strndup (lhs, dot - lhs);
  const char *id = NULL;
  g_autofree gchar *probe = g_strconcat (first, ".x", NULL);
  const MbGroupSpec *gs = mb_group_find (first, &id);
  const char *end = dot;
  if (gs == NULL && mb_group_find (probe, &id) != NULL)
    end = strchr (dot + 1, '.');       /* a multi group: two words */
  else if (gs == NULL)
    end = strrchr (lhs, '.');
  if (end == NULL || end[1] == '\0' || end == lhs)
    return FALSE;
  *group = g_strndup (lhs, end - lhs);
  *key = g_strdup (end + 1);
  return TRUE;
}

gboolean
mbi_scenario_check_override (const char *where, const char *group, const char *key,
                            const char *value, GError **error)
{
  const MbGroupSpec *gs = mb_group_check (where, group, error);
  if (gs == NULL)
    return FALSE;
  if (gs->keys == NULL)
    return gs->free_key (NULL, where, group, key, value, error);
  const MbKeySpec *spec = mb_key_find (gs, key);
  if (spec == NULL)
    return mb_fail_unknown_key (error, where, gs, group, key);
  MbValue scratch;
  memset (&scratch, 0, sizeof scratch);
  GError *inner = NULL;
  gboolean ok = mbi_scenario_value_parse (spec, value, &scratch, &inner);
  mbi_scenario_value_clear (spec, &scratch);
  return ok || mbi_scenario_fail_wrap (error, inner, where, group, key);
}
