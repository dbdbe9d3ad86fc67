/* metrics-departures.c — departures.csv: one row per peer that left the
 * run, in the order they left (then by peer id), swarm and ring alike.
 *
 *   t_s          when it went offline (a graceful ring member's, once its
 *                hand-off is done: the t_s of its leaves.csv row);
 *   peer, class
 *   leave        graceful, crash, or completed: a graceful leave because its
 *                seed time after completing ran out (seed_time = 0: leave
 *                on completion);
 *   cause        what made it leave: churn (its session ended), abort (not
 *                completed by its abort time), event (an [event.*] shutdown
 *                or crash), seed_time;
 *   completed    yes if it held the whole file when it left, else no;
 *   bytes_up, bytes_down   its piece payload, as in peers.csv;
 *   pieces       pieces of the file it held when it left (empty without a
 *                file).
 * peers.csv's `leave` says graceful for `completed` rows: the kind of
 * departure; this file adds why.
 */
#define MB_SIM_EXPERIMENT_INTERNAL
#include "experiment-private.h"

static const char *
cause_name (MbiLeaveCause c)
{
  switch (c)
    {
    case MBI_CAUSE_CHURN: return "churn";
    case MBI_CAUSE_ABORT: return "abort";
    case MBI_CAUSE_EVENT: return "event";
    case MBI_CAUSE_SEED_TIME: return "seed_time";
    case MBI_CAUSE_NONE: default: return "";
    }
}

static gint
by_departure (gconstpointer a, gconstpointer b)
{
  const MbSimNode *p = *(MbSimNode *const *) a, *q = *(MbSimNode *const *) b;
  if (p->left_us != q->left_us)
    return p->left_us < q->left_us ? -1 : 1;
  return p->id < q->id ? -1 : p->id > q->id;
}

gchar *
mbi_metrics_departures_csv (MbExperiment *x)
{
  g_autoptr (GPtrArray) gone = g_ptr_array_new ();
  for (guint i = 0; i < mb_world_n_nodes (x->world); i++)
    {
      MbSimNode *p = mb_world_node (x->world, i);
      if (p->left_us != MB_TIME_NEVER)
        g_ptr_array_add (gone, p);
    }
  g_ptr_array_sort (gone, by_departure);
  GString *o = g_string_new ("t_s,peer,class,leave,cause,completed,bytes_up,bytes_down,pieces\n");
  for (guint i = 0; i < gone->len; i++)
    {
      MbSimNode *p = gone->pdata[i];
      MbiLeaveCause cause = p->id - 1 < x->leave_causes->len
                            ? (MbiLeaveCause) x->leave_causes->data[p->id - 1]
                            : MBI_CAUSE_NONE;
      gboolean done = p->completed_us != MB_TIME_NEVER && p->completed_us <= p->left_us;
      const char *leave = cause == MBI_CAUSE_SEED_TIME && p->leave == MB_LEAVE_GRACEFUL
                          ? "completed"
                          : mb_leave_kind_name (p->leave);
      MbPeerStats ps;
      mb_world_node_stats (x->world, p, &ps);
      g_string_append_printf (o, "%.3f,peer%u,%s,%s,%s,%s,%" G_GUINT64_FORMAT ",%"
                              G_GUINT64_FORMAT ",",
                              (double) p->left_us / 1e6, p->id, x->sc->classes[p->cls].name,
                              leave, cause_name (cause), done ? "yes" : "no", ps.bytes_up,
                              ps.bytes_down);
      if (x->file)
        g_string_append_printf (o, "%u", ps.pieces);
      g_string_append_c (o, '\n');
    }
  return g_string_free (o, FALSE);
}
