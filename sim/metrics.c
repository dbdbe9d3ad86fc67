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
 *  - share ratio is bytes up over bytes down, for peers that downloaded;
 *  - waste: duplicate_bytes_ratio is the payload received no longer needed
 *    (MbPeerStats.bytes_dup) summed over the peers that downloaded (not
 *    initial seeds, bytes_down > 0) over file size x their number;
 *    seed_upload_ratio is the initial seeds' bytes_up at the first moment
 *    every piece was held by an online peer that was not an initial seed
 *    (mb_world_covered_at) over the file size; upload utilisation is also
 *    split between leechers (not initial seeds) and initial seeds;
 *  - ring fetches (workload.c): fetch_time_* over the fetches that
 *    succeeded, start to report; when every fetch is of one file and starts
 *    at one instant, fetch_bound_s is Kumar & Ross's bound with the nodes
 *    holding chunks of it at that instant as the server and the fetchers
 *    as the peers, and fetch_holder_bytes_share what those holders sent
 *    (PIECE and CHUNK payload) over what the fetchers received until the
 *    last fetch reported.
 * All numbers are printed with fixed formats, so the CSVs are byte-identical
 * for the same scenario and seed.
 *
 * Every CSV column is one row of a column table (name, offset into its row
 * struct, kind, format): summary_cols (MbSummary; also the metric names
 * [expect] may use and their lookup), peer_cols (PeerRow), sample_cols
 * (MbSample) and leave_cols (MbLeaveRecord).  A column is added in one place.
 * summary.csv ends with `stopped` (mb_stopped_name: duration, all-complete or
 * interrupted), not a metric.  The human summary prints an undefined (NaN)
 * value as n/a, the CSVs as an empty cell: never "nan".
 */
#define MB_SIM_EXPERIMENT_INTERNAL
#include "experiment-private.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "stats.h"

/* ---- columns: every CSV column is one row of a table ---- */

typedef enum {
  COL_DOUBLE,      /* double, printed with fmt; NaN is an empty cell */
  COL_UINT,        /* guint */
  COL_UINT64,      /* guint64 */
  COL_INT_OPT,     /* gint; negative is an empty cell */
  COL_STRING,      /* const char * */
  COL_PEER,        /* guint node id, printed "peer<id>" */
} ColKind;

typedef struct {
  const char *name;   /* the CSV header (and, for the summary, the metric name) */
  gsize offset;       /* of the value in the row struct */
  ColKind kind;
  const char *fmt;    /* COL_DOUBLE only */
} Column;

#define SUM(f, fmt) { #f, offsetof (MbSummary, f), COL_DOUBLE, fmt }
/* summary.csv, after scenario,seed; also the metrics [expect] may name. */
static const Column summary_cols[] = {
  SUM (peers, "%.0f"), SUM (sim_time_s, "%.3f"), SUM (events, "%.0f"),
  SUM (messages, "%.0f"), SUM (completed, "%.0f"),
  SUM (completion_p50_s, "%.3f"), SUM (completion_p90_s, "%.3f"),
  SUM (completion_max_s, "%.3f"),
  SUM (bound_s, "%.3f"), SUM (bound_ratio, "%.4f"), SUM (upload_utilization, "%.4f"),
  SUM (jain_download_rate, "%.4f"),
  SUM (share_ratio_p10, "%.4f"), SUM (share_ratio_p50, "%.4f"), SUM (share_ratio_p90, "%.4f"),
  SUM (manifests_total, "%.0f"), SUM (manifests_lost, "%.0f"), SUM (chunks_lost, "%.0f"),
  SUM (chunks_short, "%.0f"), SUM (publishes_failed, "%.0f"), SUM (manifests_moved, "%.0f"), SUM (bytes_moved, "%.0f"),
  SUM (lookups_total, "%.0f"), SUM (lookups_failed, "%.0f"), SUM (lookups_redirected, "%.0f"),
  SUM (fetches_total, "%.0f"), SUM (fetches_failed, "%.0f"),
  SUM (fetch_time_mean_s, "%.3f"), SUM (fetch_time_max_s, "%.3f"),
  SUM (fetch_bound_s, "%.3f"), SUM (fetch_bound_ratio, "%.4f"),
  SUM (fetch_holder_bytes_share, "%.4f"), SUM (fetch_swarm_chunk_share, "%.4f"),
  SUM (leave_bytes_ratio_max, "%.4f"),
  SUM (duplicate_bytes_ratio, "%.6f"), SUM (seed_upload_ratio, "%.4f"),
  SUM (leecher_upload_utilization, "%.4f"), SUM (seed_upload_utilization, "%.4f"),
  SUM (download_phase_upload_utilization, "%.4f"), SUM (seeding_phase_upload_utilization, "%.4f"),
  SUM (unchoke_clustering_min, "%.4f"), SUM (unchoke_clustering_max, "%.4f"),
};
#undef SUM

const char *const *
mb_experiment_metric_names (void)
{
  /* the table's names, NULL-terminated */
  static const char *names[G_N_ELEMENTS (summary_cols) + 1];
  static gsize filled = 0;
  if (g_once_init_enter (&filled))
    {
      for (guint i = 0; i < G_N_ELEMENTS (summary_cols); i++)
        names[i] = summary_cols[i].name;
      g_once_init_leave (&filled, 1);
    }
  return names;
}

static double *
summary_field (MbSummary *s, const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (summary_cols); i++)
    if (g_strcmp0 (summary_cols[i].name, name) == 0)
      return (double *) ((char *) s + summary_cols[i].offset);
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
      if (x->dist && !mb_world_is_local (x->world, n->id))
        continue; /* counted by its process */
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
  if (x->dist)
    {
      guint64 *sums = g_new (guint64, np);
      for (guint p = 0; p < np; p++)
        sums[p] = counts[p];
      x->dist->sum (x->dist->ctx, sums, np);
      for (guint p = 0; p < np; p++)
        counts[p] = (guint) sums[p];
      g_free (sums);
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
  if (x->memory)
    mb_memreport_sample (x->memory, x->world, x->sched, secs (now));
  if (x->dist) /* rank 0's records get every peer's figures */
    mb_world_dist_gather_nodes (x->world, x->leave_causes->data, x->leave_causes->len);
  mbi_progress_sample (x);
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
  smp.completed = mb_world_n_completed (x->world);
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

/* Fills duplicate_bytes_ratio and seed_upload_ratio. */
static void
waste (MbExperiment *x, MbSummary *s)
{
  s->duplicate_bytes_ratio = s->seed_upload_ratio = NAN;
  if (!x->file)
    return;
  double size = (double) mb_manifest_size (x->file), dup = 0;
  guint downloaders = 0;
  for (guint i = 0; i < mb_world_n_nodes (x->world); i++)
    {
      MbSimNode *p = mb_world_node (x->world, i);
      MbPeerStats ps;
      mb_world_node_stats (x->world, p, &ps);
      if (p->initial_seed || ps.bytes_down == 0)
        continue;
      downloaders++;
      dup += (double) ps.bytes_dup;
    }
  s->duplicate_bytes_ratio = ratio_or_nan (dup, size * downloaders);
  guint64 seed_up = 0;
  if (mb_world_covered_at (x->world, &seed_up) != MB_TIME_NEVER)
    s->seed_upload_ratio = (double) seed_up / size;
}

void
mbi_metrics_summarise (MbExperiment *x)
{
  MbSummary *s = &x->summary;
  guint64 end = mb_sched_now (x->sched);
  guint n = mb_world_n_nodes (x->world);
  if (x->dist)
    mb_world_dist_gather_nodes (x->world, x->leave_causes->data, x->leave_causes->len);
  double *times = g_new (double, MAX (n, 1));
  double *rates = g_new (double, MAX (n, 1));
  double *shares = g_new (double, MAX (n, 1));
  guint n_times = 0, n_shares = 0;
  double busy = 0, avail = 0;
  double busy_by[2] = { 0, 0 }, avail_by[2] = { 0, 0 }; /* [initial_seed] */
  double busy_ph[2] = { 0, 0 }, avail_ph[2] = { 0, 0 };  /* [seeding], not initial seeds */
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
          busy_by[p->initial_seed != 0] += (double) ns.busy_up;
          avail_by[p->initial_seed != 0] += (double) (until - p->joined_us);
          if (!p->initial_seed)
            {
              /* split at completion: downloading, then seeding */
              gboolean done = p->completed_us != MB_TIME_NEVER && p->completed_us <= until;
              guint64 split = done ? MAX (p->completed_us, p->joined_us) : until;
              guint64 busy_done = done ? MIN (p->busy_up_done, ns.busy_up) : ns.busy_up;
              busy_ph[0] += (double) busy_done;
              avail_ph[0] += (double) (split - p->joined_us);
              busy_ph[1] += (double) (ns.busy_up - busy_done);
              avail_ph[1] += (double) (until - split);
            }
        }
    }
  s->peers = n;
  s->sim_time_s = secs (end);
  guint64 counted[2] = { mb_experiment_events (x), mb_world_messages (x->world) };
  if (x->dist)
    {
      /* every process's own; the global events (run by all) once */
      if (x->dist->rank != 0)
        counted[0] -= mb_sched_events_run (x->sched);
      x->dist->sum (x->dist->ctx, counted, 2);
    }
  s->events = (double) counted[0];
  s->messages = (double) counted[1];
  s->completed = mb_world_n_completed (x->world);
  s->jain_download_rate = mb_stats_jain (rates, n_times);
  s->completion_p50_s = mb_stats_percentile (times, n_times, 0.5);
  s->completion_p90_s = mb_stats_percentile (times, n_times, 0.9);
  s->completion_max_s = mb_stats_percentile (times, n_times, 1.0);
  s->share_ratio_p10 = mb_stats_percentile (shares, n_shares, 0.1);
  s->share_ratio_p50 = mb_stats_percentile (shares, n_shares, 0.5);
  s->share_ratio_p90 = mb_stats_percentile (shares, n_shares, 0.9);
  s->upload_utilization = avail > 0 ? MIN (1.0, busy / avail) : NAN;
  s->leecher_upload_utilization = avail_by[0] > 0 ? MIN (1.0, busy_by[0] / avail_by[0]) : NAN;
  s->seed_upload_utilization = avail_by[1] > 0 ? MIN (1.0, busy_by[1] / avail_by[1]) : NAN;
  s->download_phase_upload_utilization = avail_ph[0] > 0 ? MIN (1.0, busy_ph[0] / avail_ph[0]) : NAN;
  s->seeding_phase_upload_utilization = avail_ph[1] > 0 ? MIN (1.0, busy_ph[1] / avail_ph[1]) : NAN;
  waste (x, s);
  kumar_ross (x, s);
  /* the ring */
  double mav, cav;
  guint lost_m, lost_c;
  mbi_workload_availability (x, &mav, &cav, &lost_m, &lost_c);
  s->manifests_total = x->files ? x->files->len : 0;
  s->manifests_lost = lost_m;
  s->chunks_lost = lost_c;
  s->chunks_short = mbi_workload_short_chunks (x);
  s->publishes_failed = x->publish_failed;
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
  mbi_workload_fetch_summary (x, s);
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

static void
put_cell (GString *o, const Column *c, const void *row)
{
  const char *v = (const char *) row + c->offset;
  switch (c->kind)
    {
    case COL_DOUBLE: put_num (o, *(const double *) v, c->fmt); break;
    case COL_UINT: g_string_append_printf (o, "%u", *(const guint *) v); break;
    case COL_UINT64: g_string_append_printf (o, "%" G_GUINT64_FORMAT, *(const guint64 *) v); break;
    case COL_INT_OPT:
      if (*(const gint *) v >= 0)
        g_string_append_printf (o, "%d", *(const gint *) v);
      break;
    case COL_STRING: g_string_append (o, *(const char *const *) v); break;
    case COL_PEER: g_string_append_printf (o, "peer%u", *(const guint *) v); break;
    }
}

/* The header, or one row: cells separated by commas, each after `lead`
 * (so a table can follow columns written by hand). */
static void
put_header (GString *o, const Column *cols, guint n, gboolean lead)
{
  for (guint i = 0; i < n; i++)
    {
      if (lead || i > 0)
        g_string_append_c (o, ',');
      g_string_append (o, cols[i].name);
    }
  g_string_append_c (o, '\n');
}

static void
put_row (GString *o, const Column *cols, guint n, const void *row, gboolean lead)
{
  for (guint i = 0; i < n; i++)
    {
      if (lead || i > 0)
        g_string_append_c (o, ',');
      put_cell (o, &cols[i], row);
    }
  g_string_append_c (o, '\n');
}

static gchar *
summary_csv (MbExperiment *x)
{
  /* stopped (why the run ended) is the last column, by hand: scripts read
   * the others by position */
  GString *o = g_string_new ("scenario,seed");
  put_header (o, summary_cols, G_N_ELEMENTS (summary_cols), TRUE);
  g_string_truncate (o, o->len - 1);
  g_string_append (o, ",stopped\n");
  g_string_append_printf (o, "%s,%" G_GUINT64_FORMAT, x->sc->name, x->sc->seed);
  put_row (o, summary_cols, G_N_ELEMENTS (summary_cols), &x->summary, TRUE);
  g_string_truncate (o, o->len - 1);
  g_string_append_printf (o, ",%s\n", mb_stopped_name (x->stopped));
  return g_string_free (o, FALSE);
}

/* One row of peers.csv (NaN: an empty cell). */
typedef struct {
  guint peer;
  const char *cls, *strategy;
  guint64 upload_bps, download_bps;
  double joined_s, left_s;
  const char *leave;
  double completed_s;
  guint64 bytes_up, bytes_down, bytes_dup;
  double share_ratio;
  guint chunks_held, manifests_held;
} PeerRow;

#define PR(f, kind, fmt) { #f, offsetof (PeerRow, f), kind, fmt }
static const Column peer_cols[] = {
  PR (peer, COL_PEER, NULL), { "class", offsetof (PeerRow, cls), COL_STRING, NULL },
  PR (strategy, COL_STRING, NULL), PR (upload_bps, COL_UINT64, NULL),
  PR (download_bps, COL_UINT64, NULL), PR (joined_s, COL_DOUBLE, "%.3f"),
  PR (left_s, COL_DOUBLE, "%.3f"), PR (leave, COL_STRING, NULL),
  PR (completed_s, COL_DOUBLE, "%.3f"), PR (bytes_up, COL_UINT64, NULL),
  PR (bytes_down, COL_UINT64, NULL), PR (share_ratio, COL_DOUBLE, "%.4f"),
  PR (chunks_held, COL_UINT, NULL), PR (manifests_held, COL_UINT, NULL),
  PR (bytes_dup, COL_UINT64, NULL), /* last: scripts read the others by position */
};
#undef PR

static gchar *
peers_csv (MbExperiment *x)
{
  GString *o = g_string_new (NULL);
  put_header (o, peer_cols, G_N_ELEMENTS (peer_cols), FALSE);
  for (guint i = 0; i < mb_world_n_nodes (x->world); i++)
    {
      MbSimNode *p = mb_world_node (x->world, i);
      const MbPeerClass *pc = &x->sc->classes[p->cls];
      MbPeerStats ps;
      mb_world_node_stats (x->world, p, &ps);
      guint chunks, manifests;
      mb_world_node_held (x->world, p, &chunks, &manifests);
      PeerRow r = {
        .peer = p->id,
        .cls = pc->name,
        .strategy = mb_strategy_name ((MbStrategy) pc->strategy),
        .upload_bps = p->upload_bps,
        .download_bps = p->download_bps,
        .joined_s = secs (p->joined_us),
        .left_s = p->left_us != MB_TIME_NEVER ? secs (p->left_us) : NAN,
        .leave = mb_leave_kind_name (p->leave),
        .completed_s = p->completed_us != MB_TIME_NEVER ? secs (p->completed_us) : NAN,
        .bytes_up = ps.bytes_up,
        .bytes_down = ps.bytes_down,
        .bytes_dup = ps.bytes_dup,
        .share_ratio = ps.bytes_down > 0 ? (double) ps.bytes_up / (double) ps.bytes_down : NAN,
        .chunks_held = chunks,
        .manifests_held = manifests,
      };
      put_row (o, peer_cols, G_N_ELEMENTS (peer_cols), &r, FALSE);
    }
  return g_string_free (o, FALSE);
}

#define TS(f, kind, fmt) { #f, offsetof (MbSample, f), kind, fmt }
static const Column sample_cols[] = {
  TS (t_s, COL_DOUBLE, "%.3f"), TS (online, COL_UINT, NULL), TS (seeds, COL_UINT, NULL),
  TS (leechers, COL_UINT, NULL), TS (completed, COL_UINT, NULL),
  TS (mean_down_bps, COL_DOUBLE, "%.0f"), TS (upload_utilization, COL_DOUBLE, "%.4f"),
  TS (min_piece_copies, COL_INT_OPT, NULL), TS (manifest_availability, COL_DOUBLE, "%.4f"),
  TS (chunk_availability, COL_DOUBLE, "%.4f"),
};
#undef TS

static gchar *
timeseries_csv (MbExperiment *x)
{
  GString *o = g_string_new (NULL);
  put_header (o, sample_cols, G_N_ELEMENTS (sample_cols), FALSE);
  for (guint i = 0; i < x->samples->len; i++)
    put_row (o, sample_cols, G_N_ELEMENTS (sample_cols),
             &g_array_index (x->samples, MbSample, i), FALSE);
  return g_string_free (o, FALSE);
}

#define LR(name, f, kind, fmt) { name, offsetof (MbLeaveRecord, f), kind, fmt }
static const Column leave_cols[] = {
  LR ("t_s", t_s, COL_DOUBLE, "%.3f"), LR ("peer", peer, COL_PEER, NULL),
  LR ("leave", kind, COL_STRING, NULL), LR ("members", members, COL_UINT, NULL),
  LR ("manifests_moved", report.manifests_redistributed, COL_UINT, NULL),
  LR ("manifests_failed", report.manifests_failed, COL_UINT, NULL),
  LR ("chunks_moved", report.chunks_redistributed, COL_UINT, NULL),
  LR ("chunks_failed", report.chunks_failed, COL_UINT, NULL),
  LR ("bytes_moved", report.bytes_moved, COL_UINT64, NULL),
  LR ("expected_bytes", expected_bytes, COL_UINT64, NULL),
};
#undef LR

static gchar *
leaves_csv (MbExperiment *x)
{
  GString *o = g_string_new (NULL);
  put_header (o, leave_cols, G_N_ELEMENTS (leave_cols), FALSE);
  for (guint i = 0; i < x->leaves->len; i++)
    put_row (o, leave_cols, G_N_ELEMENTS (leave_cols),
             &g_array_index (x->leaves, MbLeaveRecord, i), FALSE);
  return g_string_free (o, FALSE);
}

/* g_file_set_contents writes a temporary file beside it and renames it:
 * a file is never seen half-written, even if the process is killed. */
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
  /* summary.csv last: once it is new, so are the others */
  return write_file (dir, "peers.csv", peers_csv (x), error)
         && write_file (dir, "classes.csv", mbi_metrics_classes_csv (x), error)
         && write_file (dir, "unchokes.csv", mbi_unchokes_csv (x), error)
         && (!x->trace_unchokes
             || write_file (dir, "unchokes-peers.csv", mbi_unchokes_peers_csv (x), error))
         && write_file (dir, "timeseries.csv", timeseries_csv (x), error)
         && write_file (dir, "leaves.csv", leaves_csv (x), error)
         && write_file (dir, "departures.csv", mbi_metrics_departures_csv (x), error)
         && write_file (dir, "scenario.ini", mb_scenario_to_data (x->sc, &len), error)
         && write_file (dir, "summary.csv", summary_csv (x), error);
}

/* A number for the human summary: "n/a" when it is undefined (NaN). */
static const char *
num (char *buf, gsize size, const char *fmt, double v)
{
  if (isnan (v))
    return "n/a";
  g_snprintf (buf, size, fmt, v);
  return buf;
}

gchar *
mb_experiment_report (MbExperiment *x)
{
  const MbSummary *s = &x->summary;
  GString *o = g_string_new (NULL);
  char b[16][32];
#define N1(i, v) num (b[i], sizeof b[i], "%.1f", v)
#define N3(i, v) num (b[i], sizeof b[i], "%.3f", v)
  g_string_append_printf (o, "scenario %s, seed %" G_GUINT64_FORMAT ": %.0f peers, simulated %.1f s%s\n",
                          x->sc->name, x->sc->seed, s->peers, s->sim_time_s,
                          x->stopped == MB_STOPPED_INTERRUPTED ? " (interrupted)" : "");
  if (x->file)
    g_string_append_printf (
      o,
      "  swarm: %.0f peers hold the file\n"
      "  download time  p50 %s s  p90 %s s  max %s s\n"
      "  bound (Kumar-Ross) %s s, ratio %s\n"
      "  upload utilisation %s, Jain index of download rates %s\n"
      "  share ratio  p10 %s  p50 %s  p90 %s\n",
      s->completed, N1 (0, s->completion_p50_s), N1 (1, s->completion_p90_s),
      N1 (2, s->completion_max_s), N1 (3, s->bound_s), N3 (4, s->bound_ratio),
      N3 (5, s->upload_utilization), N3 (6, s->jain_download_rate), N3 (7, s->share_ratio_p10),
      N3 (8, s->share_ratio_p50), N3 (9, s->share_ratio_p90));
  if (x->sc->ring.enabled)
    g_string_append_printf (
      o,
      "  ring: %.0f manifests published (%.0f stores failed), %.0f lost, %.0f chunks lost,\n"
      "        %.0f chunks short of R copies\n"
      "  moved: %.0f manifests by graceful leaves, %.0f bytes by hand-offs and repair;\n"
      "         bytes per leave / its share K/N at most %s\n"
      "  fetches: %.0f, %.0f failed; lookups: %.0f, %.0f failed, %.0f redirected\n",
      s->manifests_total, s->publishes_failed, s->manifests_lost, s->chunks_lost, s->chunks_short,
      s->manifests_moved, s->bytes_moved,
      N3 (0, s->leave_bytes_ratio_max), s->fetches_total, s->fetches_failed, s->lookups_total,
      s->lookups_failed, s->lookups_redirected);
  if (x->sc->ring.enabled && s->fetches_total > 0)
    g_string_append_printf (
      o,
      "  fetch time  mean %s s  max %s s; chunks through the swarm %s\n",
      N1 (0, s->fetch_time_mean_s), N1 (1, s->fetch_time_max_s), N3 (2, s->fetch_swarm_chunk_share));
  if (!isnan (s->fetch_bound_s))
    g_string_append_printf (
      o,
      "  fetch bound (Kumar-Ross, the holders as server) %s s, ratio %s;\n"
      "        holders sent %s of what the fetchers received\n",
      N1 (0, s->fetch_bound_s), N3 (1, s->fetch_bound_ratio), N3 (2, s->fetch_holder_bytes_share));
#undef N1
#undef N3
  return g_string_free (o, FALSE);
}
