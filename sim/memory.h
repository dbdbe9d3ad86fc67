/* memory.h — a run's peak memory, estimated from the scenario before it
 * runs, and the memory the machine has (minibit-sim refuses a run that
 * would not fit unless --force).
 *
 * The estimate is a linear model of the scenario's size (memory.c gives
 * the fit and its error on the measured runs):
 * Everything is counted as far as the run goes: arrivals, add events,
 * publishes and fetches that start after `duration` are left out.
 *   peers          every peer that will join (classes and add events);
 *   swarm_entries  peers x the file's pieces (all held at the end);
 *   ring_entries   chunk copies the ring will store: each published file's
 *                  chunks x R;
 *   fetch_entries  chunks the ring fetches will get: each fetch's file's
 *                  chunks;
 *   conn_slots     peers x the connections each may hold (max_conns, at
 *                  most the other peers), with a swarm (a file, or ring
 *                  fetches through swarms);
 *   view_entries   ring members x ring members x vnodes: every member
 *                  holds its own view of the ring.
 */
#pragma once

#include <glib.h>

#include "scenario.h"

G_BEGIN_DECLS

typedef struct {
  double peers;
  double swarm_entries;
  double ring_entries;
  double fetch_entries;
  double conn_slots;
  double view_entries;
} MbMemoryFeatures;

void mb_memory_features (const MbScenario *sc, MbMemoryFeatures *f);
/* The estimated peak resident memory of the run, in bytes. */
guint64 mb_memory_estimate (const MbScenario *sc);

/* The memory available for a run, in bytes: MINIBIT_MEM_AVAILABLE from the
 * environment if set (a size such as 512MiB: to share a machine, and for
 * tests), else MemAvailable from /proc/meminfo.  FALSE (and error) if
 * neither can be read. */
gboolean mb_memory_available (guint64 *bytes, GError **error);
/* Where mb_memory_available reads: "MINIBIT_MEM_AVAILABLE" or
 * "MemAvailable in /proc/meminfo". */
const char *mb_memory_available_source (void);

/* "512 KiB", "136.0 MiB", "22.8 GiB" (free it). */
gchar *mb_memory_format (guint64 bytes);

G_END_DECLS
