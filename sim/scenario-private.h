/* scenario-private.h — what the scenario loader's files share: the value
 * kinds of the table's keys (scenario-values.c), the load in progress, and
 * the helpers one file provides to another.  Not installed.
 *
 *   scenario.c         errors, the whole file (validate), create, override, free
 *   scenario-values.c  value kinds: parsing a key's text; distributions
 *   scenario-keys.c    the table of groups and keys, loading, defaults, checks
 *   scenario-swarm.c   [swarm]: the swarm peer's constants (MbPeerConfig)
 *   scenario-ring.c    [ring], [publish.*], [fetch.*]: the ring's groups
 *   scenario-expect.c  [expect]: parsing and checking expectations
 */
#pragma once

#ifndef MB_SIM_SCENARIO_INTERNAL
#error "scenario-private.h is private to sim/scenario*.c: no other file may include it"
#endif

#include "scenario.h"

#define NAME_FORM "write lowercase letters, digits, '_' or '-'"

/* ---- value kinds ---------------------------------------------------------- */

typedef enum {
  MB_KIND_STRING,
  MB_KIND_NAME,       /* [a-z0-9_-]+ */
  MB_KIND_U64,
  MB_KIND_COUNT,
  MB_KIND_SIZE,
  MB_KIND_DURATION,
  MB_KIND_DURATION_OR_LATENCY, /* MB_RING_VIEW_DELAY_LATENCY for "latency" */
  MB_KIND_RATE,
  MB_KIND_PROBABILITY,
  MB_KIND_PER_SECOND,
  MB_KIND_BOOL,
  MB_KIND_ENUM,       /* gint, index into choices */
  MB_KIND_RANGE,      /* MbRange: "50ms" or "20ms..120ms" */
  MB_KIND_ARRIVAL,    /* MbArrival kind and at */
  MB_KIND_DIST,       /* MbDist: a duration, forever/never or a distribution */
  MB_KIND_NAME_LIST,  /* gchar **: "eu, us, asia" */
} MbKind;

typedef struct {
  const char *key;
  MbKind kind;
  gsize offset;
  gboolean required;
  const char *example;         /* a value, for "write e.g. key = example" */
  const char *const *choices;  /* MB_KIND_ENUM, in enum order */
} MbKeySpec;

/* Scratch storage big enough for any kind (checking overrides). */
typedef union {
  gchar *s;
  gchar **strv;
  guint64 u64;
  guint count;
  double d;
  gint e;
  gboolean b;
  MbRange range;
  MbArrival arrival;
  MbDist dist;
} MbValue;

/* The load in progress (mb_scenario_validate): the typed fields being built. */
typedef struct _MbLoad MbLoad;

struct _MbLoad {
  MbScenario *sc;
  GKeyFile *kf;
  const char *where;
  gboolean present;       /* the current group is in the file */
  GArray *classes;        /* MbPeerClass */
  GArray *events;         /* MbScenarioEvent */
  GArray *publishes;      /* MbPublish */
  GArray *fetches;        /* MbFetch */
  GArray *expects;        /* MbExpect */
  guint8 *pair_given;     /* [latency]: which region pairs were written */
};

/* ---- scenario.c ---- */

/* Sets error to "<where>: [group] key: message" (group, key may be NULL);
 * returns FALSE. */
gboolean mbi_scenario_fail (GError **error, gint code, const char *where, const char *group,
                           const char *key, const char *fmt, ...) G_GNUC_PRINTF (6, 7);
/* Re-raises a value error with its place in front; frees inner; FALSE. */
gboolean mbi_scenario_fail_wrap (GError **error, GError *inner, const char *where,
                                const char *group, const char *key);

/* ---- scenario-values.c ---- */

/* [a-z0-9_-]+ */
gboolean mbi_scenario_is_name (const char *s);
/* Parses text as spec's kind into field (which points into a struct). */
gboolean mbi_scenario_value_parse (const MbKeySpec *spec, const char *text, gpointer field,
                                  GError **error);
void mbi_scenario_value_clear (const MbKeySpec *spec, MbValue *v);

/* ---- scenario-keys.c ---- */

/* Every group in the file is in the table (and a multi group's id a name). */
gboolean mbi_scenario_check_groups (MbLoad *ld, GError **error);
/* Loads every group of the table in its order, with defaults and checks. */
gboolean mbi_scenario_load_groups (MbLoad *ld, GError **error);
/* The key is in the group and the group in the file (not an override's
 * check). */
gboolean mbi_scenario_load_has (const MbLoad *ld, const char *group, const char *key);
/* "peers.fast.upload" -> group "peers.fast", key "upload"; FALSE if no dot. */
gboolean mbi_scenario_split_override (const char *lhs, gchar **group, gchar **key);
/* Checks an override's group, key and value (syntax only). */
gboolean mbi_scenario_check_override (const char *where, const char *group, const char *key,
                                     const char *value, GError **error);

/* Index of the class loaded so far by that name, or -1. */
gint mbi_scenario_class_index (const MbLoad *ld, const char *name);
/* "<name>" is not a class; classes are: ...  Returns FALSE. */
gboolean mbi_scenario_fail_no_class (GError **error, const MbLoad *ld, const char *group,
                                     const char *key, const char *name);

/* ---- scenario-swarm.c ---- */

/* [swarm]'s keys, in MbSwarmKey order. */
extern const MbKeySpec mbi_scenario_swarm_keys[];
/* Fills mb_peer_config_init's defaults. */
gpointer mbi_scenario_open_swarm (MbLoad *ld, const char *id);
/* Records which keys were given; cross-key checks. */
gboolean mbi_scenario_finish_swarm (MbLoad *ld, const char *group, gpointer t, GError **error);

/* ---- scenario-ring.c ---- */

extern const MbKeySpec mbi_scenario_ring_keys[];
extern const MbKeySpec mbi_scenario_publish_keys[];
extern const MbKeySpec mbi_scenario_fetch_keys[];
gpointer mbi_scenario_open_ring (MbLoad *ld, const char *id);
gpointer mbi_scenario_open_publish (MbLoad *ld, const char *id);
gpointer mbi_scenario_open_fetch (MbLoad *ld, const char *id);
gboolean mbi_scenario_finish_ring (MbLoad *ld, const char *group, gpointer t, GError **error);
gboolean mbi_scenario_finish_publish (MbLoad *ld, const char *group, gpointer t,
                                      GError **error);
gboolean mbi_scenario_finish_fetch (MbLoad *ld, const char *group, gpointer t, GError **error);

/* ---- scenario-expect.c ---- */

/* The [expect] group's free_key: parses one expectation (ld NULL: check only). */
gboolean mbi_scenario_expect_key (MbLoad *ld, const char *where, const char *group,
                                 const char *key, const char *value, GError **error);
void mbi_scenario_expect_clear (MbExpect *e);
