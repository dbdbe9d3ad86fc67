"""joblog — GNU parallel's joblog (tab-separated: Seq Host Starttime
JobRuntime Send Receive Exitval Signal Command), which the built-in runner
writes too, so that --resume works with either runner and across them.

The run folders say which runs finished (runs.py); before a resume the log
is rewritten to hold exactly those, so that GNU parallel's --resume-failed
and the built-in runner skip exactly them.
"""
import os
import time

HEADER = ["Seq", "Host", "Starttime", "JobRuntime", "Send", "Receive", "Exitval", "Signal",
          "Command"]


def read(path):
    """{seq: entry dict}, the last entry of each Seq; {} without a log."""
    entries = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return entries
    for line in lines[1:]:
        cols = line.split("\t", len(HEADER) - 1)
        if len(cols) != len(HEADER) or not cols[0].strip().isdigit():
            continue
        entries[int(cols[0])] = dict(zip(HEADER, (c.strip() for c in cols)))
    return entries


def is_done(entry):
    return entry.get("Exitval") == "0" and entry.get("Signal") == "0"


def compact(path, runs, finished):
    """Rewrite the log with one entry per finished run (FINISHED: 0-based
    indices): its last entry when that says done with the same command, else
    an entry made up (a run that finished under Slurm, or whose log was lost)."""
    entries = read(path)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\t".join(HEADER) + "\n")
        for i in sorted(finished):
            e = entries.get(i + 1)
            if e and is_done(e) and e["Command"] == runs[i].line:
                f.write("\t".join(e[h] for h in HEADER) + "\n")
            else:
                f.write(entry_line(i + 1, 0.0, 0.0, 0, 0, runs[i].line))
    os.replace(tmp, path)


def entry_line(seq, start, runtime, exitval, signal, command):
    return "%d\t:\t%.3f\t%10.3f\t0\t0\t%d\t%d\t%s\n" % (seq, start, runtime, exitval, signal,
                                                      command)


class Writer:
    """Appends entries (the built-in runner's), creating the log with its header."""

    def __init__(self, path):
        new = not os.path.exists(path)
        self.f = open(path, "a", encoding="utf-8")
        if new:
            self.f.write("\t".join(HEADER) + "\n")
            self.f.flush()

    def add(self, seq, start, exitval, signal, command):
        self.f.write(entry_line(seq, start, time.time() - start, exitval, signal, command))
        self.f.flush()

    def close(self):
        self.f.close()
