"""pool — the built-in runner, for machines without GNU parallel: at most
JOBS runs at once, each in its own process group, a GNU-parallel-format
joblog.  SIGINT or SIGTERM stops starting runs and passes the signal once to
every running run's group (minibit-sim stops at its next event); the runs it
stopped are logged with their exit status, so --resume reruns them.
"""
import os
import signal
import subprocess
import sys
import time

from . import joblog


def run(todo, jobs, log_path, progress):
    """Run TODO (runs.Run list).  Returns True when a signal stopped it."""
    log = joblog.Writer(log_path)
    pending = list(todo)
    running = {}          # pid -> (run, start time, Popen)
    stop = []             # the signal that stopped us, if any

    def on_signal(signum, _frame):
        if not stop:
            stop.append(signum)
        for _, _, proc in running.values():
            try:
                os.killpg(proc.pid, signum)
            except ProcessLookupError:
                pass

    # Handlers first: the runs then start with SIGINT and SIGTERM at their
    # defaults, even when tools/sweep was started with them ignored.
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while pending or running:
            while pending and not stop and len(running) < jobs:
                r = pending.pop(0)
                proc = subprocess.Popen(r.argv, stdin=subprocess.DEVNULL, start_new_session=True)
                running[proc.pid] = (r, time.time(), proc)
            if not running:
                break
            pid, status = os.waitpid(-1, 0)
            if pid not in running:
                continue
            r, start, proc = running.pop(pid)
            proc.returncode = 0   # reaped here; keeps Popen from waiting again
            if os.WIFSIGNALED(status):
                exitval, sig = 128 + os.WTERMSIG(status), os.WTERMSIG(status)
            else:
                exitval, sig = os.WEXITSTATUS(status), 0
            log.add(r.index + 1, start, exitval, sig, r.line)
            progress(r, exitval, time.time() - start)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        log.close()
    return bool(stop)


def stderr_progress(total, already):
    """A progress callback: one line per run to stderr."""
    count = [already]

    def report(r, exitval, seconds):
        count[0] += 1
        state = "done" if exitval == 0 else "FAILED (exit %d)" % exitval
        sys.stderr.write("[%d/%d] %s %s in %.1f s\n" % (count[0], total, r.label, state, seconds))
    return report
