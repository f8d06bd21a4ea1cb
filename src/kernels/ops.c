/* ops.c -- the op API of ops.h: validates shapes, picks a kernel variant, fills the uniform
 * parameter struct (each declared here beside its op, with its size checked against the WGSL
 * struct) and records dispatches through the device layer (src/gpu/gpu.h). Called by the
 * runtime and the kernel tests. Depends on gpu (dispatch, pipeline cache) and the embedded
 * WGSL (registry.h).
 *
 * Kernel sources are assembled once per ops context: the reduction library (lib_reduce or,
 * when the device has subgroups, lib_reduce_sg, which starts with `enable subgroups;`), the
 * kernel's own library if any (lib_trig for rope and rope_kv, lib_mm16 for the matmuls that load
 * weights 16 bytes at a time), the weight decoder lib_wdecode
 * for the kernels that read GGUF blocks, then NAME.wgsl, then for
 * the CPU-adapter variants that need subgroups an appended file (matmul_sg8, attention_sg8,
 * matmul_v4_sg8; only assembled into the subgroup sources); the sampler's kernels (sample,
 * sample_nll, sample_softcap) stand alone. The assembled strings live as long as the context.
 *
 * Every dispatch runs one row of the variant table (`variants[]` below: name, op, condition,
 * pieces, entry point); its pipeline is cached per context by row index, weight type and
 * overrides. The table is listed, dumped and hot-swapped through ops.h (dp_kernel_variant_*,
 * dp_ops_variant_*), and checked row by row by src/api/kernel_check.c.
 *
 * Dispatches go through dispatch() below: inside dp_ops_sites_begin/_end (ops.h) the n-th one
 * reuses site n's bound bind group (gpu.h dp_gpu_bound) while its kernel and bindings match,
 * else dp_gpu_dispatch makes a bind group for it.
 *
 * Model matrices are dp_weights (ops.h): parts of whole rows, each its own buffer (and texture)
 * within the binding limits; dp_op_linear and dp_op_embed run the one-binding kernels once per
 * part, the matmuls writing each part's columns of the same output (Params c0, ldy). */
#include "kernels/ops.h"
#include "kernels/ops_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/error.h"
#include "kernels/registry.h"

#define TRY(x) do { dp_status s_ = (x); if (s_) return s_; } while (0)

enum { K_MATMUL, K_EMBED, K_RMSNORM, K_ROPE, K_KV_WRITE, K_ATTENTION, K_SOFTMAX, K_GLU, K_ADD,
       K_ARGMAX, K_MATMUL_SG8, K_ATTENTION_SG8, K_ROPE_KV, K_MATMUL_V4, K_MATMUL_V4_SG8, K_MATMUL_TEX, K_MATMUL_TEX_SG8,
       K_SAMPLE, K_SAMPLE_NLL, K_SAMPLE_SOFTCAP, K_MOE_ROUTE, K_MOE_MATMUL, K_MOE_COMBINE, K_MOE_GROUP, K_GEMV_SG,
       K_ATTENTION_SPLIT, K_QUANTIZE_X, K_GEMV_I8, K_MATMUL128, K_ATTENTION_FA, K_SAMPLE_SPLIT, K_ATTENTION_SPLIT_SG, K_GEMV_I8F,
       K_SPLITK_SUM, K_COUNT };
/* name: the main WGSL file (and pipeline label); ext: a file appended after it (variants that
 * need subgroups, assembled only when the context uses lib_reduce_sg) */
/* lib: a library placed before the kernel (after the reduction library), or NULL */
static const struct { const char *name; int wdecode; const char *ext; const char *lib; } kern_info[K_COUNT] = {
  {"matmul", 1, NULL, NULL}, {"embed", 1, NULL, NULL}, {"rmsnorm", 0, NULL, NULL}, {"rope", 0, NULL, "lib_trig"}, {"kv_write", 0, NULL, NULL},
  {"attention", 0, NULL, NULL}, {"softmax", 0, NULL, NULL}, {"glu", 0, NULL, NULL}, {"add", 0, NULL, NULL}, {"argmax", 0, NULL, NULL},
  {"matmul", 1, "matmul_sg8", NULL}, {"attention", 0, "attention_sg8", NULL}, {"rope_kv", 0, NULL, "lib_trig"}, {"matmul_v4", 0, NULL, "lib_mm16"},
  {"matmul_v4", 0, "matmul_v4_sg8", "lib_mm16"}, {"matmul_tex", 0, NULL, "lib_mm16"},
  {"matmul_tex", 0, "matmul_v4_sg8", "lib_mm16"},
  {"sample", 0, "lib_sample", NULL}, {"sample_nll", 0, NULL, NULL}, {"sample_softcap", 0, NULL, NULL},
  {"moe_route", 0, NULL, NULL}, {"moe_matmul", 1, NULL, NULL}, {"moe_combine", 0, NULL, NULL}, {"moe_group", 0, NULL, NULL},
  {"gemv_sg", 2, NULL, NULL}, /* wdecode 2: weight access file by type (kernel_source) */
  {"attention_split", 0, "attention_split_wg", NULL},
  {"quantize_x", 0, NULL, "lib_qx"}, {"gemv_i8", 3, NULL, NULL}, /* wdecode 3: gemv_i8_v4 / gemv_i8_u32 by type */
  {"matmul_tiled128", 4, NULL, NULL}, /* wdecode 4: lib_wdecode + `const WT` (the type) and w_load8 */
  {"attention_fa", 0, NULL, NULL},
  {"sample_split", 0, "lib_sample", NULL}, {"attention_split", 0, "attention_split_sg", NULL},
  {"gemv_i8_fused", 3, "lib_qx", NULL}, /* + const KMAX (kernel_source) */
  {"matmul_splitk_sum", 0, NULL, NULL},
};
/* the sampler's kernels stand alone: no reduction library, no WG override (sample_nll,
 * sample_softcap: a fixed workgroup of 256) */
static int standalone(int k) { return k == K_SAMPLE || k == K_SAMPLE_NLL || k == K_SAMPLE_SOFTCAP || k == K_SAMPLE_SPLIT; }

/* ---- the variant table ------------------------------------------------------------------------
 * Every dispatch the ops record runs one row of this table: its WGSL pieces (kern_info), entry
 * point and override set. Rows marked `typed` decode weights in the kernel (lib_wdecode): they
 * are one module per weight type, listed as NAME_TYPE (matmul_gemv_q4_k). `need` is what the
 * adapter must offer (subgroups of exactly 8: NEED_SG8; weight textures, a CPU adapter with
 * textures on: NEED_TEX; checked per ops context), `cond` the
 * whole condition as `doppler bench kernels --list` prints it. The ops pick a row by the kernel
 * family (dp_ops_set_cpu_kernels), subgroups and the shape; the pipeline is cached by (row,
 * type, WG, PRO), so a dispatch builds no string and scans no cache. */
enum { NEED_NONE = 0, NEED_SG8 = 1, NEED_TEX = 2, NEED_SGF = 4, NEED_DOT4 = 8 }; /* bits; SGF: subgroups of one fixed size;
                                                                       * DOT4: packed_4x8_integer_dot_product */
enum { V_MATMUL_GEMV, V_MATMUL_TILED, V_MATMUL_ROWS_MV, V_MATMUL_ROWS_MM, V_MATMUL_ROWS_MM_SG, V_MATMUL_V4_MV8,
       V_MATMUL_V4_MM4_SG, V_MATMUL_TEX_MV8, V_MATMUL_TEX_MM4_SG, V_MATMUL_V4_MV8X4, V_MATMUL_TEX_MV8X4, V_EMBED, V_RMSNORM, V_RMSNORM_INPLACE, V_ROPE,
       V_KV_WRITE, V_ROPE_KV, V_ATTENTION, V_ATTENTION_SG8, V_SOFTMAX, V_SOFTMAX_INPLACE, V_GLU, V_GLU_INPLACE, V_ADD,
       V_ADD_INPLACE, V_ARGMAX, V_SAMPLE, V_SAMPLE_NLL, V_SAMPLE_SOFTCAP, V_MOE_ROUTE, V_MOE_GEMV, V_MOE_ROWS, V_MOE_COMBINE,
       V_MOE_GROUP, V_MOE_TILED, V_MATMUL_GEMV_SG, V_MATMUL_TILED64, V_ATTENTION_SPLIT, V_ATTENTION_SPLIT_COMBINE,
       V_QUANTIZE_X, V_MATMUL_GEMV_I8, V_MATMUL_TILED128, V_ATTENTION_FA, V_SAMPLE_SPLIT, V_SAMPLE_SPLIT_PICK, V_ATTENTION_SPLIT_SG,
       V_ROPE_KV_NORM, V_MATMUL_GEMV_I8_FUSED, V_MATMUL_SPLITK_SUM, V_COUNT };
static const struct variant {
  const char *name, *op, *cond;
  int kern;          /* WGSL pieces: kern_info[kern] */
  const char *entry;
  int typed;         /* one module per weight type (lib_wdecode) */
  int need;          /* NEED_* */
} variants[V_COUNT] = {
  {"matmul_gemv", "matmul", "gpu family, M <= 4 or rows (DP_MM_ROWS), where matmul_gemv_sg does not apply", K_MATMUL, "gemv", 1, NEED_NONE},
  {"matmul_tiled", "matmul", "gpu family, 4 < M < 64, not rows", K_MATMUL, "tiled", 1, NEED_NONE},
  {"matmul_rows_mv", "matmul", "cpu family, M <= 4 or rows, not (F32/F16/BF16 and K % 8 == 0)", K_MATMUL, "rows_mv", 1, NEED_NONE},
  {"matmul_rows_mm", "matmul", "cpu family, M > 4, not rows, no subgroups of 8 (or off)", K_MATMUL, "rows_mm", 1, NEED_NONE},
  {"matmul_rows_mm_sg", "matmul", "cpu family, M > 4, not rows, subgroups of 8, not (F32/F16/BF16 and K % 8 == 0)", K_MATMUL_SG8,
   "rows_mm_sg", 1, NEED_SG8},
  {"matmul_v4_mv8", "matmul", "cpu family, M <= 4, F32/F16/BF16, K % 8 == 0", K_MATMUL_V4, "rows_mv8", 0, NEED_NONE},
  {"matmul_v4_mm4_sg", "matmul", "cpu family, M > 4, not rows, subgroups of 8, F32/F16/BF16, K % 8 == 0", K_MATMUL_V4_SG8,
   "rows_mm4_sg", 0, NEED_SG8},
  {"matmul_tex_mv8", "matmul_tex", "weight in a texture (cpu adapter), M <= 4", K_MATMUL_TEX, "rows_mv8", 0, NEED_TEX},
  {"matmul_tex_mm4_sg", "matmul_tex", "weight in a texture (cpu adapter), M > 4, not rows, subgroups of 8", K_MATMUL_TEX_SG8,
   "rows_mm4_sg", 0, NEED_SG8 | NEED_TEX},
  /* batch-invariant rows (DP_MM_ROWS) of a batch: rows_mv8 in blocks of 4 rows, each row bit for bit rows_mv8's */
  {"matmul_v4_mv8x4", "matmul", "cpu family, M > 4 and rows, F32/F16/BF16, K % 8 == 0", K_MATMUL_V4, "rows_mv8x4", 0, NEED_NONE},
  {"matmul_tex_mv8x4", "matmul_tex", "weight in a texture (cpu adapter), M > 4 and rows", K_MATMUL_TEX, "rows_mv8x4", 0, NEED_TEX},
  {"embed", "embed", "always", K_EMBED, "main", 1, NEED_NONE},
  {"rmsnorm", "rmsnorm", "y != x", K_RMSNORM, "main", 0, NEED_NONE},
  {"rmsnorm_inplace", "rmsnorm", "y == x", K_RMSNORM, "inplace", 0, NEED_NONE},
  {"rope", "rope", "always", K_ROPE, "main", 0, NEED_NONE},
  {"kv_write", "kv_write", "always", K_KV_WRITE, "main", 0, NEED_NONE},
  {"rope_kv", "rope_kv", "always", K_ROPE_KV, "main", 0, NEED_NONE},
  {"attention", "attention", "not attention_sg8 / attention_split", K_ATTENTION, "main", 0, NEED_NONE},
  {"attention_sg8", "attention", "cpu family, subgroups of 8, head_dim <= 64", K_ATTENTION_SG8, "rows_sg", 0, NEED_SG8},
  {"softmax", "softmax", "y != x", K_SOFTMAX, "main", 0, NEED_NONE},
  {"softmax_inplace", "softmax", "y == x", K_SOFTMAX, "inplace", 0, NEED_NONE},
  {"glu", "glu", "y != gate", K_GLU, "main", 0, NEED_NONE},
  {"glu_inplace", "glu", "y == gate", K_GLU, "inplace", 0, NEED_NONE},
  {"add", "add", "y != a", K_ADD, "main", 0, NEED_NONE},
  {"add_inplace", "add", "y == a", K_ADD, "inplace", 0, NEED_NONE},
  {"argmax", "argmax", "always", K_ARGMAX, "main", 0, NEED_NONE},
  {"sample", "sample", "cpu family (one workgroup)", K_SAMPLE, "main", 0, NEED_NONE},
  {"sample_nll", "nll", "always", K_SAMPLE_NLL, "main", 0, NEED_NONE},
  {"sample_softcap", "softcap", "always", K_SAMPLE_SOFTCAP, "main", 0, NEED_NONE},
  /* mixture of experts (ops_moe.c) */
  {"moe_route", "moe_route", "always", K_MOE_ROUTE, "main", 0, NEED_NONE},
  {"moe_gemv", "moe_matmul", "gpu family, pairs not grouped (decode)", K_MOE_MATMUL, "gemv", 1, NEED_NONE},
  {"moe_rows", "moe_matmul", "cpu family (decode and prefill)", K_MOE_MATMUL, "rows", 1, NEED_NONE},
  {"moe_combine", "moe_combine", "always", K_MOE_COMBINE, "main", 0, NEED_NONE},
  {"moe_group", "moe_group", "always", K_MOE_GROUP, "main", 0, NEED_NONE},
  {"moe_tiled", "moe_matmul", "gpu family, pairs grouped by expert (prefill)", K_MOE_MATMUL, "tiled", 1, NEED_NONE},
  {"matmul_gemv_sg", "matmul", "gpu family, M <= 4 or rows, subgroups of one size; F32 K % 4 == 0, F16/BF16 K % 8 == 0, block types",
   K_GEMV_SG, "main", 1, NEED_SGF},
  {"matmul_tiled64", "matmul", "gpu family, M >= 64, not rows", K_MATMUL, "tiled64", 1, NEED_NONE},
  {"attention_split", "attention", "gpu family, T = 1, heads per KV head <= 8, head_dim % 4 == 0",
   K_ATTENTION_SPLIT, "part", 0, NEED_NONE},
  {"attention_split_combine", "attention", "after attention_split over more than one split", K_ATTENTION_SPLIT, "combine", 0, NEED_NONE},
  /* int8 input (matvec input q8, GPU family with dot4I8Packed): x quantized once, shared by the products */
  {"quantize_x", "quantize_x", "gpu family, matvec input q8: RMSNorm / GLU / plain x -> int8 blocks of 32 before the "
   "matmul_gemv_i8 products", K_QUANTIZE_X, "main", 0, NEED_SGF | NEED_DOT4},
  {"matmul_gemv_i8", "matmul", "gpu family, matvec input q8, M <= 4 or rows, subgroups of one size, dot4I8Packed; "
   "Q4_K, Q6_K, Q8_0 (K % 64 == 0)", K_GEMV_I8, "main", 1, NEED_SGF | NEED_DOT4},
  {"matmul_tiled128", "matmul", "gpu family, M >= 64, not rows, K % 32 == 0, 24 KiB of workgroup memory (128x64 tiles where "
   "they make >= 256 workgroups, else 64x64)", K_MATMUL128, "main", 1, NEED_NONE},
  {"attention_fa", "attention", "gpu family, T >= 16, head_dim % 4 == 0, head_dim <= 128, 25 KiB of workgroup memory",
   K_ATTENTION_FA, "main", 0, NEED_NONE},
  {"sample_split", "sample", "gpu family: per-range max and top-k candidates, one workgroup per range", K_SAMPLE_SPLIT, "part", 0,
   NEED_NONE},
  {"sample_split_pick", "sample", "after sample_split: one workgroup", K_SAMPLE_SPLIT, "pick", 0, NEED_NONE},
  {"attention_split_sg", "attention", "attention_split's condition, subgroups of one size SG dividing the workgroup, "
   "head_dim / 4 <= 8 min(16, SG)",
   K_ATTENTION_SPLIT_SG, "part_sg", 0, NEED_SGF},
  {"rope_kv_norm", "rope_kv", "gpu family, with q/k RMSNorm weights (dp_op_rope_kv_norm)", K_ROPE_KV, "norm", 0, NEED_NONE},
  {"matmul_gemv_i8_fused", "matmul", "as matmul_gemv_i8 with x quantized in the product (no quantize_x): K <= the "
   "workgroup memory's KMAX, workgroup >= 64, not turned off (dp_ops_set_q8_fused)", K_GEMV_I8F, "main", 1, NEED_SGF | NEED_DOT4},
  {"matmul_splitk_sum", "matmul", "after matmul_tiled128 split over K (its tiles fewer than DOPPLER_MM128_SPLIT / "
   "dp_ops_set_tiled128_split workgroups, >= 16 K steps)", K_SPLITK_SUM, "main", 0, NEED_NONE},
};
const int dp_ops_vrow[DP_VROW_COUNT] = {V_MOE_ROUTE, V_MOE_GEMV, V_MOE_ROWS, V_MOE_TILED, V_MOE_GROUP, V_MOE_COMBINE,
                                        V_GLU, V_GLU_INPLACE};
#define N_WT (DP_MXFP4 + 1)
#define N_WG 9   /* WG override 1 << (0..8) */
#define N_PRO 12 /* PRO override 0..3 (matmul_tex, gemv_sg); gemv_sg: + 4 * (0, 1 SiLU, 2 GELU epilogue) */
/* listed entries: a typed row is one entry per weight type it takes (row_has_type), any other row one */
static int row_has_type(int v, int t) { /* typed rows take every weight type but matmul_gemv_i8 */
  return (v != V_MATMUL_GEMV_I8 && v != V_MATMUL_GEMV_I8_FUSED) || t == DP_Q4_K || t == DP_Q6_K || t == DP_Q8_0;
}
static size_t row_entries(int v) {
  if (!variants[v].typed) return 1;
  size_t n = 0;
  for (int t = 0; t < N_WT; t++) n += (size_t)row_has_type(v, t);
  return n;
}

struct dp_ops {
  dp_gpu *g;
  int sg;                    /* use the subgroup variants */
  int cpu;                   /* CPU adapter: barrier-free kernel variants */
  uint32_t cpu_wg;
  int sg8;                   /* subgroups of exactly 8 = cpu_wg: the *_sg8 CPU variants apply */
  uint32_t sgf;              /* the subgroup size when subgroup_min == subgroup_max, else 0 */
  int gemv_sg;               /* matmul_gemv_sg allowed (DOPPLER_GEMV_SG=0: off, for comparisons) */
  int q8;                    /* matvec input q8 chosen (dp_ops_set_matvec_input); applies where dp_ops_q8_ok */
  uint32_t q8_r;             /* matmul_gemv_i8 rows per subgroup (DOPPLER_GEMV_I8_R 1..4, for measurements) */
  int q8_fused;              /* matmul_gemv_i8_fused allowed (DOPPLER_Q8_FUSED=1 / dp_ops_set_q8_fused; default off) */
  uint32_t q8_fused_maxn;    /* ... only for products of at most this many rows (DOPPLER_Q8_FUSED_MAXN, measurements; 0: any) */
  uint32_t q8_kmax;          /* its largest K: one row's codes and scales in workgroup memory (KMAX) */
  uint32_t gemv_r, gemv_wg;  /* its rows per row group and workgroup size (DOPPLER_GEMV_R / _WG) */
  uint32_t gemv_spr, gemv_u; /* its subgroups per row group and units per step (DOPPLER_GEMV_SPR / _U; lib_gemv.wgsl) */
  uint32_t q8_wg, q8_spr, q8_u; /* the same for matmul_gemv_i8(_fused) (DOPPLER_GEMV_I8_WG / _I8_SPR / _I8_U) */
  int i8wide;                /* matmul_gemv_i8 Q6_K / Q8_0 by vec4 loads (gemv_i8_wide.wgsl; DOPPLER_GEMV_I8_WIDE=1; default word loads) */
  int wtex;                  /* weight textures allowed (dp_wtex_create) */
  uint32_t wtex_h;           /* max rows per texture column block (0 = device limit) */
  uint64_t wtex_bytes;       /* bytes of weight textures created so far, against WTEX_BUDGET */
  /* assembled sources: [subgroups][kernel][weight type] (type 0 for kernels without weights) */
  char *src[2][K_COUNT][N_WT];
  /* pipelines: [subgroups][variant][weight type][log2 WG][PRO] (type 0 where the row is untyped
   * and takes no TYPE override) */
  dp_gpu_kernel *(*pipe)[V_COUNT][N_WT][N_WG][N_PRO];
  uint64_t runs[V_COUNT][N_WT]; /* dispatches recorded per variant and weight type */
  char *swap[V_COUNT][N_WT]; /* replacement modules (dp_ops_variant_replace), [type 0] untyped */
  dp_gpu_buffer *dummy;      /* bound where an optional read-only input is absent */
  dp_gpu_buffer *attn_part;  /* attention_split's partial results (grown: older ones kept until free, */
  dp_gpu_buffer *attn_old[8];/* since recorded dispatches may still bind them) */
  dp_gpu_buffer *mm_part;    /* matmul_tiled128's partial products when split over K (grown alike) */
  dp_gpu_buffer *mm_old[8];
  dp_gpu_buffer *samp_scr;   /* sample_split's partial results and candidate lists (made at first use) */
  int attn_split;            /* attention_split allowed (DOPPLER_ATTN_SPLIT=0: off, for comparisons) */
  uint32_t attn_wg, attn_groups, attn_one; /* its workgroup size, workgroups aimed at, keys of one split
                                            * (DOPPLER_ATTN_WG / _GROUPS / _ONE, for measurements) */
  struct attn_pipe { int v, sg; uint32_t wg, g, h4; dp_gpu_kernel *k; char *src; } *attn_pipe; /* its pipelines by
                             * shape with their sources (kept until free: the device cache keys by source pointer) */
  size_t n_attn_pipe;
  int mm128;                 /* matmul_tiled128 allowed (DOPPLER_MM128=0: tiled64, for comparisons) */
  uint32_t mm128_wg;         /* its workgroup size forced (DOPPLER_MM128_WG=128 or 256), 0: by shape */
  uint32_t mm128_tn;         /* its columns per invocation forced (DOPPLER_MM128_TN=4 or 8), 0: by shape */
  uint32_t mm128_tn8_min;    /* by shape: 8x8 blocks (128x128 tiles) where they make >= this many workgroups
                              * (DOPPLER_MM128_TN8_MIN, default 256; 0: never) */
  uint32_t mm128_split;      /* split over K where the tiles make fewer workgroups than this
                              * (DOPPLER_MM128_SPLIT, default 512; 0: never) */
  int attn_fa;               /* attention_fa allowed (DOPPLER_ATTN_FA=0: off, for comparisons) */
  dp_op_sites *sites;        /* between dp_ops_sites_begin and _end: the list in use */
};

/* subgroups per row group of the GEMVs (lib_gemv.wgsl) from env variable name (else def): a
 * power of two dividing wg / sg, else 1 */
static uint32_t env_spr(const char *name, uint32_t wg, uint32_t sg, uint32_t def) {
  uint32_t v = getenv(name) ? (uint32_t)atoi(getenv(name)) : def;
  return v >= 1 && !(v & (v - 1)) && sg && v <= wg / sg ? v : 1;
}

dp_status dp_ops_create(dp_gpu *g, dp_ops **out) {
  dp_ops *o = dp_calloc(1, sizeof *o);
  if (!o) return DP_ERR_NOMEM;
  o->pipe = dp_calloc(2, sizeof *o->pipe);
  if (!o->pipe) { dp_free(o); return DP_ERR_NOMEM; }
  o->g = g;
  o->sg = dp_gpu_get_info(g)->has_subgroups;
  o->cpu = !strcmp(dp_gpu_get_info(g)->adapter_type, "cpu");
  o->cpu_wg = 8; /* one 8-wide SIMD batch of lavapipe (two of SwiftShader's 4) */
  o->sg8 = dp_gpu_get_info(g)->subgroup_min == 8 && dp_gpu_get_info(g)->subgroup_max == 8;
  const dp_gpu_info *gi = dp_gpu_get_info(g);
  o->sgf = gi->subgroup_min == gi->subgroup_max && gi->subgroup_min >= 4 && gi->subgroup_min <= 128 ? gi->subgroup_min : 0;
  o->gemv_sg = !(getenv("DOPPLER_GEMV_SG") && !strcmp(getenv("DOPPLER_GEMV_SG"), "0"));
  /* 2 rows per subgroup: on the H200 Q4_K 4096 x 14336 199 us against 324 with 1, F16 72 / 81 */
  o->gemv_r = getenv("DOPPLER_GEMV_R") ? (uint32_t)atoi(getenv("DOPPLER_GEMV_R")) : 2;
  if (o->gemv_r < 1 || o->gemv_r > 4) o->gemv_r = 2;
  o->gemv_wg = getenv("DOPPLER_GEMV_WG") ? (uint32_t)atoi(getenv("DOPPLER_GEMV_WG")) : 256;
  if (o->gemv_wg > 256 || !o->sgf || o->gemv_wg < o->sgf || o->gemv_wg & (o->gemv_wg - 1)) o->gemv_wg = 256;
  o->q8 = !o->cpu; /* CPU adapters: f32 unless asked (dp_ops_set_matvec_input) */
  const char *fam = getenv("DOPPLER_KERNEL_FAMILY"); /* measurements and quality checks: force a kernel family */
  if (fam && !strcmp(fam, "gpu")) o->cpu = 0;
  if (fam && !strcmp(fam, "cpu")) o->cpu = 1;
  o->q8_r = getenv("DOPPLER_GEMV_I8_R") ? (uint32_t)atoi(getenv("DOPPLER_GEMV_I8_R")) : 1;
  if (o->q8_r < 1 || o->q8_r > 4) o->q8_r = 1;
  o->q8_wg = getenv("DOPPLER_GEMV_I8_WG") ? (uint32_t)atoi(getenv("DOPPLER_GEMV_I8_WG")) : o->gemv_wg;
  if (o->q8_wg > 256 || !o->sgf || o->q8_wg < o->sgf || o->q8_wg & (o->q8_wg - 1)) o->q8_wg = o->gemv_wg;
  /* 2 subgroups per row group: on the H200 4096 x 14336 f16 50-53 us against 70-75 with 1, bf16
   * 50-53 / 70-74, mxfp4 120-123 / 152-157 (notes/performance.md, wip-mv) */
  o->gemv_spr = env_spr("DOPPLER_GEMV_SPR", o->gemv_wg, o->sgf, 2);
  o->q8_spr = env_spr("DOPPLER_GEMV_I8_SPR", o->q8_wg, o->sgf, 1);
  o->gemv_u = getenv("DOPPLER_GEMV_U") && atoi(getenv("DOPPLER_GEMV_U")) == 4 ? 4 : 2;
  o->q8_u = getenv("DOPPLER_GEMV_I8_U") && atoi(getenv("DOPPLER_GEMV_I8_U")) == 4 ? 4 : 2;
  /* off: no faster than the word loads on the H200 (Q6_K 4096 x 14336 40.0 vs 40.1-40.5 us,
   * 14336 x 4096 41.6 vs 39.9-41.1, Q8_0 36.5 vs 37.4; decode within noise; notes/performance.md) */
  o->i8wide = getenv("DOPPLER_GEMV_I8_WIDE") && !strcmp(getenv("DOPPLER_GEMV_I8_WIDE"), "1");
  /* off by default: slower on the H200 (llama-3.2-1b tg128 308 fused vs 355, notes/performance.md) */
  o->q8_fused = getenv("DOPPLER_Q8_FUSED") && !strcmp(getenv("DOPPLER_Q8_FUSED"), "1");
  o->q8_fused_maxn = getenv("DOPPLER_Q8_FUSED_MAXN") ? (uint32_t)strtoul(getenv("DOPPLER_Q8_FUSED_MAXN"), NULL, 10) : 0;
  /* gemv_i8_fused's workgroup memory: K * (1 + 8 / 32) bytes + lib_reduce_sg's 8 * WG + 32 (WG <= 256)
   * + lib_gemv's 1 KiB */
  uint32_t wgm = gi->max_wg_storage > 2080 + 512 + 1024 ? gi->max_wg_storage - 2080 - 512 - 1024 : 0;
  o->q8_kmax = (uint32_t)((uint64_t)wgm * 4 / 5) & ~255u;
  if (o->q8_kmax > 16384) o->q8_kmax = 16384;
  o->attn_split = !(getenv("DOPPLER_ATTN_SPLIT") && !strcmp(getenv("DOPPLER_ATTN_SPLIT"), "0"));
  /* attention_split: workgroups of 128; about 256 workgroups over long contexts (H200, 132 SMs,
   * llama-3.2-1b q4_k_m tg128@d8192: 379 tok/s with 256, 334 with 512, 314 with 1024; 64-wide
   * 351, 256-wide 285; notes/performance.md); one split (no combine dispatch, ~3-4 us on the
   * H200) up to 192 keys (64: tg128 428 against ~473) */
  o->attn_wg = getenv("DOPPLER_ATTN_WG") ? (uint32_t)atoi(getenv("DOPPLER_ATTN_WG")) : 128;
  if (o->attn_wg != 64 && o->attn_wg != 128 && o->attn_wg != 256) o->attn_wg = 128;
  o->attn_groups = getenv("DOPPLER_ATTN_GROUPS") ? (uint32_t)atoi(getenv("DOPPLER_ATTN_GROUPS")) : 256;
  if (o->attn_groups < 1 || o->attn_groups > 4096) o->attn_groups = 256;
  o->attn_one = getenv("DOPPLER_ATTN_ONE") ? (uint32_t)atoi(getenv("DOPPLER_ATTN_ONE")) : 192;
  o->mm128 = !(getenv("DOPPLER_MM128") && !strcmp(getenv("DOPPLER_MM128"), "0"));
  o->mm128_wg = getenv("DOPPLER_MM128_WG") ? (uint32_t)atoi(getenv("DOPPLER_MM128_WG")) : 0;
  if (o->mm128_wg != 128 && o->mm128_wg != 256) o->mm128_wg = 0;
  o->mm128_tn = getenv("DOPPLER_MM128_TN") ? (uint32_t)atoi(getenv("DOPPLER_MM128_TN")) : 0;
  if (o->mm128_tn != 4 && o->mm128_tn != 8) o->mm128_tn = 0;
  /* defaults measured on the H200 (notes/performance.md, wip-pp): 1B q4_k_m pp512 8,593 (old)
   * -> 9,829 tok/s with split 512 + 8x8 >= 256 + 128x64 tiles under the split */
  o->mm128_tn8_min = getenv("DOPPLER_MM128_TN8_MIN") ? (uint32_t)strtoul(getenv("DOPPLER_MM128_TN8_MIN"), NULL, 10) : 256;
  o->mm128_split = getenv("DOPPLER_MM128_SPLIT") ? (uint32_t)strtoul(getenv("DOPPLER_MM128_SPLIT"), NULL, 10) : 512;
  o->attn_fa = !(getenv("DOPPLER_ATTN_FA") && !strcmp(getenv("DOPPLER_ATTN_FA"), "0"));
  const char *wt = getenv("DOPPLER_WEIGHT_TEXTURES");
  o->wtex = !(wt && !strcmp(wt, "0"));
  dp_status s = dp_gpu_buffer_create(g, 256, "ops.dummy", &o->dummy);
  if (s) { dp_free(o->pipe); dp_free(o); return s; }
  *out = o;
  return DP_OK;
}

void dp_ops_free(dp_ops *o) {
  if (!o) return;
  for (int v = 0; v < 2; v++)
    for (int k = 0; k < K_COUNT; k++)
      for (int t = 0; t < N_WT; t++) dp_free(o->src[v][k][t]);
  for (int v = 0; v < V_COUNT; v++)
    for (int t = 0; t < N_WT; t++) dp_free(o->swap[v][t]);
  dp_gpu_buffer_free(o->dummy);
  dp_gpu_buffer_free(o->attn_part);
  dp_gpu_buffer_free(o->samp_scr);
  for (int i = 0; i < 8; i++) dp_gpu_buffer_free(o->attn_old[i]);
  dp_gpu_buffer_free(o->mm_part);
  for (int i = 0; i < 8; i++) dp_gpu_buffer_free(o->mm_old[i]);
  for (size_t i = 0; i < o->n_attn_pipe; i++) dp_free(o->attn_pipe[i].src);
  dp_free(o->attn_pipe);
  dp_free(o->pipe);
  dp_free(o);
}

dp_gpu *dp_ops_gpu(dp_ops *o) { return o->g; }
int dp_ops_cpu_kernels(const dp_ops *o) { return o->cpu; }
int dp_ops_subgroups(const dp_ops *o) { return o->sg; }
void dp_ops_set_cpu_kernels(dp_ops *o, int enabled) { o->cpu = enabled != 0; }
void dp_ops_set_weight_textures(dp_ops *o, int enabled) { o->wtex = enabled != 0; }
void dp_ops_set_weight_texture_height(dp_ops *o, uint32_t max_rows) { o->wtex_h = max_rows; }
void dp_ops_set_tiled128(dp_ops *o, int enabled) { o->mm128 = enabled != 0; }
void dp_ops_set_tiled128_shape(dp_ops *o, uint32_t wg, uint32_t tn) {
  o->mm128_wg = wg == 128 || wg == 256 ? wg : 0;
  o->mm128_tn = tn == 4 || tn == 8 ? tn : 0;
}
int dp_ops_tiled128(const dp_ops *o) { return o->mm128; }
void dp_ops_set_tiled128_split(dp_ops *o, uint32_t min_groups) { o->mm128_split = min_groups; }
void dp_ops_set_subgroups(dp_ops *o, int enabled) {
  o->sg = enabled && dp_gpu_get_info(o->g)->has_subgroups;
}

/* reduction library + [lib] + [weight decoder + the line choosing the type] + kernel + [ext] + [lib_gemv] */
static const char *kernel_source(dp_ops *o, int k, dp_dtype wt) {
  char **slot = &o->src[o->sg][k][kern_info[k].wdecode ? wt : 0];
  if (*slot) return *slot;
  char pick[200] = "";
  int v4 = wt == DP_F32 || wt == DP_F16 || wt == DP_BF16 || wt == DP_Q4_K; /* gemv_sg: 16-byte units */
  if (kern_info[k].wdecode == 3) /* gemv_i8: the type, then its weight access file */
    snprintf(pick, sizeof pick, "const WT = %du;\nconst KMAX = %uu;\n", (int)wt, o->q8_kmax > 256 ? o->q8_kmax : 256);
  else if (kern_info[k].wdecode == 2) /* gemv_sg: the type, then its weight access file before the kernel */
    snprintf(pick, sizeof pick, "const WT = %du;\n%s%s%s", (int)wt, v4 ? "" : "fn w_load8(rb: u32, k0: u32, K: u32) -> W8 { return wl_",
             v4 ? "" : dp_dtype_name(wt), v4 ? "" : "(rb, k0, K); }\n");
  else if (kern_info[k].wdecode == 4) /* matmul_tiled128 */
    snprintf(pick, sizeof pick, "const WT = %du;\nfn w_load8(rb: u32, k0: u32, K: u32) -> W8 { return wl_%s(rb, k0, K); }\n",
             (int)wt, dp_dtype_name(wt));
  else if (kern_info[k].wdecode)
    snprintf(pick, sizeof pick, "fn w_load8(rb: u32, k0: u32, K: u32) -> W8 { return wl_%s(rb, k0, K); }\n",
             dp_dtype_name(wt));
  const char *lib = kern_info[k].wdecode == 2 ? (v4 ? "gemv_sg_v4" : "gemv_sg_u32")
                    : kern_info[k].wdecode == 3 ? (wt == DP_Q4_K ? "gemv_i8_v4" : o->i8wide ? "gemv_i8_wide" : "gemv_i8_u32")
                    : kern_info[k].lib;
  int gv = kern_info[k].wdecode == 2 || kern_info[k].wdecode == 3; /* the GEMVs: + lib_gemv (work split) */
  const char *parts[7] = {standalone(k) ? "" : dp_kernel_source(o->sg ? "lib_reduce_sg" : "lib_reduce"),
                          kern_info[k].wdecode && kern_info[k].wdecode != 3 && !(kern_info[k].wdecode == 2 && v4) ? dp_kernel_source("lib_wdecode") : "",
                          pick,
                          lib ? dp_kernel_source(lib) : "",
                          dp_kernel_source(kern_info[k].name),
                          kern_info[k].ext ? dp_kernel_source(kern_info[k].ext) : "",
                          gv ? dp_kernel_source("lib_gemv") : ""};
  size_t n = 1;
  for (int i = 0; i < 7; i++) {
    if (!parts[i]) { dp_error(DP_ERR_NOT_FOUND, "kernel %s: WGSL source not embedded", kern_info[k].name); return NULL; }
    n += strlen(parts[i]) + 1;
  }
  char *s = dp_malloc(n), *p = s;
  if (!s) return NULL;
  for (int i = 0; i < 7; i++) { size_t l = strlen(parts[i]); memcpy(p, parts[i], l); p += l; *p++ = '\n'; }
  *p = 0;
  return *slot = s;
}

static int wg_log2(uint32_t wg) { int l = 0; while ((1u << l) < wg) l++; return l; }

/* The pipeline of variant v for weight type wt (typed rows and the TYPE override), workgroup
 * size wg (a power of two <= 256) and matmul_tex prologue pro; counts the dispatch it is for. */
static dp_status pipeline(dp_ops *o, int v, dp_dtype wt, uint32_t wg, int pro, dp_gpu_kernel **out) {
  const struct variant *r = &variants[v];
  int k = r->kern;
  int mm16 = kern_info[k].lib && !strcmp(kern_info[k].lib, "lib_mm16");
  int t = r->typed || mm16 ? (int)wt : 0;
  dp_gpu_kernel **slot = &o->pipe[o->sg][v][t][wg_log2(wg)][pro];
  o->runs[v][t]++;
  if (*slot) { *out = *slot; return DP_OK; }
  const char *src = o->swap[v][r->typed ? t : 0];
  if (!src) src = kernel_source(o, k, r->typed ? wt : DP_F32);
  if (!src) return dp_error_wrap(DP_ERR_NOT_FOUND, "%s", r->name);
  dp_gpu_constant c[7] = {{"WG", wg}, {"TYPE", wt == DP_F32 ? 0 : wt == DP_F16 ? 1 : 2} /* lib_mm16 */, {"PRO", pro}};
  size_t nc = v == V_MATMUL_TEX_MV8 || v == V_MATMUL_TEX_MV8X4 ? 3 : mm16 ? 2 : v == V_SAMPLE_NLL || v == V_SAMPLE_SOFTCAP ? 0 : 1;
  if (v == V_MATMUL_TILED128) c[1] = (dp_gpu_constant){"TN", pro ? 8 : 4}, nc = 2; /* pro 1: 8 columns per invocation */
  if (v == V_MATMUL_GEMV_SG) { /* pro: PRO + 4 * epilogue (0 none, 1 SiLU, 2 GELU-tanh: rows in pairs, R = 2) */
    int epi = pro >> 2;
    c[1] = (dp_gpu_constant){"SG", o->sgf}, c[2].value = pro & 3;
    c[3] = (dp_gpu_constant){"R", epi ? 2 : o->gemv_r}, c[4] = (dp_gpu_constant){"EPI", epi ? epi + 1 : 0};
    c[5] = (dp_gpu_constant){"SPR", o->gemv_spr}, c[6] = (dp_gpu_constant){"U", o->gemv_u};
    nc = 7;
  }
  if (v == V_MATMUL_GEMV_I8 || v == V_MATMUL_GEMV_I8_FUSED) {
    c[1] = (dp_gpu_constant){"SG", o->sgf}, c[2] = (dp_gpu_constant){"R", o->q8_r}, c[3] = (dp_gpu_constant){"SPR", o->q8_spr};
    c[4] = (dp_gpu_constant){"U", o->q8_u}, c[5] = (dp_gpu_constant){"PRO", pro};
    nc = v == V_MATMUL_GEMV_I8_FUSED ? 6 : 5;
  }
  if (v == V_QUANTIZE_X) c[1] = (dp_gpu_constant){"PRO", pro}, nc = 2;
  TRY(dp_gpu_kernel_get(o->g, kern_info[k].name, src, r->entry, c, nc, slot));
  *out = *slot;
  return DP_OK;
}

/* ---- the table as ops.h lists it ---- */
size_t dp_kernel_variant_count(void) {
  size_t n = 0;
  for (int v = 0; v < V_COUNT; v++) n += row_entries(v);
  return n;
}

/* entry i -> row and weight type */
static int entry_row(size_t i, int *t) {
  for (int v = 0; v < V_COUNT; v++) {
    if (i < row_entries(v)) {
      *t = (int)i;
      if (variants[v].typed) /* the i-th type the row takes */
        for (int w = 0; w < N_WT; w++)
          if (row_has_type(v, w) && i-- == 0) { *t = w; break; }
      return v;
    }
    i -= row_entries(v);
  }
  return -1;
}

dp_status dp_kernel_variant_get(size_t i, dp_kernel_variant *out) {
  int t, v = entry_row(i, &t);
  if (v < 0) return dp_error(DP_ERR_INVALID_ARG, "kernel variant %zu of %zu", i, dp_kernel_variant_count());
  if (variants[v].typed) snprintf(out->name, sizeof out->name, "%s_%s", variants[v].name, dp_dtype_name((dp_dtype)t));
  else snprintf(out->name, sizeof out->name, "%s", variants[v].name);
  out->op = variants[v].op;
  out->condition = variants[v].cond;
  return DP_OK;
}

long dp_kernel_variant_find(const char *name) {
  dp_kernel_variant e;
  for (size_t i = 0, n = dp_kernel_variant_count(); i < n; i++)
    if (!dp_kernel_variant_get(i, &e) && !strcmp(e.name, name)) return (long)i;
  return -1;
}

int dp_ops_variant_available(const dp_ops *o, size_t i) {
  int t, v = entry_row(i, &t);
  if (v < 0) return 0;
  int need = variants[v].need;
  int tex = !strcmp(dp_gpu_get_info(o->g)->adapter_type, "cpu") && o->wtex;
  return (!(need & NEED_SG8) || (o->sg && o->sg8)) && (!(need & NEED_TEX) || tex) && (!(need & NEED_SGF) || (o->sg && o->sgf)) &&
         (!(need & NEED_DOT4) || dp_gpu_get_info(o->g)->has_dot4);
}

void dp_ops_clear_runs(dp_ops *o) { memset(o->runs, 0, sizeof o->runs); }

uint64_t dp_ops_variant_runs(const dp_ops *o, size_t i) {
  int t, v = entry_row(i, &t);
  if (v < 0) return 0;
  if (variants[v].typed) return o->runs[v][t];
  uint64_t n = 0;
  for (int k = 0; k < N_WT; k++) n += o->runs[v][k];
  return n;
}

dp_status dp_ops_variant_replace(dp_ops *o, size_t i, const char *wgsl) {
  int t, v = entry_row(i, &t);
  if (v < 0) return dp_error(DP_ERR_INVALID_ARG, "kernel variant %zu of %zu", i, dp_kernel_variant_count());
  char *copy = NULL;
  if (wgsl && !(copy = dp_strndup(wgsl, strlen(wgsl)))) return DP_ERR_NOMEM;
  int ts = variants[v].typed ? t : 0;
  dp_free(o->swap[v][ts]);
  o->swap[v][ts] = copy;
  for (int s = 0; s < 2; s++) /* the row's pipelines are rebuilt from the new module */
    for (int w = 0; w < N_WT; w++)
      if (!variants[v].typed || w == t) memset(o->pipe[s][v][w], 0, sizeof o->pipe[s][v][w]);
  for (size_t j = 0; j < o->n_attn_pipe; j++) /* attention_split's pipelines by shape (sources kept) */
    if (o->attn_pipe[j].v == v) o->attn_pipe[j].v = -1;
  return DP_OK;
}

const char *dp_ops_variant_source(dp_ops *o, size_t i) {
  int t, v = entry_row(i, &t);
  if (v < 0) { dp_error(DP_ERR_INVALID_ARG, "kernel variant %zu of %zu", i, dp_kernel_variant_count()); return NULL; }
  if (!dp_ops_variant_available(o, i)) {
    dp_error(DP_ERR_UNSUPPORTED, "kernel %s: %s: not on this adapter", variants[v].name, variants[v].cond);
    return NULL;
  }
  return kernel_source(o, variants[v].kern, variants[v].typed ? (dp_dtype)t : DP_F32);
}

/* A binding of `bytes` bytes at view v, checked against alignment, buffer size and limits. */
static dp_status bind(dp_ops *o, const char *op, const char *what, dp_view v, uint64_t bytes,
                      dp_gpu_binding *b) {
  if (!v.buf) return dp_error(DP_ERR_INVALID_ARG, "%s: %s: no buffer", op, what);
  if (v.offset % 256) return dp_error(DP_ERR_INVALID_ARG, "%s: %s: offset %llu is not a multiple of 256", op, what, (unsigned long long)v.offset);
  bytes = (bytes + 3) & ~(uint64_t)3;
  if (bytes == 0) bytes = 4;
  if (v.offset + bytes > dp_gpu_buffer_size(v.buf))
    return dp_error(DP_ERR_INVALID_ARG, "%s: %s: %llu bytes at offset %llu exceed the buffer (%llu bytes)", op, what,
                    (unsigned long long)bytes, (unsigned long long)v.offset, (unsigned long long)dp_gpu_buffer_size(v.buf));
  if (bytes > dp_gpu_get_info(o->g)->max_storage_binding)
    return dp_error(DP_ERR_UNSUPPORTED, "%s: %s: %llu bytes exceed the device's storage binding limit (%llu)", op, what,
                    (unsigned long long)bytes, (unsigned long long)dp_gpu_get_info(o->g)->max_storage_binding);
  b->buf = v.buf;
  b->offset = v.offset;
  b->size = bytes;
  b->tex = NULL;
  return DP_OK;
}

static dp_gpu_binding dummy_binding(dp_ops *o) {
  dp_gpu_binding b = {o->dummy, 0, 256, NULL};
  return b;
}

/* Workgroup size for one-workgroup-per-row kernels: enough for the row, 32..256 on GPUs; on
 * CPU adapters from 8 (one SIMD batch: barriers there cost far more than a longer strided
 * loop) up to what keeps <= 256 terms per invocation (f32 sums stay as accurate as on GPUs). */
static uint32_t row_wg(const dp_ops *o, uint32_t n) {
  uint32_t wg = 32;
  if (o->cpu) {
    wg = 8;
    while (wg < 256 && wg * 256 < n) wg *= 2;
    return wg;
  }
  while (wg < 256 && wg < n) wg *= 2;
  return wg;
}

static int same_view(dp_view a, dp_view b) { return a.buf == b.buf && a.offset == b.offset; }

/* ---- dispatch sites ---- */
#define SITE_BINDINGS 8
typedef struct op_site {
  dp_gpu_bound *bound;
  dp_gpu_kernel *k;
  size_t ps, nb;
  dp_gpu_binding b[SITE_BINDINGS];
} op_site;
struct dp_op_sites {
  op_site *v;
  size_t n, cap, cursor;
};

dp_status dp_op_sites_create(dp_op_sites **out) {
  *out = dp_calloc(1, sizeof **out);
  return *out ? DP_OK : DP_ERR_NOMEM;
}

void dp_op_sites_free(dp_op_sites *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) dp_gpu_bound_free(s->v[i].bound);
  dp_free(s->v);
  dp_free(s);
}

void dp_ops_sites_begin(dp_ops *o, dp_op_sites *s) {
  o->sites = s;
  if (s) s->cursor = 0;
}
void dp_ops_sites_end(dp_ops *o) { o->sites = NULL; }
dp_op_sites *dp_ops_sites_pause(dp_ops *o) {
  dp_op_sites *s = o->sites;
  o->sites = NULL;
  return s;
}
void dp_ops_sites_resume(dp_ops *o, dp_op_sites *s) { o->sites = s; }
size_t dp_op_sites_count(const dp_op_sites *s) { return s->n; }

/* Record one dispatch: through the current site (its bind group reused when the kernel and
 * bindings are the site's) inside dp_ops_sites_begin/_end, else with a bind group of its own. */
static dp_status dispatch(dp_ops *o, dp_gpu_kernel *k, const void *p, size_t ps, const dp_gpu_binding *b, size_t nb,
                          uint32_t gx, uint32_t gy, uint32_t gz) {
  dp_op_sites *S = o->sites;
  if (!S || nb > SITE_BINDINGS) return dp_gpu_dispatch(o->g, k, p, ps, b, nb, gx, gy, gz);
  if (S->cursor == S->n) {
    if (S->n == S->cap) {
      size_t cap = S->cap ? S->cap * 2 : 64;
      op_site *v = dp_realloc(S->v, cap * sizeof *v);
      if (!v) return DP_ERR_NOMEM;
      S->v = v, S->cap = cap;
    }
    memset(&S->v[S->n++], 0, sizeof *S->v);
  }
  op_site *x = &S->v[S->cursor++];
  if (!x->bound || x->k != k || x->ps != ps || x->nb != nb || memcmp(x->b, b, nb * sizeof *b)) {
    dp_gpu_bound_free(x->bound);
    x->bound = NULL;
    TRY(dp_gpu_bound_create(o->g, k, ps, b, nb, &x->bound));
    x->k = k, x->ps = ps, x->nb = nb;
    memcpy(x->b, b, nb * sizeof *b);
  }
  return dp_gpu_dispatch_bound(o->g, x->bound, p, gx, gy, gz);
}

static dp_status run(dp_ops *o, dp_gpu_kernel *k, const void *p, size_t ps, const dp_gpu_binding *b, size_t nb,
                     uint64_t n_groups);
/* ---- ops_internal.h: the helpers for the op files beside this one ---- */
dp_status dp_ops_pipeline(dp_ops *o, int v, dp_dtype wt, uint32_t wg, dp_gpu_kernel **out) {
  return pipeline(o, v, wt, wg, 0, out);
}
dp_status dp_ops_bind(dp_ops *o, const char *op, const char *what, dp_view v, uint64_t bytes, dp_gpu_binding *b) {
  return bind(o, op, what, v, bytes, b);
}
dp_gpu_binding dp_ops_dummy(dp_ops *o) { return dummy_binding(o); }
dp_status dp_ops_run(dp_ops *o, dp_gpu_kernel *k, const void *p, size_t ps, const dp_gpu_binding *b, size_t nb,
                     uint64_t n_groups) {
  return run(o, k, p, ps, b, nb, n_groups);
}
uint32_t dp_ops_cpu_wg(const dp_ops *o) { return o->cpu_wg; }

/* Dispatch n_groups workgroups (linear ids) over a 2-D grid. */
static dp_status run(dp_ops *o, dp_gpu_kernel *k, const void *p, size_t ps, const dp_gpu_binding *b,
                     size_t nb, uint64_t n_groups) {
  uint32_t gx, gy;
  dp_gpu_grid_2d(o->g, n_groups, &gx, &gy);
  return dispatch(o, k, p, ps, b, nb, gx, gy, 1);
}

static uint64_t cdiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

/* A scratch buffer of at least `bytes` in *cur: grown (to twice the need, within the device's
 * storage binding limit), the one it replaces kept in old[] until dp_ops_free, since recorded
 * dispatches may still bind it; `bytes` <= the limit (the caller checks). */
static dp_status scratch(dp_ops *o, dp_gpu_buffer **cur, dp_gpu_buffer *old[8], uint64_t bytes, const char *label) {
  if (*cur && dp_gpu_buffer_size(*cur) >= bytes) return DP_OK;
  const dp_gpu_info *gi = dp_gpu_get_info(o->g);
  uint64_t lim = gi->max_buffer < gi->max_storage_binding ? gi->max_buffer : gi->max_storage_binding;
  int i = 0;
  while (i < 8 && old[i]) i++;
  if (*cur && i == 8) return dp_error(DP_ERR_NOMEM, "%s: scratch grown more than 8 times", label);
  if (*cur) old[i] = *cur;
  *cur = NULL;
  uint64_t want = bytes < (1u << 20) ? (1u << 20) : bytes * 2;
  if (want > lim) want = lim > bytes ? lim : bytes;
  return dp_gpu_buffer_create(o->g, want, label, cur);
}

/* ---- matmul --------------------------------------------------------------------------------- */
typedef struct { uint32_t M, N, K, row_bytes, ntn, flags, c0, ldy; } matmul_params;
_Static_assert(sizeof(matmul_params) == 32, "matmul.wgsl Params");
typedef struct { uint32_t M, N, S, flags, c0, ldy, p0, p1; } splitk_params; /* matmul_splitk_sum.wgsl */

/* matmul_tiled128 split over K: where its `tiles` workgroups are fewer than o->mm128_split,
 * about mm128_split / tiles splits of at least MM_SPLIT_MIN_STEPS K steps each (of `nall`), if
 * the partial products fit one binding; returns the steps per split, 0 for no split. */
#define MM_SPLIT_MIN_STEPS 8
static uint32_t split_steps(const dp_ops *o, uint64_t tiles, uint32_t nall, uint32_t M, uint32_t N) {
  if (!o->mm128_split || tiles >= o->mm128_split) return 0;
  uint64_t ns = cdiv(o->mm128_split, tiles), nmax = nall / MM_SPLIT_MIN_STEPS;
  if (ns > nmax) ns = nmax;
  if (ns < 2) return 0;
  uint32_t spn = (uint32_t)cdiv(nall, ns);
  const dp_gpu_info *gi = dp_gpu_get_info(o->g);
  uint64_t lim = gi->max_buffer < gi->max_storage_binding ? gi->max_buffer : gi->max_storage_binding;
  return cdiv(nall, spn) * M * N * 4 <= lim ? spn : 0;
}
#define GEMV_MAX_M 4
/* The GEMV (the M = 1 decode kernel, one x row after the other through the same per-row
 * reduction) for M rows: M <= GEMV_MAX_M, or any M with DP_MM_ROWS (batch-invariant rows). */
static int gemv_rows(uint32_t M, uint32_t flags) { return M <= GEMV_MAX_M || (flags & DP_MM_ROWS); }

static int weight_type_ok(dp_dtype t) { return t <= DP_MXFP4; }

/* Where the N outputs of a matmul over one binding of W go: columns [c0, c0 + N) of y rows of
 * ldy floats, bias [c0, c0 + N) (a part of a dp_weight; c0 = 0, ldy = N for a whole one). */
typedef struct { uint32_t c0, ldy; } out_cols;

/* matmul_gemv_sg applies: GPU family, subgroups of one size, M <= 4, rows of whole units */
static int gemv_sg_ok(const dp_ops *o, dp_dtype wt, uint32_t K, uint32_t M) {
  return !o->cpu && o->sg && o->sgf && o->gemv_sg && M <= GEMV_MAX_M && K > 0 &&
         (wt == DP_F32 ? K % 4 == 0 : wt == DP_F16 || wt == DP_BF16 ? K % 8 == 0 : wt <= DP_MXFP4);
}

typedef struct { uint32_t M, N, K, row_bytes, flags, c0, ldy; float eps; } gemv_sg_params;
_Static_assert(sizeof(gemv_sg_params) == 32, "gemv_sg.wgsl Params");

/* The bindings, Params and checks the GEMVs (gemv_sg, gemv_i8, gemv_i8_fused) share: the 32-bit
 * index check; b[0] x (xname, x_bytes), b[1] W (N rows; rounded up to 16 bytes where the weight
 * file reads it as vec4 past the rows' end: gemv_i8_wide), b[2] the bias or the dummy, b[3] y
 * (y_bytes), b[4] v5 (v5name, v5_bytes) or the dummy; p: Params with flags 1 (bias), 2
 * (accumulate), 4 (RMSNorm weight 1 + w: norm1) and eps. */
typedef struct { const char *name; dp_view v; uint64_t bytes; } gemv_in;
static dp_status gemv_bind(dp_ops *o, dp_gpu_binding b[5], gemv_sg_params *p, gemv_in x, dp_view w, dp_dtype wt, int w16,
                           dp_view bias, dp_view y, uint64_t y_bytes, gemv_in v5, uint32_t M, uint32_t N, uint32_t K,
                           out_cols oc, uint32_t flags, int norm1, float eps) {
  uint64_t rb = dp_dtype_row_bytes(wt, K);
  if ((uint64_t)N * rb > UINT32_MAX || (uint64_t)M * K * 2 > UINT32_MAX || (uint64_t)M * oc.ldy > UINT32_MAX)
    return dp_error(DP_ERR_UNSUPPORTED, "matmul: %ux%ux%u too large for 32-bit indexing", M, N, K);
  TRY(bind(o, "matmul", x.name, x.v, x.bytes, &b[0]));
  TRY(bind(o, "matmul", "W", w, w16 ? ((uint64_t)N * rb + 15) & ~15ull : (uint64_t)N * rb, &b[1]));
  if (bias.buf) TRY(bind(o, "matmul", "bias", bias, ((uint64_t)oc.c0 + N) * 4, &b[2]));
  else b[2] = dummy_binding(o);
  TRY(bind(o, "matmul", "y", y, y_bytes, &b[3]));
  if (v5.v.buf) TRY(bind(o, "matmul", v5.name, v5.v, v5.bytes, &b[4]));
  else b[4] = dummy_binding(o);
  *p = (gemv_sg_params){M, N, K, (uint32_t)rb, (bias.buf ? 1u : 0u) | (flags & DP_MM_ACCUM ? 2u : 0u) | (norm1 ? 4u : 0u),
                        oc.c0, oc.ldy, eps};
  return DP_OK;
}

/* matmul_gemv_sg over one binding of W (gemv_sg_ok checked by the caller), with prologue pro */
static dp_status gemv_sg_part(dp_ops *o, dp_view y, out_cols oc, dp_view x, dp_view w, dp_dtype wt, dp_view bias,
                              uint32_t M, uint32_t N, uint32_t K, const dp_gemv_pro *pro, uint32_t flags) {
  int kind = pro ? pro->kind : DP_PRO_NONE;
  if (kind < DP_PRO_NONE || kind > DP_PRO_GLU || (kind == DP_PRO_GLU && pro->act != DP_GLU_SILU && pro->act != DP_GLU_GELU_TANH))
    return dp_error(DP_ERR_INVALID_ARG, "matmul: prologue %d%s", kind, kind == DP_PRO_GLU ? " with an unknown activation" : "");
  dp_gpu_binding b[5];
  gemv_sg_params p;
  int rms = kind == DP_PRO_RMSNORM;
  TRY(gemv_bind(o, b, &p, (gemv_in){"x", x, (uint64_t)M * K * 4 * (kind == DP_PRO_GLU ? 2 : 1)}, w, wt, 0, bias, y,
                (uint64_t)M * oc.ldy * 4 / (pro && pro->glu_out ? 2 : 1),
                (gemv_in){"norm weight", rms ? pro->norm_w : (dp_view){0}, (uint64_t)K * 4}, M, N, K, oc, flags,
                rms && (pro->norm_flags & DP_NORM_PLUS_ONE), rms ? pro->eps : 0.0f));
  dp_gpu_kernel *k;
  int pc = kind == DP_PRO_GLU ? (pro->act == DP_GLU_SILU ? 2 : 3) : kind;
  int epi = pro ? pro->glu_out : 0;
  uint32_t groups = o->gemv_wg / o->sgf / o->gemv_spr; /* row groups per workgroup (lib_gemv.wgsl) */
  if (epi) { /* GLU epilogue: rows n and n + N/2 in pairs, N/2 outputs */
    if (N % 2 || bias.buf || (epi != DP_GLU_SILU + 1 && epi != DP_GLU_GELU_TANH + 1))
      return dp_error(DP_ERR_INVALID_ARG, "matmul: GLU output over %u rows (even: gate | up, no bias), activation %d", N,
                      epi - 1);
    p.N = N / 2, p.ldy = oc.ldy / 2;
    TRY(pipeline(o, V_MATMUL_GEMV_SG, wt, o->gemv_wg, pc + 4 * epi, &k));
    return run(o, k, &p, sizeof p, b, 5, cdiv(N / 2, groups));
  }
  TRY(pipeline(o, V_MATMUL_GEMV_SG, wt, o->gemv_wg, pc, &k));
  return run(o, k, &p, sizeof p, b, 5, cdiv(N, groups * o->gemv_r));
}

/* ---- int8 input: quantize_x and matmul_gemv_i8 ---------------------------------------------- */
void dp_ops_set_matvec_input(dp_ops *o, int q8) { o->q8 = q8 != 0; }
static int q8_type_ok(dp_dtype wt, uint32_t K) {
  return wt == DP_Q4_K || wt == DP_Q6_K || (wt == DP_Q8_0 && K % 64 == 0);
}
/* quantize_x / matmul_gemv_i8 can run: GPU family, subgroups of one size, dot4I8Packed */
static int q8_family(const dp_ops *o) { return !o->cpu && o->sg && o->sgf && dp_gpu_get_info(o->g)->has_dot4; }
int dp_ops_matvec_q8(const dp_ops *o) { return o->q8 && q8_family(o); }
int dp_ops_matvec_input(const dp_ops *o) { return o->q8; }

static uint32_t part_rows_of(const dp_weight *w, uint32_t i) {
  return i + 1 < w->n_parts ? w->part_rows : w->N - i * w->part_rows;
}
/* gemv_i8_wide binds a part's rows rounded up to 16 bytes: its buffer holds them (dp_weight_create's) */
static int wide_room(const dp_ops *o, const dp_weight *w) {
  if ((w->type != DP_Q6_K && w->type != DP_Q8_0) || !o->i8wide) return 1;
  for (uint32_t i = 0; i < w->n_parts; i++)
    if (!w->part[i].buf || dp_gpu_buffer_size(w->part[i].buf) < (((uint64_t)part_rows_of(w, i) * w->row_bytes + 15) & ~15ull)) return 0;
  return 1;
}
int dp_ops_linear_q8(const dp_ops *o, const dp_weight *w, uint32_t M) {
  return w && o->q8 && q8_family(o) && !w->tex && M <= GEMV_MAX_M && w->K % 32 == 0 && q8_type_ok(w->type, w->K) &&
         wide_room(o, w);
}

uint64_t dp_xq_bytes(uint32_t M, uint32_t K) { return (((uint64_t)M * K + 255) & ~255ull) + (uint64_t)M * (K / 32) * 8; }

typedef struct { uint32_t M, K, nc, flags; float eps; uint32_t p0, p1, p2; } quantize_x_params;
_Static_assert(sizeof(quantize_x_params) == 32, "quantize_x.wgsl Params");
#define QX_WG 64 /* quantize_x: blocks of 32 per workgroup */

dp_status dp_op_quantize_x(dp_ops *o, dp_view xq, dp_view x, uint32_t M, uint32_t K, const dp_gemv_pro *pro) {
  int kind = pro ? pro->kind : DP_PRO_NONE;
  if (kind < DP_PRO_NONE || kind > DP_PRO_GLU || (kind == DP_PRO_GLU && pro->act != DP_GLU_SILU && pro->act != DP_GLU_GELU_TANH) ||
      (pro && pro->glu_out))
    return dp_error(DP_ERR_INVALID_ARG, "quantize_x: prologue %d%s", kind, kind == DP_PRO_GLU ? " with an unknown activation" : "");
  if (K == 0 || K % 32) return dp_error(DP_ERR_INVALID_ARG, "quantize_x: K=%u is not a positive multiple of 32", K);
  if (!q8_family(o))
    return dp_error(DP_ERR_UNSUPPORTED, "quantize_x: needs the GPU kernel family, subgroups of one size and dot4I8Packed");
  if (M == 0) return DP_OK;
  if ((uint64_t)M * K * 2 > UINT32_MAX) return dp_error(DP_ERR_UNSUPPORTED, "quantize_x: %ux%u too large for 32-bit indexing", M, K);
  uint64_t dofs = ((uint64_t)M * K + 255) & ~255ull;
  dp_gpu_binding b[4];
  TRY(bind(o, "quantize_x", "x", x, (uint64_t)M * K * 4 * (kind == DP_PRO_GLU ? 2 : 1), &b[0]));
  if (kind == DP_PRO_RMSNORM) TRY(bind(o, "quantize_x", "norm weight", pro->norm_w, (uint64_t)K * 4, &b[1]));
  else b[1] = dummy_binding(o);
  TRY(bind(o, "quantize_x", "xq", xq, (uint64_t)M * K, &b[2]));
  TRY(bind(o, "quantize_x", "xq scales", dp_view_of(xq.buf, xq.offset + dofs), (uint64_t)M * (K / 32) * 8, &b[3]));
  uint32_t nc = (uint32_t)cdiv(K / 32, QX_WG);
  quantize_x_params p = {M, K, nc, kind == DP_PRO_RMSNORM && (pro->norm_flags & DP_NORM_PLUS_ONE) ? 4u : 0u,
                         kind == DP_PRO_RMSNORM ? pro->eps : 0.0f, 0, 0, 0};
  int pc = kind == DP_PRO_GLU ? (pro->act == DP_GLU_SILU ? 2 : 3) : kind;
  dp_gpu_kernel *k;
  TRY(pipeline(o, V_QUANTIZE_X, DP_F32, QX_WG, pc, &k));
  return run(o, k, &p, sizeof p, b, 4, (uint64_t)M * nc);
}

void dp_ops_set_q8_fused(dp_ops *o, int enabled) { o->q8_fused = enabled != 0; }
int dp_ops_linear_q8_fused(const dp_ops *o, const dp_weight *w, uint32_t M) {
  return dp_ops_linear_q8(o, w, M) && o->q8_fused && o->q8_wg >= 64 && w->K <= o->q8_kmax &&
         (!o->q8_fused_maxn || w->N <= o->q8_fused_maxn);
}

/* gemv_i8_wide (Q6_K, Q8_0 read as vec4) binds W rounded up to 16 bytes */
static int wide_on(const dp_ops *o, dp_dtype wt) { return (wt == DP_Q6_K || wt == DP_Q8_0) && o->i8wide; }

/* matmul_gemv_i8_fused over one binding of W: x f32 [M, K] (GLU: [M, 2K]) quantized in the product */
static dp_status gemv_i8f_part(dp_ops *o, dp_view y, out_cols oc, dp_view x, const dp_gemv_pro *pro, dp_view w, dp_dtype wt,
                               dp_view bias, uint32_t M, uint32_t N, uint32_t K, uint32_t flags) {
  int kind = pro->kind, rms = kind == DP_PRO_RMSNORM;
  dp_gpu_binding b[5];
  gemv_sg_params p;
  TRY(gemv_bind(o, b, &p, (gemv_in){"x", x, (uint64_t)M * K * 4 * (kind == DP_PRO_GLU ? 2 : 1)}, w, wt, wide_on(o, wt), bias, y,
                (uint64_t)M * oc.ldy * 4, (gemv_in){"norm weight", rms ? pro->norm_w : (dp_view){0}, (uint64_t)K * 4}, M, N, K,
                oc, flags, rms && (pro->norm_flags & DP_NORM_PLUS_ONE), rms ? pro->eps : 0.0f));
  int pc = kind == DP_PRO_GLU ? (pro->act == DP_GLU_SILU ? 2 : 3) : kind;
  dp_gpu_kernel *k;
  TRY(pipeline(o, V_MATMUL_GEMV_I8_FUSED, wt, o->q8_wg, pc, &k));
  return run(o, k, &p, sizeof p, b, 5, cdiv(N, o->q8_wg / o->sgf / o->q8_spr * o->q8_r));
}

/* matmul_gemv_i8 over one binding of W; xq from dp_op_quantize_x(M, K) */
static dp_status gemv_i8_part(dp_ops *o, dp_view y, out_cols oc, dp_view xq, dp_view w, dp_dtype wt, dp_view bias,
                              uint32_t M, uint32_t N, uint32_t K, uint32_t flags) {
  uint64_t dofs = ((uint64_t)M * K + 255) & ~255ull;
  dp_gpu_binding b[5];
  gemv_sg_params p; /* gemv_i8.wgsl Params: eps unused */
  TRY(gemv_bind(o, b, &p, (gemv_in){"xq", xq, (uint64_t)M * K}, w, wt, wide_on(o, wt), bias, y, (uint64_t)M * oc.ldy * 4,
                (gemv_in){"xq scales", dp_view_of(xq.buf, xq.offset + dofs), (uint64_t)M * (K / 32) * 8}, M, N, K, oc, flags,
                0, 0.0f));
  dp_gpu_kernel *k;
  TRY(pipeline(o, V_MATMUL_GEMV_I8, wt, o->q8_wg, 0, &k));
  return run(o, k, &p, sizeof p, b, 5, cdiv(N, o->q8_wg / o->sgf / o->q8_spr * o->q8_r));
}

int dp_ops_linear_pro(const dp_ops *o, const dp_weight *w, uint32_t M) {
  return w && M <= GEMV_MAX_M && (w->tex || gemv_sg_ok(o, w->type, w->K, M));
}
int dp_ops_linear_glu_out(const dp_ops *o, const dp_weight *w, uint32_t M) {
  return w && !w->tex && w->n_parts == 1 && w->N % 2 == 0 && gemv_sg_ok(o, w->type, w->K, M);
}

static dp_status matmul_part(dp_ops *o, dp_view y, out_cols oc, dp_view x, dp_view w, dp_dtype wt, dp_view bias,
                             uint32_t M, uint32_t N, uint32_t K, uint32_t flags) {
  if (!weight_type_ok(wt)) return dp_error(DP_ERR_UNSUPPORTED, "matmul: weight type %s", dp_dtype_name(wt));
  uint64_t rb = dp_dtype_row_bytes(wt, K);
  if (rb == UINT64_MAX || K == 0)
    return dp_error(DP_ERR_INVALID_ARG, "matmul: K=%u is not a whole number of %s blocks", K, dp_dtype_name(wt));
  if (M == 0 || N == 0) return DP_OK;
  if ((uint64_t)N * rb > UINT32_MAX || (uint64_t)M * K > UINT32_MAX || (uint64_t)M * oc.ldy > UINT32_MAX)
    return dp_error(DP_ERR_UNSUPPORTED, "matmul: %ux%ux%u too large for 32-bit indexing", M, N, K);
  dp_gpu_binding b[4];
  TRY(bind(o, "matmul", "x", x, (uint64_t)M * K * 4, &b[0]));
  TRY(bind(o, "matmul", "W", w, (uint64_t)N * rb, &b[1]));
  if (bias.buf) TRY(bind(o, "matmul", "bias", bias, ((uint64_t)oc.c0 + N) * 4, &b[2]));
  else b[2] = dummy_binding(o);
  TRY(bind(o, "matmul", "y", y, (uint64_t)M * oc.ldy * 4, &b[3]));
  uint32_t mflags = (bias.buf ? 1u : 0u) | (flags & DP_MM_ACCUM ? 2u : 0u);
  matmul_params p = {M, N, K, (uint32_t)rb, (uint32_t)cdiv(N, 32), mflags, oc.c0, oc.ldy};
  dp_gpu_kernel *k;
  if (o->cpu) { /* one W row per invocation, 8 rows of x each, no barriers */
    uint32_t wg = o->cpu_wg;
    int mv = gemv_rows(M, flags);
    int v4 = (wt == DP_F32 || wt == DP_F16 || wt == DP_BF16) && K % 8 == 0; /* 16-byte loads */
    if (mv && v4) {
      TRY(pipeline(o, M > GEMV_MAX_M ? V_MATMUL_V4_MV8X4 : V_MATMUL_V4_MV8, wt, wg, 0, &k));
      return run(o, k, &p, sizeof p, b, 4, cdiv(N, wg * 8));
    }
    if (!mv && v4 && o->sg && o->sg8) {
      TRY(pipeline(o, V_MATMUL_V4_MM4_SG, wt, wg, 0, &k));
      return run(o, k, &p, sizeof p, b, 4, cdiv(N, wg * 4) * cdiv(M, 8));
    }
    if (!mv && o->sg && o->sg8) { /* x rows shared across the 8 lanes by subgroupBroadcast */
      TRY(pipeline(o, V_MATMUL_ROWS_MM_SG, wt, wg, 0, &k));
      return run(o, k, &p, sizeof p, b, 4, cdiv(N, wg * 4) * cdiv(M, 8));
    }
    TRY(pipeline(o, mv ? V_MATMUL_ROWS_MV : V_MATMUL_ROWS_MM, wt, wg, 0, &k));
    return run(o, k, &p, sizeof p, b, 4, mv ? cdiv(N, wg * 8) : cdiv(N, wg * 4) * cdiv(M, 8));
  }
  if (gemv_sg_ok(o, wt, K, gemv_rows(M, flags) ? 1 : M)) return gemv_sg_part(o, y, oc, x, w, wt, bias, M, N, K, NULL, flags);
  int gemv = gemv_rows(M, flags);
  /* GEMV: 64 invocations for rows of up to 512 weights, else 256 (few pipeline variants) */
  uint32_t wg = gemv && K <= 512 ? 64 : 256;
  if (!gemv && M >= 64 && K % 32 == 0 && o->mm128 && dp_gpu_get_info(o->g)->max_wg_storage >= 24576) {
    /* 128x64 tiles (WG 256, 8x4 per invocation) where they make >= 256 workgroups or the split
     * over K is on (it restores the workgroup count), else 64x64 (WG 128, 8x4); register
     * prefetch. 8x8 blocks (128x128 tiles) where those number >= mm128_tn8_min
     * (DOPPLER_MM128_TN8_MIN, default 256, 0: never) or when
     * forced (DOPPLER_MM128_TN=8); DOPPLER_MM128_WG=128/256 forces the workgroup size. Split
     * over K where the tiles are fewer than mm128_split workgroups (split_steps). */
    int tn8 = o->mm128_tn == 8 || (!o->mm128_tn && o->mm128_wg != 128 && o->mm128_tn8_min &&
                                   cdiv(M, 128) * cdiv(N, 128) >= o->mm128_tn8_min);
    uint32_t tw = o->mm128_wg ? o->mm128_wg : tn8 || o->mm128_split || cdiv(M, 128) * cdiv(N, 64) >= 256 ? 256 : 128;
    uint64_t tiles = cdiv(M, tw / 2) * cdiv(N, tn8 ? 128 : 64);
    uint32_t nall = K / (tn8 ? 16 : 32), spn = split_steps(o, tiles, nall, M, N);
    p.ntn = spn; /* matmul_tiled128's P.spn */
    if (!spn) {
      TRY(pipeline(o, V_MATMUL_TILED128, wt, tw, tn8, &k));
      return run(o, k, &p, sizeof p, b, 4, tiles);
    }
    /* split over K: the splits' partial products into the scratch rows, then their sum */
    uint32_t ns = (uint32_t)cdiv(nall, spn);
    uint64_t pbytes = (uint64_t)ns * M * N * 4;
    TRY(scratch(o, &o->mm_part, o->mm_old, pbytes, "ops.mm_part"));
    dp_gpu_binding bp[4] = {b[0], b[1], b[2], b[3]};
    TRY(bind(o, "matmul", "partials", dp_view_of(o->mm_part, 0), pbytes, &bp[3]));
    matmul_params pp = {M, N, K, (uint32_t)rb, spn, 0, 0, N};
    TRY(pipeline(o, V_MATMUL_TILED128, wt, tw, tn8, &k));
    TRY(run(o, k, &pp, sizeof pp, bp, 4, tiles * ns));
    splitk_params sp = {M, N, ns, mflags, oc.c0, oc.ldy, 0, 0};
    dp_gpu_binding bs[3] = {bp[3], b[2], b[3]};
    TRY(pipeline(o, V_MATMUL_SPLITK_SUM, DP_F32, 256, 0, &k));
    return run(o, k, &sp, sizeof sp, bs, 3, cdiv((uint64_t)M * N, 256));
  }
  if (!gemv && M >= 64) { /* 64x64 tiles, 4x4 per invocation; row tiles fastest (they share a W tile) */
    TRY(pipeline(o, V_MATMUL_TILED64, wt, 256, 0, &k));
    return run(o, k, &p, sizeof p, b, 4, cdiv(M, 64) * cdiv(N, 64));
  }
  TRY(pipeline(o, gemv ? V_MATMUL_GEMV : V_MATMUL_TILED, wt, wg, 0, &k));
  return run(o, k, &p, sizeof p, b, 4, gemv ? N : cdiv(M, 32) * cdiv(N, 32));
}

dp_status dp_op_matmul(dp_ops *o, dp_view y, dp_view x, dp_view w, dp_dtype wt, dp_view bias,
                       uint32_t M, uint32_t N, uint32_t K, uint32_t flags) {
  return matmul_part(o, y, (out_cols){0, N}, x, w, wt, bias, M, N, K, flags);
}

/* ---- weight textures and matmul_tex -------------------------------------------------------------- */
struct dp_wtex {
  dp_ops *o;    /* its bytes count against o's budget until freed */
  dp_gpu_texture *tex;
  dp_dtype wt;
  uint32_t N, K;
  uint32_t rq;  /* texels per row */
  uint32_t H;   /* rows per column block of the texture (matmul_tex.wgsl) */
};

/* Weight textures are a second copy of the decode matrices: beyond this many bytes per ops
 * context (a model) the GEMV reads the buffers instead, so a large model on a CPU adapter does
 * not need twice its RAM. */
#define WTEX_BUDGET (2ull << 30)

dp_status dp_wtex_create(dp_ops *o, dp_dtype wt, uint32_t N, uint32_t K, const char *label, dp_wtex **out) {
  *out = NULL;
  if (!o->cpu || !o->wtex || !(wt == DP_F32 || wt == DP_F16 || wt == DP_BF16) || K % 8 || !K || !N) return DP_OK;
  uint32_t lim = dp_gpu_get_info(o->g)->max_texture_2d;
  uint32_t hmax = o->wtex_h && o->wtex_h < lim ? o->wtex_h : lim;
  uint32_t rq = (uint32_t)(dp_dtype_row_bytes(wt, K) / 16), H = N < hmax ? N : hmax;
  uint64_t width = cdiv(N, H) * rq;
  if (!lim || width > lim || o->wtex_bytes + width * H * 16 > WTEX_BUDGET) return DP_OK;
  dp_wtex *w = dp_calloc(1, sizeof *w);
  if (!w) return DP_ERR_NOMEM;
  *w = (dp_wtex){o, NULL, wt, N, K, rq, H};
  dp_status st = dp_gpu_texture_create(o->g, (uint32_t)width, H, label, &w->tex);
  if (st) { dp_free(w); return st; }
  o->wtex_bytes += width * H * 16;
  *out = w;
  return DP_OK;
}

dp_status dp_wtex_write(dp_ops *o, dp_wtex *w, uint32_t row0, uint32_t n_rows, const void *rows) {
  if ((uint64_t)row0 + n_rows > w->N)
    return dp_error(DP_ERR_INVALID_ARG, "weight texture: rows [%u, +%u) of %u", row0, n_rows, w->N);
  const uint8_t *p = rows;
  while (n_rows) { /* one rectangle per column block touched */
    uint32_t blk = row0 / w->H, r = row0 % w->H, n = w->H - r < n_rows ? w->H - r : n_rows;
    TRY(dp_gpu_texture_write(o->g, w->tex, blk * w->rq, r, w->rq, n, p));
    p += (uint64_t)n * w->rq * 16, row0 += n, n_rows -= n;
  }
  return DP_OK;
}

void dp_wtex_free(dp_wtex *w) {
  if (!w) return;
  w->o->wtex_bytes -= (uint64_t)dp_gpu_texture_width(w->tex) * w->H * 16;
  dp_gpu_texture_free(w->tex);
  dp_free(w);
}

uint32_t dp_wtex_rows(const dp_wtex *w) { return w->N; }

typedef struct { uint32_t M, N, K, rq, H, flags; float eps; uint32_t row0, c0, ldy, p0, p1; } matmul_tex_params;
_Static_assert(sizeof(matmul_tex_params) == 48, "matmul_tex.wgsl Params");

int dp_ops_tex_prefill(const dp_ops *o) { return o->sg && o->sg8; }

/* matmul_tex over rows [row0, row0 + N) of w (N > 0, checked by the callers), outputs to oc */
static dp_status matmul_tex_part(dp_ops *o, dp_view y, out_cols oc, dp_view x, const dp_wtex *w, uint32_t row0, uint32_t N,
                                 dp_view bias, uint32_t M, const dp_gemv_pro *pro, uint32_t flags) {
  int kind = pro ? pro->kind : DP_PRO_NONE;
  if (M == 0) return dp_error(DP_ERR_INVALID_ARG, "matmul_tex: M=0");
  if (kind < DP_PRO_NONE || kind > DP_PRO_GLU || (kind == DP_PRO_GLU && pro->act != DP_GLU_SILU && pro->act != DP_GLU_GELU_TANH))
    return dp_error(DP_ERR_INVALID_ARG, "matmul_tex: prologue %d%s", kind, kind == DP_PRO_GLU ? " with an unknown activation" : "");
  int mv = gemv_rows(M, flags);
  if (!mv && kind != DP_PRO_NONE)
    return dp_error(DP_ERR_INVALID_ARG, "matmul_tex: M=%u: prologues are for the GEMV (M <= %d or DP_MM_ROWS)", M, GEMV_MAX_M);
  if (!mv && !dp_ops_tex_prefill(o))
    return dp_error(DP_ERR_UNSUPPORTED, "matmul_tex: M=%u needs subgroups of 8 (dp_ops_tex_prefill)", M);
  if ((uint64_t)M * w->K * 2 > UINT32_MAX || (uint64_t)M * oc.ldy > UINT32_MAX)
    return dp_error(DP_ERR_UNSUPPORTED, "matmul_tex: %ux%ux%u too large for 32-bit indexing", M, N, w->K);
  uint32_t K = w->K;
  dp_gpu_binding b[5];
  TRY(bind(o, "matmul_tex", "x", x, (uint64_t)M * K * 4 * (kind == DP_PRO_GLU ? 2 : 1), &b[0]));
  b[1] = (dp_gpu_binding){NULL, 0, 0, w->tex};
  if (bias.buf) TRY(bind(o, "matmul_tex", "bias", bias, ((uint64_t)oc.c0 + N) * 4, &b[2]));
  else b[2] = dummy_binding(o);
  TRY(bind(o, "matmul_tex", "y", y, (uint64_t)M * oc.ldy * 4, &b[3]));
  if (kind == DP_PRO_RMSNORM) TRY(bind(o, "matmul_tex", "norm weight", pro->norm_w, (uint64_t)K * 4, &b[4]));
  else b[4] = dummy_binding(o);
  uint32_t f = (bias.buf ? 1u : 0u) | (flags & DP_MM_ACCUM ? 2u : 0u) |
               (kind == DP_PRO_RMSNORM && (pro->norm_flags & DP_NORM_PLUS_ONE) ? 4u : 0u);
  matmul_tex_params p = {M, N, K, w->rq, w->H, f, kind == DP_PRO_RMSNORM ? pro->eps : 0.0f, row0, oc.c0, oc.ldy, 0, 0};
  int pc = kind == DP_PRO_GLU ? (pro->act == DP_GLU_SILU ? 2 : 3) : kind;
  dp_gpu_kernel *k;
  if (!mv) { /* prefill: matmul_v4_sg8's rows_mm4_sg over the texture (no norm weight binding) */
    TRY(pipeline(o, V_MATMUL_TEX_MM4_SG, w->wt, o->cpu_wg, 0, &k));
    return run(o, k, &p, sizeof p, b, 4, cdiv(N, o->cpu_wg * 4) * cdiv(M, 8));
  }
  TRY(pipeline(o, M > GEMV_MAX_M ? V_MATMUL_TEX_MV8X4 : V_MATMUL_TEX_MV8, w->wt, o->cpu_wg, pc, &k));
  return run(o, k, &p, sizeof p, b, 5, cdiv(N, o->cpu_wg * 8));
}

dp_status dp_op_matmul_tex(dp_ops *o, dp_view y, dp_view x, const dp_wtex *w, uint32_t row0, uint32_t N, dp_view bias,
                           uint32_t M, const dp_gemv_pro *pro, uint32_t flags) {
  if (!w) return dp_error(DP_ERR_INVALID_ARG, "matmul_tex: no weight texture");
  if (N == 0 && row0 < w->N) N = w->N - row0;
  if ((uint64_t)row0 + N > w->N || N == 0)
    return dp_error(DP_ERR_INVALID_ARG, "matmul_tex: rows [%u, +%u) of a %u-row weight texture", row0, N, w->N);
  return matmul_tex_part(o, y, (out_cols){0, N}, x, w, row0, N, bias, M, pro, flags);
}

/* ---- weights in row parts (dp_weight), linear, embed --------------------------------------------- */
static uint64_t gcd64(uint64_t a, uint64_t b) { while (b) { uint64_t t = a % b; a = b; b = t; } return a; }

dp_status dp_weight_create(dp_ops *o, dp_dtype t, uint64_t N, uint64_t K, int tex, const char *label, dp_weight **out) {
  *out = NULL;
  const char *name = label ? label : "weight";
  if (!weight_type_ok(t)) return dp_error(DP_ERR_UNSUPPORTED, "%s: weight type %s", name, dp_dtype_name(t));
  uint64_t rb = K ? dp_dtype_row_bytes(t, K) : UINT64_MAX;
  if (rb == UINT64_MAX || N == 0)
    return dp_error(DP_ERR_INVALID_ARG, "%s: [%llu, %llu] %s: empty, or rows not whole blocks", name, (unsigned long long)N,
                    (unsigned long long)K, dp_dtype_name(t));
  if (N > UINT32_MAX || K > UINT32_MAX)
    return dp_error(DP_ERR_UNSUPPORTED, "%s: [%llu, %llu]: more than 2^32 - 1 rows or columns", name, (unsigned long long)N,
                    (unsigned long long)K);
  const dp_gpu_info *gi = dp_gpu_get_info(o->g);
  /* rounded down to 256: a part's binding, rounded up to 16 bytes, and its buffer with 16 bytes of
   * slack must fit (4 GiB - 1 on the H200) */
  uint64_t lim = ((gi->max_storage_binding < gi->max_buffer ? gi->max_storage_binding : gi->max_buffer) - 32) & ~255ull;
  uint64_t align = 256 / gcd64(rb, 256); /* rows that make a multiple of 256 bytes */
  uint64_t pr = N;
  if (N > lim / rb) { /* more than one binding: parts of whole rows, 256-aligned boundaries */
    pr = lim / rb / align * align;
    if (pr == 0)
      return dp_error(DP_ERR_UNSUPPORTED, "%s: [%llu, %llu] %s (%.0f bytes): a part of %llu row(s) of %llu bytes exceeds the storage "
                      "binding limit %llu", name, (unsigned long long)N, (unsigned long long)K, dp_dtype_name(t),
                      (double)N * (double)rb, (unsigned long long)align, (unsigned long long)rb, (unsigned long long)lim);
  }
  uint32_t np = (uint32_t)cdiv(N, pr);
  dp_weight *w = dp_calloc(1, sizeof *w + np * sizeof w->part[0]);
  if (!w) return DP_ERR_NOMEM;
  w->type = t, w->N = (uint32_t)N, w->K = (uint32_t)K, w->row_bytes = rb, w->part_rows = (uint32_t)pr, w->n_parts = np;
  char lab[160];
  dp_status st = DP_OK;
  for (uint32_t i = 0; i < np && !st; i++) {
    if (np > 1) snprintf(lab, sizeof lab, "%s#%u", name, i);
    else snprintf(lab, sizeof lab, "%s", name);
    /* 16 bytes of slack rounded to 16: gemv_i8_wide binds the rows rounded up to 16 bytes */
    st = dp_gpu_buffer_create(o->g, ((part_rows_of(w, i) * rb + 15) & ~15ull) + 16, lab, &w->part[i].buf);
  }
  w->tex = tex;
  for (uint32_t i = 0; i < np && !st && w->tex; i++) {
    st = dp_wtex_create(o, t, part_rows_of(w, i), (uint32_t)K, name, &w->part[i].tex);
    w->tex = w->part[i].tex != NULL;
  }
  if (!w->tex) /* all parts or none: the ops pick the texture path per weight */
    for (uint32_t i = 0; i < np; i++) { dp_wtex_free(w->part[i].tex); w->part[i].tex = NULL; }
  if (st) { dp_weight_free(w); return st; }
  *out = w;
  return DP_OK;
}

dp_status dp_weight_write(dp_ops *o, dp_weight *w, uint64_t row0, uint64_t n, const void *rows) {
  if (row0 > w->N || n > w->N - row0)
    return dp_error(DP_ERR_INVALID_ARG, "weight write: rows [%llu, +%llu) of %u", (unsigned long long)row0, (unsigned long long)n, w->N);
  const uint8_t *src = rows;
  while (n) {
    uint32_t i = (uint32_t)(row0 / w->part_rows), r = (uint32_t)(row0 - (uint64_t)i * w->part_rows);
    uint32_t k = (uint32_t)(n < part_rows_of(w, i) - r ? n : part_rows_of(w, i) - r);
    uint64_t off = r * w->row_bytes, bytes = k * w->row_bytes, body = bytes & ~3ull;
    if (off % 4)
      return dp_error(DP_ERR_INVALID_ARG, "weight write: row %llu starts at byte %llu of its part, not 4-aligned",
                      (unsigned long long)row0, (unsigned long long)off);
    if (body) TRY(dp_gpu_buffer_write(o->g, w->part[i].buf, off, src, (size_t)body));
    if (bytes > body) { /* the part's last bytes, zero-padded to 4 (its buffer is rounded up) */
      uint8_t tail[4] = {0};
      memcpy(tail, src + body, (size_t)(bytes - body));
      TRY(dp_gpu_buffer_write(o->g, w->part[i].buf, off + body, tail, 4));
    }
    if (w->part[i].tex) TRY(dp_wtex_write(o, w->part[i].tex, r, k, src));
    src += bytes, row0 += k, n -= k;
  }
  return DP_OK;
}

void dp_weight_free(dp_weight *w) {
  if (!w) return;
  for (uint32_t i = 0; i < w->n_parts; i++) {
    dp_gpu_buffer_free(w->part[i].buf);
    dp_wtex_free(w->part[i].tex);
  }
  dp_free(w);
}

dp_status dp_op_linear(dp_ops *o, dp_view y, dp_view x, const dp_weight *w, uint32_t row0, uint32_t N, dp_view bias,
                       uint32_t M, const dp_gemv_pro *pro, uint32_t flags) {
  if (!w) return dp_error(DP_ERR_INVALID_ARG, "linear: no weight");
  if (N == 0 && row0 < w->N) N = w->N - row0;
  if ((uint64_t)row0 + N > w->N || N == 0)
    return dp_error(DP_ERR_INVALID_ARG, "linear: rows [%u, +%u) of a %u-row weight", row0, N, w->N);
  if (pro && pro->q8 && (pro->kind < DP_PRO_NONE || pro->kind > DP_PRO_GLU ||
                        (pro->kind == DP_PRO_GLU && pro->act != DP_GLU_SILU && pro->act != DP_GLU_GELU_TANH)))
    return dp_error(DP_ERR_INVALID_ARG, "linear: int8 input in the product with prologue %d%s", pro->kind,
                    pro->kind == DP_PRO_GLU ? " and an unknown activation" : "");
  if (pro && (pro->kind == DP_PRO_Q8 || pro->q8)) { /* x: dp_op_quantize_x's output, or (q8) f32 quantized in the product */
    if (pro->glu_out || !(pro->q8 ? dp_ops_linear_q8_fused : dp_ops_linear_q8)(o, w, gemv_rows(M, flags) ? 1 : M))
      return dp_error(DP_ERR_UNSUPPORTED, "linear: an int8 input needs dp_ops_linear_q8%s (matvec input q8, GPU family with "
                      "dot4I8Packed, M <= %d or DP_MM_ROWS, Q4_K / Q6_K / Q8_0 with K %% 64 == 0, no texture%s), no GLU output",
                      pro->q8 ? "_fused" : "", GEMV_MAX_M, pro->q8 ? ", K <= the workgroup memory's limit" : "");
    for (uint64_t r = row0, end = (uint64_t)row0 + N; r < end;) {
      uint32_t i = (uint32_t)(r / w->part_rows);
      uint64_t p0 = (uint64_t)i * w->part_rows, e = p0 + part_rows_of(w, i) < end ? p0 + part_rows_of(w, i) : end;
      uint64_t off = (r - p0) * w->row_bytes;
      if (off % 256)
        return dp_error(DP_ERR_INVALID_ARG, "linear: rows from %llu start at byte %llu of a weight part, not a multiple of 256",
                        (unsigned long long)r, (unsigned long long)off);
      if (pro->q8)
        TRY(gemv_i8f_part(o, y, (out_cols){(uint32_t)(r - row0), N}, x, pro, dp_view_of(w->part[i].buf, off), w->type, bias,
                          M, (uint32_t)(e - r), w->K, flags));
      else
        TRY(gemv_i8_part(o, y, (out_cols){(uint32_t)(r - row0), N}, x, dp_view_of(w->part[i].buf, off), w->type, bias, M,
                         (uint32_t)(e - r), w->K, flags));
      r = e;
    }
    return DP_OK;
  }
  int tex = w->tex && (gemv_rows(M, flags) || dp_ops_tex_prefill(o));
  if (pro && pro->glu_out && (row0 != 0 || N != w->N || !dp_ops_linear_glu_out(o, w, gemv_rows(M, flags) ? 1 : M)))
    return dp_error(DP_ERR_UNSUPPORTED, "linear: a GLU output needs all rows of a one-part weight, no texture, and "
                    "matmul_gemv_sg (GPU family, subgroups of one size, M <= %d or DP_MM_ROWS)", GEMV_MAX_M);
  if (pro && pro->kind != DP_PRO_NONE && !(tex && gemv_rows(M, flags)) &&
      !(!w->tex && dp_ops_linear_pro(o, w, gemv_rows(M, flags) ? 1 : M)))
    return dp_error(DP_ERR_UNSUPPORTED, "linear: an input prologue needs M <= %d or DP_MM_ROWS (M=%u) and the weight's texture "
                    "copy (%s) or matmul_gemv_sg (GPU family, subgroups of one size)", GEMV_MAX_M, M, w->tex ? "present" : "absent");
  for (uint64_t r = row0, end = (uint64_t)row0 + N; r < end;) { /* each part's rows -> its columns of y */
    uint32_t i = (uint32_t)(r / w->part_rows);
    uint64_t p0 = (uint64_t)i * w->part_rows, e = p0 + part_rows_of(w, i) < end ? p0 + part_rows_of(w, i) : end;
    out_cols oc = {(uint32_t)(r - row0), N};
    if (tex) {
      TRY(matmul_tex_part(o, y, oc, x, w->part[i].tex, (uint32_t)(r - p0), (uint32_t)(e - r), bias, M, pro, flags));
    } else {
      uint64_t off = (r - p0) * w->row_bytes;
      if (off % 256)
        return dp_error(DP_ERR_INVALID_ARG, "linear: rows from %llu start at byte %llu of a weight part, not a multiple of 256",
                        (unsigned long long)r, (unsigned long long)off);
      if (pro && (pro->kind != DP_PRO_NONE || pro->glu_out))
        TRY(gemv_sg_part(o, y, oc, x, dp_view_of(w->part[i].buf, off), w->type, bias, M, (uint32_t)(e - r), w->K, pro, flags));
      else TRY(matmul_part(o, y, oc, x, dp_view_of(w->part[i].buf, off), w->type, bias, M, (uint32_t)(e - r), w->K, flags));
    }
    r = e;
  }
  return DP_OK;
}

typedef struct { uint32_t T, D, row_bytes, ngr; float scale; uint32_t row0, rows, p2; } embed_params;
_Static_assert(sizeof(embed_params) == 32, "embed.wgsl Params");

dp_status dp_op_embed(dp_ops *o, dp_view y, dp_view ids, const dp_weight *table, uint32_t T, float scale) {
  if (!table) return dp_error(DP_ERR_INVALID_ARG, "embed: no table");
  uint32_t D = table->K;
  if (T == 0) return DP_OK;
  if ((uint64_t)T * D > UINT32_MAX) return dp_error(DP_ERR_UNSUPPORTED, "embed: %u x %u too large", T, D);
  dp_gpu_binding b[3];
  TRY(bind(o, "embed", "ids", ids, (uint64_t)T * 4, &b[0]));
  TRY(bind(o, "embed", "y", y, (uint64_t)T * D * 4, &b[2]));
  uint32_t ngr = (D + 7) / 8;
  dp_gpu_kernel *k;
  for (uint32_t i = 0; i < table->n_parts; i++) { /* each part gathers the ids it holds */
    TRY(pipeline(o, V_EMBED, table->type, 32, 0, &k));
    TRY(bind(o, "embed", "table", dp_view_of(table->part[i].buf, 0), part_rows_of(table, i) * table->row_bytes, &b[1]));
    embed_params p = {T, D, (uint32_t)table->row_bytes, ngr, scale, i * table->part_rows, part_rows_of(table, i), 0};
    TRY(run(o, k, &p, sizeof p, b, 3, cdiv((uint64_t)T * ngr, 32)));
  }
  return DP_OK;
}

/* ---- rmsnorm -------------------------------------------------------------------------------- */
typedef struct { uint32_t rows, D; float eps; uint32_t plus_one; } rmsnorm_params;
_Static_assert(sizeof(rmsnorm_params) == 16, "rmsnorm.wgsl Params");

dp_status dp_op_rmsnorm(dp_ops *o, dp_view y, dp_view x, dp_view w, uint32_t rows, uint32_t D,
                        float eps, uint32_t flags) {
  if (rows == 0 || D == 0) return DP_OK;
  int inplace = same_view(x, y);
  dp_gpu_binding b[3];
  TRY(bind(o, "rmsnorm", "x", x, (uint64_t)rows * D * 4, &b[0]));
  TRY(bind(o, "rmsnorm", "w", w, (uint64_t)D * 4, &b[1]));
  if (!inplace) TRY(bind(o, "rmsnorm", "y", y, (uint64_t)rows * D * 4, &b[2]));
  dp_gpu_kernel *k;
  TRY(pipeline(o, inplace ? V_RMSNORM_INPLACE : V_RMSNORM, DP_F32, row_wg(o, D), 0, &k));
  rmsnorm_params p = {rows, D, eps, (flags & DP_NORM_PLUS_ONE) != 0};
  return run(o, k, &p, sizeof p, b, inplace ? 2 : 3, rows);
}

/* ---- rope ----------------------------------------------------------------------------------- */
typedef struct { uint32_t T, H, hd, rot, pos0, style; float af; uint32_t p0; } rope_params;
_Static_assert(sizeof(rope_params) == 32, "rope.wgsl Params");

dp_status dp_op_rope(dp_ops *o, dp_view x, dp_view inv_freq, uint32_t T, uint32_t n_heads,
                     uint32_t head_dim, uint32_t rot_dim, uint32_t pos0, int style,
                     float attn_factor) {
  if (rot_dim == 0 || rot_dim % 2 || rot_dim > head_dim || (style != DP_ROPE_HALF && style != DP_ROPE_PAIRS))
    return dp_error(DP_ERR_INVALID_ARG, "rope: rot_dim %u / head_dim %u / style %d invalid", rot_dim, head_dim, style);
  if (T == 0 || n_heads == 0) return DP_OK;
  dp_gpu_binding b[2];
  TRY(bind(o, "rope", "x", x, (uint64_t)T * n_heads * head_dim * 4, &b[0]));
  TRY(bind(o, "rope", "inv_freq", inv_freq, (uint64_t)rot_dim / 2 * 4, &b[1]));
  dp_gpu_kernel *k;
  TRY(pipeline(o, V_ROPE, DP_F32, 64, 0, &k));
  rope_params p = {T, n_heads, head_dim, rot_dim, pos0, (uint32_t)style, attn_factor, 0};
  return run(o, k, &p, sizeof p, b, 2, cdiv((uint64_t)T * n_heads * (rot_dim / 2), 64));
}

/* ---- kv_write ------------------------------------------------------------------------------- */
typedef struct { uint32_t T, row, pos0, cap; } kv_write_params;
_Static_assert(sizeof(kv_write_params) == 16, "kv_write.wgsl Params");

dp_status dp_op_kv_write(dp_ops *o, dp_view kcache, dp_view vcache, dp_view k, dp_view v,
                         uint32_t T, uint32_t n_kv_heads, uint32_t head_dim, uint32_t pos0,
                         uint32_t capacity) {
  if (capacity == 0 || T > capacity) return dp_error(DP_ERR_INVALID_ARG, "kv_write: %u tokens into a cache of %u slots", T, capacity);
  if (T == 0) return DP_OK;
  uint64_t row = (uint64_t)n_kv_heads * head_dim;
  dp_gpu_binding b[4];
  TRY(bind(o, "kv_write", "kcache", kcache, capacity * row * 4, &b[0]));
  TRY(bind(o, "kv_write", "vcache", vcache, capacity * row * 4, &b[1]));
  TRY(bind(o, "kv_write", "k", k, T * row * 4, &b[2]));
  TRY(bind(o, "kv_write", "v", v, T * row * 4, &b[3]));
  dp_gpu_kernel *kk;
  TRY(pipeline(o, V_KV_WRITE, DP_F32, 64, 0, &kk));
  kv_write_params p = {T, (uint32_t)row, pos0, capacity};
  return run(o, kk, &p, sizeof p, b, 4, cdiv(T * row, 64));
}

/* ---- rope_kv: rope(q); rope(k); kv_write(k, v) in one dispatch (with the q/k RMSNorm first:
 * rope_kv_norm on the GPU family; the CPU family runs rmsnorm twice then rope_kv) ------------- */
typedef struct { uint32_t T, H, KVH, hd, rot, pos0, style, cap; float af, eps; uint32_t plus_one, norms; } rope_kv_params;
_Static_assert(sizeof(rope_kv_params) == 48, "rope_kv.wgsl Params");

static dp_status rope_kv(dp_ops *o, dp_view q, dp_view k, dp_view v, dp_view kcache, dp_view vcache, dp_view inv_freq,
                         dp_view qn, dp_view kn, float eps, uint32_t nflags, uint32_t T, uint32_t n_heads, uint32_t n_kv_heads,
                         uint32_t head_dim, uint32_t rot_dim, uint32_t pos0, int style, float attn_factor, uint32_t capacity) {
  if (rot_dim == 0 || rot_dim % 2 || rot_dim > head_dim || (style != DP_ROPE_HALF && style != DP_ROPE_PAIRS))
    return dp_error(DP_ERR_INVALID_ARG, "rope_kv: rot_dim %u / head_dim %u / style %d invalid", rot_dim, head_dim, style);
  if (capacity == 0 || T > capacity) return dp_error(DP_ERR_INVALID_ARG, "rope_kv: %u tokens into a cache of %u slots", T, capacity);
  if (T == 0 || n_kv_heads == 0) return DP_OK;
  int norms = (qn.buf && n_heads ? 1 : 0) | (kn.buf ? 2 : 0);
  if (norms && o->cpu) { /* CPU family: as before the fusion */
    if (norms & 1) TRY(dp_op_rmsnorm(o, q, q, qn, T * n_heads, head_dim, eps, nflags));
    if (norms & 2) TRY(dp_op_rmsnorm(o, k, k, kn, T * n_kv_heads, head_dim, eps, nflags));
    norms = 0;
  }
  uint64_t row = (uint64_t)n_kv_heads * head_dim;
  dp_gpu_binding b[8];
  if (n_heads) TRY(bind(o, "rope_kv", "q", q, (uint64_t)T * n_heads * head_dim * 4, &b[0]));
  else b[0] = dummy_binding(o);
  TRY(bind(o, "rope_kv", "k", k, T * row * 4, &b[1]));
  TRY(bind(o, "rope_kv", "v", v, T * row * 4, &b[2]));
  TRY(bind(o, "rope_kv", "kcache", kcache, capacity * row * 4, &b[3]));
  TRY(bind(o, "rope_kv", "vcache", vcache, capacity * row * 4, &b[4]));
  TRY(bind(o, "rope_kv", "inv_freq", inv_freq, (uint64_t)rot_dim / 2 * 4, &b[5]));
  if (norms & 1) TRY(bind(o, "rope_kv", "q norm weight", qn, (uint64_t)head_dim * 4, &b[6]));
  else b[6] = dummy_binding(o);
  if (norms & 2) TRY(bind(o, "rope_kv", "k norm weight", kn, (uint64_t)head_dim * 4, &b[7]));
  else b[7] = dummy_binding(o);
  dp_gpu_kernel *kk;
  rope_kv_params p = {T, n_heads, n_kv_heads, head_dim, rot_dim, pos0, (uint32_t)style, capacity, attn_factor, eps,
                      (nflags & DP_NORM_PLUS_ONE) != 0, (uint32_t)norms};
  if (norms) { /* one workgroup per row, rmsnorm's workgroup size (the same sums) */
    TRY(pipeline(o, V_ROPE_KV_NORM, DP_F32, row_wg(o, head_dim), 0, &kk));
    return run(o, kk, &p, sizeof p, b, 8, (uint64_t)T * (n_heads + n_kv_heads));
  }
  TRY(pipeline(o, V_ROPE_KV, DP_F32, 64, 0, &kk));
  return run(o, kk, &p, sizeof p, b, 8, cdiv((uint64_t)T * (n_heads + n_kv_heads) * ((head_dim + 1) / 2), 64));
}

dp_status dp_op_rope_kv(dp_ops *o, dp_view q, dp_view k, dp_view v, dp_view kcache, dp_view vcache,
                        dp_view inv_freq, uint32_t T, uint32_t n_heads, uint32_t n_kv_heads,
                        uint32_t head_dim, uint32_t rot_dim, uint32_t pos0, int style,
                        float attn_factor, uint32_t capacity) {
  return rope_kv(o, q, k, v, kcache, vcache, inv_freq, dp_view_of(NULL, 0), dp_view_of(NULL, 0), 0, 0, T, n_heads, n_kv_heads,
                 head_dim, rot_dim, pos0, style, attn_factor, capacity);
}

dp_status dp_op_rope_kv_norm(dp_ops *o, dp_view q, dp_view k, dp_view v, dp_view kcache, dp_view vcache, dp_view inv_freq,
                             dp_view q_norm, dp_view k_norm, float eps, uint32_t norm_flags, uint32_t T, uint32_t n_heads,
                             uint32_t n_kv_heads, uint32_t head_dim, uint32_t rot_dim, uint32_t pos0, int style,
                             float attn_factor, uint32_t capacity) {
  return rope_kv(o, q, k, v, kcache, vcache, inv_freq, q_norm, k_norm, eps, norm_flags, T, n_heads, n_kv_heads, head_dim,
                 rot_dim, pos0, style, attn_factor, capacity);
}

/* ---- attention ------------------------------------------------------------------------------ */
/* attention_split's rows (v: the part with the workgroup-memory or the subgroup piece, or the
 * combine) for G, H4, LK: the module with `const G, H4, LK` appended (the part's loop bounds and
 * array sizes), cached in o->attn_pipe with its source (a model has one or two shapes) */
static dp_status split_pipeline(dp_ops *o, int v, uint32_t wg, uint32_t g, uint32_t h4, uint32_t lk, dp_gpu_kernel **out) {
  o->runs[v][0]++;
  for (size_t i = 0; i < o->n_attn_pipe; i++) {
    const struct attn_pipe *e = &o->attn_pipe[i];
    if (e->v == v && e->sg == o->sg && e->wg == wg && e->g == g && e->h4 == h4) {
      *out = e->k;
      return DP_OK;
    }
  }
  const char *base = o->swap[v][0];
  if (!base) base = kernel_source(o, variants[v].kern, DP_F32);
  if (!base) return dp_error_wrap(DP_ERR_NOT_FOUND, "%s", variants[v].name);
  struct attn_pipe *grown = dp_realloc(o->attn_pipe, (o->n_attn_pipe + 1) * sizeof *grown);
  if (!grown) return DP_ERR_NOMEM;
  o->attn_pipe = grown;
  size_t n = strlen(base) + 96;
  char *src = dp_malloc(n);
  if (!src) return DP_ERR_NOMEM;
  snprintf(src, n, "%s\nconst G = %uu;\nconst H4 = %uu;\nconst LK = %uu;\n", base, g, h4, lk);
  dp_gpu_constant c[2] = {{"WG", wg}, {"SG", o->sgf}};
  dp_status st = dp_gpu_kernel_get(o->g, kern_info[variants[v].kern].name, src, variants[v].entry, c,
                                   v == V_ATTENTION_SPLIT_SG ? 2 : 1, out);
  if (st) { dp_free(src); return st; }
  o->attn_pipe[o->n_attn_pipe++] = (struct attn_pipe){v, o->sg, wg, g, h4, *out, src};
  return DP_OK;
}

#define ATTN_SPLIT_TILE 64     /* attention_split's spans: multiples of 64 keys */
#define ATTN_FA_MIN_T 16 /* queries per call from which prefill runs attention_fa (GPU family) */
typedef struct {
  uint32_t T, H, KVH, hd, pos0, cap, window, has_sinks;
  float scale, softcap;
  uint32_t p0, p1;
} attention_params;
_Static_assert(sizeof(attention_params) == 48, "attention.wgsl Params");

dp_status dp_op_attention(dp_ops *o, const dp_attn_desc *d, dp_view out, dp_view q,
                          dp_view kcache, dp_view vcache, dp_view sinks) {
  if (d->n_kv_heads == 0 || d->n_heads % d->n_kv_heads || d->head_dim == 0 || d->head_dim > DP_ATTN_MAX_HEAD_DIM || d->capacity == 0)
    return dp_error(DP_ERR_INVALID_ARG, "attention: heads %u/%u, head_dim %u (<= %d), capacity %u invalid",
                    d->n_heads, d->n_kv_heads, d->head_dim, DP_ATTN_MAX_HEAD_DIM, d->capacity);
  if (d->T == 0 || d->n_heads == 0) return DP_OK;
  uint64_t qbytes = (uint64_t)d->T * d->n_heads * d->head_dim * 4;
  uint64_t cbytes = (uint64_t)d->capacity * d->n_kv_heads * d->head_dim * 4;
  dp_gpu_binding b[5];
  TRY(bind(o, "attention", "q", q, qbytes, &b[0]));
  TRY(bind(o, "attention", "kcache", kcache, cbytes, &b[1]));
  TRY(bind(o, "attention", "vcache", vcache, cbytes, &b[2]));
  if (sinks.buf) TRY(bind(o, "attention", "sinks", sinks, (uint64_t)d->n_heads * 4, &b[3]));
  else b[3] = dummy_binding(o);
  TRY(bind(o, "attention", "out", out, qbytes, &b[4]));
  attention_params p = {d->T, d->n_heads, d->n_kv_heads, d->head_dim, d->pos0, d->capacity,
                        d->window, sinks.buf != NULL, d->scale, d->softcap, 0, 0};
  dp_gpu_kernel *k;
  uint32_t G = d->n_heads / d->n_kv_heads, qp = d->pos0;
  uint32_t nkeys = d->window > 0 && qp + 1 > d->window ? d->window : qp + 1;
  const dp_gpu_info *gi = dp_gpu_get_info(o->g);
  uint64_t lim = gi->max_buffer < gi->max_storage_binding ? gi->max_buffer : gi->max_storage_binding;
  if (!o->cpu && o->attn_split && d->T == 1 && G <= 8 && d->head_dim % 4 == 0 &&
      (uint64_t)d->n_heads * cdiv(nkeys, ATTN_SPLIT_TILE) * (d->head_dim + 4) * 4 <= lim) {
    /* flash-decoding at any depth: KVH x ns workgroups (splits of span keys, a multiple of the
     * kernel's 64-key tile; about o->attn_groups workgroups at long contexts), then one per
     * head to combine, unless there is one split (<= o->attn_one keys: the part writes the output) */
    uint32_t ns_max = o->attn_groups / d->n_kv_heads ? o->attn_groups / d->n_kv_heads : 1;
    if (ns_max > 512) ns_max = 512; /* the combine's workgroup memory */
    uint32_t ns = nkeys <= o->attn_one ? 1 : (uint32_t)cdiv(nkeys, ATTN_SPLIT_TILE);
    if (ns > ns_max) ns = ns_max;
    uint32_t span = (uint32_t)(cdiv(cdiv(nkeys, ns), ATTN_SPLIT_TILE) * ATTN_SPLIT_TILE);
    ns = (uint32_t)cdiv(nkeys, span);
    uint64_t bytes = (uint64_t)d->n_heads * ns * (d->head_dim + 4) * 4;
    TRY(scratch(o, &o->attn_part, o->attn_old, bytes, "ops.attn_part"));
    dp_gpu_binding bs[6];
    memcpy(bs, b, sizeof b);
    TRY(bind(o, "attention", "partials", dp_view_of(o->attn_part, 0), bytes, &bs[5]));
    p.p0 = ns, p.p1 = span;
    /* LK invocations per key: the power of two >= head_dim / 4, at most 16 (DV = 1 vec4 per
     * invocation up to head_dim 64, else 2..4); the subgroup piece where LK fits a subgroup */
    uint32_t h4 = d->head_dim / 4, lk = 1;
    while (lk < h4 && lk < 16) lk *= 2;
    int sgp = o->sg && o->sgf && o->attn_wg % o->sgf == 0;
    if (sgp && lk > o->sgf) { /* narrower key groups, at most 8 vec4s per invocation */
      uint32_t l2 = o->sgf;
      if ((h4 + l2 - 1) / l2 <= 8) lk = l2;
      else sgp = 0;
    }
    TRY(split_pipeline(o, sgp ? V_ATTENTION_SPLIT_SG : V_ATTENTION_SPLIT, o->attn_wg, G, h4, lk, &k));
    TRY(run(o, k, &p, sizeof p, bs, 6, (uint64_t)d->n_kv_heads * ns));
    if (ns == 1) return DP_OK;
    TRY(split_pipeline(o, V_ATTENTION_SPLIT_COMBINE, 128, 1, 1, 1, &k));
    return run(o, k, &p, sizeof p, bs, 6, d->n_heads);
  }
  if (!o->cpu && o->attn_fa && d->T >= ATTN_FA_MIN_T && d->head_dim % 4 == 0 && d->head_dim <= 128 &&
      dp_gpu_get_info(o->g)->max_wg_storage >= 25088) {
    /* flash attention: a workgroup per (head, 32 queries), K/V tiles of 16 keys shared by them */
    TRY(pipeline(o, V_ATTENTION_FA, DP_F32, 128, 0, &k));
    return run(o, k, &p, sizeof p, b, 5, cdiv(d->T, 32) * d->n_heads);
  }
  if (o->cpu && o->sg && o->sg8 && d->head_dim <= 64) { /* 8 queries per workgroup, K/V rows split over the lanes */
    TRY(pipeline(o, V_ATTENTION_SG8, DP_F32, 8, 0, &k));
    return run(o, k, &p, sizeof p, b, 5, cdiv((uint64_t)d->T * (d->n_heads / d->n_kv_heads), 8) * d->n_kv_heads);
  }
  /* CPU adapters: the smallest workgroup that covers head_dim (4 dims per invocation) */
  uint32_t wg = 64;
  if (o->cpu) for (wg = 8; wg * 4 < d->head_dim; wg *= 2) {}
  TRY(pipeline(o, V_ATTENTION, DP_F32, wg, 0, &k));
  return run(o, k, &p, sizeof p, b, 5, (uint64_t)d->T * d->n_heads);
}

/* ---- softmax, glu, add, argmax ------------------------------------------------------------- */
typedef struct { uint32_t a, b, p0, p1; } pair_params; /* softmax/argmax {rows, n}; glu {n, act}; add {n} */
_Static_assert(sizeof(pair_params) == 16, "softmax/glu/add/argmax.wgsl Params");

dp_status dp_op_softmax(dp_ops *o, dp_view y, dp_view x, uint32_t rows, uint32_t n) {
  if (rows == 0 || n == 0) return DP_OK;
  int inplace = same_view(x, y);
  dp_gpu_binding b[2];
  TRY(bind(o, "softmax", "x", x, (uint64_t)rows * n * 4, &b[0]));
  if (!inplace) TRY(bind(o, "softmax", "y", y, (uint64_t)rows * n * 4, &b[1]));
  dp_gpu_kernel *k;
  TRY(pipeline(o, inplace ? V_SOFTMAX_INPLACE : V_SOFTMAX, DP_F32, row_wg(o, n), 0, &k));
  pair_params p = {rows, n, 0, 0};
  return run(o, k, &p, sizeof p, b, inplace ? 1 : 2, rows);
}

/* y[i] = f(a[i], b[i]) over n elements (glu, add): "inplace" entry point when y is a. */
static dp_status pair_op(dp_ops *o, int vid /* V_GLU or V_ADD; + 1 in place */, const char *name, const char *an, const char *bn, dp_view y,
                         dp_view a, dp_view bv, uint32_t n, uint32_t mode) {
  if (n == 0) return DP_OK;
  int inplace = same_view(a, y);
  dp_gpu_binding b[3];
  TRY(bind(o, name, an, a, (uint64_t)n * 4, &b[0]));
  TRY(bind(o, name, bn, bv, (uint64_t)n * 4, &b[1]));
  if (!inplace) TRY(bind(o, name, "y", y, (uint64_t)n * 4, &b[2]));
  dp_gpu_kernel *k;
  TRY(pipeline(o, inplace ? vid + 1 : vid, DP_F32, 256, 0, &k));
  pair_params p = {n, mode, 0, 0};
  return run(o, k, &p, sizeof p, b, inplace ? 2 : 3, cdiv(n, 256));
}

dp_status dp_op_glu(dp_ops *o, dp_view y, dp_view gate, dp_view up, uint32_t n, int act) {
  if (act != DP_GLU_SILU && act != DP_GLU_GELU_TANH) return dp_error(DP_ERR_INVALID_ARG, "glu: activation %d", act);
  return pair_op(o, V_GLU, "glu", "gate", "up", y, gate, up, n, (uint32_t)act);
}

dp_status dp_op_add(dp_ops *o, dp_view y, dp_view a, dp_view bv, uint32_t n) {
  return pair_op(o, V_ADD, "add", "a", "b", y, a, bv, n, 0);
}

dp_status dp_op_argmax(dp_ops *o, dp_view ids, dp_view x, uint32_t rows, uint32_t n) {
  if (rows == 0 || n == 0) return DP_OK;
  dp_gpu_binding b[2];
  TRY(bind(o, "argmax", "x", x, (uint64_t)rows * n * 4, &b[0]));
  TRY(bind(o, "argmax", "ids", ids, (uint64_t)rows * 4, &b[1]));
  dp_gpu_kernel *k;
  TRY(pipeline(o, V_ARGMAX, DP_F32, row_wg(o, n), 0, &k));
  pair_params p = {rows, n, 0, 0};
  return run(o, k, &p, sizeof p, b, 2, rows);
}

/* ---- the sampler's kernels (sample.wgsl, sample_nll.wgsl, sample_softcap.wgsl) ------------- */
_Static_assert(sizeof(dp_sample_params) == 128, "sample.wgsl Params");
typedef struct { uint32_t vocab, rows, out_off, tgt_off; } nll_params;
_Static_assert(sizeof(nll_params) == 16, "sample_nll.wgsl Params");
typedef struct { uint32_t n; float cap; } softcap_params;
_Static_assert(sizeof(softcap_params) == 8, "sample_softcap.wgsl Params");

/* sample_split.wgsl: at most 256 ranges of a multiple of 1024 tokens; its scratch: 4 words per
 * range, 64 candidates (w, id) per range, their concatenation */
#define SAMPLE_RANGE 1024u
#define SAMPLE_SCR_BYTES ((4u * 256u + 4u * 256u * 64u) * 4u)
/* a binding from v to the end of its buffer, at least `bytes` */
static dp_status bind_rest(dp_ops *o, const char *op, const char *what, dp_view v, uint64_t bytes, dp_gpu_binding *b) {
  if (v.buf && dp_gpu_buffer_size(v.buf) > v.offset && dp_gpu_buffer_size(v.buf) - v.offset > bytes)
    bytes = dp_gpu_buffer_size(v.buf) - v.offset;
  return bind(o, op, what, v, bytes, b);
}

dp_status dp_op_sample(dp_ops *o, const dp_sample_params *p, dp_view logits, dp_view work, dp_view hist, dp_view cur,
                       dp_view out_ids) {
  if (p->vocab == 0 || p->n_eos > 16) return dp_error(DP_ERR_INVALID_ARG, "sample: vocab %u, %u eos ids (<= 16)", p->vocab, p->n_eos);
  dp_gpu_binding b[5];
  TRY(bind(o, "sample", "logits", logits, (uint64_t)p->vocab * 4, &b[0]));
  TRY(bind(o, "sample", "work", work, (uint64_t)p->vocab * 4, &b[1]));
  TRY(bind_rest(o, "sample", "hist", hist, ((uint64_t)p->hist_pos + 1) * 4, &b[2]));
  TRY(bind(o, "sample", "cur", cur, 4, &b[3]));
  TRY(bind_rest(o, "sample", "out_ids", out_ids, ((uint64_t)p->out_index + 1) * 4, &b[4]));
  dp_gpu_kernel *k;
  const dp_gpu_info *gi = dp_gpu_get_info(o->g);
  int split_fits = SAMPLE_SCR_BYTES <= gi->max_buffer && SAMPLE_SCR_BYTES <= gi->max_storage_binding;
  /* sample_split: ranges of SAMPLE_RANGE tokens (more for vocabularies past 256 of them), then one
   * workgroup; where its fixed scratch does not fit the device's limits, sample.wgsl below */
  if (!o->cpu && split_fits) {
    if (!o->samp_scr) TRY(dp_gpu_buffer_create(o->g, SAMPLE_SCR_BYTES, "ops.sample_scratch", &o->samp_scr));
    dp_gpu_binding bs[6];
    memcpy(bs, b, sizeof b);
    TRY(bind(o, "sample", "scratch", dp_view_of(o->samp_scr, 0), SAMPLE_SCR_BYTES, &bs[5]));
    dp_sample_params q = *p;
    q.pad0 = (uint32_t)(cdiv(cdiv(p->vocab, 256), SAMPLE_RANGE) * SAMPLE_RANGE); /* tokens per workgroup */
    if (q.pad0 < SAMPLE_RANGE) q.pad0 = SAMPLE_RANGE;
    q.pad1 = (uint32_t)cdiv(p->vocab, q.pad0);                                      /* workgroups (<= 256) */
    TRY(pipeline(o, V_SAMPLE_SPLIT, DP_F32, 256, 0, &k));
    TRY(dispatch(o, k, &q, sizeof q, bs, 6, q.pad1, 1, 1));
    TRY(pipeline(o, V_SAMPLE_SPLIT_PICK, DP_F32, 256, 0, &k));
    return dispatch(o, k, &q, sizeof q, bs, 6, 1, 1, 1);
  }
  /* one SIMD batch of lavapipe / SwiftShader per workgroup on CPU adapters: barriers there are
   * a coroutine switch through every batch of the workgroup */
  TRY(pipeline(o, V_SAMPLE, DP_F32, 8, 0, &k));
  return dispatch(o, k, p, sizeof *p, b, 5, 1, 1, 1);
}

dp_status dp_op_nll(dp_ops *o, dp_view nll, dp_view logits, dp_view targets, uint32_t rows, uint32_t vocab,
                    uint32_t out_off, uint32_t tgt_off) {
  if (rows == 0) return DP_OK;
  dp_gpu_binding b[3];
  TRY(bind(o, "nll", "logits", logits, (uint64_t)rows * vocab * 4, &b[0]));
  TRY(bind_rest(o, "nll", "targets", targets, ((uint64_t)tgt_off + rows) * 4, &b[1]));
  TRY(bind_rest(o, "nll", "nll", nll, ((uint64_t)out_off + rows) * 4, &b[2]));
  dp_gpu_kernel *k;
  TRY(pipeline(o, V_SAMPLE_NLL, DP_F32, 256, 0, &k));
  nll_params p = {vocab, rows, out_off, tgt_off};
  return run(o, k, &p, sizeof p, b, 3, rows);
}

dp_status dp_op_softcap(dp_ops *o, dp_view x, uint32_t n, float cap) {
  if (n == 0) return DP_OK;
  dp_gpu_binding b[1];
  TRY(bind(o, "softcap", "x", x, (uint64_t)n * 4, &b[0]));
  dp_gpu_kernel *k;
  TRY(pipeline(o, V_SAMPLE_SOFTCAP, DP_F32, 256, 0, &k));
  softcap_params p = {n, cap};
  return run(o, k, &p, sizeof p, b, 1, cdiv(n, 256));
}
