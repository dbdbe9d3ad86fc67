"""What tools/emulate's parts share: the exit-2 error, the messages, and the
scenario's units (as sim/units.c)."""
import re
import sys

PROG = "tools/emulate"


class Refused(Exception):
    """Bad input or a scenario this tool cannot run: exit 2."""


class Interrupted(Exception):
    pass


def say(*a):
    print(f"{PROG}:", *a, file=sys.stderr, flush=True)


# ---- units (as sim/units.c) ----------------------------------------------------
SIZE = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "KB": 1e3, "kB": 1e3,
        "MB": 1e6, "GB": 1e9}
DUR = {"us": 1e-6, "ms": 1e-3, "s": 1, "min": 60, "h": 3600, "d": 86400}
RATE = {"bit": 1, "kbit": 1e3, "Kbit": 1e3, "Mbit": 1e6, "Gbit": 1e9,
        "bit/s": 1, "kbit/s": 1e3, "Kbit/s": 1e3, "Mbit/s": 1e6, "Gbit/s": 1e9,
        "B/s": 8, "KiB/s": 8192, "MiB/s": 8 * 1024**2, "KB/s": 8e3, "kB/s": 8e3,
        "MB/s": 8e6}


def unit(text, table, what, zero_ok=True):
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z/]*)\s*", text)
    if not m or (m.group(2) not in table and not (m.group(2) == "" and float(m.group(1)) == 0)):
        raise Refused(f"{what}: \"{text}\" is not a {'/'.join(k for k in table)} value")
    v = float(m.group(1)) * (table[m.group(2)] if m.group(2) else 1)
    if v == 0 and not zero_ok:
        raise Refused(f"{what}: must not be 0")
    return v
