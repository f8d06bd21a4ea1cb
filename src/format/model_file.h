/* model_file.h -- one read interface over the three ways a model arrives: an HF directory
 * (config.json + safetensors), a single GGUF file, or an RDRR directory (manifest + shards).
 *
 * Whatever the source, tensors are presented in Hugging Face terms, so the model and runtime
 * layers have exactly one convention to follow:
 *   * names are HF names ("model.layers.0.self_attn.q_proj.weight", "lm_head.weight", ...);
 *   * shapes in PyTorch order, shape[0] outermost: a linear layer is [out, in] and its rows
 *     (length `in`) are contiguous, quantized row by row in GGUF block order;
 *   * llama.cpp's Q/K row permutation is undone (rows re-ordered, blocks untouched), so
 *     rotate-half RoPE applies; Gemma norm weights read as HF's w (GGUF's stored w+1 undone);
 *   * dtype is the stored type: F32/F16/BF16 elements, Q8_0/Q4_K/Q6_K/MXFP4 GGUF blocks.
 * Bytes are read on demand (streamed from shards / the mapped file), never copied whole. */
#ifndef DP_FORMAT_MODEL_FILE_H
#define DP_FORMAT_MODEL_FILE_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "format/hparams.h"

typedef struct dp_tensor_info {
  const char *name;
  dp_dtype dtype;
  int n_dims;
  uint64_t shape[4];
  uint64_t nbytes;   /* stored bytes */
} dp_tensor_info;

typedef struct dp_model_file dp_model_file;

/* path: an HF directory, a .gguf file or an RDRR directory (has manifest.json). */
dp_status dp_model_file_open(const char *path, dp_model_file **out);
void dp_model_file_close(dp_model_file *mf);
const char *dp_model_file_kind(const dp_model_file *mf); /* "hf", "gguf", "rdrr" */
const char *dp_model_file_path(const dp_model_file *mf);
const dp_hparams *dp_model_file_hparams(const dp_model_file *mf);
size_t dp_model_file_tensor_count(const dp_model_file *mf);
const dp_tensor_info *dp_model_file_tensor(const dp_model_file *mf, size_t i);
const dp_tensor_info *dp_model_file_find(const dp_model_file *mf, const char *name); /* NULL if absent */
/* Stored bytes [offset, offset+n) of a tensor (HF semantics as above). */
dp_status dp_model_file_read(dp_model_file *mf, const dp_tensor_info *t, uint64_t offset, void *dst, uint64_t n);
/* Zero-copy access: *p points at stored bytes [offset, offset+n) when they lie untransformed
 * and contiguous in one mapped file/shard, else *p = NULL (use dp_model_file_read). Valid
 * until dp_model_file_close. Same checks as dp_model_file_read (RDRR shard hash included). */
dp_status dp_model_file_peek(dp_model_file *mf, const dp_tensor_info *t, uint64_t offset, uint64_t n, const void **p);
/* ---- supplied sources: the model's files are not local (browser: HTTP, OPFS) ----
 * An RDRR model opened from its manifest text alone (`name` names it in errors); the shards
 * exist only as sizes (and SHA-256s, which the host that fetches them checks). A tensor read
 * succeeds only over bytes the host has supplied: dp_model_file_missing names the first piece
 * of a read that is not there (a file name, an offset, a length); the host fetches it and
 * hands it over with dp_model_file_supply, which replaces that file's previous piece. Used by
 * the resumable loader (runtime.h dp_rt_loader, include/doppler.h dp_load_*). */
dp_status dp_model_file_open_supplied(const char *name, const char *manifest, size_t len, dp_model_file **out);
typedef struct dp_mf_piece {
  size_t src;           /* source (shard) index */
  const char *file;     /* its file name inside the model folder ("shard_00000.bin") */
  uint64_t offset, length;
} dp_mf_piece;
/* 1 and *piece when stored bytes [offset, offset+n) of t are not all at hand (the first
 * missing piece, within one file); 0 when dp_model_file_read of them will succeed or fail on
 * its own (local files, supplied pieces, bounds errors). */
int dp_model_file_missing(const dp_model_file *mf, const dp_tensor_info *t, uint64_t offset, uint64_t n, dp_mf_piece *piece);
/* Hand over bytes [offset, offset+n) of source `src` (a copy is kept until the next supply for
 * the same source, or dp_model_file_release). */
dp_status dp_model_file_supply(dp_model_file *mf, size_t src, uint64_t offset, const void *data, uint64_t n);
/* Drop every supplied piece (the reader has used them): host memory back to nothing. */
void dp_model_file_release(dp_model_file *mf);
/* RDRR: hash every shard now and compare with the manifest (normally each shard is checked
 * when first read; DOPPLER_VERIFY=1 at open does this eagerly). No-op for other kinds. */
dp_status dp_model_file_verify(dp_model_file *mf);
/* The whole tensor dequantised to f32 (nelems floats). */
dp_status dp_model_file_read_f32(dp_model_file *mf, const dp_tensor_info *t, float *dst);
/* Kernel hints from an RDRR manifest ("fused"/"dequant", "f16"/"f32"); NULL if unset. */
const char *dp_model_file_hint(const dp_model_file *mf, const char *key);
/* Tokenizer source: path of a tokenizer.json beside the weights, or NULL (then see GGUF). */
const char *dp_model_file_tokenizer_json(const dp_model_file *mf);
/* For GGUF sources, the parsed file (tokenizer.ggml.* metadata); NULL otherwise. */
struct dp_gguf;
const struct dp_gguf *dp_model_file_gguf(const dp_model_file *mf);
uint64_t dp_tensor_nelems(const dp_tensor_info *t);
#endif
