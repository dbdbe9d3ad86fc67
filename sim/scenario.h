/* scenario.h — scenario files (GKeyFile .ini) loaded into a typed, validated
 * struct for the simulator driver.
 *
 * Loading is two-phase so command-line overrides apply before validation:
 *
 *   MbScenario *sc = mb_scenario_new_from_file ("flash.ini", &err);
 *   mb_scenario_set (sc, "peers.fast.upload=20Mbit", &err);   (any number)
 *   mb_scenario_validate (sc, &err);        (fills the typed fields below)
 *
 * or in one call: mb_scenario_load (path, overrides, &err).  After
 * validation the public fields are read-only to the driver.
 *
 * Every error names the file, the group and the key, what was wrong and the
 * accepted form:
 *   flash.ini: [peers.fast] upload: "10 Mbps" is not a rate; write e.g. 10Mbit, ...
 * Unknown groups and keys are errors (typos), as are missing required keys.
 *
 * Times are microseconds, sizes bytes, rates bits per second (0 = unlimited).
 * Arrays (classes, events, publishes, fetches, expects) keep the order of the
 * file.
 *
 * The ring (consistent-hash storage with distributed manifests): a [ring]
 * group enables it (MbRingConfig.enabled).  [publish.<name>] groups put files
 * into it and [fetch.<name>] groups read them back; both need [ring].  The
 * files of [publish.docs] with count = 3 are "docs-0.bin", "docs-1.bin" and
 * "docs-2.bin" (index from 0, in publishing order).  With [ring], [file] (the
 * swarm's file) is optional: without it there is no swarm file, which
 * file.size == 0 says.  Without [ring], [file] is required.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MB_SCENARIO_ERROR (mb_scenario_error_quark ())
GQuark mb_scenario_error_quark (void);

typedef enum {
  MB_SCENARIO_ERROR_FILE,           /* unreadable, or not a key file */
  MB_SCENARIO_ERROR_UNKNOWN_GROUP,
  MB_SCENARIO_ERROR_UNKNOWN_KEY,
  MB_SCENARIO_ERROR_MISSING,        /* a required key or group */
  MB_SCENARIO_ERROR_INVALID,        /* a bad value or combination of values */
  MB_SCENARIO_ERROR_OVERRIDE,       /* a malformed "group.key=value" */
  MB_SCENARIO_ERROR_UNKNOWN_METRIC, /* [expect] names a metric the driver lacks */
  MB_SCENARIO_ERROR_EXPECT_FAILED,  /* an expectation did not hold */
} MbScenarioError;

#define MB_SCENARIO_FOREVER G_MAXUINT64

typedef enum {
  MB_STOP_ALL_COMPLETE, /* every leecher present has completed, no arrivals pending */
  MB_STOP_DURATION,     /* run until [scenario] duration */
} MbStopRule;
/* Same order and values as core's MbStrategy (choker.h): cast to convert.
 * (A separate type keeps sim/ free of core/ headers.) */
typedef enum {
  MB_SCENARIO_STRATEGY_TFT = 0,
  MB_SCENARIO_STRATEGY_FREERIDER = 1,
  MB_SCENARIO_STRATEGY_ALTRUIST = 2,
  MB_SCENARIO_STRATEGY_BITTYRANT = 3,
  MB_SCENARIO_STRATEGY_PROPSHARE = 4,
} MbScenarioStrategy;
typedef enum { MB_ARRIVAL_AT, MB_ARRIVAL_POISSON } MbArrivalKind;
/* [peers.<class>] ring: a member holds what the ring places on it; a client
 * runs a ring peer (it stores and fetches, with the ring's view) but is never
 * a member, so nothing is placed on it. */
typedef enum { MB_RING_ROLE_MEMBER = 0, MB_RING_ROLE_CLIENT = 1 } MbRingRole;
typedef enum { MB_LATENCY_CONSTANT, MB_LATENCY_UNIFORM, MB_LATENCY_REGIONS } MbLatencyModel;
typedef enum {
  MB_DIST_NONE,        /* forever (never): mb_dist_sample gives MB_SCENARIO_FOREVER */
  MB_DIST_FIXED,       /* always scale (may be 0) */
  MB_DIST_EXPONENTIAL, /* mean = scale */
  MB_DIST_PARETO,      /* shape, scale (= minimum) */
  MB_DIST_WEIBULL,     /* shape, scale */
} MbDistKind;
typedef enum {
  MB_ACTION_SHUTDOWN,  /* graceful leave of `count` peers */
  MB_ACTION_CRASH,     /* abrupt failure of `count` peers */
  MB_ACTION_ADD,       /* `count` new peers of `class_index` */
  MB_ACTION_PARTITION, /* split online nodes into `groups` random parts until `until` */
} MbAction;
typedef enum { MB_CMP_EQ, MB_CMP_NE, MB_CMP_LT, MB_CMP_LE, MB_CMP_GT, MB_CMP_GE } MbCmp;

typedef struct {
  guint64 lo;
  guint64 hi;
} MbRange;

/* A length of time drawn per peer: [churn] session, [peers.*] seed_time and
 * abort.  One form for all: a duration (fixed), forever (or never),
 * exponential MEAN, pareto SHAPE SCALE or weibull SHAPE SCALE. */
typedef struct {
  MbDistKind kind;
  double shape;   /* pareto, weibull */
  guint64 scale;  /* microseconds: the fixed time, exponential mean, pareto
                     minimum, weibull scale */
} MbDist;

typedef struct {
  MbArrivalKind kind;
  guint64 at;     /* MB_ARRIVAL_AT: everyone arrives at this time */
  double rate;    /* MB_ARRIVAL_POISSON: arrivals per second ... */
  guint64 start;  /* ... starting at this time; `count` arrivals in all */
} MbArrival;

typedef struct {
  gchar *name;          /* "fast" for [peers.fast] */
  guint count;
  guint64 upload;       /* bits/s, 0 = unlimited */
  guint64 download;
  MbScenarioStrategy strategy;
  double initial_share; /* 1 = a seed holding the whole file */
  MbArrival arrival;
  gchar *region_name;   /* NULL without regions */
  guint region;         /* index into network.regions (0 without regions) */
  MbDist seed_time;     /* stay after completing, drawn per peer when it
                         * completes; MB_DIST_NONE: forever */
  MbDist abort;         /* a leecher leaves (gracefully) this long after it
                         * joined if it has not completed by then, drawn per
                         * peer at join (Qiu-Srikant's theta); MB_DIST_NONE: never */
  gboolean churn;       /* [churn] session lengths apply */
  MbRingRole ring;      /* with [ring]: member (the default) or client */
} MbPeerClass;

typedef struct {
  gchar *name;          /* "flash" for [event.flash] */
  guint64 at;
  MbAction action;
  guint count;          /* shutdown, crash, add */
  gchar *class_name;    /* NULL: any class (shutdown, crash) */
  gint class_index;     /* -1 when class_name is NULL */
  guint64 interval;     /* shutdown, crash, add: 0 = the `count` peers act at
                         * once; else one after another, one every interval
                         * from `at` */
  guint repeat;         /* crash: the whole event (a round of `count` peers)
                         * happens `repeat` times, `every` apart (start to
                         * start, longer than a round); otherwise 1 */
  guint64 every;        /* needed when repeat > 1; ignored when repeat = 1 */
  guint groups;         /* partition */
  guint64 until;        /* partition */
} MbScenarioEvent;

typedef struct {
  gchar *metric;        /* "bound_ratio" */
  MbCmp op;
  gboolean all;         /* the value is "all": metric "peers" */
  double value;
  gchar *text;          /* "bound_ratio <= 1.5", for reports */
} MbExpect;

typedef struct {
  guint64 size;         /* 0: no swarm file (no [file] group, only with [ring]) */
  guint64 piece_size;   /* (keeps its default without a file) */
  guint64 block_size;   /* divides piece_size */
  guint n_pieces;       /* ceil(size / piece_size); 0 without a file */
} MbFileConfig;

typedef struct {
  guint peer_list_size;
  guint64 announce_interval;
  guint64 peer_timeout;
  double initial_share;
} MbScenarioTracker;

typedef struct {
  MbLatencyModel latency_model;
  MbRange latency;          /* constant: lo == hi; unused with regions */
  guint64 jitter;           /* regions: each pair adds [0, jitter] */
  double loss;
  double overhead;          /* bytes a link carries beyond each message's own, as a
                               fraction of them (TCP/IP headers: 66 per 1448, 4.6%) */
  guint64 link_queue;       /* bytes standing in a busy uplink's queue ahead of each
                               message (mb_net_set_link_queue) */
  gchar **regions;          /* NULL-terminated; NULL without regions */
  guint n_regions;
  guint64 *latency_matrix;  /* [from * n_regions + to], one-way */
} MbNetworkConfig;

/* [swarm]: the swarm peer's protocol constants (core's MbPeerConfig).  A
 * field holds mb_peer_config_init's default unless the file sets its key;
 * `given` has bit (1 << MbSwarmKey) for each key the file sets, and the
 * driver applies only those over mb_peer_config_init.  The keys are the
 * MbSwarmKey names in lowercase (MB_SWARM_REQUEST_QUEUE_TIME is
 * request_queue_time).  The optimistic unchoke rotates every
 * rechoke_interval x optimistic_rounds.  pex = no sets the core's
 * pex_interval_us to 0. */
typedef enum {
  MB_SWARM_REGULAR_SLOTS,
  MB_SWARM_RECHOKE_INTERVAL,
  MB_SWARM_OPTIMISTIC_ROUNDS,
  MB_SWARM_SNUB_TIMEOUT,
  MB_SWARM_SEED_CHOKE,
  MB_SWARM_SEED_PIECE_QUOTA,
  MB_SWARM_MAX_EXTRA_SLOTS,
  MB_SWARM_SLOT_CHECK_INTERVAL,
  MB_SWARM_PIPELINE,
  MB_SWARM_PIPELINE_MAX,
  MB_SWARM_REQUEST_QUEUE_TIME,
  MB_SWARM_RANDOM_FIRST,
  MB_SWARM_ENDGAME,
  MB_SWARM_MAX_REQUEST,
  MB_SWARM_SEND_WATERMARK,
  MB_SWARM_SEND_WATERMARK_LOW,
  MB_SWARM_SEND_BUFFER_TIME,
  MB_SWARM_MAX_QUEUED_REQUESTS,
  MB_SWARM_TARGET_CONNS,
  MB_SWARM_MAX_CONNS,
  MB_SWARM_TRACKER_RETRY,
  MB_SWARM_SUPER_SEEDING,
  MB_SWARM_PEX,
  MB_SWARM_PEX_INTERVAL,
  MB_SWARM_PEX_MAX,
  MB_SWARM_TRACKER_RAMP,
  MB_SWARM_SEED_PREEMPT,
  MB_SWARM_SUPER_SEEDING_SPREAD,
  MB_SWARM_TYRANT_GAMMA,
  MB_SWARM_TYRANT_DELTA,
  MB_SWARM_TYRANT_ROUNDS,
  MB_SWARM_PROPSHARE_OPTIMISTIC,
  MB_SWARM_SPARE_SLOTS,
  MB_SWARM_REQUEST_TIMEOUT,
  MB_SWARM_N_KEYS
} MbSwarmKey;

/* Same order and values as core's MbSeedChoke (choker.h). */
typedef enum {
  MB_SCENARIO_SEED_CHOKE_ROUND_ROBIN = 0,
  MB_SCENARIO_SEED_CHOKE_FASTEST = 1,
} MbScenarioSeedChoke;

/* How a tft leecher fills its extra slots: "rate" (by what each gave us, as
 * its regular slots; libtorrent's way) or "round-robin" (the interested
 * peers unchoked longest ago; core's spare_round_robin). */
typedef enum {
  MB_SCENARIO_SPARE_SLOTS_RATE = 0,
  MB_SCENARIO_SPARE_SLOTS_ROUND_ROBIN = 1,
} MbScenarioSpareSlots;

typedef struct {
  guint64 given;              /* bit (1 << MbSwarmKey): the file sets that key */
  guint regular_slots;
  guint64 rechoke_interval;   /* > 0 */
  guint optimistic_rounds;    /* >= 1 */
  guint64 snub_timeout;
  MbScenarioSeedChoke seed_choke;
  guint seed_piece_quota;
  guint max_extra_slots;
  guint64 slot_check_interval;
  guint pipeline;             /* >= 1 */
  guint pipeline_max;         /* >= pipeline */
  guint64 request_queue_time;
  guint random_first;
  gboolean endgame;
  guint64 max_request;        /* bytes, block_size .. 4GiB - 1 */
  guint64 send_watermark;     /* bytes, 1 .. 4GiB - 1 */
  guint64 send_watermark_low; /* bytes, 1 .. send_watermark */
  guint64 send_buffer_time;   /* 0: the backlog limit is always send_watermark */
  guint max_queued_requests;  /* >= 1 */
  guint target_conns;         /* >= 1 */
  guint max_conns;            /* >= target_conns */
  guint64 tracker_retry;
  guint64 tracker_ramp;        /* <= tracker_retry */
  gboolean seed_preempt;
  gboolean super_seeding;
  gboolean super_seeding_spread;
  gboolean pex;
  guint64 pex_interval;       /* > 0; the core's pex_interval_us when pex */
  guint pex_max;
  double tyrant_gamma;        /* bittyrant's gamma, 0 .. 1 (the core keeps per mille) */
  double tyrant_delta;        /* bittyrant's delta, 0 .. 1 */
  guint tyrant_rounds;        /* bittyrant's r, >= 1 */
  double propshare_optimistic;/* propshare's optimistic share, 0 .. 1 */
  MbScenarioSpareSlots spare_slots; /* how a leecher fills its extra slots */
  guint64 request_timeout;    /* the core's request_timeout_us; 0: never */
} MbSwarmConfig;

/* "round-robin", "fastest" (as core's mb_seed_choke_name); NULL if unknown. */
const char *mb_scenario_seed_choke_name (MbScenarioSeedChoke s);

#define MB_SWARM_GIVEN(sw, k) ((((sw)->given) >> (k)) & 1u)
/* "rate", "round-robin"; NULL if unknown. */
const char *mb_scenario_spare_slots_name (MbScenarioSpareSlots s);

typedef struct {
  gboolean enabled;         /* a [churn] group is present */
  MbDist session;
  double leave_graceful;    /* else crash */
} MbChurnConfig;

/* view_delay = latency: each peer learns of a membership change after its
 * one-way network latency from the tracker. */
#define MB_RING_VIEW_DELAY_LATENCY G_MAXUINT64

/* replication, vnodes, chunk_size, rpc_timeout and the quorums are 0 when
 * the file does not give them: the core's defaults apply (mb_ringpeer_config_init,
 * MB_RING_DEFAULT_VNODES), set in the core only. */
typedef struct {
  gboolean enabled;         /* a [ring] group is present */
  guint replication;        /* R: copies of each chunk and manifest, >= 1 (0: default) */
  guint vnodes;             /* virtual points per member on the ring, >= 1 (0: default) */
  guint64 chunk_size;       /* bytes, > 0 (0: default) */
  guint64 rpc_timeout;      /* > 0 (0: default) */
  guint write_quorum;       /* W: manifest owners a store needs, >= 1 (0: R/2 + 1) */
  guint read_quorum;        /* copies a fetch reads, >= 1 (0: R - W + 1) */
  guint64 view_delay;       /* how long a membership change takes to reach each
                             * peer: a fixed delay, or MB_RING_VIEW_DELAY_LATENCY */
  gboolean swarm;           /* a ring fetch is the file's swarm (mb_ringpeer_set_swarm
                             * with the node's swarm peer): TRUE; FALSE: the
                             * multi-source GET_CHUNK fetch alone */
  gboolean emulated_names;  /* members are named as tools/emulate's peers
                             * ("10.77.A.B:6001"), not "sim:<id>": the same
                             * placement as the emulated run */
} MbRingConfig;

typedef struct {
  gchar *name;              /* "docs" for [publish.docs]: files "docs-<index>.bin" */
  guint64 at;               /* the first file */
  guint count;              /* files, >= 1 */
  guint64 size;             /* bytes per file, > 0 */
  guint64 interval;         /* 0: all at `at`; else one file every interval from `at` */
  gchar *class_name;        /* `from`: online peers of this class publish (one at
                             * random per file); NULL: any online peer */
  gint class_index;         /* -1 when class_name is NULL */
} MbPublish;

typedef struct {
  gchar *name;              /* "reads" for [fetch.reads] */
  guint64 at;               /* the first fetch */
  guint count;              /* fetches, >= 1 */
  double rate;              /* fetches per second from `at`; 0: all at `at` */
  gchar *class_name;        /* `from`: a random online peer of this class fetches;
                             * NULL: any online peer */
  gint class_index;         /* -1 when class_name is NULL */
  gchar *publish_name;      /* `files`: a random already-published file of this
                             * [publish.<name>] group; NULL (files = any): a
                             * random already-published file of any group */
  gint publish_index;       /* index into publishes; -1 when publish_name is NULL */
  gboolean distinct;        /* each fetch of the group by a peer that has not
                             * fetched in it yet (none fetches twice; with none
                             * left, the fetch fails as with no peer at all) */
} MbFetch;

typedef struct {
  gchar *path;              /* as given; prefixes error messages */
  /* [scenario] */
  gchar *name;              /* default: the file's basename without .ini */
  guint64 seed;
  guint64 duration;         /* the run never goes past this */
  MbStopRule stop;
  guint64 sample_interval;
  MbFileConfig file;
  MbScenarioTracker tracker;
  MbNetworkConfig network;
  MbChurnConfig churn;
  MbSwarmConfig swarm;
  MbRingConfig ring;
  MbPeerClass *classes;
  guint n_classes;
  MbScenarioEvent *events;
  guint n_events;
  MbPublish *publishes;      /* [publish.<name>]: only with ring.enabled */
  guint n_publishes;
  MbFetch *fetches;          /* [fetch.<name>]: only with ring.enabled */
  guint n_fetches;
  MbExpect *expects;
  guint n_expects;
  /* To add a group: add its struct or array here and a row in the group
   * table in scenario-keys.c (its keys, defaults and checks may live in a
   * file of their own, as scenario-swarm.c and scenario-ring.c). */

  /*< private >*/
  GKeyFile *keyfile;
  gboolean validated;
} MbScenario;

/* Reads a file (or text; `path` names it in messages) without validating. */
MbScenario *mb_scenario_new_from_file (const char *path, GError **error);
MbScenario *mb_scenario_new_from_data (const char *data, gssize len, const char *path,
                                       GError **error);
/* Applies "group.key=value" (the CLI's --set).  The key is after the group:
 * "peers.fast.upload=20Mbit", "network.loss=1%", "latency.eu.us=90ms",
 * "expect.completed=all", "ring.replication=2", "publish.docs.count=10".
 * The group and key must be known and the value well-formed; cross-key
 * checks happen in mb_scenario_validate. */
gboolean mb_scenario_set (MbScenario *sc, const char *assignment, GError **error);
/* Fills and checks the typed fields; may be called again after more sets. */
gboolean mb_scenario_validate (MbScenario *sc, GError **error);
/* new_from_file + set (each of the NULL-terminated overrides) + validate. */
MbScenario *mb_scenario_load (const char *path, const char *const *overrides, GError **error);
void mb_scenario_free (MbScenario *sc);

/* The scenario as a key file, overrides included (for results/). */
gchar *mb_scenario_to_data (const MbScenario *sc, gsize *len);
/* Index of a class by name, or -1. */
gint mb_scenario_find_class (const MbScenario *sc, const char *name);
/* Sum of class counts plus the counts of add events. */
guint mb_scenario_total_peers (const MbScenario *sc);
/* Sum of the counts of [fetch.*] groups. */
guint mb_scenario_total_fetches (const MbScenario *sc);
/* Sum of the counts of [publish.*] groups (the files put into the ring). */
guint mb_scenario_total_files (const MbScenario *sc);

/* ---- expectations ---- */

/* Returns a metric's value; FALSE if the driver has no such metric.  The
 * value "all" is resolved through the metric "peers". */
typedef gboolean (*MbMetricFn) (gpointer data, const char *metric, double *value);

/* Before a run: every [expect] metric must be one of `known` (NULL-
 * terminated; "peers" is needed for "all").  Errors name the file and key. */
gboolean mb_scenario_check_metric_names (const MbScenario *sc, const char *const *known,
                                         GError **error);
/* TRUE if the expectation holds.  FALSE with MB_SCENARIO_ERROR_EXPECT_FAILED
 * ("expect: bound_ratio <= 1.5: got 1.73") or _UNKNOWN_METRIC.  *got (may be NULL)
 * receives the metric's value. */
gboolean mb_expect_check (const MbExpect *e, MbMetricFn metric, gpointer data, double *got,
                          GError **error);
/* Checks all; appends one message per failure to `failures` (gchar*, may be
 * NULL) and returns the number of failures. */
guint mb_scenario_check_expectations (const MbScenario *sc, MbMetricFn metric, gpointer data,
                                      GPtrArray *failures);
const char *mb_cmp_name (MbCmp op); /* "<=", ... */

/* A length of time drawn from `dist` (microseconds): MB_SCENARIO_FOREVER for
 * MB_DIST_NONE, the scale for MB_DIST_FIXED (no draw), else at least 1. */
guint64 mb_dist_sample (const MbDist *dist, GRand *rng);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbScenario, mb_scenario_free)

G_END_DECLS
