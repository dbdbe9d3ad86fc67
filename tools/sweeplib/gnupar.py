"""gnupar — run a campaign's runs.txt with GNU parallel: --jobs, --sshlogin
and --slf for many hosts (which must see the same paths: a shared file
system), --joblog results/<campaign>/joblog and --resume-failed (the log
holds exactly the finished runs, see joblog.py).

parallel runs in its own process group; SIGINT or SIGTERM to tools/sweep is
passed once to that whole group, as a Ctrl-C on a terminal would be: the
running runs stop (exit 130) and are not logged as done.
"""
import os
import shutil
import signal
import subprocess
import sys


def find():
    """The path of GNU parallel (not moreutils' parallel), or None."""
    path = shutil.which("parallel")
    if not path:
        return None
    try:
        out = subprocess.run([path, "--version"], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return path if "GNU parallel" in out else None


def command(path, runs_file, jobs, log_path, sshlogins, slf):
    """The log holds exactly the finished runs (joblog.compact), so that
    --resume-failed runs all the others, a fresh campaign included."""
    cmd = [path, "--will-cite", "--jobs", str(jobs), "--joblog", log_path, "--resume-failed",
           "--arg-file", runs_file]
    if sys.stderr.isatty():
        cmd.append("--bar")
    for login in sshlogins:
        cmd += ["--sshlogin", login]
    if slf:
        cmd += ["--sshloginfile", slf]
    return cmd


def run(cmd):
    """Run parallel; returns (its exit status, True when a signal stopped it)."""
    stop = []
    procs = []

    def on_signal(signum, _frame):
        if not stop:
            stop.append(signum)
            for proc in procs:
                try:
                    os.killpg(proc.pid, signum)
                except ProcessLookupError:
                    pass

    # Handlers first: parallel and the runs then start with SIGINT and SIGTERM
    # at their defaults, even when tools/sweep was started with them ignored
    # (a background job of a non-interactive shell).
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True))
        if stop:
            os.killpg(procs[0].pid, stop[0])
        rc = procs[0].wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return rc, bool(stop)
