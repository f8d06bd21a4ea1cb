/* ops.h -- the op API the runtime calls: each dp_op_* records one or a few compute dispatches
 * through the device layer (src/gpu/gpu.h); nothing is submitted or waited on. Every op has a
 * CPU reference of the same name in src/ref/kernels_ref.h (dp_ref_*), and a WGSL file
 * src/kernels/NAME.wgsl (docs/kernels.md lists them with their layouts and variants).
 *
 * Conventions
 * * All compute is f32. Activations are f32 arrays; weights may be F32, F16, BF16, Q8_0, Q4_K,
 *   Q6_K or MXFP4, stored exactly as GGUF stores them (src/quant/quant.h): a weight matrix
 *   W[N, K] is N rows, each row K elements = dp_dtype_row_bytes(t, K) bytes of blocks, rows
 *   packed back to back (no padding). Block types need K % 32 == 0 (Q8_0, MXFP4) or
 *   K % 256 == 0 (Q4_K, Q6_K); F32/F16/BF16 take any K. No kernel needs shader-f16.
 * * A dp_view is a buffer plus a byte offset (a multiple of 256, the storage offset
 *   alignment). Shapes are in the comments, row-major, last index fastest.
 * * Aliasing: the activation views of one op may live in the same dp_gpu_buffer as long as
 *   they do not overlap (all activation bindings are declared read_write, so this is legal
 *   WebGPU). Exactly overlapping output = input is allowed only where an op says "in place
 *   allowed" (then pass the same view). Weight views (W, bias, norm weights, embedding table,
 *   inv_freq, sinks) are bound read-only: never pass a buffer that the same op writes.
 * * Kernels use subgroups when the device has them (dp_gpu_get_info()->has_subgroups) and a
 *   shared-memory path otherwise; large dispatches use 2-D grids (dp_gpu_grid_2d).
 * * Errors: DP_ERR_INVALID_ARG for a bad shape/dtype combination, DP_ERR_UNSUPPORTED for a
 *   dtype an op does not take, DP_ERR_GPU from the device layer. */
#ifndef DP_KERNELS_OPS_H
#define DP_KERNELS_OPS_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "doppler_status.h"
#include "gpu/gpu.h"

typedef struct dp_view {
  dp_gpu_buffer *buf; /* NULL = absent (optional inputs) */
  uint64_t offset;    /* bytes, multiple of 256 */
} dp_view;
static inline dp_view dp_view_of(dp_gpu_buffer *b, uint64_t offset) { dp_view v = {b, offset}; return v; }

/* The ops context: the device plus the assembled WGSL modules (subgroup or not) and the
 * pipelines of the variant table (below), built at first use and cached by variant index. One
 * per model; creating it is cheap. */
typedef struct dp_ops dp_ops;
dp_status dp_ops_create(dp_gpu *g, dp_ops **out);
void dp_ops_free(dp_ops *o);
dp_gpu *dp_ops_gpu(dp_ops *o);
/* Force the shared-memory (no subgroups) path even on devices with subgroups (tests). */
void dp_ops_set_subgroups(dp_ops *o, int enabled);
/* GPU family prefill: allow matmul_tiled128 (default; DOPPLER_MM128=0 starts a context without
 * it; off, M >= 64 runs matmul_tiled64: kernel checks and comparisons). _shape: wg (128 or 256)
 * and tn (4 or 8 columns per invocation) force its tile shape, 0 = by the shape of the product
 * (tests; DOPPLER_MM128_WG and DOPPLER_MM128_TN set them at creation). */
void dp_ops_set_tiled128(dp_ops *o, int enabled);
void dp_ops_set_tiled128_shape(dp_ops *o, uint32_t wg, uint32_t tn);
int dp_ops_tiled128(const dp_ops *o);
/* Split matmul_tiled128 over K (partial products in a scratch buffer, then matmul_splitk_sum)
 * where its tiles make fewer than min_groups workgroups; 0 = never (default 512; DOPPLER_MM128_SPLIT
 * sets it at creation). */
void dp_ops_set_tiled128_split(dp_ops *o, uint32_t min_groups);
int dp_ops_subgroups(const dp_ops *o);   /* the current settings of both */
int dp_ops_cpu_kernels(const dp_ops *o);
/* Kernel family: on CPU adapters (dp_gpu_get_info()->adapter_type "cpu": lavapipe,
 * SwiftShader) the ops pick barrier-free variants that keep data in registers (matmul: one
 * invocation per 8x4 / 1x8 tile, see matmul.wgsl); on GPUs the coalesced workgroup variants.
 * Where the subgroup size is exactly 8 (lavapipe) and subgroups are on, the CPU variants of
 * matmul (M > 4) and attention (head_dim <= 64) share loads across the 8 lanes by subgroup
 * operations (matmul_sg8.wgsl, attention_sg8.wgsl). CPU-family GEMVs (M <= 4) over F32/F16/BF16
 * with K % 8 == 0 read x and W with 16-byte loads (matmul_v4.wgsl; M > 4 with subgroups of 8:
 * matmul_v4_sg8.wgsl).
 * enabled = 0 forces the GPU variants, 1 the CPU ones (tests run both on either adapter). */
void dp_ops_set_cpu_kernels(dp_ops *o, int enabled);
/* Weight textures (dp_wtex below) on or off; on by default, off with DOPPLER_WEIGHT_TEXTURES=0. */
void dp_ops_set_weight_textures(dp_ops *o, int enabled);
/* Tests: at most max_rows rows per texture column block (0 = the device limit), so the
 * column-block layout of tall matrices (matmul_tex.wgsl) is exercised at small sizes. */
void dp_ops_set_weight_texture_height(dp_ops *o, uint32_t max_rows);

/* ---- dispatch sites: bind groups resolved once (the decode path) ----------------------------------
 * A dp_op_sites is a list of resolved dispatches owned by the caller (a session, one list per
 * graph it records repeatedly). Between dp_ops_sites_begin(o, s) and dp_ops_sites_end(o), the
 * n-th dispatch the ops record is site n of s: when its pipeline and bindings equal the site's,
 * the site's bound dispatch (gpu.h dp_gpu_bound: one bind group, made once) is reused with the
 * dispatch's own parameters; else the site is rebuilt. A graph that records the same dispatches
 * every time (a decode step) thus creates no bind group after its first recording; one that
 * changes only rebuilds what changed. Outside begin/end every dispatch makes its own bind group
 * (dp_gpu_dispatch). Free the sites before the buffers they bind. Not nested. */
typedef struct dp_op_sites dp_op_sites;
dp_status dp_op_sites_create(dp_op_sites **out);
void dp_op_sites_free(dp_op_sites *s); /* NULL: nothing */
void dp_ops_sites_begin(dp_ops *o, dp_op_sites *s);
void dp_ops_sites_end(dp_ops *o);
size_t dp_op_sites_count(const dp_op_sites *s); /* sites resolved so far (tests) */
/* Inside begin/end: record the next dispatches outside the list (each with a bind group of its
 * own: dispatches whose buffers may be freed and remade at the same address while the list
 * lives, e.g. a batch's per-session ones) without losing the list's place; resume continues it. */
dp_op_sites *dp_ops_sites_pause(dp_ops *o);          /* the list in use, or NULL */
void dp_ops_sites_resume(dp_ops *o, dp_op_sites *s);

/* ---- kernel variants (docs/kernels.md) ----------------------------------------------------------
 * Every dispatch runs one entry of the ops' variant table: NAME (a kernel variant, with the
 * weight type appended where the module decodes weights: matmul_gemv_q4_k), OP (the op whose
 * dispatch it is; the matrix products' OPs contain "matmul") and CONDITION (when the op picks
 * it). The table is static: dp_kernel_variant_get(i) for i < dp_kernel_variant_count(). */
typedef struct dp_kernel_variant {
  char name[48];
  const char *op, *condition;
} dp_kernel_variant;
size_t dp_kernel_variant_count(void);
dp_status dp_kernel_variant_get(size_t i, dp_kernel_variant *out);
long dp_kernel_variant_find(const char *name); /* its index, or -1 */
/* Whether entry i can run on o's adapter (subgroups of 8 for the *_sg variants, a CPU adapter
 * with weight textures on for matmul_tex), the
 * dispatches o recorded with it so far (tests), and its complete WGSL module as o compiles it
 * (NULL with dp_error where unavailable; valid while o lives). */
int dp_ops_variant_available(const dp_ops *o, size_t i);
uint64_t dp_ops_variant_runs(const dp_ops *o, size_t i);
void dp_ops_clear_runs(dp_ops *o); /* all counts back to 0 (after the hot-swap checks) */
const char *dp_ops_variant_source(dp_ops *o, size_t i);
/* Hot swap: from now on entry i runs the complete WGSL module wgsl (its bindings and entry
 * point as dp_ops_variant_source shows them; NULL = back to the built-in one). Compiled at the
 * next dispatch that picks it (a compile error is that op's DP_ERR_GPU). */
dp_status dp_ops_variant_replace(dp_ops *o, size_t i, const char *wgsl);

/* ---- matmul: y[M, N] (+)= x[M, K] . W[N, K]^T (+ bias[N]) ---------------------------------
 * M == 1 (decode) runs a GEMV: one workgroup per few output rows, weights read coalesced,
 * subgroup / shared-memory reduction. M > 1 (prefill) runs a tiled matmul.
 * x: [M, K] f32; W: [N, K] of type wt (see conventions); bias: [N] f32 or {NULL};
 * y: [M, N] f32. flags: DP_MM_ACCUM adds into y (y += x.W^T + bias), e.g. the residual
 * stream after o_proj / down_proj. x and y must not overlap. */
#define DP_MM_ACCUM 1u
/* DP_MM_ROWS (matmul, matmul_tex, linear): batch-invariant rows. Each row of y is computed
 * exactly -- bit for bit -- as an M = 1 product of that x row computes it, whatever M and the
 * other rows are: the op runs the decode GEMV (which takes the rows of x one after the other
 * through the same per-row reduction) for any M, never the tiled kernels, whose reduction order
 * differs. The runtime's decode passes it, single-session and batched (runtime/batch.c), so a
 * batched session's ids equal its ids alone. Rule for new matmul variants (docs/kernels.md):
 * whatever kernel an M = 1 product picks must be the one DP_MM_ROWS picks for every M, and
 * must compute each row independently of M and of the other rows. */
#define DP_MM_ROWS 4u
dp_status dp_op_matmul(dp_ops *o, dp_view y, dp_view x, dp_view w, dp_dtype wt, dp_view bias,
                       uint32_t M, uint32_t N, uint32_t K, uint32_t flags);

/* ---- weights in textures, for the decode GEMV on CPU adapters --------------------------------
 * On CPU adapters a texel fetch costs a fraction of a storage-buffer load (matmul_tex.wgsl),
 * so a decode GEMV reads F32/F16/BF16 matrices with K % 8 == 0 from a texture copy of W.
 * dp_wtex_create sets *out = NULL and returns DP_OK where that does not apply (GPU adapters,
 * block types, K % 8 != 0, shapes past the texture limits, weight textures switched off, past
 * 2 GiB of textures per ops context: they are a second copy of the decode matrices): the
 * caller then keeps using dp_op_matmul on the buffer. dp_wtex_write takes rows in their stored
 * bytes (dp_dtype_row_bytes(wt, K) each, back to back), as the buffer holds them. */
typedef struct dp_wtex dp_wtex;
dp_status dp_wtex_create(dp_ops *o, dp_dtype wt, uint32_t N, uint32_t K, const char *label, dp_wtex **out);
dp_status dp_wtex_write(dp_ops *o, dp_wtex *w, uint32_t row0, uint32_t n_rows, const void *rows);
void dp_wtex_free(dp_wtex *w);
uint32_t dp_wtex_rows(const dp_wtex *w);

/* ---- matmul_tex: y[M, N] (+)= pro(x)[M, K] . W[row0 .. row0+N-1]^T (+ bias[N]), W a dp_wtex ------
 * The rows used may be a range of the texture (a part of stacked q|k|v or gate|up); N = 0
 * means all rows from row0. M <= 4 (decode) runs the GEMV, whose input prologue does the op
 * before it inside it (one dispatch fewer):
 *   DP_PRO_NONE     x [M, K]
 *   DP_PRO_RMSNORM  x [M, K] through dp_op_rmsnorm(norm_w [K], eps, norm_flags)
 *   DP_PRO_GLU      x [M, 2K], each row gate | up, through dp_op_glu(act)
 * M > 4 (prefill) takes no prologue and needs dp_ops_tex_prefill(o) (subgroups of 8), else
 * DP_ERR_UNSUPPORTED; with DP_MM_ROWS any M runs the GEMV (prologue allowed, batch-invariant
 * rows). bias: [N] f32 or {NULL}. flags: DP_MM_ACCUM, DP_MM_ROWS. x and y must not overlap. */
enum { DP_PRO_NONE = 0, DP_PRO_RMSNORM = 1, DP_PRO_GLU = 2, DP_PRO_Q8 = 3 /* dp_op_linear only: x is dp_op_quantize_x's output */ };
typedef struct dp_gemv_pro {
  int kind;
  dp_view norm_w;        /* DP_PRO_RMSNORM */
  float eps;
  uint32_t norm_flags;   /* DP_NORM_PLUS_ONE */
  int act;               /* DP_PRO_GLU: DP_GLU_SILU or DP_GLU_GELU_TANH */
  int glu_out;           /* dp_op_linear on GPUs (dp_ops_linear_glu_out): 1 + DP_GLU_*: W is gate | up
                          * (N = 2F rows), y [M, F] = act(x . gate^T) * (x . up^T); 0: plain output */
  int q8;                /* dp_op_linear (dp_ops_linear_q8_fused): x f32, pro(x) quantized to int8 blocks of 32
                          * inside the product (matmul_gemv_i8_fused; the codes dp_op_quantize_x's) */
} dp_gemv_pro;
int dp_ops_tex_prefill(const dp_ops *o);
dp_status dp_op_matmul_tex(dp_ops *o, dp_view y, dp_view x, const dp_wtex *w, uint32_t row0, uint32_t N, dp_view bias,
                           uint32_t M, const dp_gemv_pro *pro, uint32_t flags);

/* ---- weights of any size: a matrix in parts of whole rows ---------------------------------
 * A model's matrix W[N, K] (stored bytes, as dp_op_matmul takes them) may exceed one storage
 * binding (maxStorageBufferBindingSize: 128 MiB on lavapipe, 1 GiB on SwiftShader) or even
 * maxBufferSize. A dp_weight holds it as parts: part i is rows [i * part_rows, +part_rows)
 * (the last may be shorter) in a buffer of its own, each part within both limits, part_rows a
 * multiple of the rows that make 256 bytes (so a row range starting 256-aligned in W starts
 * 256-aligned in its part: stacked q|k|v and gate|up). With `tex` and where dp_wtex applies to
 * every part, each part also has a texture copy of its rows (else none has). Every consumer goes
 * through the parts: dp_op_linear writes each part's output columns of the same y, dp_op_embed
 * gathers each id from the part holding it. A matrix whose single part of whole rows cannot fit
 * the limits is refused by dp_weight_create with DP_ERR_UNSUPPORTED naming it, its size and the
 * limit. */
typedef struct dp_wpart {
  dp_gpu_buffer *buf;   /* [rows of the part, row_bytes] stored bytes from offset 0 */
  dp_wtex *tex;         /* the same rows in a texture (matmul_tex), or NULL */
} dp_wpart;
typedef struct dp_weight {
  dp_dtype type;
  uint32_t N, K;
  uint64_t row_bytes;   /* dp_dtype_row_bytes(type, K) */
  uint32_t part_rows;   /* rows per part */
  uint32_t n_parts;
  int tex;              /* every part has a texture copy */
  dp_wpart part[];      /* [n_parts] */
} dp_weight;
/* 1 when dp_op_linear takes an input prologue for w at M rows: the texture GEMV (CPU adapters)
 * or matmul_gemv_sg (GPU family with subgroups of one size, rows of whole 16-byte / block units) */
int dp_ops_linear_pro(const dp_ops *o, const dp_weight *w, uint32_t M);
/* 1 when dp_op_linear can write the GLU of w's two row halves (dp_gemv_pro.glu_out) at M rows */
int dp_ops_linear_glu_out(const dp_ops *o, const dp_weight *w, uint32_t M);
dp_status dp_weight_create(dp_ops *o, dp_dtype t, uint64_t N, uint64_t K, int tex, const char *label, dp_weight **out);
/* Queue a write of rows [row0, row0 + n) (stored bytes, back to back) into the parts and their
 * textures. Each write must start 4-byte aligned in its part (writes whose row0 is a multiple
 * of 4 always do; the bytes past a part's last row are zero-padded to 4). */
dp_status dp_weight_write(dp_ops *o, dp_weight *w, uint64_t row0, uint64_t n, const void *rows);
void dp_weight_free(dp_weight *w);

/* ---- linear: y[M, N] (+)= pro(x)[M, K] . W[row0 .. row0+N-1]^T (+ bias[N]), W a dp_weight ----
 * N = 0 means all rows from row0. Runs per part the rows overlap: dp_op_matmul_tex on the
 * part's texture when w->tex and (M <= 4, DP_MM_ROWS or dp_ops_tex_prefill), else dp_op_matmul
 * on its buffer (then row0 must start 256-aligned in W). pro (NULL = none) as dp_op_matmul_tex,
 * only with w->tex and (M <= 4 or DP_MM_ROWS), or on the buffer where matmul_gemv_sg applies
 * (dp_ops_linear_pro; else DP_ERR_UNSUPPORTED). bias: [N] f32 or {NULL}; y: [M, N] f32.
 * flags: DP_MM_ACCUM, DP_MM_ROWS. x and y must not overlap. */
dp_status dp_op_linear(dp_ops *o, dp_view y, dp_view x, const dp_weight *w, uint32_t row0, uint32_t N, dp_view bias,
                       uint32_t M, const dp_gemv_pro *pro, uint32_t flags);

/* ---- int8 input for the decode GEMVs (matvec input q8; docs/kernels.md) -------------------------
 * On the GPU kernel family with subgroups of one size and the WGSL language feature
 * packed_4x8_integer_dot_product (dp_gpu_info.has_dot4), a decode product can read x quantized
 * to int8 blocks of 32 (llama.cpp's MMVQ): dp_op_quantize_x once, then dp_op_linear with
 * pro->kind = DP_PRO_Q8 and xq as x for every weight that takes it (dp_ops_linear_q8: Q4_K,
 * Q6_K, Q8_0 with K % 64 == 0, no texture, M <= 4 or DP_MM_ROWS). Not bit-exact against the f32
 * input: each x block of 32 is rounded to 8 bits (relative error <= 1/254 of the block's
 * largest value per element). dp_ops_set_matvec_input(o, 0) turns it off (the f32-input
 * kernels); default on, except on CPU adapters. */
void dp_ops_set_matvec_input(dp_ops *o, int q8);
int dp_ops_matvec_q8(const dp_ops *o);    /* q8 chosen and the kernel family can run it */
int dp_ops_matvec_input(const dp_ops *o); /* the choice as set (1 = q8), whatever the family */
int dp_ops_linear_q8(const dp_ops *o, const dp_weight *w, uint32_t M);
/* Bytes of xq for M rows of K: the int8 codes [M, K], then (from the next multiple of 256)
 * [M, K / 32] pairs f32 (d, s): x ~ d * q per block, s = d * sum(q). */
uint64_t dp_xq_bytes(uint32_t M, uint32_t K);
/* xq (dp_xq_bytes(M, K) at a 256-aligned view) = quantize(pro(x)), pro as dp_op_matmul_tex's
 * prologue (NULL/none: x [M, K]; RMSNorm; GLU: x [M, 2K]); K % 32 == 0. Rounding: per block
 * amax = max |v|, d = amax / 127, q = sign(t) floor(|t| + 0.5), t = v * (127 / amax) (0 when
 * amax = 0) -- src/ref dp_ref_quantize_x. DP_ERR_UNSUPPORTED where the family cannot run it. */
dp_status dp_op_quantize_x(dp_ops *o, dp_view xq, dp_view x, uint32_t M, uint32_t K, const dp_gemv_pro *pro);
/* 1 when dp_op_linear can quantize its input itself (pro->q8 = 1, pro->kind NONE / RMSNORM / GLU,
 * x f32 as dp_op_quantize_x takes it): dp_ops_linear_q8 and K <= what one row's int8 codes and
 * scales in workgroup memory allow (maxComputeWorkgroupStorageSize: 16 KiB -> K <= 11008,
 * 32 KiB (lavapipe, SwiftShader) or more -> 16384), GEMV workgroup >= 64, not turned off.
 * Saves the quantize_x dispatch. */
int dp_ops_linear_q8_fused(const dp_ops *o, const dp_weight *w, uint32_t M);
/* matmul_gemv_i8_fused on or off (default off: slower on the H200, notes/performance.md;
 * DOPPLER_Q8_FUSED=1 turns it on at creation) */
void dp_ops_set_q8_fused(dp_ops *o, int enabled);

/* ---- embed: y[T, D] = table[ids[t], :] * scale ---------------------------------------------
 * ids: [T] u32 (each < vocab = table->N, not checked on the GPU: the rows of an id >= vocab are
 * left unwritten; the runtime checks ids on the host); table: a dp_weight [vocab, D] of any
 * weight type (D a multiple of its block), one dispatch per part; y: [T, D] f32. scale: 1, or
 * sqrt(d_model) for Gemma. */
dp_status dp_op_embed(dp_ops *o, dp_view y, dp_view ids, const dp_weight *table, uint32_t T, float scale);

/* ---- rmsnorm: y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w' ----------------------------
 * w' = w, or (1 + w) with DP_NORM_PLUS_ONE (Gemma's HF form). x, y: [rows, D] f32; w: [D] f32.
 * Per-head q/k norm: rows = T * n_heads, D = head_dim. In place allowed (y == x). */
#define DP_NORM_PLUS_ONE 1u
dp_status dp_op_rmsnorm(dp_ops *o, dp_view y, dp_view x, dp_view w, uint32_t rows, uint32_t D,
                        float eps, uint32_t flags);

/* ---- rope: rotate x[t, h, :rot_dim] by angle (pos0 + t) * inv_freq[i], in place -------------
 * x: [T, n_heads, head_dim] f32. inv_freq: [rot_dim / 2] f32 from dp_rope_freqs()
 * (src/ref/kernels_ref.h: default / linear / llama3 / YaRN computed on the CPU in double),
 * uploaded once per model. attn_factor multiplies cos and sin (YaRN's mscale; 1 otherwise).
 * style: DP_ROPE_HALF pairs (i, i + rot_dim/2) (HF rotate_half); DP_ROPE_PAIRS pairs
 * (2i, 2i+1) (GGUF-permuted q/k). Dims >= rot_dim pass through (partial rotary). */
enum { DP_ROPE_HALF = 0, DP_ROPE_PAIRS = 1 };
dp_status dp_op_rope(dp_ops *o, dp_view x, dp_view inv_freq, uint32_t T, uint32_t n_heads,
                     uint32_t head_dim, uint32_t rot_dim, uint32_t pos0, int style,
                     float attn_factor);

/* ---- KV cache ---------------------------------------------------------------------------------
 * Layout, per layer, one buffer (or 256-aligned slab) for K and one for V:
 *   cache[slot, kv_head, d]  f32, slot in [0, capacity), row stride n_kv_heads * head_dim.
 * The token at absolute position p lives in slot p % capacity: a full-attention layer has
 * capacity >= context length (slot = position); a sliding-window layer may keep only
 * capacity >= window + (tokens per prefill chunk - 1) slots as a ring.
 * kv_write: k, v: [T, n_kv_heads, head_dim] f32 (k already RoPE'd) -> slots of positions
 * pos0 .. pos0 + T - 1. */
dp_status dp_op_kv_write(dp_ops *o, dp_view kcache, dp_view vcache, dp_view k, dp_view v,
                         uint32_t T, uint32_t n_kv_heads, uint32_t head_dim, uint32_t pos0,
                         uint32_t capacity);

/* ---- rope_kv (fused): exactly dp_op_rope(q, H heads); dp_op_rope(k, n_kv_heads);
 * dp_op_kv_write(kcache, vcache, k, v) -- same arguments and rules as those three ops, one
 * dispatch instead of three (decode is dominated by per-dispatch cost on CPU adapters).
 * q: [T, n_heads, head_dim] and k: [T, n_kv_heads, head_dim] are rotated in place (q may be
 * absent with n_heads = 0); v: [T, n_kv_heads, head_dim] is only read; the cache slots of
 * positions pos0 .. pos0 + T - 1 receive the rotated k and v. q, k, v and the caches must
 * not overlap. */
dp_status dp_op_rope_kv(dp_ops *o, dp_view q, dp_view k, dp_view v, dp_view kcache, dp_view vcache,
                        dp_view inv_freq, uint32_t T, uint32_t n_heads, uint32_t n_kv_heads,
                        uint32_t head_dim, uint32_t rot_dim, uint32_t pos0, int style,
                        float attn_factor, uint32_t capacity);

/* ---- rope_kv_norm: dp_op_rmsnorm(q, q, q_norm, T * n_heads rows of head_dim, eps, norm_flags);
 * the same for k with k_norm (T * n_kv_heads rows); then dp_op_rope_kv -- the per-head q/k
 * norm of qwen3 / gemma3. Either weight may be absent ({NULL}: that norm is skipped). On the
 * GPU kernel family one dispatch (rope_kv_norm, bit-identical to the three ops); on the CPU
 * family those three dispatches. */
dp_status dp_op_rope_kv_norm(dp_ops *o, dp_view q, dp_view k, dp_view v, dp_view kcache, dp_view vcache, dp_view inv_freq,
                             dp_view q_norm, dp_view k_norm, float eps, uint32_t norm_flags, uint32_t T, uint32_t n_heads,
                             uint32_t n_kv_heads, uint32_t head_dim, uint32_t rot_dim, uint32_t pos0, int style,
                             float attn_factor, uint32_t capacity);

/* ---- attention: out[t, h, :] = softmax_j(s_tj) . V[j, h / group, :] --------------------------
 *   s_tj = softcap(scale * q[t, h, :] . K[j, h / group, :]),  softcap(z) = c * tanh(z / c)
 * over the keys j visible to query t, whose absolute position is qp = pos0 + t:
 *   j <= qp (causal), and qp - j < window when window > 0 (sliding window), and j >= 0.
 * With sinks, the softmax denominator also holds exp(sinks[h]) (gpt-oss; the sink has no
 * value row). q, out: [T, n_heads, head_dim] f32 (must not overlap); K/V: the caches above
 * (the slots of every visible key must have been written). group = n_heads / n_kv_heads.
 * T == 1 is decode; T > 1 is prefill (one pass over all queries). head_dim <= 256
 * (DP_ATTN_MAX_HEAD_DIM: four output dims per invocation of a 64-wide workgroup). */
#define DP_ATTN_MAX_HEAD_DIM 256
typedef struct dp_attn_desc {
  uint32_t T;            /* query rows */
  uint32_t n_heads, n_kv_heads, head_dim;
  uint32_t pos0;         /* absolute position of query row 0 */
  uint32_t capacity;     /* KV cache slots (see above) */
  uint32_t window;       /* 0 = no sliding window */
  float scale;           /* multiplier on q.k, e.g. 1/sqrt(head_dim) or query_pre_attn_scalar^-0.5 */
  float softcap;         /* 0 = none */
} dp_attn_desc;
dp_status dp_op_attention(dp_ops *o, const dp_attn_desc *d, dp_view out, dp_view q,
                          dp_view kcache, dp_view vcache, dp_view sinks /* [n_heads] f32 or {NULL} */);

/* ---- softmax over rows: y[r, :] = exp(x[r, :] - max) / sum. x, y: [rows, n]. In place allowed. */
dp_status dp_op_softmax(dp_ops *o, dp_view y, dp_view x, uint32_t rows, uint32_t n);

/* ---- gated activation: y[i] = act(gate[i]) * up[i], i < n ------------------------------------
 * DP_GLU_SILU: act(g) = g / (1 + exp(-g)); DP_GLU_GELU_TANH: 0.5 g (1 + tanh(sqrt(2/pi)
 * (g + 0.044715 g^3))). gate, up, y: [n] f32 (any rows x cols flattened). In place allowed
 * (y == gate). */
enum { DP_GLU_SILU = 0, DP_GLU_GELU_TANH = 1 };
dp_status dp_op_glu(dp_ops *o, dp_view y, dp_view gate, dp_view up, uint32_t n, int act);

/* ---- add: y[i] = a[i] + b[i], i < n. In place allowed (y == a). */
dp_status dp_op_add(dp_ops *o, dp_view y, dp_view a, dp_view b, uint32_t n);

/* ---- argmax per row: ids[r] = the smallest j with x[r, j] maximal. x: [rows, n] f32;
 * ids: [rows] u32. Only values > -FLT_MAX count (NaN and -inf are never chosen; a row with
 * none gives 0). */
dp_status dp_op_argmax(dp_ops *o, dp_view ids, dp_view x, uint32_t rows, uint32_t n);

/* ---- sample: the next token from logits[vocab] (the math: sample.wgsl's header) -------------
 * Repetition penalty over hist[hist_pos - repeat_n, hist_pos), end-of-generation masking of
 * eos[n_eos], greedy when temperature == 0, else top-k, temperature, top-p, min-p and a draw
 * hashed from (seed, step). Writes the token to out_ids[out_index], cur[0] and hist[hist_pos].
 * work: [vocab] f32 scratch. CPU family: one workgroup (sample.wgsl); GPU family: two dispatches,
 * one workgroup per range of >= 1024 tokens then one (sample_split.wgsl: the same ids; top-k
 * <= 64 samples over per-range candidates, larger or no top-k over the whole vocabulary). */
typedef struct dp_sample_params {
  uint32_t vocab, top_k, hist_pos, repeat_n;
  float temperature, top_p, min_p, penalty;
  uint32_t seed_lo, seed_hi, step_lo, step_hi;
  uint32_t out_index, n_eos, pad0, pad1; /* pad0, pad1: set by the op (sample_split's range, ranges) */
  uint32_t eos[16];
} dp_sample_params;
dp_status dp_op_sample(dp_ops *o, const dp_sample_params *p, dp_view logits, dp_view work, dp_view hist, dp_view cur,
                       dp_view out_ids);
/* ---- nll: nll[out_off + r] = logsumexp(logits[r, :]) - logits[r, targets[tgt_off + r]], r < rows
 * (perplexity). logits: [rows, vocab] f32; targets u32; nll f32. */
dp_status dp_op_nll(dp_ops *o, dp_view nll, dp_view logits, dp_view targets, uint32_t rows, uint32_t vocab,
                    uint32_t out_off, uint32_t tgt_off);
/* ---- softcap: x[i] = cap * tanh(x[i] / cap), i < n, in place (final logit soft-capping). */
dp_status dp_op_softcap(dp_ops *o, dp_view x, uint32_t n, float cap);

/* ---- mixture of experts (ops_moe.c; moe_*.wgsl) -----------------------------------------------
 * A MoE layer on T tokens with E experts, k chosen per token, R = T * k (token, choice) pairs
 * r = t * k + j. Nothing is read back: the chosen ids stay on the GPU.
 * moe_route: logits [T, E] f32 (router output, bias included) -> ids [R] u32 (the k largest,
 *   lowest index first among equal values) and weights [R] f32 (softmax over the k selected
 *   logits). E <= DP_MOE_MAX_EXPERTS, 1 <= k <= E. */
#define DP_MOE_MAX_EXPERTS 256
dp_status dp_op_moe_route(dp_ops *o, dp_view ids, dp_view weights, dp_view logits, uint32_t T, uint32_t E, uint32_t k);
/* An expert bank: the experts of one matrix kind (gate, up or down) of a layer, each W_e [N, K]
 * of type `type` (ops.h weight types), held in slots: slot s is in buffer s / per_buf at byte
 * (s % per_buf) * estride (N rows of dp_dtype_row_bytes(type, K) bytes; estride a multiple of
 * 4 holding them), each buffer within one storage binding. map [E] u32 (a GPU buffer) gives
 * each expert's slot (0xffffffff: not resident; its pairs are then left unwritten). */
typedef struct dp_moe_bank {
  dp_dtype type;
  uint32_t N, K;
  uint32_t E;             /* experts (map and bias rows) */
  uint32_t estride;       /* bytes per slot */
  uint32_t n_slots, per_buf;
  dp_gpu_buffer **buf;    /* [ceil(n_slots / per_buf)] */
  dp_view map;            /* [E] u32 */
  dp_view bias;           /* [E, N] f32 by expert id, or {NULL} */
} dp_moe_bank;
/* moe_group: the pairs grouped by expert for the tiled prefill product: groups [E + 1 + R] u32
 * (offsets of each expert's pairs, then the pair indices in expert order) from ids [R]. */
dp_status dp_op_moe_group(dp_ops *o, dp_view groups, dp_view ids, uint32_t R, uint32_t E);
/* moe_matmul: y[r, n] = x[r / xdiv, :] . W_ids[r][n, :]^T (+ bias[ids[r], n]), r < R, n < N.
 * x: [R / xdiv rows, K] f32 (xdiv = k: a token's row for every choice; 1: a row per pair);
 * ids: [R] u32 (each < E, from moe_route); y: [R, N] f32. One dispatch per bank buffer:
 * with groups (moe_group's output for these ids, E = the map's length) and the GPU kernel
 * family, a tiled product per expert over its gathered pairs (prefill: each expert's weights
 * read once per 32 pairs); else one GEMV per pair (decode; the CPU family always). */
dp_status dp_op_moe_matmul(dp_ops *o, dp_view y, dp_view x, dp_view ids, dp_view groups, const dp_moe_bank *bank,
                           uint32_t R, uint32_t xdiv);
/* moe_combine: x[t, i] (+)= sum_j weights[t * k + j] * y[t * k + j, i], t < T, i < D;
 * flags DP_MM_ACCUM adds into x (the residual stream). y: [T * k, D]; x: [T, D]. */
dp_status dp_op_moe_combine(dp_ops *o, dp_view x, dp_view y, dp_view weights, uint32_t T, uint32_t D, uint32_t k,
                            uint32_t flags);
/* glu_clamp (gpt-oss): y[i] = (clamp(up[i], -limit, limit) + 1) * g / (1 + exp(-alpha g)),
 * g = min(gate[i], limit), i < n. In place allowed (y == gate). The glu variants (act 2). */
dp_status dp_op_glu_clamp(dp_ops *o, dp_view y, dp_view gate, dp_view up, uint32_t n, float alpha, float limit);
#endif
