"""GLib's GRand as minibit-sim uses it: g_rand_new_with_seed_array (MT19937's
init_by_array, as Python's random.seed of an int), g_rand_int_range and
g_rand_double (GLib >= 2.2's algorithms), and sim/experiment.c's streams, so
the emulation draws what the simulator draws (the same peers leave)."""
import random

STREAM_EVENTS = 3
STREAM_WORKLOAD = 4
_TRANSFORM = 2.3283064365386962890625e-10   # G_RAND_DOUBLE_TRANSFORM, 2^-32


class GRand:
    def __init__(self, words):
        key = 0
        for i, w in enumerate(words):
            key |= (w & 0xFFFFFFFF) << (32 * i)
        if (words[-1] & 0xFFFFFFFF) == 0:
            raise ValueError("the last seed word must not be 0 (Python drops it)")
        self._r = random.Random(key)   # init_by_array over the same 32-bit words

    def int(self):
        return self._r.getrandbits(32)

    def int_range(self, begin, end):
        """g_rand_int_range: [begin, end), by rejection as GLib does."""
        dist = (end - begin) & 0xFFFFFFFF
        if dist == 0:
            return begin
        if dist <= 0x80000000:
            leftover = (0x80000000 % dist) * 2
            if leftover >= dist:
                leftover -= dist
            maxvalue = 0xFFFFFFFF - leftover
        else:
            maxvalue = dist - 1
        while True:
            v = self.int()
            if v <= maxvalue:
                return begin + v % dist

    def double(self):
        """g_rand_double: [0, 1) from two words."""
        while True:
            v = self.int() * _TRANSFORM
            v = (v + self.int()) * _TRANSFORM
            if v < 1.0:
                return v


def stream(seed, sid):
    """sim/experiment.c's stream (seed, id)."""
    return GRand([seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF, 0x5EED, sid])
