/* metrics.c — what a run measures: a sample every sample_interval
 * (timeseries.csv), one row per peer (peers.csv) and one summary row
 * (summary.csv), plus the [expect] check against the summary.
 *
 * Definitions (the README documents each column):
 *  - a peer's download time is completed - joined; initial seeds have none;
 *  - bound_s is Kumar & Ross's minimum distribution time for the peers
 *    present at t = 0: the seeds' summed upload is u_s, the leechers' least
 *    download d_min, their number N and summed upload Σu_i;
 *  - bound_ratio is the slowest of those t = 0 leechers over bound_s (NaN
 *    if any of them never completed);
 *  - upload utilisation is the uplink's busy time over its online time, for
 *    peers with a finite upload;
 *  - share ratio is bytes up over bytes down, for peers that downloaded.
 * All numbers are printed with fixed formats, so the CSVs are byte-identical
 * for the same scenario and seed.
 */
#define MB_SIM_EXPERIMENT_INTERNAL
#include "experiment-private.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "stats.h"

static const char *const metric_names[] = {
  "peers", "sim_time_s", "events", "messages", "completed",
  "completion_p50_s", "completion_p90_s", "completion_max_s",
  "bound_s", "bound_ratio", "upload_utilization", "jain_download_rate",
  "share_ratio_p10", "share_ratio_p50", "share_ratio_p90",
  "manifests_total", "manifests_lost", "chunks_lost", "manifests_moved", "bytes_moved",
  "lookups_total", "lookups_failed", "lookups_redirected", "fetches_total", "fetches_failed",
  "leave_bytes_ratio_max",
  NULL
};

const char *const *
mb_experiment_metric_names (void)
{
  return metric_names;
}

static double *
summary_field (MbSummary *s, const char *name)
{
  double *fields[] = {
    &s->peers, &s->sim_time_s, &s->events, &s->messages, &s->completed,
    &s->completion_p50_s, &s->completion_p90_s, &s->completion_max_s,
    &s->bound_s, &s->bound_ratio, &s->upload_utilization, &s->jain_download_rate,
    &s->share_ratio_p10, &s->share_ratio_p50, &s->share_ratio_p90,
    &s->manifests_total, &s->manifests_lost, &s->chunks_lost, &s->manifests_moved,
    &s->bytes_moved, &s->lookups_total, &s->lookups_failed, &s->lookups_redirected,
    &s->fetches_total, &s->fetches_failed, &s->leave_bytes_ratio_max,
  };
  for (guint i = 0; metric_names[i]; i++)
    if (g_strcmp0 (metric_names[i], name) == 0)
      return fields[i];
  return NULL;
}

gboolean
mb_experiment_metric (MbExperiment *x, const char *name, double *value)
{
  double *f = summary_field (&x->summary, name);
  if (!f)
    return FALSE;
  *value = *f;
  return TRUE;
}

static gboolean
metric_cb (gpointer data, const char *metric, double *value)
{
  return mb_experiment_metric (data, metric, value);
}

guint
mb_experiment_check (MbExperiment *x, GPtrArray *failures)
{
  return mb_scenario_check_expectations (x->sc, metric_cb, x, failures);
}

/* ---- samples ---- */

static double
secs (guint64 us)
{
  return (double) us / 1e6;
}

static void on_sample (MbSched *s, gpointer a, guint64 b);

void
mbi_metrics_start (MbExperiment *x)
{
  mb_sched_at (x->sched, 0, on_sample, x, 0);
}

static void
on_sample (MbSched *s, gpointer a, guint64 b)
{
  MbExperiment *x = a;
  mbi_metrics_sample (x);
  mb_sched_at (s, mb_sched_now (s) + x->sc->sample_interval, on_sample, x, 0);
}

static gint
min_piece_copies (MbExperiment *x, guint *counts)
{
  if (!x->file)
    return -1;
  guint np = mb_manifest_n_chunks (x->file);
  memset (counts, 0, np * sizeof (guint));
  gboolean any = FALSE;
  for (guint i = 0; i < mb_world_n_nodes (x->world); i++)
    {
      MbSimNode *n = mb_world_node (x->world, i);
      if (!n->online)
        continue;
      any = TRUE;
      const MbBitfield *have = mb_peer_have (n->peer, mb_manifest_name (x->file));
      if (mb_bitfield_is_complete (have))
        {
          for (guint p = 0; p < np; p++)
            counts[p]++;
          continue;
        }
      for (guint p = 0; p < np; p++)
        counts[p] += mb_bitfield_test (have, p);
    }
  if (!any)
    return -1;
  guint min = G_MAXUINT;
  for (guint p = 0; p < np; p++)
    min = MIN (min, counts[p]);
  return (gint) min;
}

void
mbi_metrics_sample (MbExperiment *x)
{
  guint64 now = mb_sched_now (x->sched);
  if (x->samples->len > 0)
    {
      const MbSample *last = &g_array_index (x->samples, MbSample, x->samples->len - 1);
      if (last->t_s == secs (now))
        return;
    }
  double dt = x->samples->len > 0
              ? secs (now) - g_array_index (x->samples, MbSample, x->samples->len - 1).t_s
              : 0;
  MbSample smp = { .t_s = secs (now), .min_piece_copies = -1 };
  MbNet *net = mb_world_net (x->world);
  double down_sum = 0, busy = 0, capacity_us = 0;
  for (guint i = 0; i < mb_world_n_nodes (x->world); i++)
    {
      MbSimNode *n = mb_world_node (x->world, i);
      MbNetNodeStats ns;
      mb_net_get_node_stats (net, n->id, &ns);
      MbPeerStats ps;
      mb_world_node_stats (x->world, n, &ps);
      if (n->online)
        {
          smp.online++;
          gboolean seed = n->completed_us != MB_TIME_NEVER;
          smp.seeds += seed;
          smp.leechers += !seed;
          if (!seed && dt > 0)
            down_sum += (double) (ps.bytes_down - n->sample_bytes_down) * 8 / dt;
          if (n->upload_bps > 0 && dt > 0)
            {
              busy += (double) (ns.busy_up - n->sample_busy_up);
              capacity_us += dt * 1e6;
            }
        }
      n->sample_bytes_down = ps.bytes_down;
      n->sample_busy_up = ns.busy_up;
    }
  smp.completed = x->completed;
  smp.mean_down_bps = smp.leechers > 0 ? down_sum / smp.leechers : 0;
  smp.upload_utilization = capacity_us > 0 ? MIN (1.0, busy / capacity_us) : 0;
  guint *counts = g_new (guint, x->file ? mb_manifest_n_chunks (x->file) : 1);
  smp.min_piece_copies = min_piece_copies (x, counts);
  g_free (counts);
  guint lost_m, lost_c;
  mbi_workload_availability (x, &smp.manifest_availability, &smp.chunk_availability, &lost_m,
                            &lost_c);
  g_array_append_val (x->samples, smp);
}

/* ---- summary ---- */

static double
ratio_or_nan (double a, double b)
{
  return b > 0 ? a / b : NAN;
}

static void
kumar_ross (MbExperiment *x, MbSummary *s)
{
  double u_s = 0, sum_u = 0, d_min = 0, worst = 0;
  guint n = 0, done = 0;
  for (guint i = 0; i < mb_world_n_nodes (x->world); i++)
    {
      MbSimNode *p = mb_world_node (x->world, i);
      if (!p->present_at_start)
        continue;
      if (p->initial_seed)
        {
          u_s += (double) p->upload_bps;
          continue;
        }
      n++;
      sum_u += (double) p->upload_bps;
      if (p->download_bps > 0 && (d_min == 0 || (double) p->download_bps < d_min))
        d_min = (double) p->download_bps;
      if (p->completed_us != MB_TIME_NEVER)
        {
          done++;
          worst = MAX (worst, secs (p->completed_us - p->joined_us));
        }
    }
  double F = x->file ? (double) mb_manifest_size (x->file) * 8 : 0;
  s->bound_s = (n > 0 && u_s > 0) ? mb_stats_kumar_ross (F, u_s, d_min, n, sum_u) : NAN;
  s->bound_ratio = (n > 0 && done == n) ? ratio_or_nan (worst, s->bound_s) : NAN;
}

void
mbi_metrics_summarise (MbExperiment *x)
{
  MbSummary *s = &x->summary;
  guint64 end = mb_sched_now (x->sched);
  guint n = mb_world_n_nodes (x->world);
  double *times = g_new (double, MAX (n, 1));
  double *rates = g_new (double, MAX (n, 1));
  double *shares = g_new (double, MAX (n, 1));
  guint n_times = 0, n_shares = 0;
  double busy = 0, avail = 0;
  MbNet *net = mb_world_net (x->world);
  for (guint i = 0; i < n; i++)
    {
      MbSimNode *p = mb_world_node (x->world, i);
      MbPeerStats ps;
      mb_world_node_stats (x->world, p, &ps);
      if (!p->initial_seed && p->completed_us != MB_TIME_NEVER)
        {
          double t = secs (p->completed_us - p->joined_us);
          times[n_times] = t;
          rates[n_times++] = t > 0 && x->file ? (double) mb_manifest_size (x->file) * 8 / t : 0;
        }
      if (!p->initial_seed && ps.bytes_down > 0)
        shares[n_shares++] = (double) ps.bytes_up / (double) ps.bytes_down;
      if (p->upload_bps > 0)
        {
          MbNetNodeStats ns;
          mb_net_get_node_stats (net, p->id, &ns);
          guint64 until = p->online ? end : p->left_us;
          busy += (double) ns.busy_up;
          avail += (double) (until - p->joined_us);
        }
    }
  s->peers = n;
  s->sim_time_s = secs (end);
  s->events = (double) mb_sched_events_run (x->sched);
  s->messages = (double) mb_world_messages (x->world);
  s->completed = x->completed;
  s->jain_download_rate = mb_stats_jain (rates, n_times);
  s->completion_p50_s = mb_stats_percentile (times, n_times, 0.5);
  s->completion_p90_s = mb_stats_percentile (times, n_times, 0.9);
  s->completion_max_s = mb_stats_percentile (times, n_times, 1.0);
  s->share_ratio_p10 = mb_stats_percentile (shares, n_shares, 0.1);
  s->share_ratio_p50 = mb_stats_percentile (shares, n_shares, 0.5);
  s->share_ratio_p90 = mb_stats_percentile (shares, n_shares, 0.9);
  s->upload_utilization = avail > 0 ? MIN (1.0, busy / avail) : NAN;
  kumar_ross (x, s);
  /* the ring */
  double mav, cav;
  guint lost_m, lost_c;
  mbi_workload_availability (x, &mav, &cav, &lost_m, &lost_c);
  s->manifests_total = x->files ? x->files->len : 0;
  s->manifests_lost = lost_m;
  s->chunks_lost = lost_c;
  guint64 moved = 0, repair_bytes = 0;
  guint manifests_moved = 0;
  s->leave_bytes_ratio_max = NAN;
  for (guint i = 0; i < x->leaves->len; i++)
    {
      const MbLeaveRecord *r = &g_array_index (x->leaves, MbLeaveRecord, i);
      moved += r->report.bytes_moved;
      manifests_moved += r->report.manifests_redistributed;
      if (r->expected_bytes > 0)
        {
          double ratio = (double) r->report.bytes_moved / (double) r->expected_bytes;
          if (isnan (s->leave_bytes_ratio_max) || ratio > s->leave_bytes_ratio_max)
            s->leave_bytes_ratio_max = ratio;
        }
    }
  for (guint i = 0; i < n; i++)
    {
      MbSimNode *p = mb_world_node (x->world, i);
      if (p->rp)
        {
          MbRingPeerStats rs;
          mb_ringpeer_stats (p->rp, &rs);
          repair_bytes += rs.repair_bytes;
        }
    }
  s->manifests_moved = manifests_moved;
  s->bytes_moved = (double) (moved + repair_bytes);
  s->lookups_total = (double) x->lookups_total;
  s->lookups_failed = (double) x->lookups_failed;
  s->lookups_redirected = (double) x->lookups_redirected;
  s->fetches_total = (double) x->fetches_total;
  s->fetches_failed = (double) x->fetches_failed;
  g_free (times);
  g_free (rates);
  g_free (shares);
}

/* ---- CSV ---- */

/* A number for a CSV cell: fixed precision; NaN as an empty cell. */
static void
put_num (GString *out, double v, const char *fmt)
{
  if (isnan (v))
    return;
  g_string_append_printf (out, fmt, v);
}

static gchar *
summary_csv (MbExperiment *x)
{
  const MbSummary *s = &x->summary;
  GString *o = g_string_new ("scenario,seed");
  for (guint i = 0; metric_names[i]; i++)
    g_string_append_printf (o, ",%s", metric_names[i]);
  g_string_append_printf (o, "\n%s,%" G_GUINT64_FORMAT, x->sc->name, x->sc->seed);
  double vals[] = {
    s->peers, s->sim_time_s, s->events, s->messages, s->completed,
    s->completion_p50_s, s->completion_p90_s, s->completion_max_s,
    s->bound_s, s->bound_ratio, s->upload_utilization, s->jain_download_rate,
    s->share_ratio_p10, s->share_ratio_p50, s->share_ratio_p90,
    s->manifests_total, s->manifests_lost, s->chunks_lost, s->manifests_moved, s->bytes_moved,
    s->lookups_total, s->lookups_failed, s->lookups_redirected, s->fetches_total,
    s->fetches_failed, s->leave_bytes_ratio_max,
  };
  const char *fmts[] = {
    "%.0f", "%.3f", "%.0f", "%.0f", "%.0f",
    "%.3f", "%.3f", "%.3f",
    "%.3f", "%.4f", "%.4f", "%.4f",
    "%.4f", "%.4f", "%.4f",
    "%.0f", "%.0f", "%.0f", "%.0f", "%.0f",
    "%.0f", "%.0f", "%.0f", "%.0f", "%.0f", "%.4f",
  };
  G_STATIC_ASSERT (G_N_ELEMENTS (vals) == G_N_ELEMENTS (fmts));
  for (guint i = 0; i < G_N_ELEMENTS (vals); i++)
    {
      g_string_append_c (o, ',');
      put_num (o, vals[i], fmts[i]);
    }
  g_string_append_c (o, '\n');
  return g_string_free (o, FALSE);
}

static gchar *
peers_csv (MbExperiment *x)
{
  GString *o = g_string_new ("peer,class,strategy,upload_bps,download_bps,joined_s,left_s,"
                             "leave,completed_s,bytes_up,bytes_down,share_ratio,"
                             "chunks_held,manifests_held\n");
  for (guint i = 0; i < mb_world_n_nodes (x->world); i++)
    {
      MbSimNode *p = mb_world_node (x->world, i);
      const MbPeerClass *pc = &x->sc->classes[p->cls];
      MbPeerStats ps;
      mb_world_node_stats (x->world, p, &ps);
      g_string_append_printf (o, "peer%u,%s,%s,%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT ",%.3f,",
                              p->id, pc->name, mb_strategy_name ((MbStrategy) pc->strategy),
                              p->upload_bps, p->download_bps, secs (p->joined_us));
      if (p->left_us != MB_TIME_NEVER)
        g_string_append_printf (o, "%.3f", secs (p->left_us));
      g_string_append_printf (o, ",%s,", mb_leave_kind_name (p->leave));
      if (p->completed_us != MB_TIME_NEVER)
        g_string_append_printf (o, "%.3f", secs (p->completed_us));
      g_string_append_printf (o, ",%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT ",",
                              ps.bytes_up, ps.bytes_down);
      if (ps.bytes_down > 0)
        g_string_append_printf (o, "%.4f", (double) ps.bytes_up / (double) ps.bytes_down);
      g_string_append_printf (o, ",%u,%u\n", p->store->n_chunks, p->store->n_manifests);
    }
  return g_string_free (o, FALSE);
}

static gchar *
timeseries_csv (MbExperiment *x)
{
  GString *o = g_string_new ("t_s,online,seeds,leechers,completed,mean_down_bps,"
                             "upload_utilization,min_piece_copies,manifest_availability,"
                             "chunk_availability\n");
  for (guint i = 0; i < x->samples->len; i++)
    {
      const MbSample *s = &g_array_index (x->samples, MbSample, i);
      g_string_append_printf (o, "%.3f,%u,%u,%u,%u,%.0f,%.4f,", s->t_s, s->online, s->seeds,
                              s->leechers, s->completed, s->mean_down_bps,
                              s->upload_utilization);
      if (s->min_piece_copies >= 0)
        g_string_append_printf (o, "%d", s->min_piece_copies);
      g_string_append_c (o, ',');
      put_num (o, s->manifest_availability, "%.4f");
      g_string_append_c (o, ',');
      put_num (o, s->chunk_availability, "%.4f");
      g_string_append_c (o, '\n');
    }
  return g_string_free (o, FALSE);
}

static gchar *
leaves_csv (MbExperiment *x)
{
  GString *o = g_string_new ("t_s,peer,leave,members,manifests_moved,manifests_failed,"
                             "chunks_moved,chunks_failed,bytes_moved,expected_bytes\n");
  for (guint i = 0; i < x->leaves->len; i++)
    {
      const MbLeaveRecord *r = &g_array_index (x->leaves, MbLeaveRecord, i);
      g_string_append_printf (o, "%.3f,peer%u,%s,%u,%u,%u,%u,%u,%" G_GUINT64_FORMAT ",%"
                              G_GUINT64_FORMAT "\n", r->t_s, r->peer, r->kind, r->members,
                              r->report.manifests_redistributed, r->report.manifests_failed,
                              r->report.chunks_redistributed, r->report.chunks_failed,
                              r->report.bytes_moved, r->expected_bytes);
    }
  return g_string_free (o, FALSE);
}

static gboolean
write_file (const char *dir, const char *name, gchar *text, GError **error)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  gboolean ok = g_file_set_contents (path, text, -1, error);
  g_free (text);
  return ok;
}

gboolean
mb_experiment_write (MbExperiment *x, const char *dir, GError **error)
{
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "cannot create %s: %s", dir, g_strerror (errno));
      return FALSE;
    }
  gsize len;
  return write_file (dir, "summary.csv", summary_csv (x), error)
         && write_file (dir, "peers.csv", peers_csv (x), error)
         && write_file (dir, "timeseries.csv", timeseries_csv (x), error)
         && write_file (dir, "leaves.csv", leaves_csv (x), error)
         && write_file (dir, "scenario.ini", mb_scenario_to_data (x->sc, &len), error);
}

gchar *
mb_experiment_report (MbExperiment *x)
{
  const MbSummary *s = &x->summary;
  GString *o = g_string_new (NULL);
  g_string_append_printf (o, "scenario %s, seed %" G_GUINT64_FORMAT ": %.0f peers, simulated %.1f s\n",
                          x->sc->name, x->sc->seed, s->peers, s->sim_time_s);
  if (x->file)
    g_string_append_printf (
      o,
      "  swarm: %.0f peers hold the file\n"
      "  download time  p50 %.1f s  p90 %.1f s  max %.1f s\n"
      "  bound (Kumar-Ross) %.1f s, ratio %.3f\n"
      "  upload utilisation %.3f, Jain index of download rates %.3f\n"
      "  share ratio  p10 %.3f  p50 %.3f  p90 %.3f\n",
      s->completed, s->completion_p50_s, s->completion_p90_s, s->completion_max_s, s->bound_s,
      s->bound_ratio, s->upload_utilization, s->jain_download_rate, s->share_ratio_p10,
      s->share_ratio_p50, s->share_ratio_p90);
  if (x->sc->ring.enabled)
    g_string_append_printf (
      o,
      "  ring: %.0f manifests published, %.0f lost, %.0f chunks lost\n"
      "  moved: %.0f manifests by graceful leaves, %.0f bytes by hand-offs and repair;\n"
      "         bytes per leave / its share K/N at most %.3f\n"
      "  fetches: %.0f, %.0f failed; lookups: %.0f, %.0f failed, %.0f redirected\n",
      s->manifests_total, s->manifests_lost, s->chunks_lost, s->manifests_moved, s->bytes_moved,
      s->leave_bytes_ratio_max, s->fetches_total, s->fetches_failed, s->lookups_total,
      s->lookups_failed, s->lookups_redirected);
  return g_string_free (o, FALSE);
}
