/* memreport.h — minibit-sim --memory-report: the heap a run holds, by
 * structure, measured (not modelled: sim/memory.c is the model).
 *
 * At every metrics sample the report walks the world (every peer's
 * connections, bitfields, request lists, piece state and manifest share,
 * every store, the sim nodes, the net's records and the messages in
 * flight, the scheduler) and counts each block as the allocator does
 * (core/memsize.h); beside it, the heap glibc says is in use (mallinfo2)
 * and the RSS.  It keeps the sample with the most heap in use, whose
 * table mb_memreport_format gives.  The walk only reads: outputs are the
 * same with or without it (it costs some time at each sample). */
#pragma once

#include <glib.h>

#include "scheduler.h"
#include "world.h"

G_BEGIN_DECLS

typedef struct {
  double t_s;               /* simulated time of the sample */
  guint peers;              /* peers joined so far */
  MbPeerMemory peer;        /* all peers' (mb_peer_memory) */
  gsize stores;             /* the peers' stores (a shared catalog: its shares) */
  gsize nodes;              /* the simulator's node records and addresses */
  gsize net;                /* the net's node and flight records */
  gsize messages;           /* messages in flight: their payload objects */
  gsize scheduler;          /* the scheduler's wheel, records and event slots */
  gsize walked;             /* the sum of the above */
  gsize heap_in_use;        /* mallinfo2: in-use chunks plus mmapped blocks; 0 if unknown */
  gsize rss;                /* resident set at the sample (/proc/self/statm); 0 if unknown */
} MbMemSample;

typedef struct {
  guint n_samples;
  guint peers;              /* peers joined by the last sample (the run's end) */
  MbMemSample peak;         /* the sample with the most heap in use (walked if unknown) */
} MbMemReport;

void mb_memreport_sample (MbMemReport *r, MbWorld *w, MbSched *s, double t_s);
/* The table (free it); peak_rss: the run's (getrusage), also given per
 * peer (every peer of the run). */
gchar *mb_memreport_format (const MbMemReport *r, guint64 peak_rss);

G_END_DECLS
