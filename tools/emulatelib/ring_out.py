"""A ring run's results (tools/emulatelib/ring.py's RingRun): minibit-sim's
CSVs for it, and the lines said at the end."""
import os

from .common import say


def write_csvs(em, out, headers, fmt):
    """summary.csv, peers.csv, timeseries.csv, classes.csv, departures.csv of a
    ring run, minibit-sim's columns (headers: their header lines), plus
    leaves.csv and fetches.csv.  The swarm columns are empty or 0 as in a
    simulated ring run without [file]; upload utilisation is the wire bytes
    sent over the shaped uplink's capacity while online."""
    sc, rr = em.sc, em.ringrun
    T = em.t_end
    leave_at = {r["peer"]: r["t_s"] for r in rr.leaves if r["t_s"] is not None}

    def left(p):
        if "left_s" not in p:
            return None
        return leave_at.get(p["name"], p["left_s"]) if p["leave"] == "graceful" else p["left_s"]

    def sent(p):
        s = p.get("final") or p.get("final_sample") or {}
        m = (p.get("metrics") or {}).get("minibit_wire_bytes_sent_total")
        return m if m is not None else s.get("wire_sent")

    def util(ps):
        busy = cap = 0.0
        for p in ps:
            b = sent(p)
            if b is not None:
                busy += b * 8 / p["cls"]["up"]
                cap += (left(p) if left(p) is not None else T)
        return min(1.0, busy / cap) if cap else None
    with open(os.path.join(out, "peers.csv"), "w") as f:
        f.write(headers["peers"] + "\n")
        for p in sc.peers:
            c = p["cls"]
            fin = p.get("final") or p.get("final_sample") or {}
            f.write(",".join(fmt(v) for v in (
                p["name"], c["name"], c["strategy"], int(c["up"]), int(c["down"]), 0.0, left(p),
                p.get("leave", "none"), None, 0, 0, None, fin.get("chunks"),
                fin.get("manifests"), None)) + "\n")
    rs = rr.summary()
    u = util(sc.peers)
    summary = [sc.name, em.args.seed if em.args.seed is not None else sc.seed, len(sc.peers), T,
               None, None, 0, None, None, None, None, None, u, None, None, None, None,
               rs["manifests_total"], rs["manifests_lost"], rs["chunks_lost"],
               rs["chunks_short"], rs["publishes_failed"], rs["manifests_moved"],
               rs["bytes_moved"], rs["lookups_total"], rs["lookups_failed"],
               rs["lookups_redirected"], rs["fetches_total"], rs["fetches_failed"],
               rs["fetch_time_mean_s"], rs["fetch_time_max_s"], None, None, None,
               rs["fetch_swarm_chunk_share"], rs["leave_bytes_ratio_max"], None, None,
               u, None, u, None, None, None, em.stopped]
    with open(os.path.join(out, "summary.csv"), "w") as f:
        f.write(headers["summary"] + "\n" + ",".join(fmt(v) for v in summary) + "\n")
    ticks = {}
    for p in sc.peers:
        for tick, s in p["samples"]:
            ticks.setdefault(tick, {})[p["id"]] = s
    prev = {}
    with open(os.path.join(out, "timeseries.csv"), "w") as f:
        f.write(headers["timeseries"] + "\n")
        for tick in sorted(ticks):
            t = tick * sc.sample_interval
            online = [p for p in sc.peers if left(p) is None or left(p) > t]
            busy = cap = 0.0
            for p in online:
                s, q = ticks[tick].get(p["id"]), prev.get(p["id"])
                if s and q and s["t"] > q["t"]:
                    busy += (s["wire_sent"] - q["wire_sent"]) * 8 / p["cls"]["up"]
                    cap += s["t"] - q["t"]
                if s:
                    prev[p["id"]] = s
            mav, cav = rr.avail.get(tick, (None, None))
            first = tick == min(ticks)
            f.write(",".join(fmt(v) for v in (
                t, len(online), 0, len(online), 0, 0,
                0.0 if first else (min(1.0, busy / cap) if cap else None), None, mav,
                cav)) + "\n")
    with open(os.path.join(out, "classes.csv"), "w") as f:
        f.write(headers["classes"] + "\n")
        for c in sc.classes:
            ps = [p for p in sc.peers if p["cls"] is c]
            f.write(",".join(fmt(v) for v in (
                c["name"], c["strategy"], len(ps), 0, None, None, None, None, 0, 0, None,
                util(ps), None)) + "\n")
    with open(os.path.join(out, "departures.csv"), "w") as f:
        f.write("t_s,peer,class,leave,cause,completed,bytes_up,bytes_down,pieces\n")
        for p in sorted((p for p in sc.peers if left(p) is not None),
                        key=lambda p: (left(p), p["id"])):
            f.write(",".join(fmt(v) for v in (
                left(p), p["name"], p["cls"]["name"], p["leave"], "event", "no", 0, 0,
                None)) + "\n")
    rr.write(out, fmt)
    return summary


def report(em, s, out):
    """The run in a few lines; the exit status (0: every store and fetch
    succeeded with the right bytes and every graceful leave reported)."""
    rr, sc = em.ringrun, em.sc
    say(f"scenario {sc.name}, seed {sc.seed}: {len(sc.peers)} ring peers as processes,"
        f" {em.t_end:.1f} s from t = 0 to the stop ({em.stopped})")
    rs = rr.summary()
    say(f"  {rs['manifests_total']} files stored ({rs['publishes_failed']} failed); at the end"
        f" {rs['manifests_lost']} manifests and {rs['chunks_lost']} chunks lost,"
        f" {rs['chunks_short']} chunks short of R copies")
    for r in rr.leaves:
        if r["leave"] == "graceful":
            say(f"  {r['peer']} left at {r['t_s'] if r['t_s'] is None else round(r['t_s'], 3)}"
                f" s: {r.get('manifests_moved')} manifests, {r.get('chunks_moved')} chunks,"
                f" {r.get('bytes_moved')} bytes moved ({r.get('manifests_failed')} and"
                f" {r.get('chunks_failed')} failed)")
        else:
            say(f"  {r['peer']} crashed at {r['t_s']:.3f} s")
    say(f"  fetches: {rs['fetches_total']}, {rs['fetches_failed']} failed (SHA-256 checked);"
        f" mean {rs['fetch_time_mean_s']} s, max {rs['fetch_time_max_s']} s; results in {out}")
    bad = (rs["publishes_failed"] or rs["fetches_failed"]
           or any(r.get("error") for r in rr.leaves)
           or any(not r.get("sha_ok") for r in getattr(rr, "checks", [])))
    return 1 if bad else 0
