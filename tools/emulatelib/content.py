"""The core's generated content (core/content/chunk.c, mb_chunk_generate): the
bytes minibit-sim's publishes stand for, so the emulation stores the very
chunks (the same SHA-256 ids, hence the same places on the ring)."""
import hashlib
import struct

_M = (1 << 64) - 1


def _seed_of(name, index):
    h = 0xCBF29CE484222325
    for c in name.encode():
        h = ((h ^ c) * 0x100000001B3) & _M
    h ^= (index + 0x9E3779B97F4A7C15 + ((h << 6) & _M) + (h >> 2)) & _M
    return h or 1


def chunk(name, index, length):
    """mb_chunk_generate (name, index, out, length): xorshift64, little-endian."""
    x = _seed_of(name, index)
    words = []
    append = words.append
    for _ in range((length + 7) // 8):
        x ^= (x << 13) & _M
        x ^= x >> 7
        x ^= (x << 17) & _M
        append(x)
    return struct.pack(f"<{len(words)}Q", *words)[:length]


def file_chunks(name, size, chunk_size):
    """[(bytes, sha256 hex id)] of a generated file of `size` bytes."""
    out = []
    for i in range((size + chunk_size - 1) // chunk_size):
        b = chunk(name, i, min(chunk_size, size - i * chunk_size))
        out.append((b, hashlib.sha256(b).hexdigest()))
    return out
