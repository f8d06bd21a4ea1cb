/* gguf_write.h -- building GGUF (v3) metadata: each helper appends one key/value pair in GGUF
 * encoding to a dp_buf and counts it. The converter assembles header + kv + tensor infos +
 * data; tokenizer.ggml.* keys come from a tokenizer.json (dp_gguf_kv_tokenizer) or are copied
 * from another GGUF (dp_gguf_kv_copy). */
#ifndef DP_FORMAT_GGUF_WRITE_H
#define DP_FORMAT_GGUF_WRITE_H
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "format/gguf.h"
#include "format/hparams.h"

typedef struct dp_gguf_kvbuf { dp_buf b; uint64_t n; } dp_gguf_kvbuf;

void dp_gguf_put_u32(dp_buf *b, uint32_t x);
void dp_gguf_put_u64(dp_buf *b, uint64_t x);
void dp_gguf_put_str(dp_buf *b, const char *s, size_t n);
void dp_gguf_kv_str(dp_gguf_kvbuf *k, const char *key, const char *s);
void dp_gguf_kv_u32(dp_gguf_kvbuf *k, const char *key, uint32_t v);
void dp_gguf_kv_i32(dp_gguf_kvbuf *k, const char *key, int32_t v);
void dp_gguf_kv_f32(dp_gguf_kvbuf *k, const char *key, float v);
void dp_gguf_kv_bool(dp_gguf_kvbuf *k, const char *key, int v);
void dp_gguf_kv_copy(dp_gguf_kvbuf *k, const dp_gguf_kv *kv); /* verbatim, any type */
/* llama.cpp's architecture keys for hp, plus "doppler.hparams" (exact JSON). */
void dp_gguf_kv_hparams(dp_gguf_kvbuf *k, const dp_hparams *hp);
/* tokenizer.ggml.* from a byte-level BPE tokenizer.json (+ tokenizer_config.json beside it,
 * for add_bos_token/add_eos_token). Unsupported tokenizer kinds give DP_ERR_UNSUPPORTED. */
dp_status dp_gguf_kv_tokenizer(dp_gguf_kvbuf *k, const char *tokenizer_json, const dp_hparams *hp);
#endif
