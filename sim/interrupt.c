/* interrupt.c — see interrupt.h. */
#include "interrupt.h"

#include <string.h>

static volatile sig_atomic_t raised = 0;

static void
on_signal (int signo)
{
  raised = signo;   /* nothing else: the event loop does the rest */
}

void
mb_interrupt_install (void)
{
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset (&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
}

const volatile sig_atomic_t *
mb_interrupt_flag (void)
{
  return &raised;
}
