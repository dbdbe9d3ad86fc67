/* experiment-private.h — shared by experiment.c (population, run) and
 * metrics.c (samples, summary, CSV).  Not installed. */
#pragma once

#ifndef MB_SIM_EXPERIMENT_INTERNAL
#error "experiment-private.h is private to the experiment (sim/experiment*.c, metrics*.c, workload.c): no other file may include it"
#endif

#include "experiment.h"

typedef struct {
  double t_s;
  guint online, seeds, leechers, completed;
  double mean_down_bps;
  double upload_utilization;
  gint min_piece_copies;   /* -1: nobody online */
  double manifest_availability, chunk_availability; /* NaN without files */
} MbSample;

typedef struct {
  double t_s;
  guint peer;
  const char *kind;        /* graceful or crash */
  guint members;           /* ring members before it left */
  MbShutdownReport report;
  guint64 expected_bytes;  /* K/N: bytes held by all / members */
} MbLeaveRecord;

/* Why a peer left (departures.csv's `cause`). */
typedef enum {
  MBI_CAUSE_NONE = 0,       /* still online */
  MBI_CAUSE_CHURN,          /* its [churn] session ended */
  MBI_CAUSE_ABORT,          /* its abort time came before it completed */
  MBI_CAUSE_EVENT,          /* an [event.*] shutdown or crash picked it */
  MBI_CAUSE_SEED_TIME,      /* its seed time after completing ran out */
} MbiLeaveCause;

typedef struct {
  double peers, sim_time_s, events, messages, completed;
  double completion_p50_s, completion_p90_s, completion_max_s;
  double bound_s, bound_ratio, upload_utilization, jain_download_rate;
  double share_ratio_p10, share_ratio_p50, share_ratio_p90;
  double manifests_total, manifests_lost, chunks_lost, chunks_short, publishes_failed;
  double manifests_moved, bytes_moved;
  double lookups_total, lookups_failed, lookups_redirected, fetches_total, fetches_failed;
  double fetch_time_mean_s, fetch_time_max_s, fetch_bound_s, fetch_bound_ratio;
  double fetch_holder_bytes_share, fetch_swarm_chunk_share;
  double leave_bytes_ratio_max;
  double duplicate_bytes_ratio, seed_upload_ratio;
  double leecher_upload_utilization, seed_upload_utilization;
  double download_phase_upload_utilization, seeding_phase_upload_utilization;
  double unchoke_clustering_min, unchoke_clustering_max;
} MbSummary;

/* metrics-unchokes.c's accumulators (who unchoked whom). */
typedef struct _MbiUnchokes MbiUnchokes;

/* What the fetch workloads did (workload.c), for the summary.  The
 * Kumar–Ross setting holds while `uniform` and not `start_failed`: every
 * fetch found a peer and a file, all of one file at one instant, and no
 * fetcher held a chunk of it then (holders is set at the first start). */
typedef struct {
  guint started;             /* fetches handed to a ring peer */
  guint running;             /* ... not reported yet */
  guint ok;                  /* reported ok */
  double time_sum_s, time_max_s; /* start to report, over those ok */
  guint64 chunks_swarm, chunks; /* chunks got through the swarm / all, over those ok */
  gboolean uniform;
  gboolean start_failed;     /* a fetch found no peer or no file */
  gchar *file;               /* the first fetch's file */
  guint64 file_bytes;
  guint64 start_us;          /* the first fetch's start */
  GPtrArray *holders;        /* MbSimNode*: online, holding a chunk of `file` at start_us */
  GPtrArray *fetchers;       /* MbSimNode*: each node that fetched, once */
  GHashTable *fetcher_set;   /* the same, as a set of node ids */
  guint64 holders_up0;       /* the holders' fetch_bytes_up at start_us */
  guint64 fetchers_down0;    /* each fetcher's fetch_bytes_down when it started */
  guint64 holders_up1, fetchers_down1; /* the same when the last fetch reported */
  GPtrArray *used;           /* per [fetch.*] group with distinct: the node ids
                              * that fetched in it (GHashTable*), else NULL */
} MbFetchStats;

struct _MbExperiment {
  const MbScenario *sc;
  MbSched *sched;           /* the global events (and with one rank, all) */
  guint n_ranks;
  MbSched **rank_scheds;    /* by rank (with one rank, sched) */
  guint64 progress_events;  /* events at the last progress call */
  double work_done;         /* swarm pieces done at the last sample (experiment-progress.c) */
  MbWorld *world;
  MbManifest *file;
  GRand *rand_arrivals;
  GRand *rand_churn;
  GRand *rand_events;
  guint pending_arrivals;   /* peers announced by the scenario, not yet joined */
  guint pending_events;     /* scheduled scenario events not yet run */
  guint total_peers;
  GArray *samples;          /* MbSample */
  MbSummary summary;
  gboolean ran;
  gboolean check;           /* --check: also the ring's holder lists at the end */
  /* the ring's workloads (workload.c) */
  GPtrArray *files;         /* published manifests (MbManifest*), in order */
  guint pending_publish;    /* files still to be published */
  guint pending_fetch;      /* fetches still to start */
  guint64 lookups_total, lookups_failed, lookups_redirected, fetches_total, fetches_failed;
  guint publish_failed;
  MbFetchStats fetch;
  GArray *leaves;           /* MbLeaveRecord */
  GRand *rand_workload;
  MbProgressFn progress;
  gpointer progress_data;
  const volatile sig_atomic_t *interrupt; /* raised: stop at the next event */
  MbStopped stopped;
  GByteArray *leave_causes; /* MbiLeaveCause per node index (id - 1) */
  gboolean trace_unchokes;  /* --trace unchokes: unchokes-peers.csv */
  MbiUnchokes *unchokes;
  MbMemReport *memory;      /* --memory-report, else NULL */
  MbRanksRunFn runner;      /* NULL: mb_ranks_run */
  gpointer runner_data;
  const MbWorldDist *dist;  /* the world's (one rank per process), else NULL */
};

/* workload.c */
void mbi_workload_schedule (MbExperiment *x);
void mbi_workload_free (MbExperiment *x);
/* Fractions of published manifests / chunks held by an online peer now. */
void mbi_workload_availability (MbExperiment *x, double *manifests, double *chunks,
                               guint *manifests_lost, guint *chunks_lost);

/* Chunks of the published files (their newest manifests) with fewer than
 * R copies on the online ring members now (mb_ring_check_copies). */
guint mbi_workload_short_chunks (MbExperiment *x);
/* The holder lists of the published files' manifests on the online ring
 * members name the members that store each chunk (mb_ring_check_holders);
 * TRUE also when a ring peer has a request to a member in flight (not
 * judged then: mb_ringpeer_requests_to_members).
 * FALSE with the first few broken lists in why. */
gboolean mbi_workload_check_holders (MbExperiment *x, GString *why);
/* The fetch_* columns of the summary. */
void mbi_workload_fetch_summary (MbExperiment *x, MbSummary *s);

/* metrics.c */
void mbi_metrics_start (MbExperiment *x);
void mbi_metrics_sample (MbExperiment *x);
void mbi_metrics_summarise (MbExperiment *x);
/* metrics-classes.c: classes.csv, one row per peer class. */
gchar *mbi_metrics_classes_csv (MbExperiment *x);
/* metrics-departures.c: departures.csv, one row per peer that left. */
gchar *mbi_metrics_departures_csv (MbExperiment *x);

/* experiment-progress.c: the fraction of the run done now (MbProgress.done). */
double mbi_progress_done (MbExperiment *x);
/* ... and at each sample, the swarm's pieces done (one pass over the peers,
 * so that a progress call costs nothing per peer). */
void mbi_progress_sample (MbExperiment *x);

/* metrics-unchokes.c: who unchoked whom, from the core's own tallies.
 * start (with the world) takes them from it; the run's end flushes
 * the peers' open tallies (mb_world_flush_unchokes) before summarise. */
void mbi_unchokes_start (MbExperiment *x);
void mbi_unchokes_free (MbExperiment *x);
/* unchoke_clustering_min and _max of the summary. */
void mbi_unchokes_summarise (MbExperiment *x, MbSummary *s);
/* unchokes.csv: one row per ordered pair of classes. */
gchar *mbi_unchokes_csv (MbExperiment *x);
/* unchokes-peers.csv, one row per ordered pair of peers; NULL without
 * --trace unchokes. */
gchar *mbi_unchokes_peers_csv (MbExperiment *x);
