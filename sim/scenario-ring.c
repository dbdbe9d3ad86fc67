/* scenario-ring.c — the ring's groups: [ring] (consistent-hash storage),
 * [publish.<name>] (files put into it) and [fetch.<name>] (reads of them):
 * their keys, defaults and cross-key checks, rows of the group table in
 * scenario-keys.c.
 *
 * Invariants: [ring]'s replication, vnodes, chunk_size, rpc_timeout,
 * write_quorum and read_quorum stay 0 unless given (the core's defaults apply, set in the core only); written
 * as 0 they are errors.  [publish.*] and [fetch.*] need [ring], a count of
 * at least 1, and a `from` that names a class; [fetch.*] needs a
 * [publish.*] group and its `files` one of them (or any).
 */
#include "scenario.h"
#define MB_SIM_SCENARIO_INTERNAL
#include "scenario-private.h"

#include <stddef.h>
#include <string.h>

#define RI(f) offsetof (MbRingConfig, f)
const MbKeySpec mbi_scenario_ring_keys[] = {
  { "replication", MB_KIND_COUNT, RI (replication), FALSE, "3", NULL },
  { "vnodes", MB_KIND_COUNT, RI (vnodes), FALSE, "128", NULL },
  { "chunk_size", MB_KIND_SIZE, RI (chunk_size), FALSE, "256KiB", NULL },
  { "rpc_timeout", MB_KIND_DURATION, RI (rpc_timeout), FALSE, "10s", NULL },
  { "write_quorum", MB_KIND_COUNT, RI (write_quorum), FALSE, "2", NULL },
  { "read_quorum", MB_KIND_COUNT, RI (read_quorum), FALSE, "2", NULL },
  { "view_delay", MB_KIND_DURATION_OR_LATENCY, RI (view_delay), FALSE, "latency", NULL },
  { "swarm", MB_KIND_BOOL, RI (swarm), FALSE, "yes", NULL },
  { "emulated_names", MB_KIND_BOOL, RI (emulated_names), FALSE, "no", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define PU(f) offsetof (MbPublish, f)
const MbKeySpec mbi_scenario_publish_keys[] = {
  { "at", MB_KIND_DURATION, PU (at), FALSE, "10min", NULL },
  { "count", MB_KIND_COUNT, PU (count), TRUE, "10", NULL },
  { "size", MB_KIND_SIZE, PU (size), TRUE, "1MiB", NULL },
  { "interval", MB_KIND_DURATION, PU (interval), FALSE, "10s", NULL },
  { "from", MB_KIND_NAME, PU (class_name), FALSE, "fast", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define FE(f) offsetof (MbFetch, f)
const MbKeySpec mbi_scenario_fetch_keys[] = {
  { "at", MB_KIND_DURATION, FE (at), FALSE, "10min", NULL },
  { "count", MB_KIND_COUNT, FE (count), TRUE, "100", NULL },
  { "rate", MB_KIND_PER_SECOND, FE (rate), FALSE, "5/s", NULL },
  { "from", MB_KIND_NAME, FE (class_name), FALSE, "fast", NULL },
  { "files", MB_KIND_NAME, FE (publish_name), FALSE, "any", NULL },
  { "distinct", MB_KIND_BOOL, FE (distinct), FALSE, "yes", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

gpointer
mbi_scenario_open_ring (MbLoad *ld, const char *id G_GNUC_UNUSED)
{
  MbRingConfig *r = &ld->sc->ring;
  r->enabled = ld->present;
  /* replication, vnodes, chunk_size and rpc_timeout stay 0 unless given:
   * the core's defaults apply (mb_ringpeer_config_init, MB_RING_DEFAULT_VNODES). */
  r->view_delay = MB_RING_VIEW_DELAY_LATENCY;
  r->swarm = TRUE;
  return r;
}

gpointer
mbi_scenario_open_publish (MbLoad *ld, const char *id)
{
  MbPublish p = { 0 };
  p.name = g_strdup (id);
  p.class_index = -1;
  g_array_append_val (ld->publishes, p);
  return &g_array_index (ld->publishes, MbPublish, ld->publishes->len - 1);
}

gpointer
mbi_scenario_open_fetch (MbLoad *ld, const char *id)
{
  MbFetch f = { 0 };
  f.name = g_strdup (id);
  f.class_index = -1;
  f.publish_index = -1;
  g_array_append_val (ld->fetches, f);
  return &g_array_index (ld->fetches, MbFetch, ld->fetches->len - 1);
}

gboolean
mbi_scenario_finish_ring (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbRingConfig *r = t;
  /* 0 is "not given" (the core's default); written out, it is an error. */
  if (r->replication == 0 && mbi_scenario_load_has (ld, group, "replication"))
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "replication",
                             "must be at least 1; write e.g. replication = 3");
  if (r->vnodes == 0 && mbi_scenario_load_has (ld, group, "vnodes"))
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "vnodes",
                             "must be at least 1; write e.g. vnodes = 128");
  if ((r->chunk_size == 0 && mbi_scenario_load_has (ld, group, "chunk_size")) || r->chunk_size > G_MAXUINT32)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "chunk_size",
                             "must be from 1B to 4GiB; write e.g. chunk_size = 256KiB");
  if (r->rpc_timeout == 0 && mbi_scenario_load_has (ld, group, "rpc_timeout"))
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "rpc_timeout",
                             "must be above 0; write e.g. rpc_timeout = 10s");
  return TRUE;
}

/* [publish.*] and [fetch.*]: the ring must be on, `count` at least 1 and
 * `from` (if given) a class. */
static gboolean
mb_finish_ring_traffic (MbLoad *ld, const char *group, guint count, const char *class_name,
                        gint *class_index, GError **error)
{
  if (!ld->sc->ring.enabled)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, NULL,
                             "needs a [ring] group; add one, e.g. [ring] with replication = 3");
  if (count == 0)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "count",
                             "must be at least 1; write e.g. count = 10");
  if (class_name != NULL && (*class_index = mbi_scenario_class_index (ld, class_name)) < 0)
    return mbi_scenario_fail_no_class (error, ld, group, "from", class_name);
  return TRUE;
}

gboolean
mbi_scenario_finish_publish (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbPublish *p = t;
  if (!mb_finish_ring_traffic (ld, group, p->count, p->class_name, &p->class_index, error))
    return FALSE;
  if (strcmp (p->name, "any") == 0)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, NULL,
                             "\"any\" is reserved (files = any in [fetch.<name>]); "
                             "choose another name, e.g. [publish.docs]");
  if (p->size == 0)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "size",
                             "a file must not be empty; write e.g. size = 1MiB");
  return TRUE;
}

static gboolean
mb_fail_no_publish (GError **error, const MbLoad *ld, const char *group, const char *name)
{
  GString *list = g_string_new (NULL);
  for (guint i = 0; i < ld->publishes->len; i++)
    g_string_append_printf (list, "%s%s", i ? ", " : "",
                            g_array_index (ld->publishes, MbPublish, i).name);
  mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "files",
                    "\"%s\" is not a [publish.<name>] group; write any or %s%s", name,
                    ld->publishes->len > 1 ? "one of: " : "", list->str);
  g_string_free (list, TRUE);
  return FALSE;
}

gboolean
mbi_scenario_finish_fetch (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbFetch *f = t;
  if (!mb_finish_ring_traffic (ld, group, f->count, f->class_name, &f->class_index, error))
    return FALSE;
  if (ld->publishes->len == 0)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, NULL,
                             "nothing to fetch: no [publish.<name>] group; add one, e.g. "
                             "[publish.docs] with count and size");
  if (f->publish_name == NULL || strcmp (f->publish_name, "any") == 0)
    {
      g_clear_pointer (&f->publish_name, g_free);
      return TRUE;
    }
  for (guint i = 0; i < ld->publishes->len; i++)
    if (strcmp (g_array_index (ld->publishes, MbPublish, i).name, f->publish_name) == 0)
      {
        f->publish_index = (gint) i;
        return TRUE;
      }
  return mb_fail_no_publish (error, ld, group, f->publish_name);
}
