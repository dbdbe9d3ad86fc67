/* interrupt.h — SIGINT and SIGTERM ask a run to stop (minibit-sim).
 *
 *   mb_interrupt_install ();
 *   mb_experiment_set_interrupt (x, mb_interrupt_flag ());
 *
 * The handlers only record the signal in a sig_atomic_t flag; the event loop
 * reads it after every event (mb_experiment_set_interrupt), so the run stops
 * at the next event and the CSVs are written as usual.  Once the run is over
 * nothing reads the flag: a second signal while the CSVs are written does
 * nothing (each CSV is written under a temporary name and renamed, so even
 * a SIGKILL leaves no half-written file).
 */
#pragma once

#include <glib.h>
#include <signal.h>

G_BEGIN_DECLS

void mb_interrupt_install (void);
/* 0 until SIGINT or SIGTERM; then the signal's number. */
const volatile sig_atomic_t *mb_interrupt_flag (void);

G_END_DECLS
