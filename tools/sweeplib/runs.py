"""runs — a campaign's runs: their folders, their command lines (the lines
of results/<campaign>/runs.txt) and whether each finished.

A run finished when tools/sweep-run wrote 0 or 1 (its [expect] failed, the run
is complete) to RUN_DIR/exit_status; anything else (130 interrupted, 2 bad
input, no file) means it must run again.  The run folders are the truth;
runs.txt says which command made each: before tools/sweep writes a new
runs.txt, it forgets (removes exit_status of) every run whose command line
changed (another scenario, [set], binary) or was never in runs.txt.
"""
import os
import shlex

RUNS_FILE = "runs.txt"
STATUS_FILE = "exit_status"


class Run:
    """Run number index (0-based; GNU parallel's Seq is index + 1)."""

    def __init__(self, index, point, seed, directory, argv):
        self.index = index
        self.point = point
        self.seed = seed
        self.dir = directory
        self.argv = argv
        self.line = shlex.join(argv)

    @property
    def label(self):
        return "%s/seed-%d" % (self.point.name, self.seed)


def build(campaign, campaign_dir, sim, sweep_run):
    """Every run of CAMPAIGN, point by point, seed by seed (absolute paths,
    so that Slurm nodes and --sshlogin hosts sharing the file system run the
    same lines)."""
    runs = []
    for point in campaign.points:
        for seed in campaign.seeds:
            d = os.path.join(campaign_dir, point.name, "seed-%d" % seed)
            argv = [sweep_run, d, sim, campaign.scenario, "--seed", str(seed), "--out", d]
            for key, value in campaign.sets + point.values:
                argv += ["--set", "%s=%s" % (key, value)]
            argv.append("--quiet")
            runs.append(Run(len(runs), point, seed, d, argv))
    return runs


def exit_status(run):
    """minibit-sim's exit status as tools/sweep-run recorded it, or None."""
    try:
        with open(os.path.join(run.dir, STATUS_FILE)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def finished(run):
    return exit_status(run) in (0, 1)


def read_list(path):
    """{run folder: command line} of an earlier runs.txt ({} without one)."""
    out = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        try:
            argv = shlex.split(line)
        except ValueError:
            continue
        if len(argv) > 1:
            out[argv[1]] = line
    return out


def stale(runs, earlier):
    """Runs whose folder may hold a result of another command line."""
    return [r for r in runs if earlier.get(r.dir) != r.line]


def forget(run):
    """Mark RUN not finished (its folder stays until it runs again)."""
    try:
        os.remove(os.path.join(run.dir, STATUS_FILE))
    except FileNotFoundError:
        pass


def write_list(runs, path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        for r in runs:
            f.write(r.line + "\n")
    os.replace(tmp, path)
