/* metrics-unchokes.c — unchokes.csv: who unchoked whom, one row per ordered
 * pair of peer classes, with Legout et al.'s clustering; and, with
 * --trace unchokes, unchokes-peers.csv, one row per ordered pair of peers.
 *
 * Nothing here is recomputed: every figure is the sum of the tallies the
 * core's peers keep of their own choker's decisions (MbUnchokeTally,
 * core/swarm/peer-unchokes.c), reported when a connection goes, when a
 * peer leaves or crashes, and at the run's end (mb_world_flush_unchokes).
 * Every swarm a peer is in counts (the scenario's file and ring swarms).
 *
 * Per ordered pair (from_class, to_class), summed over the peer pairs:
 *   regular_s, optimistic_s, seed_s   time a peer of from_class kept a
 *                                     peer of to_class unchoked: by a
 *                                     regular slot while downloading, as
 *                                     its optimistic unchoke, or while it
 *                                     served as a seed;
 *   *_bytes                           payload it handed over meanwhile;
 *   interested_s                      time a peer of to_class was
 *                                     interested in a peer of from_class
 *                                     (connected: a candidate for its
 *                                     unchokes);
 *   regular_share                     regular_s / from_class's regular_s
 *                                     to all classes;
 *   interested_share                  interested_s / from_class's
 *                                     interested_s from all classes;
 *   population_share                  to_class's share of the peers a
 *                                     peer of from_class could unchoke:
 *                                     over the peers of from_class, the
 *                                     other peers of to_class that joined
 *                                     to download (not initial seeds) /
 *                                     all other such peers;
 *   clustering_index                  same-class rows only:
 *                                     regular_share / population_share
 *                                     (> 1: a class unchokes its own
 *                                     kind more than chance would);
 *   interest_index                    same-class rows only:
 *                                     regular_share / interested_share
 *                                     (> 1: more than its share of the
 *                                     interest it met, so not only
 *                                     because of whom it met, and when).
 * Empty cells: nothing to divide by.
 */
#define MB_SIM_EXPERIMENT_INTERNAL
#include "experiment-private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct _MbiUnchokes {
  guint n_classes;
  MbUnchokeTally *matrix;  /* [from * n_classes + to] */
  GHashTable *pairs;       /* with the trace: (from << 32 | to) -> MbUnchokeTally */
};

static void
on_unchoke (MbWorld *w, MbSimNode *n, MbNodeId remote, const char *key,
            const MbUnchokeTally *t, gpointer data)
{
  MbExperiment *x = data;
  MbiUnchokes *u = x->unchokes;
  if (remote == 0 || remote > mb_world_n_nodes (w))
    return; /* not a peer (the tracker is node 0) */
  MbSimNode *r = mb_world_node (w, remote - 1);
  if (n->cls < u->n_classes && r->cls < u->n_classes)
    mb_unchoke_tally_add (&u->matrix[n->cls * u->n_classes + r->cls], t);
  if (u->pairs)
    {
      guint64 k = ((guint64) n->id << 32) | remote;
      MbUnchokeTally *a = g_hash_table_lookup (u->pairs, &k);
      if (!a)
        {
          gint64 *key_copy = g_new (gint64, 1);
          *key_copy = (gint64) k;
          a = g_new0 (MbUnchokeTally, 1);
          g_hash_table_insert (u->pairs, key_copy, a);
        }
      mb_unchoke_tally_add (a, t);
    }
}

gboolean
mb_experiment_trace (MbExperiment *x, const char *what, GError **error)
{
  g_auto (GStrv) names = g_strsplit (what, ",", -1);
  for (guint i = 0; names[i]; i++)
    {
      const char *name = g_strstrip (names[i]);
      if (strcmp (name, "unchokes") == 0)
        {
          x->trace_unchokes = TRUE;
          if (!x->unchokes->pairs)
            x->unchokes->pairs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                                        g_free);
        }
      else
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--trace: \"%s\" is not a trace; known: unchokes", name);
          return FALSE;
        }
    }
  return TRUE;
}

void
mbi_unchokes_start (MbExperiment *x)
{
  MbiUnchokes *u = g_new0 (MbiUnchokes, 1);
  u->n_classes = x->sc->n_classes;
  u->matrix = g_new0 (MbUnchokeTally, MAX (u->n_classes * u->n_classes, 1));
  x->unchokes = u;
  mb_world_on_unchoke (x->world, on_unchoke, x);
}

void
mbi_unchokes_free (MbExperiment *x)
{
  MbiUnchokes *u = x->unchokes;
  if (!u)
    return;
  if (u->pairs)
    g_hash_table_unref (u->pairs);
  g_free (u->matrix);
  g_free (u);
  x->unchokes = NULL;
}

/* ---- the class matrix's derived columns ---- */

typedef struct {
  double regular_share, interested_share, population_share, clustering_index, interest_index;
} Derived;

static double
ratio (double a, double b)
{
  return b > 0 ? a / b : NAN;
}

/* Per class: peers that joined, and those that joined to download. */
static void
count_peers (MbExperiment *x, guint *joined, guint *leechers)
{
  for (guint i = 0; i < mb_world_n_nodes (x->world); i++)
    {
      MbSimNode *p = mb_world_node (x->world, i);
      if (p->cls >= x->sc->n_classes)
        continue;
      joined[p->cls]++;
      leechers[p->cls] += !p->initial_seed;
    }
}

static Derived
derive (MbExperiment *x, const guint *joined, const guint *leechers, guint from, guint to)
{
  MbiUnchokes *u = x->unchokes;
  guint nc = u->n_classes;
  const MbUnchokeTally *row = &u->matrix[from * nc];
  double reg = 0, intr = 0;
  guint all_leechers = 0;
  for (guint k = 0; k < nc; k++)
    {
      reg += (double) row[k].regular_us;
      intr += (double) row[k].interested_us;
      all_leechers += leechers[k];
    }
  /* each peer of `from` could unchoke the other peers that came to
   * download: leechers[to] of them in `to` (itself excluded if it is one) */
  double n = joined[from];
  double pop_to = n * leechers[to] - (from == to ? leechers[from] : 0);
  double pop_all = n * all_leechers - leechers[from];
  Derived d = {
    .regular_share = ratio ((double) row[to].regular_us, reg),
    .interested_share = ratio ((double) row[to].interested_us, intr),
    .population_share = ratio (pop_to, pop_all),
    .clustering_index = NAN,
    .interest_index = NAN,
  };
  if (from == to && !isnan (d.regular_share) && d.population_share > 0)
    d.clustering_index = d.regular_share / d.population_share;
  if (from == to && !isnan (d.regular_share) && d.interested_share > 0)
    d.interest_index = d.regular_share / d.interested_share;
  return d;
}

static void
put_num (GString *o, double v, const char *fmt)
{
  g_string_append_c (o, ',');
  if (!isnan (v))
    g_string_append_printf (o, fmt, v);
}

static void
put_tally (GString *o, const MbUnchokeTally *t)
{
  g_string_append_printf (o, ",%.3f,%.3f,%.3f,%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT
                          ",%" G_GUINT64_FORMAT ",%.3f", (double) t->regular_us / 1e6,
                          (double) t->optimistic_us / 1e6, (double) t->seed_us / 1e6,
                          t->regular_bytes, t->optimistic_bytes, t->seed_bytes,
                          (double) t->interested_us / 1e6);
}

#define TALLY_COLS "regular_s,optimistic_s,seed_s,regular_bytes,optimistic_bytes,seed_bytes," \
                   "interested_s"

gchar *
mbi_unchokes_csv (MbExperiment *x)
{
  MbiUnchokes *u = x->unchokes;
  guint nc = u->n_classes;
  guint *joined = g_new0 (guint, MAX (nc, 1));
  guint *leechers = g_new0 (guint, MAX (nc, 1));
  count_peers (x, joined, leechers);
  GString *o = g_string_new ("from_class,to_class," TALLY_COLS ",regular_share,interested_share,"
                             "population_share,clustering_index,interest_index\n");
  for (guint f = 0; f < nc; f++)
    for (guint t = 0; t < nc; t++)
      {
        g_string_append_printf (o, "%s,%s", x->sc->classes[f].name, x->sc->classes[t].name);
        put_tally (o, &u->matrix[f * nc + t]);
        Derived d = derive (x, joined, leechers, f, t);
        put_num (o, d.regular_share, "%.4f");
        put_num (o, d.interested_share, "%.4f");
        put_num (o, d.population_share, "%.4f");
        put_num (o, d.clustering_index, "%.4f");
        put_num (o, d.interest_index, "%.4f");
        g_string_append_c (o, '\n');
      }
  g_free (joined);
  g_free (leechers);
  return g_string_free (o, FALSE);
}

static int
cmp_key (const void *a, const void *b)
{
  guint64 x = (guint64) **(const gint64 *const *) a, y = (guint64) **(const gint64 *const *) b;
  return (x > y) - (x < y);
}

gchar *
mbi_unchokes_peers_csv (MbExperiment *x)
{
  MbiUnchokes *u = x->unchokes;
  if (!u->pairs)
    return NULL;
  guint n = 0;
  gpointer *keys = g_hash_table_get_keys_as_array (u->pairs, &n);
  qsort (keys, n, sizeof (gpointer), cmp_key);
  GString *o = g_string_new ("from,to,from_class,to_class," TALLY_COLS "\n");
  for (guint i = 0; i < n; i++)
    {
      const gint64 *k = keys[i];
      guint from = (guint) ((guint64) *k >> 32), to = (guint) ((guint64) *k & 0xffffffffu);
      MbSimNode *a = mb_world_node (x->world, from - 1), *b = mb_world_node (x->world, to - 1);
      g_string_append_printf (o, "peer%u,peer%u,%s,%s", from, to, x->sc->classes[a->cls].name,
                              x->sc->classes[b->cls].name);
      put_tally (o, g_hash_table_lookup (u->pairs, k));
      g_string_append_c (o, '\n');
    }
  g_free (keys);
  return g_string_free (o, FALSE);
}

void
mbi_unchokes_summarise (MbExperiment *x, MbSummary *s)
{
  MbiUnchokes *u = x->unchokes;
  guint nc = u->n_classes;
  if (x->dist)
    {
      /* each process tallied its own peers' unchokes: the sums */
      G_STATIC_ASSERT (sizeof (MbUnchokeTally) % sizeof (guint64) == 0);
      x->dist->sum (x->dist->ctx, (guint64 *) u->matrix,
                    nc * nc * sizeof (MbUnchokeTally) / sizeof (guint64));
    }
  guint *joined = g_new0 (guint, MAX (nc, 1));
  guint *leechers = g_new0 (guint, MAX (nc, 1));
  count_peers (x, joined, leechers);
  s->unchoke_clustering_min = s->unchoke_clustering_max = NAN;
  for (guint c = 0; c < nc; c++)
    {
      double v = derive (x, joined, leechers, c, c).clustering_index;
      if (isnan (v))
        continue;
      if (isnan (s->unchoke_clustering_min) || v < s->unchoke_clustering_min)
        s->unchoke_clustering_min = v;
      if (isnan (s->unchoke_clustering_max) || v > s->unchoke_clustering_max)
        s->unchoke_clustering_max = v;
    }
  g_free (joined);
  g_free (leechers);
}
