"""tools/emulate's parts: the core's generated content (content.py), GLib's
GRand (grand.py, the simulator's random streams) and the ring scenario
(ring.py: publish and fetch workloads, leaves and crashes, leaves.csv;
ring_out.py: the CSVs and the summary said)."""
