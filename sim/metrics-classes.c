/* metrics-classes.c — classes.csv: one row per peer class ([peers.NAME]),
 * so a study of tit-for-tat fairness reads each class's outcome without
 * splitting peers.csv by hand.
 *
 * Per class, over every peer of it that ever joined:
 *   peers                  that joined;
 *   completed              that downloaded the whole file (peers that held
 *                          it when they joined are not counted);
 *   download_time_*_s      mean, p50 and p90 of completed - joined, over
 *                          the completed;
 *   download_rate_mean_bps the mean of file bits / download time, over the
 *                          completed;
 *   bytes_up, bytes_down   payload, summed;
 *   share_ratio            bytes_up / bytes_down of the class (empty when
 *                          it downloaded nothing);
 *   upload_utilization     time its uplinks were busy / time they were
 *                          online (peers with an upload rate only);
 *   seeding_time_mean_s    mean time online while holding the whole file
 *                          (from completion, or from joining for a peer
 *                          that held it, to leaving or the end), over the
 *                          peers that held it at some point.
 * Empty cells are undefined values (no peer to average over).
 */
#define MB_SIM_EXPERIMENT_INTERNAL
#include "experiment-private.h"

#include <math.h>

#include "stats.h"

typedef struct {
  guint peers, completed, holders;
  GArray *times;            /* double, download times of the completed */
  double rate_sum;
  guint64 bytes_up, bytes_down;
  double busy_us, online_us;
  double seeding_us;
} ClassAcc;

static double
us_to_s (guint64 us)
{
  return (double) us / 1e6;
}

static void
put_num (GString *o, double v, const char *fmt)
{
  g_string_append_c (o, ',');
  if (!isnan (v))
    g_string_append_printf (o, fmt, v);
}

static void
add_node (MbExperiment *x, ClassAcc *a, MbSimNode *p, guint64 end)
{
  MbPeerStats ps;
  mb_world_node_stats (x->world, p, &ps);
  guint64 until = p->online ? end : p->left_us;
  a->peers++;
  a->bytes_up += ps.bytes_up;
  a->bytes_down += ps.bytes_down;
  if (!p->initial_seed && p->completed_us != MB_TIME_NEVER)
    {
      double t = us_to_s (p->completed_us - p->joined_us);
      a->completed++;
      g_array_append_val (a->times, t);
      if (t > 0 && x->file)
        a->rate_sum += (double) mb_manifest_size (x->file) * 8 / t;
    }
  if (p->completed_us != MB_TIME_NEVER && p->completed_us <= until)
    {
      a->holders++;
      a->seeding_us += (double) (until - MAX (p->completed_us, p->joined_us));
    }
  if (p->upload_bps > 0)
    {
      MbNetNodeStats ns;
      mb_net_get_node_stats (mb_world_net (x->world), p->id, &ns);
      a->busy_us += (double) ns.busy_up;
      a->online_us += (double) (until - p->joined_us);
    }
}

static void
put_class (GString *o, const MbPeerClass *pc, ClassAcc *a)
{
  guint n = a->times->len;
  double *t = (double *) a->times->data;
  double mean = NAN;
  if (n > 0)
    {
      double sum = 0;
      for (guint i = 0; i < n; i++)
        sum += t[i];
      mean = sum / n;
    }
  g_string_append_printf (o, "%s,%s,%u,%u", pc->name,
                          mb_strategy_name ((MbStrategy) pc->strategy), a->peers, a->completed);
  put_num (o, mean, "%.3f");
  put_num (o, n > 0 ? mb_stats_percentile (t, n, 0.5) : NAN, "%.3f");
  put_num (o, n > 0 ? mb_stats_percentile (t, n, 0.9) : NAN, "%.3f");
  put_num (o, n > 0 ? a->rate_sum / n : NAN, "%.0f");
  g_string_append_printf (o, ",%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT, a->bytes_up,
                          a->bytes_down);
  put_num (o, a->bytes_down > 0 ? (double) a->bytes_up / (double) a->bytes_down : NAN, "%.4f");
  put_num (o, a->online_us > 0 ? MIN (1.0, a->busy_us / a->online_us) : NAN, "%.4f");
  put_num (o, a->holders > 0 ? a->seeding_us / 1e6 / a->holders : NAN, "%.3f");
  g_string_append_c (o, '\n');
}

gchar *
mbi_metrics_classes_csv (MbExperiment *x)
{
  guint nc = x->sc->n_classes;
  ClassAcc *acc = g_new0 (ClassAcc, MAX (nc, 1));
  for (guint c = 0; c < nc; c++)
    acc[c].times = g_array_new (FALSE, FALSE, sizeof (double));
  guint64 end = mb_sched_now (x->sched);
  for (guint i = 0; i < mb_world_n_nodes (x->world); i++)
    {
      MbSimNode *p = mb_world_node (x->world, i);
      if (p->cls < nc)
        add_node (x, &acc[p->cls], p, end);
    }
  GString *o = g_string_new ("class,strategy,peers,completed,download_time_mean_s,"
                             "download_time_p50_s,download_time_p90_s,download_rate_mean_bps,"
                             "bytes_up,bytes_down,share_ratio,upload_utilization,"
                             "seeding_time_mean_s\n");
  for (guint c = 0; c < nc; c++)
    {
      put_class (o, &x->sc->classes[c], &acc[c]);
      g_array_unref (acc[c].times);
    }
  g_free (acc);
  return g_string_free (o, FALSE);
}
