"""slurm — write a campaign as one Slurm array job: results/<campaign>/
sweep.sbatch, one array task per run (of those still to do), the task
reading its command line from runs.txt by SLURM_ARRAY_TASK_ID (task k runs
line k + 1: run k).  The nodes must see the same paths (a shared file system).
"""
import os
import shlex

SCRIPT = "sweep.sbatch"


def array_spec(indices):
    """[0, 1, 2, 5, 7, 8] -> '0-2,5,7-8' (Slurm's --array syntax)."""
    parts, start, prev = [], None, None
    for i in sorted(indices):
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            parts.append(str(start) if start == prev else "%d-%d" % (start, prev))
            start = prev = i
    if start is not None:
        parts.append(str(start) if start == prev else "%d-%d" % (start, prev))
    return ",".join(parts)


def write(campaign, campaign_dir, runs_file, todo, jobs):
    """Write the script for TODO (runs.Run list); returns its path."""
    logs = os.path.join(campaign_dir, "slurm")
    os.makedirs(logs, exist_ok=True)
    spec = array_spec(r.index for r in todo)
    if jobs:
        spec += "%%%d" % jobs
    path = os.path.join(campaign_dir, SCRIPT)
    text = """#!/bin/bash
# minibit campaign %(name)s (%(campaign)s): %(n)d runs as a Slurm array job,
# written by tools/sweep --slurm.  Task k runs line k+1 of runs.txt (run k):
# minibit-sim through tools/sweep-run, which records run.log and exit_status
# in the run's folder.  Submit with: sbatch %(path)s
# then, when every task has ended: tools/sweep %(campaign)s --aggregate-only
#SBATCH --job-name=minibit-%(name)s
#SBATCH --array=%(spec)s
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --output=%(logs)s/%%A_%%a.out
set -euo pipefail
runs=%(runs)s
if [ -z "${SLURM_ARRAY_TASK_ID:-}" ]; then
  echo "sweep.sbatch: SLURM_ARRAY_TASK_ID is not set (submit with sbatch)" >&2
  exit 2
fi
line=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$runs")
if [ -z "$line" ]; then
  echo "sweep.sbatch: $runs has no run $SLURM_ARRAY_TASK_ID" >&2
  exit 2
fi
eval "exec $line"
""" % {"name": campaign.name, "campaign": shlex.quote(os.path.abspath(campaign.path)),
       "n": len(todo), "path": shlex.quote(path), "spec": spec, "logs": logs,
       "runs": shlex.quote(runs_file)}
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    return path
