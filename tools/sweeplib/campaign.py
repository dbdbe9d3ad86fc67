"""campaign — read a campaign file and expand it into runs.

The format (README.md, "Campaigns"):

    [campaign]
    name = freeriders                # optional; default: the file's basename
    scenario = ../freeriders.ini     # relative to the campaign file
    seeds = 1..10                    # a range a..b, or a list 1, 2, 7
    mode = grid                      # grid (default) or zip
    metrics = bound_ratio            # summary.csv columns to plot (optional)
    class_metrics = share_ratio      # classes.csv columns to plot (optional)
    [set]
    file.size = 20MiB                # minibit-sim --set for every run
    [vary]
    peers.free.count = 0, 20, 40     # a list, or a range a..b step s

Comments: lines starting with # or ;, and anything after whitespace + #.
Every error names the file, the line and the key (CampaignError).
"""
import decimal
import itertools
import os
import re

CAMPAIGN_KEYS = ("name", "scenario", "seeds", "mode", "metrics", "class_metrics")
DEFAULT_METRICS = ["completion_p50_s"]
DEFAULT_CLASS_METRICS = ["download_time_mean_s"]
MAX_RUNS = 100000

_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_NUM_UNIT_RE = re.compile(r"^(-?[0-9]+(?:\.[0-9]+)?)([A-Za-z%/]*)$")
_RANGE_RE = re.compile(r"^(\S+)\s*\.\.\s*(\S+?)(?:\s+step\s+(\S+))?$")


class CampaignError(Exception):
    """Bad input in a campaign file: str() is the message for the user."""


class Campaign:
    """A parsed campaign: name, scenario path, seeds, [set], [vary], points."""

    def __init__(self, path):
        self.path = path
        self.name = None
        self.scenario = None
        self.seeds = []
        self.mode = "grid"
        self.metrics = list(DEFAULT_METRICS)
        self.class_metrics = list(DEFAULT_CLASS_METRICS)
        self.sets = []        # [(key, value)]
        self.vary = []        # [(key, [values])]
        self.lines = {}       # (group, key) -> line number, for later errors
        self.points = []      # [Point]

    def where(self, group, key):
        """file:line of a key, for error messages."""
        return "%s:%d" % (self.path, self.lines.get((group, key), 0))


class Point:
    """One combination of the varied keys' values."""

    def __init__(self, values):
        self.values = values  # [(key, value)] in [vary] order
        self.name = point_name(values)


def _strip_comment(line):
    m = re.search(r"\s#", line)
    return line[:m.start()] if m else line


def _read_groups(path):
    """{group: [(key, value, lineno)]}, keeping order; syntax errors raise."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise CampaignError("%s: cannot read the campaign file: %s" % (path, e.strerror))
    except UnicodeDecodeError:
        raise CampaignError("%s: not a text file (UTF-8)" % path)
    groups, group, seen = {}, None, set()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        line = _strip_comment(line).strip()
        if line.startswith("["):
            if not line.endswith("]"):
                raise CampaignError("%s:%d: a group header is [name]; got %r" % (path, n, raw))
            group = line[1:-1].strip()
            if group not in ("campaign", "set", "vary"):
                raise CampaignError("%s:%d: unknown group [%s]; the groups are [campaign], "
                                    "[set] and [vary]" % (path, n, group))
            if group in groups:
                raise CampaignError("%s:%d: group [%s] appears twice" % (path, n, group))
            groups[group] = []
            continue
        if "=" not in line:
            raise CampaignError("%s:%d: expected key = value, got %r" % (path, n, raw))
        if group is None:
            raise CampaignError("%s:%d: %r comes before any group; start with [campaign]"
                                % (path, n, raw))
        key, value = (s.strip() for s in line.split("=", 1))
        if (group, key) in seen:
            raise CampaignError("%s:%d: [%s] %s is given twice" % (path, n, group, key))
        seen.add((group, key))
        groups[group].append((key, value, n))
    return groups


def _split_list(value):
    return [v.strip() for v in value.split(",")]


def parse_seeds(value, where):
    """'1..10' or '1, 2, 7' -> [1, ..., 10]."""
    seeds = []
    m = re.match(r"^([0-9]+)\s*\.\.\s*([0-9]+)$", value)
    if m:
        a, b = int(m.group(1)), int(m.group(2))
        if a > b:
            raise CampaignError("%s: [campaign] seeds: %r is an empty range (a..b needs a <= b)"
                                % (where, value))
        if b - a >= MAX_RUNS:
            raise CampaignError("%s: [campaign] seeds: %r is more than %d seeds"
                                % (where, value, MAX_RUNS))
        seeds = list(range(a, b + 1))
    else:
        for item in _split_list(value):
            if not re.match(r"^[0-9]+$", item):
                raise CampaignError("%s: [campaign] seeds: %r is not a seed; write a range "
                                    "such as 1..10 or a list such as 1, 2, 7" % (where, item))
            seeds.append(int(item))
    if len(set(seeds)) != len(seeds):
        raise CampaignError("%s: [campaign] seeds: %r names a seed twice" % (where, value))
    return seeds


def _decimal(text, key, where):
    m = _NUM_UNIT_RE.match(text)
    if not m:
        return None, None
    try:
        return decimal.Decimal(m.group(1)), m.group(2)
    except decimal.InvalidOperation:
        raise CampaignError("%s: [vary] %s: %r is not a number" % (where, key, text))


def parse_values(key, value, where):
    """A [vary] value: 'a, b, c' (a list); 'a..b step s' (a range: numbers, with
    the same unit on all three); 'a..b' with plain integers (step 1); anything
    else is a single value."""
    if value == "":
        raise CampaignError("%s: [vary] %s: no values; write a list (0, 20, 40) or a range "
                            "(0..40 step 20)" % (where, key))
    if "," in value:
        values = _split_list(value)
        if "" in values:
            raise CampaignError("%s: [vary] %s: %r has an empty item" % (where, key, value))
    else:
        m = _RANGE_RE.match(value)
        plain_ints = m and not m.group(3) and all(re.match(r"^-?[0-9]+$", m.group(i))
                                                   for i in (1, 2))
        if m and (m.group(3) or plain_ints):
            values = _expand_range(key, value, m, where)
        else:
            values = [value]
    if len(set(values)) != len(values):
        raise CampaignError("%s: [vary] %s: %r gives a value twice" % (where, key, value))
    return values


def _expand_range(key, value, m, where):
    a, ua = _decimal(m.group(1), key, where)
    b, ub = _decimal(m.group(2), key, where)
    s, us = _decimal(m.group(3) or "1", key, where)
    if a is None or b is None or s is None:
        raise CampaignError("%s: [vary] %s: %r is not a range; write a..b step s with "
                            "numbers (e.g. 0..100 step 20, or 10MiB..50MiB step 10MiB)"
                            % (where, key, value))
    if m.group(3) is None:
        us = ua
    if not ua == ub == us:
        raise CampaignError("%s: [vary] %s: %r mixes units (%r, %r, %r); give all three "
                            "the same" % (where, key, value, ua, ub, us))
    if s <= 0:
        raise CampaignError("%s: [vary] %s: %r: the step must be positive" % (where, key, value))
    if b < a:
        raise CampaignError("%s: [vary] %s: %r is an empty range (a..b needs a <= b)"
                            % (where, key, value))
    if (b - a) / s >= MAX_RUNS:
        raise CampaignError("%s: [vary] %s: %r has more than %d values" % (where, key, value,
                                                                           MAX_RUNS))
    values, x = [], a
    while x <= b:
        values.append(_format_decimal(x) + ua)
        x += s
    return values


def _format_decimal(x):
    text = format(x.normalize(), "f")
    return "0" if text in ("-0", "") else text


def point_label(key):
    """The short name of a varied key in a point's folder: peers.NAME.key ->
    NAME.key, any other group.key as it is."""
    parts = key.split(".")
    if parts[0] == "peers" and len(parts) >= 3:
        return ".".join(parts[1:])
    return key


def _sanitize(value):
    return re.sub(r"[^A-Za-z0-9._+-]", "_", value)


def point_name(values):
    """'free.count=20' (several keys: joined by ','); 'default' with no [vary]."""
    if not values:
        return "default"
    return ",".join("%s=%s" % (point_label(k), _sanitize(v)) for k, v in values)


def _check_key(group, key, where):
    if not _KEY_RE.match(key):
        raise CampaignError("%s: [%s] %r is not a scenario key; write group.key as for "
                            "minibit-sim --set (e.g. peers.free.count, file.size)"
                            % (where, group, key))


def load(path):
    """Parse and validate PATH; returns a Campaign with its points expanded."""
    c = Campaign(path)
    groups = _read_groups(path)
    if "campaign" not in groups:
        raise CampaignError("%s: no [campaign] group; it needs at least scenario = and seeds ="
                            % path)
    for key, value, n in groups["campaign"]:
        c.lines[("campaign", key)] = n
        _campaign_key(c, key, value, "%s:%d" % (path, n))
    for key in ("scenario", "seeds"):
        if ("campaign", key) not in c.lines:
            raise CampaignError("%s: [campaign] %s is missing" % (path, key))
    if c.name is None:
        c.name = re.sub(r"\.ini$", "", os.path.basename(path))
        if not _NAME_RE.match(c.name):
            raise CampaignError("%s: the file's name %r cannot name the campaign's folder; "
                                "give [campaign] name = (letters, digits, . _ -)" % (path, c.name))
    for key, value, n in groups.get("set", []):
        where = "%s:%d" % (path, n)
        c.lines[("set", key)] = n
        _check_key("set", key, where)
        c.sets.append((key, value))
    for key, value, n in groups.get("vary", []):
        where = "%s:%d" % (path, n)
        c.lines[("vary", key)] = n
        _check_key("vary", key, where)
        if ("set", key) in c.lines:
            raise CampaignError("%s: [vary] %s is also in [set] (line %d); keep one"
                                % (where, key, c.lines[("set", key)]))
        c.vary.append((key, parse_values(key, value, where)))
    labels = [point_label(k) for k, _ in c.vary]
    if len(set(labels)) != len(labels):
        raise CampaignError("%s: [vary] two keys have the same short name in point folders: %s"
                            % (path, ", ".join(labels)))
    c.points = _expand(c)
    if len(c.points) * len(c.seeds) > MAX_RUNS:
        raise CampaignError("%s: %d points x %d seeds is more than %d runs"
                            % (path, len(c.points), len(c.seeds), MAX_RUNS))
    names = [p.name for p in c.points]
    if len(set(names)) != len(names):
        raise CampaignError("%s: [vary] two points get the same folder name (values that "
                            "differ only in characters other than letters, digits, . _ + -)"
                            % path)
    return c


def _campaign_key(c, key, value, where):
    if key not in CAMPAIGN_KEYS:
        raise CampaignError("%s: unknown key [campaign] %s; the keys are %s"
                            % (where, key, ", ".join(CAMPAIGN_KEYS)))
    if key == "name":
        if not _NAME_RE.match(value):
            raise CampaignError("%s: [campaign] name: %r must be letters, digits, . _ - "
                                "(it names a folder)" % (where, value))
        c.name = value
    elif key == "scenario":
        if value == "":
            raise CampaignError("%s: [campaign] scenario: empty; give the scenario file's path "
                                "relative to the campaign file" % where)
        path = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(c.path)), value))
        if not os.path.isfile(path):
            raise CampaignError("%s: [campaign] scenario: %s does not exist (the path is "
                                "relative to the campaign file)" % (where, path))
        c.scenario = path
    elif key == "seeds":
        c.seeds = parse_seeds(value, where)
    elif key == "mode":
        if value not in ("grid", "zip"):
            raise CampaignError("%s: [campaign] mode: %r; write grid (every combination) or zip "
                                "(the i-th values together)" % (where, value))
        c.mode = value
    else:
        names = [v for v in _split_list(value) if v]
        if not names or any(not re.match(r"^[A-Za-z0-9_.]+$", v) for v in names):
            raise CampaignError("%s: [campaign] %s: %r; write column names separated by commas"
                                % (where, key, value))
        setattr(c, key, names)


def _expand(c):
    if not c.vary:
        return [Point([])]
    keys = [k for k, _ in c.vary]
    lists = [v for _, v in c.vary]
    if c.mode == "zip":
        lengths = {len(v) for v in lists}
        if len(lengths) != 1:
            detail = ", ".join("%s has %d" % (k, len(v)) for k, v in c.vary)
            raise CampaignError("%s: mode = zip needs as many values for every [vary] key (%s)"
                                % (c.where("campaign", "mode"), detail))
        combos = zip(*lists)
    else:
        total = 1
        for v in lists:
            total *= len(v)
        if total > MAX_RUNS:
            raise CampaignError("%s: [vary] the grid has %d points, more than %d"
                                % (c.path, total, MAX_RUNS))
        combos = itertools.product(*lists)
    return [Point(list(zip(keys, combo))) for combo in combos]
