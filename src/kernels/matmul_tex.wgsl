// matmul_tex.wgsl -- decode GEMV on CPU adapters with the weights in a texture:
//   y[m, n] (+)= sum_k W[n, k] * xin(m, k) (+ bias[n]),  m < M <= 4,
// where the input prologue PRO makes xin from the bound X (so the op before the GEMV needs no
// dispatch of its own):
//   PRO 0: xin = x[m, k]                                   X [M, K]
//   PRO 1: xin = x[m, k] / sqrt(mean(x[m, :]^2) + eps) * w'[k]  (RMSNorm, w' = w or 1 + w)
//   PRO 2: xin = silu(g[m, k]) * u[m, k]                   X [M, 2K] = gate | up per row
//   PRO 3: xin = gelu_tanh(g[m, k]) * u[m, k]              (same layout)
// Why a texture: lavapipe loads a storage buffer lane by lane with a bounds check and a branch
// per lane and component, while a texel fetch gathers the 8 lanes' 16-byte texels without
// branches: 1.3x (768 KB) to 2.5x (2 MB) faster GEMVs measured (notes/performance.md).
// Loads of x are the same address in every lane (uniform: one scalar load per workgroup).
// Texture layout: rgba32uint, one W row = rq texels (its stored bytes, 16 per texel: 8 F16/BF16
// or 4 F32 weights); rows n < H go down the first column block, the next H rows down the
// next block to the right: texel (c, n) is at ((n / H) * rq + c, n % H).
// The GEMV is lib_mm16.wgsl's rows_mv8 (8 rows per invocation) over wrow / w8v / xin here.
// Overrides: TYPE 0 F32, 1 F16, 2 BF16 (lib_mm16.wgsl, placed before this file); PRO as above; WG.
// Bindings: 0 uniform Params; 1 X f32 vec4s; 2 W texture; 3 B [N] f32 (dummy when no bias);
//           4 Y [M, ldy] f32 (W row row0 + n -> column c0 + n); 5 NW [K] f32 norm weight
//           (rows_mv8 only; dummy unless PRO 1). B [c0 + N].
// Params.row0: the rows used are W rows row0 .. row0 + N - 1 (a part of stacked q|k|v).
// Prefill (M > 4, subgroups of 8): matmul_v4_sg8.wgsl appended, its rows_mm4_sg reads W
// through wrow / w8v here (no prologue).
// Params.flags: 1 add bias, 2 accumulate into Y, 4 norm weight is 1 + w.
struct Params {
  M: u32, N: u32, K: u32, rq: u32,
  H: u32, flags: u32, eps: f32, row0: u32,
  c0: u32, ldy: u32, p0: u32, p1: u32, // output columns as matmul.wgsl
}
override PRO: u32 = 0u;
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<vec4<f32>>;
@group(0) @binding(2) var W: texture_2d<u32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read> NW: array<vec4<f32>>;

fn tanh_safe(x: vec4<f32>) -> vec4<f32> { // as glu.wgsl
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
fn act(g: vec4<f32>) -> vec4<f32> { // as glu.wgsl, per component
  if (PRO == 2u) { return g / (1.0 + exp(-g)); }
  return 0.5 * g * (1.0 + tanh_safe(0.7978845608028654 * (g + 0.044715 * g * g * g)));
}
// the 4 inputs starting at k = 4q of row m (s: the row's RMSNorm scale for PRO 1)
fn xin(m: u32, q: u32, s: f32) -> vec4<f32> {
  let k4 = P.K / 4u;
  if (PRO == 0u) { return X[m * k4 + q]; }
  if (PRO == 1u) {
    var w = NW[q];
    if ((P.flags & 4u) != 0u) { w += vec4<f32>(1.0); }
    return X[m * k4 + q] * s * w;
  }
  return act(X[2u * m * k4 + q]) * X[2u * m * k4 + k4 + q];
}
fn row_scale(m: u32) -> f32 {
  if (PRO != 1u) { return 1.0; }
  let k4 = P.K / 4u;
  var ss = 0.0;
  for (var q = 0u; q < k4; q++) { let v = X[m * k4 + q]; ss += dot(v, v); }
  return 1.0 / sqrt(ss / f32(P.K) + P.eps);
}

// texel 0 of row n (of the range from row P.row0): the row handle w8v takes
fn wrow(n: u32) -> vec2<u32> { let r = P.row0 + n; return vec2<u32>((r / P.H) * P.rq, r % P.H); }
// weights g*8 .. g*8+7 of the row whose handle is t (decoding from lib_mm16.wgsl)
fn w8v(t: vec2<u32>, g: u32) -> V8 {
  if (TYPE == 0u) {
    return w8_decode(textureLoad(W, vec2<u32>(t.x + 2u * g, t.y), 0), textureLoad(W, vec2<u32>(t.x + 2u * g + 1u, t.y), 0));
  }
  return w8_decode(textureLoad(W, vec2<u32>(t.x + g, t.y), 0), vec4<u32>());
}
