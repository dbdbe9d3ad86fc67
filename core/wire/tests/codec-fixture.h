/* codec-fixture.h — what the codec's test programs (test_codec.c,
 * test_codec_bad.c) build their input from: messages with a value in every
 * field of their type's schema, and frames byte by byte.
 *
 * Invariants: everything here is deterministic (a seed picks the values, no
 * clock, no global RNG), so a failing case is the same on every run; the
 * messages full_message builds are valid (they encode), and raw_frame's and
 * valid_frame's frames have a correct length and crc32 around their
 * payload. */
#pragma once

#include <glib.h>

#include "wire/codec.h"

/* A manifest "f.bin" of 10 + seed bytes in chunks of 4, every id set, with
 * holders on chunks 0 and 2. */
MbManifest *small_manifest (guint seed);
/* A message of type t with a value in every field of its schema; seed 1
 * gives extreme values (all-ones integers, long strings, no items). */
MbMessage *full_message (MbMsgType t, guint seed);

/* Big-endian integers and a u16-length-prefixed string, appended to a. */
void put_u32 (GByteArray *a, guint32 v);
void put_u16 (GByteArray *a, guint16 v);
void put_str (GByteArray *a, const char *s, gsize len);
/* A frame with a correct length and crc around any payload (NULL: none). */
void raw_frame (GByteArray *out, guint type, const GByteArray *payload);
/* full_message (t, 0), encoded and appended to out. */
void valid_frame (GByteArray *out, MbMsgType t);
