/* scenario-swarm.c — the [swarm] group: the swarm peer's protocol constants
 * (core's MbPeerConfig, see core/swarm/peer.h) a researcher tunes.
 *
 * Invariants: every field starts at mb_peer_config_init's default (the only
 * source of defaults); `given` gets bit (1 << MbSwarmKey) for each key the
 * file sets, and the driver applies only those; the key table below is in
 * MbSwarmKey order (checked when the group finishes); the whole group is
 * optional.  Cross-key checks refuse what the core cannot run (a zero
 * rechoke interval, pipeline_max below pipeline, a block larger than the
 * largest request served, ...), naming the key and a value that works.
 */
#include "scenario.h"
#define MB_SIM_SCENARIO_INTERNAL
#include "scenario-private.h"

#include <stddef.h>
#include <string.h>

#include "units.h"
#include "swarm/choker.h"
#include "swarm/peer.h"

G_STATIC_ASSERT (sizeof (MbScenarioSeedChoke) == sizeof (gint));
G_STATIC_ASSERT ((gint) MB_SCENARIO_SEED_CHOKE_ROUND_ROBIN == (gint) MB_SEED_CHOKE_ROUND_ROBIN);
G_STATIC_ASSERT ((gint) MB_SCENARIO_SEED_CHOKE_FASTEST == (gint) MB_SEED_CHOKE_FASTEST);
G_STATIC_ASSERT (MB_SEED_CHOKE_N == 2);
G_STATIC_ASSERT (sizeof (MbScenarioSpareSlots) == sizeof (gint));
G_STATIC_ASSERT (MB_SWARM_N_KEYS <= 64);

/* In MbSeedChoke order; the names are mb_seed_choke_name's (a test checks). */
static const char *const seed_choke_choices[] = { "round-robin", "fastest", NULL };
/* In MbScenarioSpareSlots order. */
static const char *const spare_slots_choices[] = { "rate", "round-robin", NULL };

#define SW(f) offsetof (MbSwarmConfig, f)
/* In MbSwarmKey order. */
const MbKeySpec mbi_scenario_swarm_keys[] = {
  { "regular_slots", MB_KIND_COUNT, SW (regular_slots), FALSE, "3", NULL },
  { "rechoke_interval", MB_KIND_DURATION, SW (rechoke_interval), FALSE, "10s", NULL },
  { "optimistic_rounds", MB_KIND_COUNT, SW (optimistic_rounds), FALSE, "3", NULL },
  { "snub_timeout", MB_KIND_DURATION, SW (snub_timeout), FALSE, "60s", NULL },
  { "seed_choke", MB_KIND_ENUM, SW (seed_choke), FALSE, "round-robin", seed_choke_choices },
  { "seed_piece_quota", MB_KIND_COUNT, SW (seed_piece_quota), FALSE, "20", NULL },
  { "max_extra_slots", MB_KIND_COUNT, SW (max_extra_slots), FALSE, "8", NULL },
  { "slot_check_interval", MB_KIND_DURATION, SW (slot_check_interval), FALSE, "0s", NULL },
  { "pipeline", MB_KIND_COUNT, SW (pipeline), FALSE, "5", NULL },
  { "pipeline_max", MB_KIND_COUNT, SW (pipeline_max), FALSE, "250", NULL },
  { "request_queue_time", MB_KIND_DURATION, SW (request_queue_time), FALSE, "3s", NULL },
  { "random_first", MB_KIND_COUNT, SW (random_first), FALSE, "4", NULL },
  { "endgame", MB_KIND_BOOL, SW (endgame), FALSE, "yes", NULL },
  { "max_request", MB_KIND_SIZE, SW (max_request), FALSE, "128KiB", NULL },
  { "send_watermark", MB_KIND_SIZE, SW (send_watermark), FALSE, "128KiB", NULL },
  { "send_watermark_low", MB_KIND_SIZE, SW (send_watermark_low), FALSE, "16KiB", NULL },
  { "send_buffer_time", MB_KIND_DURATION, SW (send_buffer_time), FALSE, "500ms", NULL },
  { "max_queued_requests", MB_KIND_COUNT, SW (max_queued_requests), FALSE, "500", NULL },
  { "target_conns", MB_KIND_COUNT, SW (target_conns), FALSE, "20", NULL },
  { "max_conns", MB_KIND_COUNT, SW (max_conns), FALSE, "40", NULL },
  { "tracker_retry", MB_KIND_DURATION, SW (tracker_retry), FALSE, "15s", NULL },
  { "super_seeding", MB_KIND_BOOL, SW (super_seeding), FALSE, "no", NULL },
  { "pex", MB_KIND_BOOL, SW (pex), FALSE, "no", NULL },
  { "pex_interval", MB_KIND_DURATION, SW (pex_interval), FALSE, "60s", NULL },
  { "pex_max", MB_KIND_COUNT, SW (pex_max), FALSE, "50", NULL },
  { "tracker_ramp", MB_KIND_DURATION, SW (tracker_ramp), FALSE, "2s", NULL },
  { "seed_preempt", MB_KIND_BOOL, SW (seed_preempt), FALSE, "yes", NULL },
  { "super_seeding_spread", MB_KIND_BOOL, SW (super_seeding_spread), FALSE, "yes", NULL },
  { "tyrant_gamma", MB_KIND_PROBABILITY, SW (tyrant_gamma), FALSE, "10%", NULL },
  { "tyrant_delta", MB_KIND_PROBABILITY, SW (tyrant_delta), FALSE, "20%", NULL },
  { "tyrant_rounds", MB_KIND_COUNT, SW (tyrant_rounds), FALSE, "3", NULL },
  { "propshare_optimistic", MB_KIND_PROBABILITY, SW (propshare_optimistic), FALSE, "20%", NULL },
  { "spare_slots", MB_KIND_ENUM, SW (spare_slots), FALSE, "round-robin", spare_slots_choices },
  { "request_timeout", MB_KIND_DURATION, SW (request_timeout), FALSE, "20s", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};
#undef SW

G_STATIC_ASSERT (G_N_ELEMENTS (mbi_scenario_swarm_keys) == MB_SWARM_N_KEYS + 1);

const char *
mb_scenario_seed_choke_name (MbScenarioSeedChoke s)
{
  return (guint) s < G_N_ELEMENTS (seed_choke_choices) - 1 ? seed_choke_choices[s] : NULL;
}

const char *
mb_scenario_spare_slots_name (MbScenarioSpareSlots s)
{
  return (guint) s < G_N_ELEMENTS (spare_slots_choices) - 1 ? spare_slots_choices[s] : NULL;
}

gpointer
mbi_scenario_open_swarm (MbLoad *ld, const char *id G_GNUC_UNUSED)
{
  MbSwarmConfig *sw = &ld->sc->swarm;
  MbPeerConfig p;
  mb_peer_config_init (&p);
  memset (sw, 0, sizeof *sw);
  sw->regular_slots = p.regular_slots;
  sw->rechoke_interval = p.rechoke_interval_us;
  sw->optimistic_rounds = p.optimistic_rounds;
  sw->snub_timeout = p.snub_timeout_us;
  sw->seed_choke = (MbScenarioSeedChoke) p.seed_choke;
  sw->seed_piece_quota = p.seed_piece_quota;
  sw->max_extra_slots = p.max_extra_slots;
  sw->slot_check_interval = p.slot_check_us;
  sw->pipeline = p.pipeline;
  sw->pipeline_max = p.pipeline_max;
  sw->request_queue_time = p.request_queue_us;
  sw->random_first = p.random_first;
  sw->endgame = p.endgame;
  sw->max_request = p.max_request;
  sw->send_watermark = p.send_watermark;
  sw->send_watermark_low = p.send_watermark_low;
  sw->send_buffer_time = p.send_buffer_us;
  sw->max_queued_requests = p.max_queued_requests;
  sw->target_conns = p.target_conns;
  sw->max_conns = p.max_conns;
  sw->tracker_retry = p.tracker_retry_us;
  sw->tracker_ramp = p.tracker_ramp_us;
  sw->seed_preempt = p.seed_preempt;
  sw->super_seeding = p.super_seeding;
  sw->super_seeding_spread = p.super_seeding_spread;
  sw->pex = p.pex_interval_us > 0;
  /* with PEX off by default, pex = yes alone still gets a usable interval */
  sw->pex_interval = p.pex_interval_us > 0 ? p.pex_interval_us : 60 * G_USEC_PER_SEC;
  sw->pex_max = p.pex_max;
  sw->tyrant_gamma = p.tyrant_gamma_pm / 1000.0;
  sw->tyrant_delta = p.tyrant_delta_pm / 1000.0;
  sw->tyrant_rounds = p.tyrant_rounds;
  sw->propshare_optimistic = p.propshare_optimistic_pm / 1000.0;
  sw->spare_slots = p.spare_round_robin ? MB_SCENARIO_SPARE_SLOTS_ROUND_ROBIN
                                        : MB_SCENARIO_SPARE_SLOTS_RATE;
  sw->request_timeout = p.request_timeout_us;
  return sw;
}

/* A key whose value must be at least 1. */
typedef struct {
  MbSwarmKey key;
  gsize offset;   /* of a guint */
} PositiveCount;

static const PositiveCount positive_counts[] = {
  { MB_SWARM_OPTIMISTIC_ROUNDS, offsetof (MbSwarmConfig, optimistic_rounds) },
  { MB_SWARM_PIPELINE, offsetof (MbSwarmConfig, pipeline) },
  { MB_SWARM_MAX_QUEUED_REQUESTS, offsetof (MbSwarmConfig, max_queued_requests) },
  { MB_SWARM_TARGET_CONNS, offsetof (MbSwarmConfig, target_conns) },
  { MB_SWARM_SEED_PIECE_QUOTA, offsetof (MbSwarmConfig, seed_piece_quota) },
  { MB_SWARM_PEX_MAX, offsetof (MbSwarmConfig, pex_max) },
  { MB_SWARM_TYRANT_ROUNDS, offsetof (MbSwarmConfig, tyrant_rounds) },
};

static gboolean
mb_swarm_fail (MbLoad *ld, const char *group, MbSwarmKey k, GError **error, const char *what)
{
  const MbKeySpec *spec = &mbi_scenario_swarm_keys[k];
  return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, spec->key,
                           "%s; write e.g. %s = %s", what, spec->key, spec->example);
}

static gboolean
mb_swarm_check_sizes (MbLoad *ld, const char *group, MbSwarmConfig *sw, GError **error)
{
  guint64 block = ld->sc->file.block_size;
  if (sw->max_request > G_MAXUINT32 || sw->max_request < block)
    {
      g_autofree gchar *b = mb_units_format_size (block);
      return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group,
                               "max_request", "must be from [file] block_size (%s) to "
                               "4GiB - 1; write e.g. max_request = %s", b, b);
    }
  if (sw->send_watermark == 0 || sw->send_watermark > G_MAXUINT32)
    return mb_swarm_fail (ld, group, MB_SWARM_SEND_WATERMARK, error,
                          "must be from 1B to 4GiB - 1");
  if (sw->send_watermark_low == 0 || sw->send_watermark_low > sw->send_watermark)
    {
      g_autofree gchar *hi = mb_units_format_size (sw->send_watermark);
      return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group,
                               "send_watermark_low", "must be from 1B to send_watermark "
                               "(%s); write e.g. send_watermark_low = 16KiB", hi);
    }
  return TRUE;
}

static gboolean
mb_swarm_check_pex (MbLoad *ld, const char *group, MbSwarmConfig *sw, GError **error)
{
  /* pex_interval or pex_max alone turn PEX on; with pex = no they are a
   * contradiction */
  if (!MB_SWARM_GIVEN (sw, MB_SWARM_PEX)
      && (MB_SWARM_GIVEN (sw, MB_SWARM_PEX_INTERVAL) || MB_SWARM_GIVEN (sw, MB_SWARM_PEX_MAX)))
    sw->pex = TRUE;
  if (!sw->pex)
    {
      static const MbSwarmKey pex_only[] = { MB_SWARM_PEX_INTERVAL, MB_SWARM_PEX_MAX };
      for (guint i = 0; i < G_N_ELEMENTS (pex_only); i++)
        if (MB_SWARM_GIVEN (sw, pex_only[i]))
          return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group,
                                   mbi_scenario_swarm_keys[pex_only[i]].key,
                                   "applies only with pex = yes");
      return TRUE;
    }
  if (sw->pex_interval == 0)
    return mb_swarm_fail (ld, group, MB_SWARM_PEX_INTERVAL, error,
                          "must be above 0 (pex = no turns PEX off)");
  return TRUE;
}

gboolean
mbi_scenario_finish_swarm (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbSwarmConfig *sw = t;
  for (guint k = 0; k < MB_SWARM_N_KEYS; k++)
    if (mbi_scenario_load_has (ld, group, mbi_scenario_swarm_keys[k].key))
      sw->given |= G_GUINT64_CONSTANT (1) << k;
  for (guint i = 0; i < G_N_ELEMENTS (positive_counts); i++)
    if (*(const guint *) ((const guint8 *) sw + positive_counts[i].offset) == 0)
      return mb_swarm_fail (ld, group, positive_counts[i].key, error, "must be at least 1");
  if (sw->rechoke_interval == 0)
    return mb_swarm_fail (ld, group, MB_SWARM_RECHOKE_INTERVAL, error, "must be above 0");
  if (sw->tyrant_gamma >= 1)
    return mb_swarm_fail (ld, group, MB_SWARM_TYRANT_GAMMA, error,
                          "must be below 100% (u_p would fall to nothing)");
  if (sw->tracker_retry == 0)
    return mb_swarm_fail (ld, group, MB_SWARM_TRACKER_RETRY, error, "must be above 0");
  if (sw->tracker_ramp == 0)
    return mb_swarm_fail (ld, group, MB_SWARM_TRACKER_RAMP, error, "must be above 0");
  if (sw->pipeline_max < sw->pipeline)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group,
                             "pipeline_max", "must be at least pipeline (%u); write e.g. "
                             "pipeline_max = %u", sw->pipeline, MAX (sw->pipeline, 250u));
  if (sw->max_conns < sw->target_conns)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "max_conns",
                             "must be at least target_conns (%u); write e.g. max_conns = %u",
                             sw->target_conns, sw->target_conns * 2);
  return mb_swarm_check_sizes (ld, group, sw, error) && mb_swarm_check_pex (ld, group, sw, error);
}
