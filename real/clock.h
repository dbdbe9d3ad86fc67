/* clock.h — the real clock and the expiry driver for real mode.
 *
 * The core reads no clock: real mode passes it mb_clock_now (), microseconds
 * of g_get_monotonic_time (), the same time base GSource ready times use.
 *
 * An MbExpiryDriver keeps one GSource armed at a core object's next expiry
 * (ngtcp2's get_expiry/handle_expiry pattern, as sim/world.c does with its
 * scheduler).  The driver calls `handle (obj, now)` when that time comes and
 * re-arms itself; after every other call into the object (receive, leave,
 * ...) the caller must call mb_expiry_driver_rearm, since the call may have
 * moved the object's next expiry.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Microseconds on the monotonic clock (g_get_monotonic_time). */
guint64 mb_clock_now (void);

/* The object's next expiry in mb_clock_now () time; G_MAXUINT64 (MB_TIME_NEVER)
 * when nothing is due. */
typedef guint64 (*MbNextExpiryFn) (gconstpointer obj);
typedef void (*MbHandleExpiryFn) (gpointer obj, guint64 now);
/* Called after each expiry the driver handles (optional), e.g. to look at
 * what the object did. */
typedef void (*MbExpiryFiredFn) (gpointer user, guint64 now);

typedef struct _MbExpiryDriver MbExpiryDriver;

/* Attaches to `context` (NULL: the thread-default main context) and arms the
 * source at once.  The driver does not own obj. */
MbExpiryDriver *mb_expiry_driver_new (gpointer obj, MbNextExpiryFn next,
                                      MbHandleExpiryFn handle,
                                      GMainContext *context);
void mb_expiry_driver_set_fired (MbExpiryDriver *d, MbExpiryFiredFn fired,
                                 gpointer user);
/* Re-reads the object's next expiry and moves the source there. */
void mb_expiry_driver_rearm (MbExpiryDriver *d);
/* When the source is armed for (G_MAXUINT64 if not armed). */
guint64 mb_expiry_driver_armed_at (const MbExpiryDriver *d);
/* How many expiries the driver has handled. */
guint64 mb_expiry_driver_fired (const MbExpiryDriver *d);
void mb_expiry_driver_free (MbExpiryDriver *d);

G_END_DECLS
