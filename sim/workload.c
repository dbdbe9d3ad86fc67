/* workload.c — the ring's workloads in a scenario: files published at given
 * times ([publish.<name>]: "<name>-<index>.bin", stored by a random online
 * peer of the class) and fetches ([fetch.<name>]: a random online peer
 * fetches a random file already published), plus the availability of what
 * was published (is some online peer holding each manifest and chunk?).
 *
 * Random draws come from the experiment's own workload stream, in event
 * order, so runs stay deterministic.  Every operation in flight is counted
 * in the world's ring_busy, which the stop rule waits for.  Each call into
 * a ring peer is followed by mb_world_after_ring_call, so the requests it
 * sent time out on time (and the peer is checked under --check).
 */
#define MB_SIM_EXPERIMENT_INTERNAL
#include "experiment-private.h"

#include <math.h>
#include <string.h>

#include "ring/ring-copies.h"
#include "ring/ring-holders.h"
#include "stats.h"

typedef struct {
  MbExperiment *x;
  guint index;
  guint64 start_us;         /* fetches: when it started */
} Ctx;

/* A random online ring peer (of class cls, if cls >= 0) not in `exclude`
 * (node ids; may be NULL). */
static MbSimNode *
pick_peer (MbExperiment *x, gint cls, GHashTable *exclude)
{
  guint n = mb_world_n_nodes (x->world), count = 0;
  MbSimNode *chosen = NULL;
  for (guint i = 0; i < n; i++)
    {
      MbSimNode *p = mb_world_node (x->world, i);
      if (!p->online || !p->rp || p->shutting_down || (cls >= 0 && (gint) p->cls != cls)
          || (exclude && g_hash_table_contains (exclude, GUINT_TO_POINTER (p->id))))
        continue;
      /* reservoir sampling: uniform over the eligible peers */
      if (g_rand_int_range (x->rand_workload, 0, (gint32) ++count) == 0)
        chosen = p;
    }
  return chosen;
}

/* ---- publishing ---- */

static void
on_published (MbRingPeer *rp, const MbRingResult *r, gpointer data)
{
  Ctx *c = data;
  MbExperiment *x = c->x;
  mb_world_ring_busy_add (x->world, -1);
  if (r->ok)
    g_ptr_array_add (x->files, mb_manifest_copy (r->manifest));
  else
    x->publish_failed++;
  g_free (c);
}

static void
on_publish (MbSched *s, gpointer a, guint64 b)
{
  MbExperiment *x = a;
  const MbPublish *p = &x->sc->publishes[b >> 32];
  guint k = (guint) (b & 0xffffffffu);
  x->pending_publish--;
  MbSimNode *n = pick_peer (x, p->class_index, NULL);
  if (!n)
    {
      x->publish_failed++;
      return;
    }
  g_autofree gchar *name = g_strdup_printf ("%s-%u.bin", p->name, k);
  Ctx *c = g_new0 (Ctx, 1);
  c->x = x;
  mb_world_ring_busy_add (x->world, 1);
  mb_ringpeer_store_file (n->rp, name, NULL, p->size, mb_sched_now (s), on_published, c);
  mb_world_after_ring_call (x->world, n);   /* its requests' timeouts armed */
}

/* ---- fetching ---- */

/* The fetch figures (MbFetchStats) when the last fetch running reports:
 * what the holders sent and the fetchers received. */
static void
fetch_stats_settle (MbExperiment *x)
{
  MbFetchStats *fs = &x->fetch;
  fs->holders_up1 = fs->fetchers_down1 = 0;
  for (guint i = 0; fs->holders && i < fs->holders->len; i++)
    fs->holders_up1 += ((MbSimNode *) fs->holders->pdata[i])->fetch_bytes_up;
  for (guint i = 0; i < fs->fetchers->len; i++)
    fs->fetchers_down1 += ((MbSimNode *) fs->fetchers->pdata[i])->fetch_bytes_down;
}

static void
on_fetched (MbRingPeer *rp, const MbRingResult *r, gpointer data)
{
  Ctx *c = data;
  MbExperiment *x = c->x;
  MbFetchStats *fs = &x->fetch;
  mb_world_ring_busy_add (x->world, -1);
  x->fetches_total++;
  x->lookups_total++;
  x->fetches_failed += !r->ok;
  x->lookups_failed += r->lookups_failed;
  x->lookups_redirected += r->redirects > 0;
  if (r->ok)
    {
      double t = (double) (mb_sched_now (x->sched) - c->start_us) / 1e6;
      fs->ok++;
      fs->time_sum_s += t;
      fs->time_max_s = MAX (fs->time_max_s, t);
      fs->chunks_swarm += r->chunks_swarm;
      fs->chunks += r->manifest ? mb_manifest_n_chunks (r->manifest) : 0;
    }
  if (--fs->running == 0)
    fetch_stats_settle (x);
  g_free (c);
}

static const MbManifest *
pick_file (MbExperiment *x, gint publish_index)
{
  const char *prefix = publish_index >= 0 ? x->sc->publishes[publish_index].name : NULL;
  gsize plen = prefix ? strlen (prefix) : 0;
  const MbManifest *chosen = NULL;
  guint count = 0;
  for (guint i = 0; i < x->files->len; i++)
    {
      const char *name = mb_manifest_name (x->files->pdata[i]);
      if (prefix && !(strncmp (name, prefix, plen) == 0 && name[plen] == '-'))
        continue;
      if (g_rand_int_range (x->rand_workload, 0, (gint32) ++count) == 0)
        chosen = x->files->pdata[i];
    }
  return chosen;
}

static gboolean
holds_some (const MbStore *store, const MbManifest *m)
{
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    if (mb_store_has_chunk ((MbStore *) store, mb_manifest_chunk_id (m, i)))
      return TRUE;
  return FALSE;
}

/* Node n starts fetching `file` now: the Kumar–Ross setting's bookkeeping.
 * The first fetch names the file and the instant and finds its holders. */
static void
fetch_stats_start (MbExperiment *x, MbSimNode *n, const MbManifest *file)
{
  MbFetchStats *fs = &x->fetch;
  guint64 now = mb_sched_now (x->sched);
  if (fs->holders == NULL)
    {
      fs->uniform = TRUE;
      fs->file = g_strdup (mb_manifest_name (file));
      fs->file_bytes = mb_manifest_size (file);
      fs->start_us = now;
      fs->holders = g_ptr_array_new ();
      for (guint i = 0; i < mb_world_n_nodes (x->world); i++)
        {
          MbSimNode *h = mb_world_node (x->world, i);
          if (h->online && holds_some (h->store, file))
            {
              g_ptr_array_add (fs->holders, h);
              fs->holders_up0 += h->fetch_bytes_up;
            }
        }
    }
  else if (now != fs->start_us || strcmp (fs->file, mb_manifest_name (file)) != 0)
    fs->uniform = FALSE;
  if (g_hash_table_add (fs->fetcher_set, GUINT_TO_POINTER (n->id)))
    {
      g_ptr_array_add (fs->fetchers, n);
      fs->fetchers_down0 += n->fetch_bytes_down;
      for (guint i = 0; i < fs->holders->len; i++)
        if (fs->holders->pdata[i] == n)
          fs->uniform = FALSE; /* a fetcher that is its own server */
    }
  fs->started++;
  fs->running++;
}

static void
start_fetch (MbExperiment *x, guint fi)
{
  const MbFetch *f = &x->sc->fetches[fi];
  GHashTable *used = x->fetch.used->pdata[fi];
  x->pending_fetch--;
  MbSimNode *n = pick_peer (x, f->class_index, used);
  const MbManifest *file = pick_file (x, f->publish_index);
  if (!n || !file)
    {
      /* Nobody to fetch, or nothing published yet: a failed fetch. */
      x->fetches_total++;
      x->fetches_failed++;
      x->fetch.start_failed = TRUE;
      return;
    }
  if (used)
    g_hash_table_add (used, GUINT_TO_POINTER (n->id));
  Ctx *c = g_new0 (Ctx, 1);
  c->x = x;
  c->start_us = mb_sched_now (x->sched);
  fetch_stats_start (x, n, file);
  mb_world_ring_busy_add (x->world, 1);
  mb_ringpeer_fetch_file (n->rp, mb_manifest_name (file), mb_sched_now (x->sched), on_fetched, c);
  mb_world_after_ring_call (x->world, n);
}

static guint64
exp_gap (GRand *r, double rate)
{
  return (guint64) (-log1p (-g_rand_double (r)) / rate * 1e6);
}

static void
on_fetch (MbSched *s, gpointer a, guint64 b)
{
  MbExperiment *x = a;
  guint fi = (guint) (b >> 32);
  guint left = (guint) (b & 0xffffffffu);
  const MbFetch *f = &x->sc->fetches[fi];
  if (f->rate <= 0)
    {
      for (guint i = 0; i < left; i++)
        start_fetch (x, fi);
      return;
    }
  start_fetch (x, fi);
  if (left > 1)
    mb_sched_at (s, mb_sched_now (s) + exp_gap (x->rand_workload, f->rate), on_fetch, x,
                 ((guint64) fi << 32) | (left - 1));
}

static void
unref_if_set (gpointer table)
{
  if (table)
    g_hash_table_unref (table);
}

void
mbi_workload_schedule (MbExperiment *x)
{
  x->files = g_ptr_array_new_with_free_func ((GDestroyNotify) mb_manifest_unref);
  for (guint i = 0; i < x->sc->n_publishes; i++)
    {
      const MbPublish *p = &x->sc->publishes[i];
      x->pending_publish += p->count;
      for (guint k = 0; k < p->count; k++)
        mb_sched_at (x->sched, p->at + (guint64) k * p->interval, on_publish, x,
                     ((guint64) i << 32) | k);
    }
  x->fetch.fetchers = g_ptr_array_new ();
  x->fetch.fetcher_set = g_hash_table_new (g_direct_hash, g_direct_equal);
  x->fetch.used = g_ptr_array_new_with_free_func (unref_if_set);
  for (guint i = 0; i < x->sc->n_fetches; i++)
    g_ptr_array_add (x->fetch.used, x->sc->fetches[i].distinct
                                      ? g_hash_table_new (g_direct_hash, g_direct_equal)
                                      : NULL);
  for (guint i = 0; i < x->sc->n_fetches; i++)
    {
      const MbFetch *f = &x->sc->fetches[i];
      x->pending_fetch += f->count;
      guint64 first = f->at + (f->rate > 0 ? exp_gap (x->rand_workload, f->rate) : 0);
      mb_sched_at (x->sched, first, on_fetch, x, ((guint64) i << 32) | f->count);
    }
}

void
mbi_workload_free (MbExperiment *x)
{
  if (x->files)
    g_ptr_array_unref (x->files);
  MbFetchStats *fs = &x->fetch;
  g_free (fs->file);
  g_clear_pointer (&fs->holders, g_ptr_array_unref);
  g_clear_pointer (&fs->fetchers, g_ptr_array_unref);
  g_clear_pointer (&fs->fetcher_set, g_hash_table_unref);
  g_clear_pointer (&fs->used, g_ptr_array_unref);
}

/* ---- availability ---- */

void
mbi_workload_availability (MbExperiment *x, double *manifests, double *chunks,
                          guint *manifests_lost, guint *chunks_lost)
{
  *manifests = *chunks = NAN;
  *manifests_lost = *chunks_lost = 0;
  if (!x->files || x->files->len == 0)
    return;
  /* What online peers hold, gathered once. */
  GHashTable *held = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < mb_world_n_nodes (x->world); i++)
    {
      MbSimNode *n = mb_world_node (x->world, i);
      if (!n->online)
        continue;
      GPtrArray *ids = mb_store_list_chunks (n->store);
      for (guint k = 0; k < ids->len; k++)
        g_hash_table_add (held, g_strdup (ids->pdata[k]));
      g_ptr_array_unref (ids);
      GPtrArray *names = mb_store_list_manifests (n->store);
      for (guint k = 0; k < names->len; k++)
        g_hash_table_add (held, g_strconcat ("m:", names->pdata[k], NULL));
      g_ptr_array_unref (names);
    }
  guint mf_ok = 0, ch_ok = 0, ch_total = 0;
  for (guint f = 0; f < x->files->len; f++)
    {
      const MbManifest *m = x->files->pdata[f];
      g_autofree gchar *key = g_strconcat ("m:", mb_manifest_name (m), NULL);
      if (g_hash_table_contains (held, key))
        mf_ok++;
      else
        (*manifests_lost)++;
      for (guint c = 0; c < mb_manifest_n_chunks (m); c++)
        {
          ch_total++;
          if (g_hash_table_contains (held, mb_manifest_chunk_id (m, c)))
            ch_ok++;
          else
            (*chunks_lost)++;
        }
    }
  g_hash_table_unref (held);
  *manifests = (double) mf_ok / x->files->len;
  *chunks = ch_total ? (double) ch_ok / ch_total : NAN;
}

/* The online ring members (their stores and names), the published files'
 * names and R: what the whole-ring checkers take. */
typedef struct {
  GPtrArray *stores;        /* MbStore* */
  GPtrArray *members;       /* const char* (the nodes' addresses) */
  const char **names;
  guint r;
} Members;

static void
members_init (MbExperiment *x, Members *m)
{
  m->stores = g_ptr_array_new ();
  m->members = g_ptr_array_new ();
  for (guint i = 0; i < mb_world_n_nodes (x->world); i++)
    {
      MbSimNode *n = mb_world_node (x->world, i);
      if (n->online && n->rp && !n->ring_client)
        {
          g_ptr_array_add (m->stores, n->store);
          g_ptr_array_add (m->members, n->addr);
        }
    }
  m->names = g_new (const char *, x->files->len);
  for (guint f = 0; f < x->files->len; f++)
    m->names[f] = mb_manifest_name (x->files->pdata[f]);
  MbRingPeerConfig dflt;
  mb_ringpeer_config_init (&dflt);
  m->r = x->sc->ring.replication ? x->sc->ring.replication : dflt.replication;
}

static void
members_clear (Members *m)
{
  g_ptr_array_unref (m->stores);
  g_ptr_array_unref (m->members);
  g_free (m->names);
}

guint
mbi_workload_short_chunks (MbExperiment *x)
{
  if (!x->files || x->files->len == 0)
    return 0;
  Members m;
  members_init (x, &m);
  MbRingCopies c;
  mb_ring_check_copies ((MbStore *const *) m.stores->pdata, m.stores->len, m.names,
                        x->files->len, m.r, &c, NULL);
  members_clear (&m);
  return c.chunks_short;
}

gboolean
mbi_workload_check_holders (MbExperiment *x, GString *why)
{
  if (!x->files || x->files->len == 0)
    return TRUE;
  /* a run may end (every operation answered) before a leave's new view has
   * reached every peer: the repairs it starts put the lists right then */
  if (mb_world_views_pending (x->world) > 0)
    return TRUE;
  for (guint i = 0; i < mb_world_n_nodes (x->world); i++)
    {
      MbSimNode *n = mb_world_node (x->world, i);
      if (n->online && n->rp && mb_ringpeer_requests_to_members (n->rp) > 0)
        return TRUE;   /* a request in flight: lists may be changing */
    }
  Members m;
  members_init (x, &m);
  gboolean ok = mb_ring_check_holders ((MbStore *const *) m.stores->pdata,
                                       (const char *const *) m.members->pdata, m.stores->len,
                                       mb_world_ring (x->world), m.names, x->files->len, m.r,
                                       NULL, why);
  members_clear (&m);
  return ok;
}

/* ---- the fetch columns ---- */

void
mbi_workload_fetch_summary (MbExperiment *x, MbSummary *s)
{
  const MbFetchStats *fs = &x->fetch;
  s->fetch_time_mean_s = fs->ok > 0 ? fs->time_sum_s / fs->ok : NAN;
  s->fetch_time_max_s = fs->ok > 0 ? fs->time_max_s : NAN;
  s->fetch_swarm_chunk_share = fs->chunks > 0 ? (double) fs->chunks_swarm / fs->chunks : NAN;
  s->fetch_bound_s = s->fetch_bound_ratio = s->fetch_holder_bytes_share = NAN;
  if (fs->started == 0 || fs->start_failed || !fs->uniform || fs->running > 0
      || x->pending_fetch > 0)
    return;
  /* One file at one instant: the holders are Kumar & Ross's server. */
  double u_s = 0, sum_u = 0, d_min = 0;
  for (guint i = 0; i < fs->holders->len; i++)
    {
      const MbSimNode *h = fs->holders->pdata[i];
      u_s += h->upload_bps > 0 ? (double) h->upload_bps : INFINITY;
    }
  for (guint i = 0; i < fs->fetchers->len; i++)
    {
      const MbSimNode *n = fs->fetchers->pdata[i];
      sum_u += n->upload_bps > 0 ? (double) n->upload_bps : INFINITY;
      if (n->download_bps > 0 && (d_min == 0 || (double) n->download_bps < d_min))
        d_min = (double) n->download_bps;
    }
  if (u_s > 0)
    s->fetch_bound_s = mb_stats_kumar_ross ((double) fs->file_bytes * 8, u_s, d_min,
                                            fs->fetchers->len, sum_u);
  if (fs->ok == fs->started && s->fetch_bound_s > 0)
    s->fetch_bound_ratio = fs->time_max_s / s->fetch_bound_s;
  guint64 got = fs->fetchers_down1 - fs->fetchers_down0;
  if (got > 0)
    s->fetch_holder_bytes_share = (double) (fs->holders_up1 - fs->holders_up0) / (double) got;
}
