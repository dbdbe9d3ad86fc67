"""plots — a campaign's plots in results/<campaign>/plots/ (gnuplot, PNG and SVG):

<metric>.png         each [campaign] metrics column against the first varied
                     key, mean and 95% CI bars (grid: a line per combination
                     of the other keys' values);
class-<metric>.png   each class_metrics column of classes.csv, a line per class;
cdf-<point>.png      per point, the download-time CDF of each class, all seeds
                     pooled.

The x axis is numeric when every value of the first key is a number with the
same unit (20, 40; or 10MiB, 20MiB), else one tick per value.
"""
import os
import re
import shutil
import subprocess
import tempfile

from .aggregate import download_times

TERMINALS = [("pngcairo size 900,600 noenhanced font 'DejaVu Sans,10'", "png"),
             ("svg size 900,600 dynamic noenhanced", "svg")]
PNG_FALLBACK = "png size 900,600 noenhanced"
_NUM_UNIT_RE = re.compile(r"^(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)([A-Za-z%/]*)$")


class PlotError(Exception):
    """A metric the plots were asked for that no table has."""


def _q(text):
    """A gnuplot double-quoted string."""
    return '"%s"' % str(text).replace("\\", "\\\\").replace('"', '\\"')


def file_safe(name):
    return re.sub(r"[^A-Za-z0-9._=,+-]", "_", name)


class Axis:
    """The x axis: the first varied key's values as numbers or as ticks."""

    def __init__(self, campaign):
        self.key = campaign.vary[0][0] if campaign.vary else None
        values = campaign.vary[0][1] if campaign.vary else ["default"]
        parsed = [_NUM_UNIT_RE.match(v) for v in values]
        units = {m.group(2) for m in parsed if m}
        self.numeric = all(parsed) and len(units) == 1
        self.unit = units.pop() if self.numeric else ""
        self.values = values
        self.label = self.key or "point"
        if self.unit:
            self.label += " (%s)" % self.unit

    def x(self, value):
        if self.numeric:
            return float(_NUM_UNIT_RE.match(value).group(1))
        return float(self.values.index(value))

    def commands(self):
        if self.numeric:
            return "set xtics autofreq\nset offsets graph 0.03, graph 0.03, 0, 0\n"
        ticks = ", ".join("%s %d" % (_q(v), i) for i, v in enumerate(self.values))
        return "set xtics (%s)\nset xrange [-0.5:%f]\n" % (ticks, len(self.values) - 0.5)


def _series(campaign):
    """{label: [point]} — grid: one series per combination of the keys after
    the first; zip or a single key: one series."""
    if campaign.mode == "zip" or len(campaign.vary) <= 1:
        return {"": list(campaign.points)}
    out = {}
    for p in campaign.points:
        rest = ", ".join("%s=%s" % (k, v) for k, v in p.values[1:])
        out.setdefault(rest, []).append(p)
    return out


def _write_ci_data(path, axis, points, pstats, metric):
    n = 0
    with open(path, "w") as f:
        for p in points:
            n_runs, mean, _sd, lo, hi = pstats.get((p.name, metric), (0, None, None, None, None))
            if mean is None:
                continue
            x = axis.x(p.values[0][1]) if p.values else 0.0
            f.write("%.10g %.10g %.10g %.10g\n" % (x, mean, lo if lo is not None else mean,
                                                    hi if hi is not None else mean))
            n += 1
    return n


def check_metrics(campaign, table):
    """Every metric named in the campaign exists (once some run finished)."""
    if not table.rows:
        return
    for key, names, known in (("metrics", campaign.metrics, table.summary_cols),
                              ("class_metrics", campaign.class_metrics, table.class_cols)):
        for m in names:
            if m not in known:
                raise PlotError("%s: [campaign] %s: %r is not a column of %s; the columns are: %s"
                                % (campaign.where("campaign", key), key, m,
                                   "summary.csv" if key == "metrics" else "classes.csv",
                                   ", ".join(known)))


def _ci_plot(out, name, title, ylabel, axis, curves):
    """gnuplot lines for one CI plot; curves = [(data path, title)]."""
    plot = ", ".join("%s using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 0.8 title %s"
                     % (_q(path), _q(t or "mean")) for path, t in curves)
    return ("set output %s\nset title %s\nset xlabel %s\nset ylabel %s\n%s"
            "set yrange [*:*]\nset key outside right top\nplot %s\n"
            % (_q(os.path.join(out, name)), _q(title), _q(axis.label), _q(ylabel),
               axis.commands(), plot or "NaN notitle"))


def _jobs(campaign, table, pstats, tmp, axis):
    """[(file stem, title, y label, curves)] of the CI plots; writes their data."""
    jobs = []
    series = _series(campaign)
    for m in campaign.metrics:
        curves = []
        for i, (label, pts) in enumerate(series.items()):
            path = os.path.join(tmp, "m-%s-%d" % (file_safe(m), i))
            if _write_ci_data(path, axis, pts, pstats, m):
                curves.append((path, label))
        jobs.append((file_safe(m), "%s — mean and 95%% CI over seeds — %s" % (m, campaign.name),
                     m, curves))
    for m in campaign.class_metrics:
        curves = []
        for c in table.class_names:
            for i, (label, pts) in enumerate(series.items()):
                path = os.path.join(tmp, "c-%s-%s-%d" % (file_safe(c), file_safe(m), i))
                if _write_ci_data(path, axis, pts, pstats, "%s.%s" % (c, m)):
                    curves.append((path, c + (" " + label if label else "")))
        jobs.append(("class-" + file_safe(m),
                     "%s by class — mean and 95%% CI over seeds — %s" % (m, campaign.name),
                     m, curves))
    return jobs


def _cdf_jobs(campaign, data, tmp):
    """Per point: the download-time CDF per class, seeds pooled."""
    by_point = {}
    for d in data:
        by_point.setdefault(d.run.point.name, []).extend(download_times(d.peers_path))
    out = []
    for p in campaign.points:
        times = by_point.get(p.name)
        if not times:
            continue
        curves = []
        classes = []
        for c, _ in times:
            if c not in classes:
                classes.append(c)
        for c in classes:
            xs = sorted(t for k, t in times if k == c)
            path = os.path.join(tmp, "cdf-%s-%s" % (file_safe(p.name), file_safe(c)))
            with open(path, "w") as f:
                for i, t in enumerate(xs, 1):
                    f.write("%.10g %.10g\n" % (t, i / len(xs)))
            curves.append((path, "%s (%d peers)" % (c, len(xs))))
        seeds = len({d.run.seed for d in data if d.run.point.name == p.name})
        out.append(("cdf-" + file_safe(p.name), "Download-time CDF by class, %d seeds pooled — %s"
                    % (seeds, p.name), curves))
    return out


def _script(terminal, ext, out, axis, jobs, cdfs):
    s = "set terminal %s\nset grid\nset datafile separator \" \"\n" % terminal
    for stem, title, ylabel, curves in jobs:
        s += _ci_plot(out, stem + "." + ext, title, ylabel, axis, curves)
    for stem, title, curves in cdfs:
        plot = ", ".join("%s using 1:2 with steps lw 2 title %s" % (_q(path), _q(t))
                         for path, t in curves)
        s += ("set output %s\nset title %s\nset xlabel \"download time (s)\"\n"
              "set ylabel \"fraction of the class's completed peers\"\nset xtics autofreq\n"
              "set offsets 0, 0, 0, 0\nset xrange [*:*]\nset yrange [0:1]\nset key inside bottom right\n"
              "plot %s\n" % (_q(os.path.join(out, stem + "." + ext)), _q(title), plot))
    return s


def _gnuplot(script):
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    return r.returncode == 0, r.stderr


def draw(campaign, table, pstats, data, campaign_dir):
    """Write the plots; returns the plots folder, or None without gnuplot or runs."""
    if not data:
        return None
    if not shutil.which("gnuplot"):
        raise FileNotFoundError("gnuplot is not installed (apt-get install gnuplot-nox)")
    out = os.path.join(campaign_dir, "plots")
    os.makedirs(out, exist_ok=True)
    axis = Axis(campaign)
    with tempfile.TemporaryDirectory(prefix="sweep-plots-") as tmp:
        jobs = _jobs(campaign, table, pstats, tmp, axis)
        cdfs = _cdf_jobs(campaign, data, tmp)
        for terminal, ext in TERMINALS:
            ok, err = _gnuplot(_script(terminal, ext, out, axis, jobs, cdfs))
            if not ok and ext == "png":
                ok, err = _gnuplot(_script(PNG_FALLBACK, ext, out, axis, jobs, cdfs))
            if not ok:
                raise RuntimeError("gnuplot failed on the %s plots: %s" % (ext, err.strip()))
    return out
