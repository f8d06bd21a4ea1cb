/* sha256.h -- SHA-256 (FIPS 180-4), incremental, for RDRR shard hashes. */
#ifndef DP_CORE_SHA256_H
#define DP_CORE_SHA256_H
#include <stddef.h>
#include <stdint.h>
typedef struct dp_sha256 { uint32_t h[8]; uint64_t total; uint8_t block[64]; size_t fill; } dp_sha256;
void dp_sha256_init(dp_sha256 *s);
void dp_sha256_update(dp_sha256 *s, const void *data, size_t n);
void dp_sha256_final(dp_sha256 *s, uint8_t out[32]);
void dp_sha256_hex(const void *data, size_t n, char out[65]); /* one-shot, lowercase hex */
void dp_sha256_to_hex(const uint8_t digest[32], char out[65]);
/* 1 when the x86 SHA extensions compress (CPUID, asked once); 0: the portable C code. */
int dp_sha256_hw(void);
/* Tests: 1 forces the portable code (to compare both on the same inputs), 0 restores the
 * choice. Not for use while other threads hash. */
void dp_sha256_force_portable(int on);
#endif
