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

typedef struct {
  MbExperiment *x;
  guint index;
} Ctx;

static MbSimNode *
pick_peer (MbExperiment *x, gint cls)
{
  guint n = mb_world_n_nodes (x->world), count = 0;
  MbSimNode *chosen = NULL;
  for (guint i = 0; i < n; i++)
    {
      MbSimNode *p = mb_world_node (x->world, i);
      if (!p->online || !p->rp || p->shutting_down || (cls >= 0 && (gint) p->cls != cls))
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
  MbSimNode *n = pick_peer (x, p->class_index);
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

static void
on_fetched (MbRingPeer *rp, const MbRingResult *r, gpointer data)
{
  Ctx *c = data;
  MbExperiment *x = c->x;
  mb_world_ring_busy_add (x->world, -1);
  x->fetches_total++;
  x->lookups_total++;
  x->fetches_failed += !r->ok;
  x->lookups_failed += r->lookups_failed;
  x->lookups_redirected += r->redirects > 0;
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

static void
start_fetch (MbExperiment *x, const MbFetch *f)
{
  x->pending_fetch--;
  MbSimNode *n = pick_peer (x, f->class_index);
  const MbManifest *file = pick_file (x, f->publish_index);
  if (!n || !file)
    {
      /* Nobody to fetch, or nothing published yet: a failed fetch. */
      x->fetches_total++;
      x->fetches_failed++;
      return;
    }
  Ctx *c = g_new0 (Ctx, 1);
  c->x = x;
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
        start_fetch (x, f);
      return;
    }
  start_fetch (x, f);
  if (left > 1)
    mb_sched_at (s, mb_sched_now (s) + exp_gap (x->rand_workload, f->rate), on_fetch, x,
                 ((guint64) fi << 32) | (left - 1));
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

guint
mbi_workload_short_chunks (MbExperiment *x)
{
  if (!x->files || x->files->len == 0)
    return 0;
  g_autoptr (GPtrArray) stores = g_ptr_array_new ();
  for (guint i = 0; i < mb_world_n_nodes (x->world); i++)
    {
      MbSimNode *n = mb_world_node (x->world, i);
      if (n->online && n->rp)
        g_ptr_array_add (stores, n->store);
    }
  const char **names = g_new (const char *, x->files->len);
  for (guint f = 0; f < x->files->len; f++)
    names[f] = mb_manifest_name (x->files->pdata[f]);
  MbRingPeerConfig dflt;
  mb_ringpeer_config_init (&dflt);
  guint r = x->sc->ring.replication ? x->sc->ring.replication : dflt.replication;
  MbRingCopies c;
  mb_ring_check_copies ((MbStore *const *) stores->pdata, stores->len, names, x->files->len, r,
                        &c, NULL);
  g_free (names);
  return c.chunks_short;
}
