/* test_bitfield.c — set/test/count, next missing, and the wire form's checks. */
#include "swarm/bitfield.h"

static void
test_bitfield_set_test_count (void)
{
  g_autoptr (MbBitfield) bf = mb_bitfield_new (13);
  g_assert_cmpuint (mb_bitfield_size (bf), ==, 13);
  g_assert_cmpuint (mb_bitfield_count (bf), ==, 0);
  g_assert_true (mb_bitfield_set (bf, 0));
  g_assert_false (mb_bitfield_set (bf, 0));
  g_assert_true (mb_bitfield_set (bf, 12));
  g_assert_true (mb_bitfield_test (bf, 0));
  g_assert_true (mb_bitfield_test (bf, 12));
  g_assert_false (mb_bitfield_test (bf, 5));
  g_assert_cmpuint (mb_bitfield_count (bf), ==, 2);
  g_assert_true (mb_bitfield_clear (bf, 0));
  g_assert_false (mb_bitfield_clear (bf, 0));
  g_assert_cmpuint (mb_bitfield_count (bf), ==, 1);
  mb_bitfield_set_all (bf);
  g_assert_true (mb_bitfield_is_complete (bf));
  g_assert_cmpuint (mb_bitfield_count (bf), ==, 13);
}

static void
test_bitfield_next_missing_wraps (void)
{
  g_autoptr (MbBitfield) bf = mb_bitfield_new (40);
  for (guint i = 0; i < 40; i++)
    if (i != 3 && i != 33)
      mb_bitfield_set (bf, i);
  g_assert_cmpuint (mb_bitfield_next_missing (bf, 0), ==, 3);
  g_assert_cmpuint (mb_bitfield_next_missing (bf, 4), ==, 33);
  g_assert_cmpuint (mb_bitfield_next_missing (bf, 34), ==, 3);
  g_assert_cmpuint (mb_bitfield_next_missing (bf, 99), ==, 3);
  mb_bitfield_set (bf, 3);
  mb_bitfield_set (bf, 33);
  g_assert_cmpuint (mb_bitfield_next_missing (bf, 0), ==, 40);
}

static void
test_bitfield_wire_bit_order_is_bep3 (void)
{
  g_autoptr (MbBitfield) bf = mb_bitfield_new (10);
  mb_bitfield_set (bf, 0);
  mb_bitfield_set (bf, 9);
  guint8 out[2];
  g_assert_cmpuint (mb_bitfield_wire_len (10), ==, 2);
  mb_bitfield_to_wire (bf, out);
  g_assert_cmphex (out[0], ==, 0x80);
  g_assert_cmphex (out[1], ==, 0x40);
  g_autoptr (GError) err = NULL;
  g_autoptr (MbBitfield) back = mb_bitfield_from_wire (10, out, 2, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (mb_bitfield_count (back), ==, 2);
  g_assert_true (mb_bitfield_test (back, 9));
}

static void
test_bitfield_wire_refuses_spare_bits_and_bad_length (void)
{
  const guint8 spare[2] = { 0xff, 0xe0 }; /* 10 pieces: bit 10 set */
  g_autoptr (GError) err = NULL;
  g_assert_null (mb_bitfield_from_wire (10, spare, 2, &err));
  g_assert_error (err, MB_BITFIELD_ERROR, MB_BITFIELD_ERROR_SPARE_BITS);
  g_clear_error (&err);
  g_assert_null (mb_bitfield_from_wire (10, spare, 1, &err));
  g_assert_error (err, MB_BITFIELD_ERROR, MB_BITFIELD_ERROR_LENGTH);
  g_clear_error (&err);
  g_assert_null (mb_bitfield_from_wire (10, spare, 3, &err));
  g_assert_error (err, MB_BITFIELD_ERROR, MB_BITFIELD_ERROR_LENGTH);
  g_clear_error (&err);
  const guint8 ok[2] = { 0xff, 0xc0 };
  g_autoptr (MbBitfield) bf = mb_bitfield_from_wire (10, ok, 2, &err);
  g_assert_no_error (err);
  g_assert_true (mb_bitfield_is_complete (bf));
}

static void
test_bitfield_wants_from (void)
{
  g_autoptr (MbBitfield) a = mb_bitfield_new (20);
  g_autoptr (MbBitfield) b = mb_bitfield_new (20);
  g_assert_false (mb_bitfield_wants_from (a, b));
  mb_bitfield_set (b, 17);
  g_assert_true (mb_bitfield_wants_from (a, b));
  mb_bitfield_set (a, 17);
  g_assert_false (mb_bitfield_wants_from (a, b));
}

static void
test_bitfield_empty (void)
{
  g_autoptr (MbBitfield) bf = mb_bitfield_new (0);
  g_assert_true (mb_bitfield_is_complete (bf));
  g_assert_cmpuint (mb_bitfield_next_missing (bf, 0), ==, 0);
  g_autoptr (GError) err = NULL;
  g_autoptr (MbBitfield) back = mb_bitfield_from_wire (0, NULL, 0, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (mb_bitfield_size (back), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/bitfield/set-test-count", test_bitfield_set_test_count);
  g_test_add_func ("/bitfield/next-missing-wraps", test_bitfield_next_missing_wraps);
  g_test_add_func ("/bitfield/wire-bit-order-is-bep3", test_bitfield_wire_bit_order_is_bep3);
  g_test_add_func ("/bitfield/wire-refuses-spare-bits-and-bad-length",
                   test_bitfield_wire_refuses_spare_bits_and_bad_length);
  g_test_add_func ("/bitfield/wants-from", test_bitfield_wants_from);
  g_test_add_func ("/bitfield/empty", test_bitfield_empty);
  return g_test_run ();
}
