/* utf8.h -- UTF-8 decoding/encoding (strict: no overlongs, no surrogates, <= U+10FFFF). */
#ifndef DP_CORE_UTF8_H
#define DP_CORE_UTF8_H
#include <stddef.h>
#include <stdint.h>
/* Decode one code point from s[0..n); returns bytes used (1..4) or 0 if invalid/truncated. */
size_t dp_utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Encode cp into out (4 bytes room); returns bytes written. */
size_t dp_utf8_encode(uint32_t cp, char *out);
/* Length of the longest prefix of s[0..n) that ends on a complete code point boundary. */
size_t dp_utf8_complete_prefix(const char *s, size_t n);
/* Byte offset of the first invalid sequence, or n if s is valid UTF-8. */
size_t dp_utf8_validate(const char *s, size_t n);
#endif
