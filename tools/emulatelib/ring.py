"""The ring scenario on real peers: [ring], [publish.*] and [fetch.*] of a
minibit-sim scenario as HTTP calls (POST /store_file of the very bytes the
simulator's publish stands for, POST /fetch_file), [event.*] shutdowns and
crashes as SIGTERM and SIGKILL of the peers the simulator picks (its event
stream, GLib's GRand replayed), and the figures minibit-sim writes for it:
leaves.csv (each graceful leave's hand-off, as the leaver reports it in its
log before it exits), the ring's summary columns and the availabilities of
timeseries.csv (from what the online peers hold in their data folders).

Draws follow the simulator's: the workload stream picks each publisher, each
fetcher and its file, and the gaps between fetches; the event stream picks
who leaves.  They are the simulator's picks as long as the same things are
online and published in the same order (stores finishing in another order
change the files later fetches pick)."""
import hashlib
import math
import os
import re
import threading
import time

from .common import DUR, SIZE, Interrupted, Refused, say, unit
from . import content, grand

RATE_PER = {"/s": 1, "/min": 1 / 60, "/h": 1 / 3600}
REPORT = re.compile(r"graceful shutdown: (\d+) manifests redistributed \((\d+) failed\), "
                    r"(\d+) chunks redistributed \((\d+) failed\), (\d+) bytes moved")
CHECK_PARALLEL = 8   # fetches of the check after the run at once (other files each)
RING_KEYS = {"replication", "vnodes", "chunk_size", "rpc_timeout", "write_quorum",
             "read_quorum", "view_delay", "swarm", "emulated_names"}


def _bool(v, what):
    if v in ("yes", "true", "1"):
        return True
    if v in ("no", "false", "0"):
        return False
    raise Refused(f"{what} = {v}: yes or no")


def _per_second(v, what):
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(/s|/min|/h)\s*", v)
    if not m:
        raise Refused(f"{what} = {v}: N/s, N/min or N/h")
    return float(m.group(1)) * RATE_PER[m.group(2)]


class RingSpec:
    """[ring], [publish.*], [fetch.*] as the real peers can run them."""

    def __init__(self, g, order, class_names):
        r = g["ring"]
        bad = set(k for k in r if k) - RING_KEYS
        if bad:
            raise Refused(f"[ring] {', '.join(sorted(bad))}: unknown key")
        self.warnings = []
        self.replication = int(r.get("replication", "3"))
        if self.replication < 1:
            raise Refused("[ring] replication must be at least 1")
        self.chunk_size = int(unit(r.get("chunk_size", "256KiB"), SIZE, "[ring] chunk_size",
                                   False))
        if self.chunk_size % 1024:
            raise Refused("[ring] chunk_size must be whole KiB (the peer's --chunk-kib)")
        if r.get("vnodes", "128") != "128":
            raise Refused("[ring] vnodes: real peers have 128 points per member (no option)")
        self.write_quorum = int(r["write_quorum"]) if "write_quorum" in r else None
        w = self.write_quorum or self.replication // 2 + 1
        if "read_quorum" in r and int(r["read_quorum"]) != self.replication - w + 1:
            raise Refused(f"[ring] read_quorum = {r['read_quorum']}: real peers read R - W + 1"
                          f" = {self.replication - w + 1} copies (no option)")
        self.swarm = _bool(r.get("swarm", "yes"), "[ring] swarm")
        self.emulated_names = _bool(r.get("emulated_names", "no"), "[ring] emulated_names")
        for k in ("rpc_timeout", "view_delay"):
            if k in r:
                self.warnings.append(f"[ring] {k}")
        if not self.emulated_names:
            say("warning: [ring] emulated_names = no: the simulator names its members sim:<id>,"
                " the real peers by address, so keys land on other peers than in the"
                " simulator's run (give emulated_names = yes to compare leaves)")
        self.publishes, self.fetches = [], []
        for grp in order:
            if grp.startswith("publish."):
                p = g[grp]
                frm = p.get("from")
                if frm is not None and frm not in class_names:
                    raise Refused(f"[{grp}] from = {frm}: no such class")
                self.publishes.append(dict(
                    name=grp[len("publish."):], at=unit(p.get("at", "10min"), DUR, f"[{grp}] at"),
                    count=int(p.get("count", "10")),
                    size=int(unit(p.get("size", "1MiB"), SIZE, f"[{grp}] size", False)),
                    interval=unit(p.get("interval", "10s"), DUR, f"[{grp}] interval"),
                    cls=frm))
            elif grp.startswith("fetch."):
                f = g[grp]
                frm = f.get("from")
                if frm is not None and frm not in class_names:
                    raise Refused(f"[{grp}] from = {frm}: no such class")
                files = f.get("files", "any")
                if files != "any" and files not in [p["name"] for p in self.publishes]:
                    raise Refused(f"[{grp}] files = {files}: no such [publish.{files}]")
                self.fetches.append(dict(
                    name=grp[len("fetch."):], at=unit(f.get("at", "10min"), DUR, f"[{grp}] at"),
                    count=int(f.get("count", "100")),
                    rate=_per_second(f["rate"], f"[{grp}] rate") if "rate" in f else 0.0,
                    cls=frm, files=None if files == "any" else files,
                    distinct=_bool(f.get("distinct", "yes"), f"[{grp}] distinct")))
        total = sum(p["size"] * p["count"] for p in self.publishes)
        if total > 2 * 1024**3:
            raise Refused(f"[publish.*]: {total} bytes in all: at most 2 GiB (they are written"
                          " to the publishers' data folders)")

    def peer_args(self, member):
        a = ["--replication", str(self.replication), "--chunk-kib", str(self.chunk_size // 1024)]
        if self.write_quorum:
            a += ["--write-quorum", str(self.write_quorum)]
        if not member:
            a += ["--client"]
        if not self.swarm:
            a += ["--no-swarm"]
        return a


def parse(g, order, class_names):
    if "ring" not in g:
        for grp in order:
            if grp.startswith(("publish.", "fetch.")):
                raise Refused(f"[{grp}] needs a [ring] group")
        return None
    if "file" in g:
        raise Refused("[file] with [ring]: a swarm file beside the ring is not emulated yet")
    return RingSpec(g, order, class_names)


# ---- what a peer holds, read from its data folder (real/disk-store.c's layout) --
def held_keys(data_dir):
    """(chunk ids, manifest names) the disk store at data_dir holds: chunk files
    chunks/<2>/<id>, chunks kept in files (refs/*.refs), manifests/<name>.json."""
    chunks, manifests = set(), set()
    try:
        for sub in os.scandir(os.path.join(data_dir, "chunks")):
            if len(sub.name) == 2 and sub.is_dir():
                for f in os.scandir(sub.path):
                    if len(f.name) == 64 and not f.name.startswith("."):
                        chunks.add(f.name)
    except FileNotFoundError:
        pass
    try:
        for f in os.scandir(os.path.join(data_dir, "refs")):
            if f.name.endswith(".refs") and not f.name.startswith("."):
                try:
                    with open(f.path, encoding="utf-8", errors="replace") as fh:
                        lines = fh.read().splitlines()
                except FileNotFoundError:
                    continue
                if lines and lines[0] == "minibit-refs 1":
                    chunks.update(ln.split(" ", 1)[0] for ln in lines[2:] if ln)
    except FileNotFoundError:
        pass
    try:
        for f in os.scandir(os.path.join(data_dir, "manifests")):
            n = f.name
            if n.endswith(".json") and not n.startswith("."):
                n = n[:-5]
                if n.startswith("%2E"):
                    n = "." + n[3:]
                manifests.add(n.replace("%25", "%"))
    except FileNotFoundError:
        pass
    return chunks, manifests


class RingRun:
    """The ring part of one emulation (em: the Emulation, with its peers made)."""

    def __init__(self, em):
        self.em, self.sc, self.spec = em, em.sc, em.sc.ring
        self.files = {}          # name -> dict(size, ids, sha256, group)
        self.published = []      # names, in the order their stores answered success
        self.publishes = []      # each store: dict(peer, file, at, answered, status, reply)
        self.fetch_log = []      # each fetch: dict(peer, file, at, answered, ...)
        self.leaves = []         # leaves.csv rows (dicts)
        self.avail = {}          # tick -> (manifest availability, chunk availability)
        self.lock = threading.Lock()
        self.running = 0         # stores and fetches under way
        self.handing = set()     # names of leavers not yet reported
        self.publish_failed = 0

    # -- before the run: the bytes of every file the workload may publish
    def prepare(self):
        t = time.monotonic()
        cs = self.spec.chunk_size
        for p in self.spec.publishes:
            for k in range(p["count"]):
                name = f"{p['name']}-{k}.bin"
                parts = content.file_chunks(name, p["size"], cs)
                h = hashlib.sha256()
                for b, _ in parts:
                    h.update(b)
                self.files[name] = dict(size=p["size"], ids=[i for _, i in parts],
                                        sha256=h.hexdigest(), group=p["name"],
                                        data=b"".join(b for b, _ in parts))
        say(f"{len(self.files)} files generated as minibit-sim's publishes"
            f" (mb_chunk_generate) in {time.monotonic() - t:.1f} s")

    # -- the schedule, in minibit-sim's event order
    def actions(self):
        """[(t, seq, kind, arg)] sorted: publishes, event steps, first fetches."""
        acts = []
        seq = 0
        for pi, p in enumerate(self.spec.publishes):
            for k in range(p["count"]):
                acts.append((p["at"] + k * p["interval"], seq, "publish", (pi, k)))
                seq += 1
        for e in self.sc.event_steps:
            acts.append((e["t"], seq, "event", e))
            seq += 1
        self.wl = grand.stream(self.sc.seed, grand.STREAM_WORKLOAD)
        self.ev = grand.stream(self.sc.seed, grand.STREAM_EVENTS)
        self.used = [set() if f["distinct"] else None for f in self.spec.fetches]
        for fi, f in enumerate(self.spec.fetches):
            first = f["at"] + (self.gap(f["rate"]) if f["rate"] > 0 else 0)
            acts.append((first, seq, "fetch", (fi, f["count"])))
            seq += 1
        acts.sort(key=lambda a: (a[0], a[1]))
        return acts, seq

    def gap(self, rate):
        """workload.c's exp_gap, in seconds (whole microseconds, as there)."""
        return int(-math.log1p(-self.wl.double()) / rate * 1e6) / 1e6

    def online(self, cls=None):
        """Peers online and not leaving, of class cls (any: None), in node order."""
        return [p for p in self.sc.peers if "left_s" not in p
                and (cls is None or p["cls"]["name"] == cls)]

    def pick_peer(self, cls, exclude=None):
        chosen, count = None, 0
        for p in self.online(cls):
            if exclude is not None and p["id"] in exclude:
                continue
            count += 1
            if self.wl.int_range(0, count) == 0:
                chosen = p
        return chosen

    def pick_file(self, group):
        chosen, count = None, 0
        with self.lock:
            names = list(self.published)
        for name in names:
            if group is not None and self.files[name]["group"] != group:
                continue
            count += 1
            if self.wl.int_range(0, count) == 0:
                chosen = name
        return chosen

    # -- the workload
    def publish(self, pi, k, t):
        p = self.spec.publishes[pi]
        peer = self.pick_peer(p["cls"])
        name = f"{p['name']}-{k}.bin"
        if peer is None:
            self.publish_failed += 1
            return
        rec = dict(peer=peer["name"], file=name, at=t)
        self.publishes.append(rec)
        f = self.files[name]
        with open(os.path.join(peer["dir"], name), "wb") as fh:
            fh.write(f["data"])
        self.start_call(peer, rec, "/store_file", name, self.on_published)

    def on_published(self, rec):
        ok = rec["http_status"] == 200 and rec["reply"].get("status") == "success"
        with self.lock:
            if ok:
                self.published.append(rec["file"])
            else:
                self.publish_failed += 1
        if not ok:
            say(f"store_file {rec['file']} at {rec['peer']}: {rec['http_status']}"
                f" {str(rec['reply'])[:200]}")

    def fetch(self, fi, left, t, schedule):
        f = self.spec.fetches[fi]
        used = self.used[fi]
        peer = self.pick_peer(f["cls"], used)
        name = self.pick_file(f["files"])
        rec = dict(group=f["name"], peer=peer["name"] if peer else "", file=name or "", at=t)
        self.fetch_log.append(rec)
        if peer is None or name is None:
            rec.update(answered=t, http_status=None, reply={"error": "no peer or no file"})
        else:
            if used is not None:
                used.add(peer["id"])
            self.start_call(peer, rec, "/fetch_file", name, self.on_fetched)
        if f["rate"] <= 0:
            for _ in range(left - 1):
                schedule(t, "fetch", (fi, 1))
        elif left > 1:
            schedule(t + self.gap(f["rate"]), "fetch", (fi, left - 1))

    def on_fetched(self, rec):
        ok = rec["http_status"] == 200 and rec["reply"].get("status") == "success"
        if ok:
            peer = next(p for p in self.sc.peers if p["name"] == rec["peer"])
            path = os.path.join(peer["dir"], "downloads", rec["file"])
            h = hashlib.sha256()
            try:
                with open(path, "rb") as fh:
                    for b in iter(lambda: fh.read(1 << 20), b""):
                        h.update(b)
                ok = h.hexdigest() == self.files[rec["file"]]["sha256"]
            except OSError:
                ok = False
        rec["sha_ok"] = ok
        if not ok:
            say(f"fetch_file {rec['file']} at {rec['peer']}: {rec['http_status']}"
                f" {str(rec['reply'])[:200]}{'' if rec['http_status'] != 200 else ' (bytes wrong)'}")

    def start_call(self, peer, rec, path, name, done):
        em = self.em
        with self.lock:
            self.running += 1

        def body():
            try:
                st, b = em.in_ns(peer["id"], em.http, peer["id"], "POST", path,
                                 {"filename": name}, max(10, self.sc.duration))
                rec["http_status"] = st
                try:
                    rec["reply"] = em.json_of(b)
                except ValueError:
                    rec["reply"] = {"error": b[:200].decode(errors="replace")}
            except Exception as e:   # noqa: BLE001 — a failed call, recorded
                rec["http_status"], rec["reply"] = None, {"error": str(e)}
            rec["answered"] = time.monotonic() - em.t0
            try:
                done(rec)
            finally:
                with self.lock:
                    self.running -= 1
        threading.Thread(target=body, daemon=True).start()

    # -- leaves and crashes: the simulator's pick (experiment.c, pick_and_leave)
    def event(self, e, t):
        nodes = self.online(e["cls"])
        k = min(e["count"], len(nodes))
        chosen = []
        for i in range(k):
            j = i + self.ev.int_range(0, len(nodes) - i)
            nodes[i], nodes[j] = nodes[j], nodes[i]
            chosen.append(nodes[i])
        members = [p for p in self.sc.peers if p["member"] and "left_s" not in p]
        for p in chosen:
            if e["action"] == "shutdown" and p["member"]:
                self.graceful(p, t, members)
            else:
                row = dict(t_s=t, peer=p["name"], leave="crash", members=len(members),
                           manifests_moved=0, manifests_failed=0, chunks_moved=0,
                           chunks_failed=0, bytes_moved=0, expected_bytes=0)
                if e["action"] == "crash" and p["member"]:
                    self.leaves.append(row)
                self.em.stop_peer(p, e["action"], t)
        say(f"t = {t:.1f} s: {e['name']}: {e['action']} of"
            f" {', '.join(p['name'] for p in chosen) or 'nobody (none online)'}")

    def graceful(self, p, t, members):
        """SIGTERM; the row once the leaver logs its report (its last act)."""
        em = self.em
        held = 0
        for q in members:
            s = em.in_ns(q["id"], em.status_of, q)
            held += (s or {}).get("chunk_bytes", 0)
        row = dict(t_s=None, peer=p["name"], leave="graceful", members=len(members) - 1,
                   expected_bytes=held // len(members) if members else 0, started=t)
        self.leaves.append(row)
        with self.lock:
            self.handing.add(p["name"])
        log = em.logs[p["name"]]
        with open(log, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            start = fh.tell()
        em.stop_peer(p, "shutdown", t)

        def watch():
            deadline = time.monotonic() + self.sc.duration
            pr = em.procs[p["name"]]
            found = None
            while found is None and time.monotonic() < deadline and not em.stop.is_set():
                with open(log, "rb") as fh:
                    fh.seek(start)
                    found = REPORT.search(fh.read().decode(errors="replace"))
                if found is None:
                    if pr.poll() is not None:
                        break
                    time.sleep(0.02)
            if found:
                m, mf, c, cf, b = (int(x) for x in found.groups())
                row.update(t_s=time.monotonic() - em.t0, manifests_moved=m, manifests_failed=mf,
                           chunks_moved=c, chunks_failed=cf, bytes_moved=b)
            else:
                row.update(t_s=time.monotonic() - em.t0, error="no report in its log")
                if not em.stop.is_set():
                    say(f"{p['name']}: no hand-off report in its log (exit {pr.poll()})")
            with self.lock:
                self.handing.discard(p["name"])
        threading.Thread(target=watch, daemon=True).start()

    # -- availability: what the online peers hold, every sample
    def sample_held(self, tick):
        with self.lock:
            names = list(self.published)
        if not names:
            self.avail[tick] = (None, None)
            return
        chunks, manifests = set(), set()
        for p in self.online():
            c, m = held_keys(p["dir"])
            chunks |= c
            manifests |= m
        ids = [i for n in names for i in self.files[n]["ids"]]
        self.avail[tick] = (sum(1 for n in names if n in manifests) / len(names),
                            sum(1 for i in ids if i in chunks) / len(ids) if ids else None)

    def copies(self):
        """mb_ring_check_copies over the online members' data folders, and the
        losses over every online peer's (workload.c's availability)."""
        with self.lock:
            names = list(self.published)
        members = [p for p in self.online() if p["member"]]
        stores = [held_keys(p["dir"]) for p in members]
        everyone = [held_keys(p["dir"]) for p in self.online() if not p["member"]] + stores
        r = min(self.spec.replication, len(stores))
        short = lost = mlost = 0
        for n in names:
            if not any(n in m for _, m in everyone):
                mlost += 1
            for i in self.files[n]["ids"]:
                if sum(1 for c, _ in stores if i in c) < r:
                    short += 1
                if not any(i in c for c, _ in everyone):
                    lost += 1
        return dict(manifests_lost=mlost, chunks_lost=lost, chunks_short=short)

    # -- the run (em.t0 set, samplers running)
    def run(self):
        em, sc = self.em, self.sc
        acts, seq = self.actions()
        pending = list(acts)
        lock = threading.Lock()

        def schedule(t, kind, arg):
            nonlocal seq
            with lock:
                pending.append((t, seq, kind, arg))
                seq += 1
                pending.sort(key=lambda a: (a[0], a[1]))
        em.stopped = "duration"
        last_note = 0
        while time.monotonic() - em.t0 < sc.duration:
            if em.stop.is_set():
                em.stopped = "interrupted"
                break
            now = time.monotonic() - em.t0
            while pending and pending[0][0] <= now:
                t, _, kind, arg = pending.pop(0)
                if kind == "publish":
                    self.publish(arg[0], arg[1], now)
                elif kind == "event":
                    self.event(arg, now)
                else:
                    self.fetch(arg[0], arg[1], now, schedule)
            em.check_alive()
            with self.lock:
                busy = self.running + len(self.handing)
            workload_left = any(k in ("publish", "fetch") for _, _, k, _ in pending)
            if sc.stop == "all-complete" and not workload_left and busy == 0:
                em.stopped = "all-complete"
                break
            if time.monotonic() - last_note >= 10:
                last_note = time.monotonic()
                say(f"t = {now:.0f} s: {len(self.published)} files stored,"
                    f" {sum(1 for f in self.fetch_log if 'answered' in f)} of"
                    f" {sum(f['count'] for f in self.spec.fetches)} fetches answered,"
                    f" {len([r for r in self.leaves if r['leave'] == 'graceful'])} graceful leaves")
            time.sleep(0.02)
        em.t_end = time.monotonic() - em.t0
        self.end = self.copies()
        if em.stopped != "interrupted":
            self.check_all()

    def check_all(self):
        """After the run (its figures taken): every stored file fetched once
        more, by the online peers in turn (CHECK_PARALLEL at a time), its bytes
        checked (fetches.csv, kind check); not part of the simulator's figures."""
        em = self.em
        with self.lock:
            names = sorted(self.published)
        peers = self.online()
        self.checks = []
        if not peers:
            return
        t = time.monotonic()
        deadline = t + max(10, self.sc.duration)
        for i, name in enumerate(names):
            while (sum(1 for r in self.checks if "sha_ok" not in r) >= CHECK_PARALLEL
                   and time.monotonic() < deadline):
                if em.stop.wait(0.01):
                    raise Interrupted()
            peer = peers[i % len(peers)]
            rec = dict(group="check", peer=peer["name"], file=name,
                       at=time.monotonic() - em.t0)
            self.checks.append(rec)
            self.start_call(peer, rec, "/fetch_file", name, self.on_fetched)
        while any("sha_ok" not in r for r in self.checks) and time.monotonic() < deadline:
            if em.stop.wait(0.01):
                raise Interrupted()
        bad = sum(1 for r in self.checks if not r.get("sha_ok"))
        slow = sum(1 for r in self.checks if r.get("answered", 0) - r["at"] > 2)
        say(f"after the run: {len(self.checks) - bad} of {len(self.checks)} stored files"
            f" fetched with the right SHA-256 by the {len(peers)} peers online,"
            f" {slow} of them after more than 2 s ({time.monotonic() - t:.1f} s)")

    # -- the figures
    def summary(self):
        """The ring's summary.csv columns (sim/metrics.c)."""
        ok = [f for f in self.fetch_log if f.get("sha_ok")]
        times = [f["answered"] - f["at"] for f in ok]
        graceful = [r for r in self.leaves if r["leave"] == "graceful"]
        ratios = [r.get("bytes_moved", 0) / r["expected_bytes"] for r in graceful
                  if r.get("expected_bytes")]
        repair = sum(((p.get("final") or p.get("final_sample") or {}).get("repair_bytes") or 0)
                     for p in self.sc.peers)
        chunks = sum(f["reply"].get("chunks") or 0 for f in ok)
        swarm = sum(f["reply"].get("chunks_swarm") or 0 for f in ok)
        end = getattr(self, "end", {})
        return dict(
            manifests_total=len(self.published), manifests_lost=end.get("manifests_lost"),
            chunks_lost=end.get("chunks_lost"), chunks_short=end.get("chunks_short"),
            publishes_failed=self.publish_failed,
            manifests_moved=sum(r.get("manifests_moved", 0) for r in graceful),
            bytes_moved=sum(r.get("bytes_moved", 0) for r in graceful) + repair,
            lookups_total=len(self.fetch_log),
            lookups_failed=sum(1 for f in self.fetch_log if f.get("http_status") in (404, 503)),
            lookups_redirected=sum(1 for f in self.fetch_log
                                   if (f.get("reply") or {}).get("redirects")),
            fetches_total=len(self.fetch_log),
            fetches_failed=sum(1 for f in self.fetch_log if not f.get("sha_ok")),
            fetch_time_mean_s=sum(times) / len(times) if times else None,
            fetch_time_max_s=max(times) if times else None,
            fetch_swarm_chunk_share=swarm / chunks if chunks else None,
            leave_bytes_ratio_max=max(ratios) if ratios else None)

    def write(self, out, fmt):
        with open(os.path.join(out, "leaves.csv"), "w") as f:
            f.write("t_s,peer,leave,members,manifests_moved,manifests_failed,chunks_moved,"
                    "chunks_failed,bytes_moved,expected_bytes\n")
            for r in self.leaves:
                f.write(",".join(fmt(r.get(k)) for k in (
                    "t_s", "peer", "leave", "members", "manifests_moved", "manifests_failed",
                    "chunks_moved", "chunks_failed", "bytes_moved", "expected_bytes")) + "\n")
        with open(os.path.join(out, "fetches.csv"), "w") as f:
            f.write("kind,group,peer,file,started_s,answered_s,http_status,status,sha256_ok,"
                    "chunks,chunks_swarm,sources,manifests_read,error\n")
            for kind, rows in (("store", self.publishes), ("fetch", self.fetch_log),
                               ("check", getattr(self, "checks", []))):
                for r in rows:
                    rep = r.get("reply") or {}
                    ok = r.get("sha_ok") if kind == "fetch" else rep.get("status") == "success"
                    f.write(",".join(fmt(v) for v in (
                        kind, r.get("group", ""), r["peer"], r["file"], r["at"],
                        r.get("answered"), r.get("http_status"), rep.get("status"),
                        "yes" if ok else "no", rep.get("chunks"), rep.get("chunks_swarm"),
                        rep.get("sources"), rep.get("manifests_read"),
                        (rep.get("error") or "").replace(",", ";")[:200])) + "\n")
