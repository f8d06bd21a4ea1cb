/* model_file_impl.h -- internals of dp_model_file shared by model_file.c (HF directories and
 * the common read path), model_file_gguf.c and rdrr_read.c. Not for other layers.
 *
 * Every presented tensor is a *view*: rows of the stored tensor, possibly re-ordered (llama.cpp
 * Q/K permutation undone, one expert of a merged [E, out, in] tensor, gate/up de-interleaved),
 * possibly transformed (Gemma norm w+1 -> w as f32, HF-packed MXFP4 -> GGUF MXFP4 blocks). */
#ifndef DP_FORMAT_MODEL_FILE_IMPL_H
#define DP_FORMAT_MODEL_FILE_IMPL_H
#include "core/file.h"
#include "format/model_file.h"

typedef enum mf_xform {
  MF_RAW,       /* bytes as stored */
  MF_NORM1,     /* 1-D source (f32/f16/bf16 elements) -> f32 (x - 1) */
  MF_HF_MXFP4,  /* HF *_blocks + *_scales -> GGUF MXFP4 blocks (17 bytes per 32 elements) */
} mf_xform;

typedef enum mf_rowmap {
  MF_ROWS_ID,     /* src_row = r */
  MF_ROWS_STRIDE, /* src_row = r * row_step + row_first */
  MF_ROWS_UNPERM, /* undo llama.cpp permute(): HF row h*D + j*D/2 + i <- stored h*D + 2i + j */
} mf_rowmap;

typedef struct mf_view {
  dp_tensor_info info;   /* name owned by the view */
  mf_xform xform;
  mf_rowmap rowmap;
  int src;               /* source file index (ignored for RDRR: one concatenated space) */
  uint64_t off;          /* byte offset of stored row 0 of this view */
  uint64_t off_scales;   /* MF_HF_MXFP4: offset of the scales (1 byte per 32 elements) */
  uint64_t rows, out_row_bytes, src_row_bytes;
  uint64_t row_step, row_first;
  uint32_t head_rows;    /* MF_ROWS_UNPERM: rows per head */
  dp_dtype src_dtype;    /* MF_NORM1: stored element type */
} mf_view;

typedef struct mf_source {
  char *path;
  dp_mapped map;
  char sha[65];   /* RDRR: expected SHA-256 (hex) from the manifest; "" = none to check */
  char bad[65];   /* the hash found, once a mismatch was seen */
  int verified;   /* 0 not yet hashed, 1 matches, -1 mismatch (sticky) */
  /* A supplied source (dp_rdrr_open_supplied): no file, map.data NULL, map.size from the
   * manifest; its bytes arrive in pieces from the host (dp_model_file_supply) into a window. */
  int supplied;
  uint8_t *win;   /* the last piece supplied: bytes [win_off, win_off + win_len) of the file */
  uint64_t win_off, win_len, win_cap;
} mf_source;

struct dp_model_file {
  char kind[8];          /* "hf", "gguf", "rdrr" */
  char *path;
  dp_hparams hp;
  mf_source *srcs;
  size_t n_srcs;
  int concat;            /* RDRR: srcs are shards forming one address space */
  mf_view *v;
  size_t n, cap;
  dp_tensor_info *infos; /* [n] copies of v[i].info for the public accessors */
  char *tokenizer_json;
  struct dp_gguf *gguf;
  struct dp_json_doc *manifest;   /* RDRR */
  const struct dp_json *hints;    /* RDRR: manifest "hints" object */
  void *extra;                    /* owned per-kind state (dp_free'd) */
};

/* Append a view (name copied). Returns NULL on OOM. */
mf_view *dp_mf_add(dp_model_file *mf, const char *name, dp_dtype dt, int n_dims, const uint64_t *shape);
/* Finish: compute row sizes of raw views, check every view lies inside its source, build infos. */
dp_status dp_mf_finish(dp_model_file *mf);
dp_status dp_mf_add_source(dp_model_file *mf, const char *path);
dp_model_file *dp_mf_new(const char *kind, const char *path);
dp_status dp_model_file_open_gguf(const char *path, dp_model_file **out);
dp_status dp_model_file_open_rdrr(const char *dir, dp_model_file **out);
/* The same with the manifest given as text instead of DIR/manifest.json (update-manifest checks
 * that an edited manifest would load before writing it). */
dp_status dp_rdrr_open_manifest(const char *dir, const char *text, size_t len, dp_model_file **out);
/* An RDRR model whose files are not local (model_file.h dp_model_file_open_supplied). */
dp_status dp_rdrr_open_supplied(const char *name, const char *text, size_t len, dp_model_file **out);
#endif
