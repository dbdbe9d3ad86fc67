/* clock.c — the real clock and the expiry driver (see clock.h).
 *
 * Invariants: a driver owns exactly one GSource, attached from creation to
 * free; its ready time is the object's next expiry as last read by
 * mb_expiry_driver_rearm (-1, i.e. never, for G_MAXUINT64), so at most one
 * wake-up is pending per object.  Ready times are in microseconds on the
 * monotonic clock, the time base of mb_clock_now, so no rounding happens.
 */
#define G_LOG_DOMAIN "minibit"

#include "clock.h"

struct _MbExpiryDriver {
  GSource *source;
  gpointer obj;
  MbNextExpiryFn next;
  MbHandleExpiryFn handle;
  MbExpiryFiredFn fired_fn;
  gpointer fired_user;
  guint64 armed_at;
  guint64 n_fired;
};

guint64
mb_clock_now (void)
{
  return (guint64) g_get_monotonic_time ();
}

/* A source with no prepare/check: it becomes ready at its ready time only. */
static gboolean
mb_expiry_source_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  return callback != NULL ? callback (data) : G_SOURCE_REMOVE;
}

static GSourceFuncs mb_expiry_source_funcs = {
  NULL, NULL, mb_expiry_source_dispatch, NULL, NULL, NULL,
};

static gboolean
mb_expiry_driver_fire (gpointer data)
{
  MbExpiryDriver *d = data;
  g_source_set_ready_time (d->source, -1);
  d->armed_at = G_MAXUINT64;
  guint64 now = mb_clock_now ();
  d->handle (d->obj, now);
  d->n_fired++;
  if (d->fired_fn != NULL)
    d->fired_fn (d->fired_user, now);
  mb_expiry_driver_rearm (d);
  return G_SOURCE_CONTINUE;
}

MbExpiryDriver *
mb_expiry_driver_new (gpointer obj, MbNextExpiryFn next, MbHandleExpiryFn handle,
                      GMainContext *context)
{
  g_return_val_if_fail (next != NULL && handle != NULL, NULL);
  MbExpiryDriver *d = g_new0 (MbExpiryDriver, 1);
  d->obj = obj;
  d->next = next;
  d->handle = handle;
  d->armed_at = G_MAXUINT64;
  d->source = g_source_new (&mb_expiry_source_funcs, sizeof (GSource));
  g_source_set_name (d->source, "minibit expiry");
  g_source_set_callback (d->source, mb_expiry_driver_fire, d, NULL);
  g_source_set_ready_time (d->source, -1);
  g_source_attach (d->source, context != NULL ? context
                                              : g_main_context_get_thread_default ());
  mb_expiry_driver_rearm (d);
  return d;
}

void
mb_expiry_driver_set_fired (MbExpiryDriver *d, MbExpiryFiredFn fired, gpointer user)
{
  g_return_if_fail (d != NULL);
  d->fired_fn = fired;
  d->fired_user = user;
}

void
mb_expiry_driver_rearm (MbExpiryDriver *d)
{
  g_return_if_fail (d != NULL);
  guint64 at = d->next (d->obj);
  if (at == d->armed_at)
    return;
  d->armed_at = at;
  if (at == G_MAXUINT64)
    g_source_set_ready_time (d->source, -1);
  else
    g_source_set_ready_time (d->source, (gint64) MIN (at, (guint64) G_MAXINT64));
}

guint64
mb_expiry_driver_armed_at (const MbExpiryDriver *d)
{
  g_return_val_if_fail (d != NULL, G_MAXUINT64);
  return d->armed_at;
}

guint64
mb_expiry_driver_fired (const MbExpiryDriver *d)
{
  g_return_val_if_fail (d != NULL, 0);
  return d->n_fired;
}

void
mb_expiry_driver_free (MbExpiryDriver *d)
{
  if (d == NULL)
    return;
  g_source_destroy (d->source);
  g_source_unref (d->source);
  g_free (d);
}
