/* test_core.c -- core utilities: JSON reader (values, escapes, errors with byte offsets,
 * depth limit), SHA-256 (FIPS test vectors), UTF-8, dp_buf, atomic files, allocation failure
 * injection. */
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "core/sha256.h"
#include "core/utf8.h"
#include "testlib.h"

static void test_json(void) {
  const char *t = "{\"a\": 1.5, \"b\": [true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\"], \"c\": {\"d\": -2e3}, \"e\": \"\"}";
  dp_json_doc *d = dp_json_parse(t, strlen(t), "t.json");
  CHECK(d != NULL, "%s", dp_error_message());
  const dp_json *r = dp_json_root(d);
  CHECK(dp_json_get_num(r, "a", 0) == 1.5, "a");
  const dp_json *b = dp_json_get(r, "b");
  CHECK(dp_json_len(b) == 4 && dp_json_bool(dp_json_at(b, 0), 0) == 1 && dp_json_is(dp_json_at(b, 2), DP_JSON_NULL), "array");
  CHECK(!strcmp(dp_json_str(dp_json_at(b, 3), ""), "x\xc3\xa9\xf0\x9f\x98\x80\n"), "escapes: %s", dp_json_str(dp_json_at(b, 3), ""));
  CHECK(dp_json_get_int(dp_json_get(r, "c"), "d", 0) == -2000, "nested int");
  CHECK(dp_json_get_str(r, "e", NULL) && !*dp_json_get_str(r, "e", NULL), "empty string");
  CHECK(dp_json_get(r, "zz") == NULL && dp_json_get_num(r, "zz", 7) == 7, "missing key default");
  dp_json_free(d);

  const char *bad[] = {"{\"a\" 1}", "[1,]", "\"abc", "{\"a\":tru}", "[1] x", "", "-", "01", "{\"a\":\"\x01\"}", "[1.]", "\"\\q\""};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    d = dp_json_parse(bad[i], strlen(bad[i]), "bad.json");
    CHECK(d == NULL && strstr(dp_error_message(), "bad.json: byte "), "bad[%zu] '%s' -> %s", i, bad[i], dp_error_message());
    dp_json_free(d);
  }
  /* Depth bomb: an error, not a stack overflow. */
  size_t n = 100000;
  char *deep = malloc(n);
  memset(deep, '[', n);
  d = dp_json_parse(deep, n, "deep.json");
  CHECK(d == NULL && strstr(dp_error_message(), "deep"), "depth: %s", dp_error_message());
  free(deep);
  /* Every allocation failure is reported, never a crash. */
  for (long k = 0; k < 8; k++) {
    dp_alloc_fail_after(k, 0);
    d = dp_json_parse(t, strlen(t), "t.json");
    dp_alloc_fail_after(-1, 0);
    CHECK(d || strstr(dp_error_message(), "out of memory"), "oom at %ld: %s", k, dp_error_message());
    dp_json_free(d);
  }
}

static void test_sha256(void) {
  char hex[65];
  dp_sha256_hex("abc", 3, hex);
  CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "abc: %s", hex);
  dp_sha256_hex("", 0, hex);
  CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "empty: %s", hex);
  const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  dp_sha256_hex(m, strlen(m), hex);
  CHECK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "448-bit: %s", hex);
  /* incremental in odd chunks == one shot, over 1,000,000 'a' */
  dp_sha256 s;
  uint8_t dg[32];
  dp_sha256_init(&s);
  char chunk[997];
  memset(chunk, 'a', sizeof chunk);
  size_t left = 1000000;
  while (left) { size_t k = left < sizeof chunk ? left : sizeof chunk; dp_sha256_update(&s, chunk, k); left -= k; }
  dp_sha256_final(&s, dg);
  dp_sha256_to_hex(dg, hex);
  CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"), "million a: %s", hex);
}

/* Both compressors (the SHA extensions where the CPU has them, and the portable code) on the
 * FIPS vectors (test_sha256 run twice) and on random inputs of every length 0..320 and 1 MiB fed
 * in odd pieces: the same digests. */
static void test_sha256_paths(void) {
  int hw = dp_sha256_hw();
  printf("  sha256: %s\n", hw ? "SHA extensions (and the portable code)" : "portable code only (no SHA extensions here)");
  dp_sha256_force_portable(1);
  test_sha256();
  dp_sha256_force_portable(0);
  enum { BIG = 1 << 20 };
  uint8_t *buf = malloc(BIG);
  uint64_t z = 88172645463325252ull;
  for (size_t i = 0; i < BIG; i++) z ^= z << 13, z ^= z >> 7, z ^= z << 17, buf[i] = (uint8_t)z;
  int same = 1;
  for (size_t n = 0; n <= 320 && same; n++) {
    char a[65], b[65];
    dp_sha256_hex(buf + n, n, a);
    dp_sha256_force_portable(1);
    dp_sha256_hex(buf + n, n, b);
    dp_sha256_force_portable(0);
    same = !strcmp(a, b);
    if (!same) printf("  length %zu: %s vs portable %s\n", n, a, b);
  }
  char dg[2][65];
  for (int k = 0; k < 2; k++) {
    dp_sha256_force_portable(k);
    dp_sha256 s;
    uint8_t d[32];
    dp_sha256_init(&s);
    for (size_t off = 0, step = 1; off < BIG; off += step, step = step * 3 % 1021 + 1)
      dp_sha256_update(&s, buf + off, off + step > BIG ? BIG - off : step);
    dp_sha256_final(&s, d);
    dp_sha256_to_hex(d, dg[k]);
  }
  dp_sha256_force_portable(0);
  CHECK(same && !strcmp(dg[0], dg[1]), "sha256: the two compressors differ");
  free(buf);
}

static void test_utf8(void) {
  uint32_t cp;
  CHECK(dp_utf8_decode("\xe2\x82\xac", 3, &cp) == 3 && cp == 0x20AC, "euro");
  CHECK(dp_utf8_decode("\xc0\x80", 2, &cp) == 0, "overlong rejected");
  CHECK(dp_utf8_decode("\xed\xa0\x80", 3, &cp) == 0, "surrogate rejected");
  CHECK(dp_utf8_decode("\xf4\x90\x80\x80", 4, &cp) == 0, "above U+10FFFF rejected");
  CHECK(dp_utf8_decode("\xe2\x82", 2, &cp) == 0, "truncated rejected");
  CHECK(dp_utf8_complete_prefix("ab\xe2\x82", 4) == 2, "partial tail held back");
  CHECK(dp_utf8_complete_prefix("ab\xe2\x82\xac", 5) == 5, "complete tail kept");
  CHECK(dp_utf8_validate("ok\xff", 3) == 2, "invalid offset");
  char o[4];
  for (uint32_t c = 1; c < 0x110000; c += 0x3F1) {
    if (c >= 0xD800 && c < 0xE000) continue;
    size_t k = dp_utf8_encode(c, o);
    CHECK(dp_utf8_decode(o, k, &cp) == k && cp == c, "round trip U+%X", c);
  }
}

static void test_buf_file(void) {
  dp_buf b = {0};
  dp_buf_printf(&b, "%d-%s", 42, "x");
  dp_buf_json_string(&b, "q\"\n\x01", 4);
  CHECK(!strcmp(b.data, "42-x\"q\\\"\\n\\u0001\""), "buf: %s", b.data);
  dp_buf_free(&b);

  char path[256];
  snprintf(path, sizeof path, "/tmp/dp_test_core_%d.bin", (int)dp_test_rand_u32());
  CHECK(dp_file_write_atomic(path, "hello", 5) == DP_OK, "%s", dp_error_message());
  char *data; size_t len;
  CHECK(dp_file_read_all(path, &data, &len) == DP_OK && len == 5 && !memcmp(data, "hello", 5), "read back");
  dp_free(data);
  dp_atomic_file af;
  CHECK(dp_atomic_open(&af, path) == DP_OK, "open");
  dp_atomic_write(&af, "partial", 7);
  dp_atomic_abort(&af);
  CHECK(dp_file_read_all(path, &data, &len) == DP_OK && len == 5, "abort leaves the old file untouched");
  dp_free(data);
  dp_mapped m;
  CHECK(dp_file_map(path, &m) == DP_OK && m.size == 5 && !memcmp(m.data, "hello", 5), "map");
  dp_file_unmap(&m);
  remove(path);
  CHECK(dp_file_read_all(path, &data, &len) == DP_ERR_IO && strstr(dp_error_message(), path), "missing file names the path");
}

static void test_dtype(void) {
  CHECK(dp_dtype_row_bytes(DP_Q4_K, 512) == 288, "q4_k row");
  CHECK(dp_dtype_row_bytes(DP_Q8_0, 33) == UINT64_MAX, "q8_0 misaligned row");
  dp_dtype t;
  CHECK(dp_dtype_from_name("q6_k", &t) == 0 && t == DP_Q6_K && dp_dtype_from_name("q5_0", &t) == -1, "names");
}

int main(void) {
  test_json();
  test_sha256();
  test_sha256_paths();
  test_utf8();
  test_buf_file();
  test_dtype();
  return dp_test_summary("test_core");
}
