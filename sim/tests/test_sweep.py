#!/usr/bin/env python3
"""test_sweep.py — tools/sweep on a 2 x 2 x 3 campaign (sweep/tiny.ini: 2
freerider counts x 2 sharer counts x 3 seeds of sweep/tiny-swarm.ini) in a
temporary results folder: Student's t, the campaign file's errors, the
layout, campaign.csv and points.csv (the CI recomputed here), the plots, a
resume after a lost run and after SIGINT, the Slurm array script run task by
task, and the same campaign through GNU parallel when it is installed.

Environment: MINIBIT_SIM (the minibit-sim to run), MINIBIT_SOURCE_ROOT.
"""
import csv
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.environ.get("MINIBIT_SOURCE_ROOT",
                      os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SWEEP = os.path.join(ROOT, "tools", "sweep")
CAMPAIGN = os.path.join(ROOT, "sim", "tests", "sweep", "tiny.ini")
SCENARIO = os.path.join(ROOT, "sim", "tests", "sweep", "tiny-swarm.ini")
sys.path.insert(0, os.path.join(ROOT, "tools"))

from sweeplib import gnupar  # noqa: E402
from sweeplib.aggregate import number, stats  # noqa: E402
from sweeplib.tdist import t_quantile  # noqa: E402

POINTS = [("1", "6"), ("1", "8"), ("3", "6"), ("3", "8")]   # grid order: free, sharers
SEEDS = [1, 2, 3]
T_975_2 = 4.302652729749464   # t(0.975, 2), from tables (R: qt(0.975, 2))


def point_dir(free, sharers):
    return "free.count=%s,sharers.count=%s" % (free, sharers)


def sweep(*args, check=None):
    r = subprocess.run([sys.executable, SWEEP] + list(args), capture_output=True, text=True,
                       timeout=600)
    if check is not None and r.returncode != check:
        raise AssertionError("tools/sweep %s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(args), r.returncode, check, r.stdout, r.stderr))
    return r


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def exit_status(run_dir):
    with open(os.path.join(run_dir, "exit_status")) as f:
        return int(f.read())


class TDist(unittest.TestCase):
    def test_known_quantiles(self):
        for p, df, want in [(0.975, 1, 12.7062), (0.975, 2, 4.3027), (0.975, 9, 2.2622),
                            (0.975, 29, 2.0452), (0.95, 5, 2.0150), (0.995, 3, 5.8409),
                            (0.975, 100000, 1.9600)]:
            self.assertAlmostEqual(t_quantile(p, df), want, places=4, msg="t(%g, %d)" % (p, df))
        self.assertAlmostEqual(t_quantile(0.025, 9), -t_quantile(0.975, 9), places=12)
        self.assertAlmostEqual(t_quantile(0.975, 2), T_975_2, places=9)


class Stats(unittest.TestCase):
    def test_empty_cells_are_left_out(self):
        xs = [number(v) for v in ("1", "", "n/a", "nan", "inf", "3")]
        n, mean, sd, lo, hi = stats(xs)
        self.assertEqual((n, mean), (2, 2.0))
        self.assertAlmostEqual(sd, math.sqrt(2))
        self.assertAlmostEqual(hi - mean, 12.706204736 * math.sqrt(2) / math.sqrt(2), places=6)
        self.assertEqual(stats([number("")]), (0, None, None, None, None))
        self.assertEqual(stats([5.0]), (1, 5.0, None, None, None))


class BadCampaigns(unittest.TestCase):
    CASES = [
        ("[campaign]\nscenario = %s\nseeds = 1..x\n", ":3:", "seeds"),
        ("[campaign]\nscenario = %s\nseeds = 1..3\ncolour = red\n", ":4:", "colour"),
        ("[campaign]\nscenario = %s\nseeds = 1\n[vary]\ncount = 1, 2\n", ":5:", "count"),
        ("[campaign]\nscenario = %s\nseeds = 1\nmode = zip\n[vary]\npeers.a.count = 1, 2\n"
         "peers.b.count = 1\n", ":4:", "zip"),
        ("[campaign]\nscenario = %s\nseeds = 1\n[vary]\nfile.size = 1MiB..4KiB step 1MiB\n",
         ":5:", "units"),
        ("[campaign]\nscenario = %s.missing\nseeds = 1\n", ":2:", "does not exist"),
        ("[campaign]\nscenario = %s\nseeds = 1\n[set]\nfile.size = 1MiB\n[vary]\n"
         "file.size = 1MiB, 2MiB\n", ":7:", "also in [set]"),
        ("[campaign]\nseeds = 1\n[shuffle]\n", ":3:", "unknown group [shuffle]"),
    ]

    def test_errors_name_file_line_and_key(self):
        with tempfile.TemporaryDirectory() as tmp:
            for i, (text, line, word) in enumerate(self.CASES):
                path = os.path.join(tmp, "bad%d.ini" % i)
                with open(path, "w") as f:
                    f.write(text % SCENARIO if "%s" in text else text)
                r = sweep(path, "--results", tmp, "--dry-run")
                self.assertEqual(r.returncode, 2, "case %d: %s" % (i, r.stderr))
                self.assertIn(path + line, r.stderr, "case %d" % i)
                self.assertIn(word, r.stderr, "case %d" % i)


class Campaign(unittest.TestCase):
    """The campaign through the built-in runner (always), then GNU parallel."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="test-sweep-")
        self.cdir = os.path.join(self.tmp, "tiny")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_dir(self, free, sharers, seed):
        return os.path.join(self.cdir, point_dir(free, sharers), "seed-%d" % seed)

    def check_campaign(self):
        for free, sharers in POINTS:
            for seed in SEEDS:
                d = self.run_dir(free, sharers, seed)
                for name in ("summary.csv", "classes.csv", "peers.csv", "run.log",
                             "scenario.ini"):
                    self.assertTrue(os.path.isfile(os.path.join(d, name)), d + "/" + name)
                self.assertIn(exit_status(d), (0, 1))
                with open(os.path.join(d, "scenario.ini")) as f:
                    ini = f.read()
                self.assertIn("[peers.free]\ncount=%s\n" % free, ini)
                self.assertIn("[peers.sharers]\ncount=%s\n" % sharers, ini)
                self.assertIn("[file]\nsize=1MiB\n", ini)
        rows = read_csv(os.path.join(self.cdir, "campaign.csv"))
        self.assertEqual(len(rows), 12)
        got = sorted((r["peers.free.count"], r["peers.sharers.count"], int(r["seed"]))
                     for r in rows)
        self.assertEqual(got, sorted((f, s, n) for f, s in POINTS for n in SEEDS))
        for r in rows:
            self.assertEqual(int(r["peers"]), 1 + int(r["peers.free.count"])
                             + int(r["peers.sharers.count"]))
            self.assertEqual(r["free.peers"], r["peers.free.count"])
        points = read_csv(os.path.join(self.cdir, "points.csv"))
        for free, sharers in POINTS:
            name = point_dir(free, sharers)
            xs = [float(r["completion_p50_s"]) for r in rows if r["point"] == name]
            p = [r for r in points if r["point"] == name and r["metric"] == "completion_p50_s"]
            self.assertEqual(len(p), 1)
            p = p[0]
            self.assertEqual(int(p["n"]), 3)
            mean = sum(xs) / 3
            sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / 2)
            half = T_975_2 * sd / math.sqrt(3)
            for key, want in (("mean", mean), ("sd", sd), ("ci95_low", mean - half),
                              ("ci95_high", mean + half)):
                self.assertAlmostEqual(float(p[key]), want, delta=1e-6 * max(1, abs(want)),
                                       msg="%s %s" % (name, key))
            # a metric no run has a value for (the seed's download time) has no row
            seed_dt = [r for r in points if r["point"] == name
                       and r["metric"] == "seed.download_time_mean_s"]
            self.assertEqual([(r["n"], r["mean"], r["ci95_low"]) for r in seed_dt], [])
        plots = os.path.join(self.cdir, "plots")
        for stem in ["completion_p50_s", "share_ratio_p50", "class-download_time_mean_s",
                     "class-share_ratio"] + ["cdf-" + point_dir(f, s) for f, s in POINTS]:
            for ext in ("png", "svg"):
                path = os.path.join(plots, stem + "." + ext)
                self.assertTrue(os.path.getsize(path) > 0, path)

    def resume_after_a_lost_run(self, runner):
        """Run 5 lost (folder gone, joblog entry failed): --resume reruns it alone."""
        lost = self.run_dir("1", "8", 3)
        shutil.rmtree(lost)
        log = os.path.join(self.cdir, "joblog")
        with open(log) as f:
            lines = f.read().splitlines()
        lines = [("\t".join(l.split("\t")[:6] + ["130"] + l.split("\t")[7:])
                  if l.split("\t")[0] == "6" else l) for l in lines]
        with open(log, "w") as f:
            f.write("\n".join(lines) + "\n")
        before = {}
        for free, sharers in POINTS:
            for seed in SEEDS:
                d = self.run_dir(free, sharers, seed)
                if d != lost:
                    before[d] = os.stat(os.path.join(d, "summary.csv")).st_mtime_ns
        r = sweep(CAMPAIGN, "--results", self.tmp, "--runner", runner, "--jobs", "2")
        self.assertEqual(r.returncode, 2, "without --resume it must refuse")
        self.assertIn("--resume", r.stderr)
        r = sweep(CAMPAIGN, "--results", self.tmp, "--runner", runner, "--jobs", "2",
                  "--resume", check=0)
        self.assertIn("1 to run", r.stdout)
        for d, mtime in before.items():
            self.assertEqual(os.stat(os.path.join(d, "summary.csv")).st_mtime_ns, mtime,
                             d + " ran again")
        self.assertIn(exit_status(lost), (0, 1))
        done = [l for l in read_csv_tsv(log) if l["Exitval"] == "0"]
        self.assertEqual(sorted(int(l["Seq"]) for l in done), list(range(1, 13)))
        self.check_campaign()

    def test_builtin_runner(self):
        r = sweep(CAMPAIGN, "--results", self.tmp, "--dry-run", check=0)
        self.assertEqual(len([l for l in r.stdout.splitlines() if not l.startswith("#")]), 12)
        sweep(CAMPAIGN, "--results", self.tmp, "--runner", "builtin", "--jobs", "2", check=0)
        self.check_campaign()
        self.resume_after_a_lost_run("builtin")

    def test_gnu_parallel(self):
        if not gnupar.find():
            print("GNU parallel is not installed: its runner is not tested here "
                  "(the built-in runner is)", file=sys.stderr)
            return
        sweep(CAMPAIGN, "--results", self.tmp, "--runner", "parallel", "--jobs", "2", check=0)
        self.assertEqual(len(read_csv_tsv(os.path.join(self.cdir, "joblog"))), 12)
        self.check_campaign()
        self.resume_after_a_lost_run("parallel")

    def test_sigint_then_resume(self):
        """SIGINT stops the campaign (exit 130); --resume finishes it."""
        runners = ["builtin"] + (["parallel"] if gnupar.find() else [])
        for runner in runners:
            results = os.path.join(self.tmp, runner)
            cmd = [sys.executable, SWEEP, CAMPAIGN, "--results", results, "--runner", runner,
                   "--jobs", "1"]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
            first = os.path.join(results, "tiny", point_dir("1", "6"), "seed-1", "exit_status")
            deadline = time.monotonic() + 120
            while not os.path.exists(first) and time.monotonic() < deadline \
                    and proc.poll() is None:
                time.sleep(0.01)
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=120)
            self.assertEqual(proc.returncode, 130, runner + ": " + err)
            self.assertIn("--resume", err)
            r = sweep(CAMPAIGN, "--results", results, "--runner", runner, "--jobs", "2",
                      "--resume", check=0)
            self.assertNotIn(" 12 to run", r.stdout, runner + ": nothing had finished")
            self.assertEqual(len(read_csv(os.path.join(results, "tiny", "campaign.csv"))), 12)

    def test_slurm_array_script(self):
        r = sweep(CAMPAIGN, "--results", self.tmp, "--slurm", check=0)
        self.assertIn("sbatch", r.stdout)
        script = os.path.join(self.cdir, "sweep.sbatch")
        with open(script) as f:
            text = f.read()
        self.assertIn("#SBATCH --array=0-11\n", text)
        with open(os.path.join(self.cdir, "runs.txt")) as f:
            self.assertEqual(len(f.read().splitlines()), 12)
        for k in (0, 7, 11):
            env = dict(os.environ, SLURM_ARRAY_TASK_ID=str(k))
            subprocess.run(["bash", script], env=env, check=True, timeout=300,
                           stdout=subprocess.DEVNULL)
            free, sharers = POINTS[k // 3]
            seed = SEEDS[k % 3]
            d = self.run_dir(free, sharers, seed)
            self.assertIn(exit_status(d), (0, 1))
            row = read_csv(os.path.join(d, "summary.csv"))[0]
            self.assertEqual(int(row["seed"]), seed)
            self.assertEqual(int(row["peers"]), 1 + int(free) + int(sharers))
        ran = sum(1 for _, dirs, _ in os.walk(self.cdir) for x in dirs if x.startswith("seed-"))
        self.assertEqual(ran, 3, "only tasks 0, 7 and 11 ran")
        bad = subprocess.run(["bash", script], env={"PATH": os.environ["PATH"]},
                             capture_output=True, text=True)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("SLURM_ARRAY_TASK_ID", bad.stderr)
        sweep(CAMPAIGN, "--results", self.tmp, "--aggregate-only", check=0)
        self.assertEqual(len(read_csv(os.path.join(self.cdir, "campaign.csv"))), 3)
        sweep(CAMPAIGN, "--results", self.tmp, "--slurm", "--resume", "--jobs", "4", check=0)
        with open(script) as f:
            self.assertIn("#SBATCH --array=1-6,8-10%4\n", f.read())

    def test_unknown_metric_is_bad_input(self):
        sweep(CAMPAIGN, "--results", self.tmp, "--runner", "builtin", "--jobs", "2", check=0)
        bad = os.path.join(self.tmp, "tiny-bad.ini")
        with open(CAMPAIGN) as f:
            text = f.read().replace("scenario = tiny-swarm.ini", "scenario = " + SCENARIO)
        with open(bad, "w") as f:
            f.write(text.replace("metrics = completion_p50_s,", "metrics = completion_p5_s,"))
        r = sweep(bad, "--results", self.tmp, "--aggregate-only")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(bad + ":7:", r.stderr)
        self.assertIn("completion_p5_s", r.stderr)


def read_csv_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
