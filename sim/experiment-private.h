/* experiment-private.h — shared by experiment.c (population, run) and
 * metrics.c (samples, summary, CSV).  Not installed. */
#pragma once

#include "experiment.h"

typedef struct {
  double t_s;
  guint online, seeds, leechers, completed;
  double mean_down_bps;
  double upload_utilization;
  gint min_piece_copies;   /* -1: nobody online */
} MbSample;

typedef struct {
  double peers, sim_time_s, events, messages, completed;
  double completion_p50_s, completion_p90_s, completion_max_s;
  double bound_s, bound_ratio, upload_utilization, jain_download_rate;
  double share_ratio_p10, share_ratio_p50, share_ratio_p90;
} MbSummary;

struct _MbExperiment {
  const MbScenario *sc;
  MbSched *sched;
  MbWorld *world;
  MbManifest *file;
  GRand *rand_arrivals;
  GRand *rand_churn;
  GRand *rand_events;
  guint pending_arrivals;   /* peers announced by the scenario, not yet joined */
  guint pending_events;     /* scheduled scenario events not yet run */
  guint completed;          /* peers that hold the whole file (incl. seeds) */
  guint total_peers;
  GArray *samples;          /* MbSample */
  MbSummary summary;
  gboolean ran;
  MbProgressFn progress;
  gpointer progress_data;
};

/* metrics.c */
void mb_metrics_start (MbExperiment *x);
void mb_metrics_sample (MbExperiment *x);
void mb_metrics_summarise (MbExperiment *x);
