"""aggregate — a campaign's finished runs into two tables:

campaign.csv  one row per finished run: point, the varied keys' values, seed,
              exit_status (0, or 1: an [expect] failed), every summary.csv
              column, and every classes.csv column as <class>.<column>;
points.csv    per point and metric (every numeric column of campaign.csv):
              the point's values, metric, n (runs with a value), mean, sd
              (n - 1), ci95_low, ci95_high (mean -+ t(0.975, n-1) sd / sqrt n).

Empty cells (and n/a, nan, inf) are missing values: they are left out of n,
never averaged as zero.
"""
import csv
import math
import os

from . import runs as runsmod
from .tdist import t_quantile

SKIP_CLASS_COLUMNS = ("class", "strategy")


def number(text):
    """A finite float, or None for an empty or non-numeric cell."""
    try:
        x = float(text)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt(x):
    return "" if x is None else "%.10g" % x


def _read_csv(path):
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        return None


def stats(values):
    """(n, mean, sd, ci95_low, ci95_high) of the non-missing VALUES."""
    xs = [x for x in values if x is not None]
    n = len(xs)
    if n == 0:
        return 0, None, None, None, None
    mean = math.fsum(xs) / n
    if n == 1:
        return 1, mean, None, None, None
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile(0.975, n - 1) * sd / math.sqrt(n)
    return n, mean, sd, mean - half, mean + half


class RunData:
    """One finished run's tables."""

    def __init__(self, run, status, summary, classes, peers_path):
        self.run = run
        self.status = status
        self.summary = summary     # dict: column -> text
        self.classes = classes     # [(class, dict)]
        self.peers_path = peers_path


def load_runs(runs):
    """RunData of every finished run that has its summary.csv."""
    out = []
    for r in runs:
        status = runsmod.exit_status(r)
        if status not in (0, 1):
            continue
        summary = _read_csv(os.path.join(r.dir, "summary.csv"))
        if not summary:
            continue
        classes = _read_csv(os.path.join(r.dir, "classes.csv")) or []
        out.append(RunData(r, status, summary[0],
                           [(c.get("class", ""), c) for c in classes],
                           os.path.join(r.dir, "peers.csv")))
    return out


class Table:
    """campaign.csv in memory: columns and rows of text, plus the metrics."""

    def __init__(self, campaign, data):
        self.keys = [k for k, _ in campaign.vary]
        summary_cols, class_names, class_cols = [], [], []
        for d in data:
            for col in d.summary:
                if col != "seed" and col not in summary_cols:
                    summary_cols.append(col)
            for name, row in d.classes:
                if name not in class_names:
                    class_names.append(name)
                for col in row:
                    if col not in SKIP_CLASS_COLUMNS and col not in class_cols:
                        class_cols.append(col)
        self.summary_cols = summary_cols
        self.class_names = class_names
        self.class_cols = class_cols
        self.class_metric_cols = ["%s.%s" % (c, col) for c in class_names for col in class_cols]
        self.columns = (["point"] + self.keys + ["seed", "exit_status"] + summary_cols
                        + self.class_metric_cols)
        self.rows = []
        for d in data:
            row = {"point": d.run.point.name, "seed": str(d.run.seed),
                   "exit_status": str(d.status)}
            row.update(dict(d.run.point.values))
            for col in summary_cols:
                row[col] = d.summary.get(col, "") or ""
            for name, crow in d.classes:
                for col in class_cols:
                    row["%s.%s" % (name, col)] = crow.get(col, "") or ""
            self.rows.append(row)
        first = len(self.keys) + 3
        self.metrics = [c for c in self.columns[first:]
                        if any(number(r.get(c)) is not None for r in self.rows)]


def write_campaign_csv(table, path):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(table.columns)
        for row in table.rows:
            w.writerow([row.get(c, "") for c in table.columns])


def point_stats(table, points):
    """{(point name, metric): (n, mean, sd, lo, hi)} over TABLE's rows."""
    by_point = {}
    for row in table.rows:
        by_point.setdefault(row["point"], []).append(row)
    result = {}
    for p in points:
        rows = by_point.get(p.name, [])
        for m in table.metrics:
            result[(p.name, m)] = stats([number(r.get(m)) for r in rows])
    return result


def write_points_csv(table, points, pstats, path):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["point"] + table.keys + ["metric", "n", "mean", "sd", "ci95_low",
                                             "ci95_high"])
        values = {p.name: dict(p.values) for p in points}
        for p in points:
            for m in table.metrics:
                n, mean, sd, lo, hi = pstats[(p.name, m)]
                w.writerow([p.name] + [values[p.name][k] for k in table.keys]
                           + [m, n, fmt(mean), fmt(sd), fmt(lo), fmt(hi)])


def download_times(peers_path):
    """[(class, seconds)] of the peers that downloaded the whole file (not
    the initial seeds): completed_s - joined_s where bytes_down > 0."""
    out = []
    rows = _read_csv(peers_path) or []
    for r in rows:
        done, joined, down = (number(r.get(k)) for k in ("completed_s", "joined_s", "bytes_down"))
        if done is not None and joined is not None and down is not None and down > 0:
            out.append((r.get("class", ""), done - joined))
    return out


def aggregate(campaign, runs, campaign_dir):
    """Write campaign.csv and points.csv; returns (table, point stats, data)."""
    data = load_runs(runs)
    table = Table(campaign, data)
    write_campaign_csv(table, os.path.join(campaign_dir, "campaign.csv"))
    pstats = point_stats(table, campaign.points)
    write_points_csv(table, campaign.points, pstats, os.path.join(campaign_dir, "points.csv"))
    return table, pstats, data
