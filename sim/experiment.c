/* experiment.c — a scenario run: builds the world from the scenario, drives
 * the population (arrivals, churn sessions, seed time, scheduled events) and
 * decides when the run is over.  Metrics are in metrics.c.
 *
 * Random streams (each its own GRand, seeded from (scenario seed, stream)):
 * 1 arrivals, 2 churn, 3 scheduled events, 4 ring workloads; the world seeds
 * each node's own.  A peer's seed time (drawn when it completes) and abort
 * time (drawn when it joins) come from a generator of its own, seeded from
 * (scenario seed, stream 5 or 6, node id), so a draw does not depend on the
 * order in which other peers complete.  An aborting leecher leaves
 * gracefully if it has not completed by its abort time.
 * The run goes in windows of the lookahead (sim/ranks.h), over one rank or
 * several.  It stops at `duration`, or (stop = all-complete) at the first
 * window's end at which no peer is still to arrive, no scheduled event is
 * still to run, and every online peer holds the whole file, or at the end
 * of the window during which the interrupt flag (mb_experiment_set_interrupt)
 * was raised; mb_experiment_stopped says which.  The scenario's events are
 * global (they may touch every node); a peer's own (leave, abort) are
 * scheduled for its node, on its rank.
 */
#define MB_SIM_EXPERIMENT_INTERNAL
#include "experiment-private.h"

#include <math.h>

#include "content/chunk.h"
#include "ranks.h"

#define STREAM_ARRIVALS 1
#define STREAM_CHURN 2
#define STREAM_EVENTS 3
#define STREAM_WORKLOAD 4
#define STREAM_SEED_TIME 5
#define STREAM_ABORT 6

static GRand *
stream (guint64 seed, guint32 id)
{
  guint32 words[4] = { (guint32) seed, (guint32) (seed >> 32), 0x5eed, id };
  return g_rand_new_with_seed_array (words, 4);
}

/* The swarm's file; *out = NULL when the scenario has none (ring only). */
static gboolean
build_file (const MbScenario *sc, MbManifest **out, GError **error)
{
  *out = NULL;
  if (sc->file.size == 0)
    return TRUE;
  /* Real chunk ids of generated content: what a peer fetches could be
   * verified byte for byte, though the simulator never holds the bytes. */
  MbManifest *m = mb_manifest_new ("shared_file.bin", sc->file.size,
                                   (guint32) sc->file.piece_size, error);
  if (!m)
    return FALSE;
  guint8 *buf = g_malloc (sc->file.piece_size);
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    {
      guint32 len = mb_manifest_chunk_len (m, i);
      mb_chunk_generate ("shared_file.bin", i, buf, len);
      char id[65];
      mb_chunk_id_compute (buf, len, id);
      mb_manifest_set_chunk (m, i, id, mb_chunk_crc_compute (buf, len), NULL);
    }
  g_free (buf);
  *out = m;
  return TRUE;
}

static void
configure_network (MbNet *net, const MbNetworkConfig *nc)
{
  switch (nc->latency_model)
    {
    case MB_LATENCY_CONSTANT:
      mb_net_set_latency_constant (net, nc->latency.lo);
      break;
    case MB_LATENCY_UNIFORM:
      mb_net_set_latency_uniform (net, nc->latency.lo, nc->latency.hi);
      break;
    case MB_LATENCY_REGIONS:
      mb_net_set_latency_regions (net, nc->n_regions, nc->latency_matrix, nc->jitter);
      break;
    }
  mb_net_set_loss (net, nc->loss);
  mb_net_set_overhead (net, nc->overhead);
  mb_net_set_link_queue (net, nc->link_queue);
}

/* Whether a node may crash or be cut off in this scenario: crash and
 * partition events, churn that ends sessions by crashing.  Without either,
 * each message takes one scheduler event instead of two (net.h); the
 * outputs are the same either way, and MINIBIT_NET_EVENTS=2 in the
 * environment asks for two to compare. */
static gboolean
scenario_faults_possible (const MbScenario *sc)
{
  const char *events = g_getenv ("MINIBIT_NET_EVENTS");
  if (g_strcmp0 (events, "2") == 0)
    return TRUE;
  if (events != NULL && g_strcmp0 (events, "1") != 0)
    g_warning ("MINIBIT_NET_EVENTS=%s: give 1 (one event per message where no fault can "
               "happen, the default) or 2 (two always); taking 1", events);
  for (guint i = 0; i < sc->n_events; i++)
    if (sc->events[i].action == MB_ACTION_CRASH || sc->events[i].action == MB_ACTION_PARTITION)
      return TRUE;
  if (sc->churn.enabled && sc->churn.leave_graceful < 1.0)
    for (guint c = 0; c < sc->n_classes; c++)
      if (sc->classes[c].churn)
        return TRUE;
  return FALSE;
}

/* [swarm]: only the keys the file sets, over mb_peer_config_init's defaults. */
static void
apply_swarm (MbPeerConfig *p, const MbSwarmConfig *sw)
{
#define GIVEN(k) MB_SWARM_GIVEN (sw, MB_SWARM_##k)
  if (GIVEN (REGULAR_SLOTS))
    p->regular_slots = sw->regular_slots;
  if (GIVEN (RECHOKE_INTERVAL))
    p->rechoke_interval_us = sw->rechoke_interval;
  if (GIVEN (OPTIMISTIC_ROUNDS))
    p->optimistic_rounds = sw->optimistic_rounds;
  if (GIVEN (SNUB_TIMEOUT))
    p->snub_timeout_us = sw->snub_timeout;
  if (GIVEN (SEED_CHOKE))
    p->seed_choke = (MbSeedChoke) sw->seed_choke;
  if (GIVEN (SEED_PIECE_QUOTA))
    p->seed_piece_quota = sw->seed_piece_quota;
  if (GIVEN (MAX_EXTRA_SLOTS))
    p->max_extra_slots = sw->max_extra_slots;
  if (GIVEN (SLOT_CHECK_INTERVAL))
    p->slot_check_us = sw->slot_check_interval;
  if (GIVEN (PIPELINE))
    p->pipeline = sw->pipeline;
  if (GIVEN (PIPELINE_MAX))
    p->pipeline_max = sw->pipeline_max;
  if (GIVEN (REQUEST_QUEUE_TIME))
    p->request_queue_us = sw->request_queue_time;
  if (GIVEN (RANDOM_FIRST))
    p->random_first = sw->random_first;
  if (GIVEN (ENDGAME))
    p->endgame = sw->endgame;
  if (GIVEN (MAX_REQUEST))
    p->max_request = (guint32) sw->max_request;
  if (GIVEN (SEND_WATERMARK))
    p->send_watermark = (guint32) sw->send_watermark;
  if (GIVEN (SEND_WATERMARK_LOW))
    p->send_watermark_low = (guint32) sw->send_watermark_low;
  if (GIVEN (SEND_BUFFER_TIME))
    p->send_buffer_us = sw->send_buffer_time;
  if (GIVEN (MAX_QUEUED_REQUESTS))
    p->max_queued_requests = sw->max_queued_requests;
  if (GIVEN (TARGET_CONNS))
    p->target_conns = sw->target_conns;
  if (GIVEN (MAX_CONNS))
    p->max_conns = sw->max_conns;
  if (GIVEN (TRACKER_RETRY))
    p->tracker_retry_us = sw->tracker_retry;
  if (GIVEN (TRACKER_RAMP))
    p->tracker_ramp_us = sw->tracker_ramp;
  if (GIVEN (SEED_PREEMPT))
    p->seed_preempt = sw->seed_preempt;
  if (GIVEN (SUPER_SEEDING))
    p->super_seeding = sw->super_seeding;
  if (GIVEN (SUPER_SEEDING_SPREAD))
    p->super_seeding_spread = sw->super_seeding_spread;
  if (GIVEN (TYRANT_GAMMA))
    p->tyrant_gamma_pm = (guint) (sw->tyrant_gamma * 1000 + 0.5);
  if (GIVEN (TYRANT_DELTA))
    p->tyrant_delta_pm = (guint) (sw->tyrant_delta * 1000 + 0.5);
  if (GIVEN (TYRANT_ROUNDS))
    p->tyrant_rounds = sw->tyrant_rounds;
  if (GIVEN (PROPSHARE_OPTIMISTIC))
    p->propshare_optimistic_pm = (guint) (sw->propshare_optimistic * 1000 + 0.5);
  if (GIVEN (SPARE_SLOTS))
    p->spare_round_robin = sw->spare_slots == MB_SCENARIO_SPARE_SLOTS_ROUND_ROBIN;
  if (GIVEN (REQUEST_TIMEOUT))
    p->request_timeout_us = sw->request_timeout;
  if (GIVEN (PEX) && !sw->pex)
    p->pex_interval_us = 0;
  else if (sw->pex && (GIVEN (PEX_INTERVAL) || p->pex_interval_us == 0))
    p->pex_interval_us = sw->pex_interval;
  if (GIVEN (PEX_MAX))
    p->pex_max = sw->pex_max;
#undef GIVEN
}

/* ---- leaving ---- */

static void
record_leave (MbExperiment *x, MbSimNode *n, MbLeaveKind kind)
{
  MbLeaveRecord r = { 0 };
  r.t_s = (double) mb_sched_now (mb_world_sched_of (x->world, n->id)) / 1e6;
  r.peer = n->id;
  r.kind = mb_leave_kind_name (kind);
  r.members = mb_ring_n_members (mb_world_ring (x->world));
  if (kind == MB_LEAVE_GRACEFUL)
    {
      r.report = n->handoff;
      r.expected_bytes = n->handoff_expected;
    }
  g_array_append_val (x->leaves, r);
}

static void
on_handoff (MbWorld *w, MbSimNode *n, gpointer data)
{
  record_leave (data, n, MB_LEAVE_GRACEFUL);
}

/* Every departure goes through here, so crashes are recorded too; `cause`
 * is kept for departures.csv. */
static void
leave_node (MbExperiment *x, MbSimNode *n, MbLeaveKind kind, MbiLeaveCause cause)
{
  if (!n->online || n->shutting_down)
    return;
  x->leave_causes->data[n->id - 1] = (guint8) cause; /* sized at join */
  if (kind == MB_LEAVE_CRASH && n->rp && !n->ring_client)
    record_leave (x, n, kind);
  mb_world_leave (x->world, n, kind);
}

/* b: the node id (low 32 bits), the kind (bits 32-39), the cause (40-47). */
static void
on_leave_event (MbSched *s, gpointer a, guint64 b)
{
  MbExperiment *x = a;
  MbSimNode *n = mb_world_node (x->world, (guint) (b & 0xffffffffu) - 1);
  leave_node (x, n, (MbLeaveKind) ((b >> 32) & 0xff), (MbiLeaveCause) ((b >> 40) & 0xff));
}

static void
schedule_leave (MbExperiment *x, MbSimNode *n, guint64 at, MbLeaveKind kind, MbiLeaveCause cause)
{
  mb_sched_at_node (mb_world_sched_of (x->world, n->id), at, n->id, on_leave_event, x,
                    ((guint64) cause << 40) | ((guint64) kind << 32) | n->id);
}

/* A length of time for node n from dist, drawn from n's own generator for
 * this stream (none is made for a fixed time or forever). */
static guint64
node_draw (MbExperiment *x, const MbSimNode *n, guint32 id, const MbDist *dist)
{
  if (dist->kind == MB_DIST_NONE || dist->kind == MB_DIST_FIXED)
    return mb_dist_sample (dist, NULL);
  guint32 words[5] = { (guint32) x->sc->seed, (guint32) (x->sc->seed >> 32), 0x5eed, id, n->id };
  g_autoptr (GRand) r = g_rand_new_with_seed_array (words, 5);
  return mb_dist_sample (dist, r);
}

/* now (node n's) + after, or MB_TIME_NEVER if that is never. */
static guint64
time_after (MbExperiment *x, const MbSimNode *n, guint64 after)
{
  guint64 at;
  guint64 now = mb_sched_now (mb_world_sched_of (x->world, n->id));
  if (after == MB_SCENARIO_FOREVER || !g_uint64_checked_add (&at, now, after))
    return MB_TIME_NEVER;
  return at;
}

static void
on_complete (MbWorld *w, MbSimNode *n, gpointer data)
{
  MbExperiment *x = data;
  const MbPeerClass *pc = &x->sc->classes[n->cls];
  guint64 at = time_after (x, n, node_draw (x, n, STREAM_SEED_TIME, &pc->seed_time));
  if (at != MB_TIME_NEVER)
    schedule_leave (x, n, at, MB_LEAVE_GRACEFUL, MBI_CAUSE_SEED_TIME);
}

/* A leecher's abort time: it leaves unless it has completed. */
static void
on_abort_event (MbSched *s, gpointer a, guint64 b)
{
  MbExperiment *x = a;
  MbSimNode *n = mb_world_node (x->world, (guint) b - 1);
  if (n->completed_us == MB_TIME_NEVER)
    leave_node (x, n, MB_LEAVE_GRACEFUL, MBI_CAUSE_ABORT);
}

/* ---- arriving ---- */

static MbSimNode *
join_one (MbExperiment *x, guint cls)
{
  const MbPeerClass *pc = &x->sc->classes[cls];
  MbSimNode *n = mb_world_join (x->world, cls, (MbStrategy) pc->strategy, pc->upload,
                                pc->download, pc->region, pc->initial_share,
                                pc->ring == MB_RING_ROLE_CLIENT);
  const guint8 none = MBI_CAUSE_NONE;
  while (x->leave_causes->len < n->id)
    g_byte_array_append (x->leave_causes, &none, 1);
  if (x->sc->churn.enabled && pc->churn)
    {
      guint64 session = mb_dist_sample (&x->sc->churn.session, x->rand_churn);
      gboolean graceful = g_rand_double (x->rand_churn) < x->sc->churn.leave_graceful;
      guint64 at = time_after (x, n, session);
      if (at != MB_TIME_NEVER)
        schedule_leave (x, n, at, graceful ? MB_LEAVE_GRACEFUL : MB_LEAVE_CRASH, MBI_CAUSE_CHURN);
    }
  if (n->completed_us == MB_TIME_NEVER && pc->abort.kind != MB_DIST_NONE)
    {
      guint64 at = time_after (x, n, node_draw (x, n, STREAM_ABORT, &pc->abort));
      if (at != MB_TIME_NEVER)
        mb_sched_at_node (mb_world_sched_of (x->world, n->id), at, n->id, on_abort_event, x,
                          n->id);
    }
  return n;
}

static void
on_arrive_all (MbSched *s, gpointer a, guint64 cls)
{
  MbExperiment *x = a;
  guint count = x->sc->classes[cls].count;
  for (guint i = 0; i < count; i++)
    join_one (x, (guint) cls);
  x->pending_arrivals -= count;
}

static guint64
exp_interval_us (GRand *r, double rate_per_s)
{
  double u = g_rand_double (r);  /* [0, 1) */
  return (guint64) (-log1p (-u) / rate_per_s * 1e6);
}

static void
on_arrive_poisson (MbSched *s, gpointer a, guint64 b)
{
  MbExperiment *x = a;
  guint cls = (guint) (b & 0xffffffffu);
  guint left = (guint) (b >> 32);
  join_one (x, cls);
  x->pending_arrivals--;
  if (left > 1)
    mb_sched_at (s, mb_sched_now (s) + exp_interval_us (x->rand_arrivals,
                                                         x->sc->classes[cls].arrival.rate),
                 on_arrive_poisson, x, ((guint64) (left - 1) << 32) | cls);
}

static void
schedule_arrivals (MbExperiment *x)
{
  for (guint c = 0; c < x->sc->n_classes; c++)
    {
      const MbPeerClass *pc = &x->sc->classes[c];
      if (pc->count == 0)
        continue;
      x->pending_arrivals += pc->count;
      if (pc->arrival.kind == MB_ARRIVAL_AT)
        mb_sched_at (x->sched, pc->arrival.at, on_arrive_all, x, c);
      else
        mb_sched_at (x->sched,
                     pc->arrival.start + exp_interval_us (x->rand_arrivals, pc->arrival.rate),
                     on_arrive_poisson, x, ((guint64) pc->count << 32) | c);
    }
}

/* ---- scheduled events ---- */

/* Online peers (of class cls, or any when cls < 0), in node order. */
static GArray *
online_nodes (MbExperiment *x, gint cls)
{
  GArray *out = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < mb_world_n_nodes (x->world); i++)
    {
      MbSimNode *n = mb_world_node (x->world, i);
      if (n->online && (cls < 0 || (gint) n->cls == cls))
        g_array_append_val (out, i);
    }
  return out;
}

static void
pick_and_leave (MbExperiment *x, const MbScenarioEvent *ev, guint count, MbLeaveKind kind)
{
  g_autoptr (GArray) nodes = online_nodes (x, ev->class_index);
  /* Peers already handing over are on their way out: not picked again. */
  for (guint i = nodes->len; i-- > 0;)
    if (mb_world_node (x->world, g_array_index (nodes, guint, i))->shutting_down)
      g_array_remove_index (nodes, i);
  guint k = MIN (count, nodes->len);
  for (guint i = 0; i < k; i++)
    {
      guint j = i + (guint) g_rand_int_range (x->rand_events, 0, (gint32) (nodes->len - i));
      guint t = g_array_index (nodes, guint, i);
      g_array_index (nodes, guint, i) = g_array_index (nodes, guint, j);
      g_array_index (nodes, guint, j) = t;
      leave_node (x, mb_world_node (x->world, g_array_index (nodes, guint, i)), kind,
                  MBI_CAUSE_EVENT);
    }
}

static void
on_heal (MbSched *s, gpointer a, guint64 b)
{
  MbExperiment *x = a;
  mb_net_heal_partitions (mb_world_net (x->world));
  x->pending_events--;
}

static void
partition (MbExperiment *x, const MbScenarioEvent *ev)
{
  MbNet *net = mb_world_net (x->world);
  g_autoptr (GArray) nodes = online_nodes (x, -1);
  for (guint i = 0; i < nodes->len; i++)
    mb_net_set_partition (net, g_array_index (nodes, guint, i) + 1,
                          (guint32) g_rand_int_range (x->rand_events, 0, (gint32) ev->groups));
  /* The tracker stays with group 0. */
  x->pending_events++;
  mb_sched_at (x->sched, ev->until, on_heal, x, 0);
}

static void
on_scenario_event (MbSched *s, gpointer a, guint64 b)
{
  MbExperiment *x = a;
  const MbScenarioEvent *ev = &x->sc->events[b & 0xffffffffu];
  guint count = (guint) (b >> 32); /* this step's share of the event's count */
  switch (ev->action)
    {
    case MB_ACTION_SHUTDOWN:
      pick_and_leave (x, ev, count, MB_LEAVE_GRACEFUL);
      break;
    case MB_ACTION_CRASH:
      pick_and_leave (x, ev, count, MB_LEAVE_CRASH);
      break;
    case MB_ACTION_ADD:
      for (guint i = 0; i < count; i++)
        join_one (x, (guint) ev->class_index);
      x->pending_arrivals -= count;
      break;
    case MB_ACTION_PARTITION:
      partition (x, ev);
      break;
    }
  x->pending_events--;
}

static void
schedule_events (MbExperiment *x)
{
  for (guint i = 0; i < x->sc->n_events; i++)
    {
      const MbScenarioEvent *ev = &x->sc->events[i];
      guint repeat = MAX (ev->repeat, 1);
      for (guint r = 0; r < repeat; r++)
        {
          guint64 base = ev->at + (guint64) r * ev->every;
          gboolean one_by_one = ev->interval > 0 && ev->action != MB_ACTION_PARTITION;
          guint steps = one_by_one ? ev->count : 1;
          guint per_step = one_by_one ? 1 : ev->count;
          for (guint k = 0; k < steps; k++)
            {
              if (ev->action == MB_ACTION_ADD)
                x->pending_arrivals += per_step;
              x->pending_events++;
              mb_sched_at (x->sched, base + (guint64) k * ev->interval, on_scenario_event, x,
                           ((guint64) per_step << 32) | i);
            }
        }
    }
}

/* ---- the run ---- */

/* Why the scenario cannot run over n_ranks ranks yet (NULL: it can). */
static const char *
ranks_refusal (const MbScenario *sc, guint n_ranks)
{
  if (n_ranks <= 1)
    return NULL;
  if (sc->ring.enabled)
    return "the ring ([ring]: its membership views and workloads reach every peer at once)";
  return NULL;
}

MbExperiment *
mb_experiment_new (const MbScenario *sc, GError **error)
{
  return mb_experiment_new_ranked (sc, 1, error);
}

MbExperiment *
mb_experiment_new_ranked (const MbScenario *sc, guint n_ranks, GError **error)
{
  g_return_val_if_fail (n_ranks >= 1 && n_ranks <= MB_EXPERIMENT_MAX_RANKS, NULL);
  const char *refusal = ranks_refusal (sc, n_ranks);
  if (refusal != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--ranks %u: scenario %s uses %s, which cannot run partitioned yet; "
                   "run it with --ranks 1", n_ranks, sc->name, refusal);
      return NULL;
    }
  MbManifest *file = NULL;
  if (!build_file (sc, &file, error))
    return NULL;
  MbExperiment *x = g_new0 (MbExperiment, 1);
  x->sc = sc;
  x->file = file;
  x->n_ranks = n_ranks;
  x->sched = mb_sched_new ();
  x->rank_scheds = g_new0 (MbSched *, n_ranks);
  for (guint r = 0; r < n_ranks; r++)
    x->rank_scheds[r] = n_ranks == 1 ? x->sched : mb_sched_new_shared (x->sched);
  mb_sched_stripe_nodes (x->sched, n_ranks);
  MbWorldConfig wc = { 0 };
  wc.seed = sc->seed;
  mb_tracker_config_init (&wc.tracker);
  wc.tracker.peer_list_size = sc->tracker.peer_list_size;
  wc.tracker.peer_timeout_us = sc->tracker.peer_timeout;
  wc.tracker.initial_share = sc->tracker.initial_share;
  mb_peer_config_init (&wc.peer);
  wc.peer.block_size = (guint32) sc->file.block_size;
  wc.peer.announce_interval_us = sc->tracker.announce_interval;
  apply_swarm (&wc.peer, &sc->swarm);
  wc.crash_detect_us = 30 * MB_USEC_PER_SEC;
  /* Invariant checks after every event (minibit-sim --check sets it too). */
  wc.check = g_strcmp0 (g_getenv ("MINIBIT_CHECK"), "1") == 0;
  x->check = wc.check;
  if (sc->ring.enabled)
    {
      wc.ring = TRUE;
      wc.ring_swarm = sc->ring.swarm;
      wc.emulated_names = sc->ring.emulated_names;
      /* The core's defaults, and what the scenario gives (0: not given). */
      mb_ringpeer_config_init (&wc.ring_cfg);
      if (sc->ring.replication)
        wc.ring_cfg.replication = sc->ring.replication;
      if (sc->ring.chunk_size)
        wc.ring_cfg.chunk_size = (guint32) sc->ring.chunk_size;
      if (sc->ring.rpc_timeout)
        wc.ring_cfg.rpc_timeout_us = sc->ring.rpc_timeout;
      if (sc->ring.write_quorum)
        wc.ring_cfg.write_quorum = sc->ring.write_quorum;
      if (sc->ring.read_quorum)
        wc.ring_cfg.read_quorum = sc->ring.read_quorum;
      wc.vnodes = sc->ring.vnodes ? sc->ring.vnodes : MB_RING_DEFAULT_VNODES;
      wc.view_delay_us = sc->ring.view_delay;
      /* A crash is noticed when the tracker drops the silent peer. */
      wc.crash_detect_us = MIN (sc->tracker.peer_timeout, wc.crash_detect_us);
    }
  x->world = mb_world_new_ranked (x->sched, x->rank_scheds, n_ranks, &wc, file);
  configure_network (mb_world_net (x->world), &sc->network);
  mb_net_set_faults (mb_world_net (x->world), scenario_faults_possible (sc));
  if (n_ranks > 1 && mb_net_min_latency (mb_world_net (x->world)) == 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--ranks %u: scenario %s has a least latency of 0 ([network] latency), so "
                   "the ranks would have no lookahead to run apart; give it a latency > 0 or "
                   "run it with --ranks 1", n_ranks, sc->name);
      mb_world_free (x->world);
      for (guint r = 0; r < n_ranks; r++)
        mb_sched_free (x->rank_scheds[r]);
      g_free (x->rank_scheds);
      mb_sched_free (x->sched);
      if (x->file)
        mb_manifest_unref (x->file);
      g_free (x);
      return NULL;
    }
  /* The debug checker: a rank touching another's nodes aborts. */
  mb_world_check_ranks (x->world, n_ranks > 1 && (wc.check || g_strcmp0 (g_getenv (
                                                    "MINIBIT_CHECK_RANKS"), "1") == 0));
  mb_world_on_complete (x->world, on_complete, x);
  mb_world_on_handoff (x->world, on_handoff, x);
  mbi_unchokes_start (x);
  x->leaves = g_array_new (FALSE, FALSE, sizeof (MbLeaveRecord));
  x->leave_causes = g_byte_array_new ();
  x->rand_workload = stream (sc->seed, STREAM_WORKLOAD);
  x->rand_arrivals = stream (sc->seed, STREAM_ARRIVALS);
  x->rand_churn = stream (sc->seed, STREAM_CHURN);
  x->rand_events = stream (sc->seed, STREAM_EVENTS);
  x->samples = g_array_new (FALSE, FALSE, sizeof (MbSample));
  x->total_peers = mb_scenario_total_peers (sc);
  schedule_arrivals (x);
  schedule_events (x);
  mbi_workload_schedule (x);
  return x;
}

MbExperiment *
mb_experiment_new_dist (const MbScenario *sc, const MbWorldDist *d, MbRanksRunFn run,
                        gpointer run_data, GError **error)
{
  g_return_val_if_fail (d != NULL && run != NULL, NULL);
  if (sc->ring.enabled)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "scenario %s uses %s, which cannot run over processes yet; run it with "
                   "minibit-sim", sc->name, ranks_refusal (sc, 2));
      return NULL;
    }
  MbExperiment *x = mb_experiment_new_ranked (sc, d->size, error);
  if (!x)
    return NULL;
  mb_world_set_dist (x->world, d);
  x->dist = mb_world_dist (x->world);
  x->runner = run;
  x->runner_data = run_data;
  return x;
}

void
mb_experiment_free (MbExperiment *x)
{
  if (!x)
    return;
  mb_world_free (x->world);
  for (guint r = 0; r < x->n_ranks && x->n_ranks > 1; r++)
    mb_sched_free (x->rank_scheds[r]);
  g_free (x->rank_scheds);
  mb_sched_free (x->sched);
  mbi_workload_free (x);
  mbi_unchokes_free (x);
  if (x->file)
    mb_manifest_unref (x->file);
  g_array_unref (x->leaves);
  g_byte_array_unref (x->leave_causes);
  g_rand_free (x->rand_workload);
  g_rand_free (x->rand_arrivals);
  g_rand_free (x->rand_churn);
  g_rand_free (x->rand_events);
  g_array_unref (x->samples);
  g_free (x->memory);
  g_free (x);
}

void
mb_experiment_track_memory (MbExperiment *x)
{
  if (!x->memory)
    x->memory = g_new0 (MbMemReport, 1);
}

const MbMemReport *
mb_experiment_memory (MbExperiment *x)
{
  return x->memory;
}

const char *
mb_stopped_name (MbStopped s)
{
  switch (s)
    {
    case MB_STOPPED_ALL_COMPLETE: return "all-complete";
    case MB_STOPPED_INTERRUPTED: return "interrupted";
    case MB_STOPPED_DURATION: default: return "duration";
    }
}

static gboolean
run_is_over (gpointer data)
{
  MbExperiment *x = data;
  if (x->interrupt && *x->interrupt)
    {
      x->stopped = MB_STOPPED_INTERRUPTED;
      return TRUE;
    }
  guint64 events = mb_experiment_events (x);
  if (x->progress && events >> 16 != x->progress_events >> 16)
    {
      x->progress_events = events;
      MbProgress p = {
        .sim_now = mb_sched_now (x->sched),
        .events = events,
        .online = mb_world_n_online (x->world),
        .completed = mb_world_n_completed (x->world),
        .total = x->total_peers,
        .done = mbi_progress_done (x),
      };
      x->progress (&p, x->progress_data);
    }
  if (x->sc->stop != MB_STOP_ALL_COMPLETE)
    return FALSE;
  gboolean over = x->pending_arrivals == 0 && x->pending_events == 0
                  && x->pending_publish == 0 && x->pending_fetch == 0
                  && mb_world_ring_busy (x->world) == 0
                  && mb_world_n_incomplete (x->world) == 0;
  if (over)
    x->stopped = MB_STOPPED_ALL_COMPLETE;
  return over;
}

void
mb_experiment_set_interrupt (MbExperiment *x, const volatile sig_atomic_t *flag)
{
  x->interrupt = flag;
}

void
mb_experiment_run (MbExperiment *x, MbProgressFn progress, gpointer data)
{
  g_return_if_fail (!x->ran);
  x->progress = progress;
  x->progress_data = data;
  x->stopped = MB_STOPPED_DURATION;
  mbi_metrics_start (x);
  guint64 lookahead = mb_net_min_latency (mb_world_net (x->world));
  gboolean stopped = x->runner ? x->runner (x->world, lookahead, x->sc->duration, run_is_over, x,
                                            x->runner_data)
                               : mb_ranks_run (x->world, lookahead, x->sc->duration, run_is_over,
                                               x);
  if (!stopped
      && x->stopped == MB_STOPPED_INTERRUPTED)
    x->stopped = MB_STOPPED_DURATION; /* raised after the last look: the run was over */
  mb_world_flush_unchokes (x->world);
  mbi_metrics_sample (x);
  mbi_metrics_summarise (x);
  mbi_unchokes_summarise (x, &x->summary);
  x->ran = TRUE;
  if (G_UNLIKELY (x->check))
    {
      /* --check: the ring's bookkeeping at the end, once nothing is in flight */
      g_autoptr (GString) why = g_string_new (NULL);
      if (!mbi_workload_check_holders (x, why))
        g_error ("--check: t=%" G_GUINT64_FORMAT " us, the end: a manifest's holder list does "
                 "not name the members that store its chunks: %s", mb_sched_now (x->sched),
                 why->str);
    }
}

MbStopped
mb_experiment_stopped (MbExperiment *x)
{
  return x->stopped;
}

guint64
mb_experiment_events (MbExperiment *x)
{
  guint64 n = mb_sched_events_run (x->sched);
  for (guint r = 0; r < x->n_ranks && x->n_ranks > 1; r++)
    n += mb_sched_events_run (x->rank_scheds[r]);
  return n;
}

guint
mb_experiment_n_ranks (MbExperiment *x)
{
  return x->n_ranks;
}

guint64
mb_experiment_messages (MbExperiment *x)
{
  return mb_world_messages (x->world);
}
