"""sweeplib — the parts of tools/sweep (research campaigns over minibit-sim).

campaign  parse and validate a campaign file, expand it into runs
runs      the runs list, a run's folder and whether it finished
joblog    GNU parallel's joblog format, read and compacted for --resume
pool      the built-in runner (when GNU parallel is absent)
gnupar    the GNU parallel runner
slurm     the Slurm array job writer
tdist     Student's t quantile
aggregate campaign.csv and points.csv
plots     the campaign's gnuplot plots
"""
