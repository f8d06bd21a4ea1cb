// matmul_v4.wgsl -- y[M, N] (+)= x[M, K] . W[N, K]^T (+ bias) for small M (decode) on CPU
// adapters, for F32 / F16 / BF16 weights whose rows are whole 16-byte units (K % 8 == 0, so
// every row and every x row starts 16-byte aligned). Same Params, flags and output as
// matmul.wgsl, but X and W are bound as arrays of vec4: on lavapipe a 16-byte load per lane
// costs about as much as a 4-byte one, and measured 1.5-2.3x faster than rows_mv on f16 GEMVs.
// The decoder, put() and the GEMV rows_mv8 (M <= 4) are in lib_mm16.wgsl, placed before this
// file (the reduction library ops.c prepends is unused); matmul_v4_sg8.wgsl (rows_mm4_sg,
// M > 4) is appended in the subgroup sources. This file gives them the storage-buffer W:
// the 8-weight group g of a row is 1 (F16/BF16) or 2 (F32) vec4<u32> loads.
// Override TYPE (lib_mm16): 0 F32, 1 F16, 2 BF16 (a pipeline constant: the other decoders are dead code).
// Bindings: 0 uniform Params; 1 X [M, K/4] vec4<f32>; 2 W [N rows of row_bytes/16] vec4<u32>;
//           3 B [c0 + N] f32 (a dummy when there is no bias); 4 Y [M, ldy] f32, columns c0 .. c0 + N - 1.
struct Params {
  M: u32, N: u32, K: u32,
  row_bytes: u32, ntn: u32, flags: u32,
  c0: u32, ldy: u32, // output column of W row 0, floats per Y row (matmul.wgsl)
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> W: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;

// where row n starts (its vec4 index in .x): the row handle w8v takes (matmul_tex.wgsl has a
// texture one, so matmul_v4_sg8.wgsl serves both)
fn wrow(n: u32) -> vec2<u32> { return vec2<u32>(n * (P.row_bytes / 16u), 0u); }
// weights g*8 .. g*8+7 of the row whose handle is t
fn w8v(t: vec2<u32>, g: u32) -> V8 {
  let r = t.x;
  if (TYPE == 0u) { return w8_decode(W[r + 2u * g], W[r + 2u * g + 1u]); }
  return w8_decode(W[r + g], vec4<u32>());
}
// x as it is (matmul_tex.wgsl's prologues are not here)
fn xin(m: u32, q: u32, s: f32) -> vec4<f32> { return X[m * (P.K / 4u) + q]; }
fn row_scale(m: u32) -> f32 { return 1.0; }
