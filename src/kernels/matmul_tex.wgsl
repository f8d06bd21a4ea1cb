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
// Tiling as rows_mv4 (matmul_v4.wgsl): invocation lid of workgroup wg owns the 8 rows
// n = wg * 8 * WG + lid + j * WG (j < 8). Grid cdiv(N, 8 * WG), linear id over a 2-D grid.
// Overrides: TYPE 0 F32, 1 F16, 2 BF16 (lib_w8.wgsl, placed before this file); PRO as above; WG.
// Bindings: 0 uniform Params; 1 X f32 vec4s; 2 W texture; 3 B [N] f32 (dummy when no bias);
//           4 Y [M, N] f32; 5 NW [K] f32 norm weight (rows_mvt only; dummy unless PRO 1).
// Params.row0: the rows used are W rows row0 .. row0 + N - 1 (a part of stacked q|k|v).
// Prefill (M > 4, subgroups of 8): matmul_v4_sg8.wgsl appended, its rows_mm4_sg reads W
// through wrow / w8v here (no prologue).
// Params.flags: 1 add bias, 2 accumulate into Y, 4 norm weight is 1 + w.
struct Params {
  M: u32, N: u32, K: u32, rq: u32,
  H: u32, flags: u32, eps: f32, row0: u32,
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
// weights g*8 .. g*8+7 of the row whose handle is t (decoding from lib_w8.wgsl)
fn w8v(t: vec2<u32>, g: u32) -> V8 {
  if (TYPE == 0u) {
    return w8_decode(textureLoad(W, vec2<u32>(t.x + 2u * g, t.y), 0), textureLoad(W, vec2<u32>(t.x + 2u * g + 1u, t.y), 0));
  }
  return w8_decode(textureLoad(W, vec2<u32>(t.x + g, t.y), 0), vec4<u32>());
}
// dot of those weights with xa (k = 8g..8g+3) and xc (8g+4..8g+7)
fn dot8(t: vec2<u32>, g: u32, xa: vec4<f32>, xc: vec4<f32>) -> f32 {
  let w = w8v(t, g);
  return dot(w.a, xa) + dot(w.b, xc);
}
fn put(m: u32, n: u32, v: f32) {
  if (n >= P.N) { return; }
  var r = v;
  if ((P.flags & 1u) != 0u) { r += B[n]; }
  let i = m * P.N + n;
  if ((P.flags & 2u) != 0u) { r += Y[i]; }
  Y[i] = r;
}

@compute @workgroup_size(WG)
fn rows_mvt(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let n0 = (wid.x + wid.y * nw.x) * 8u * WG + lid;
  if (n0 - lid >= P.N) { return; }
  let nl = P.N - 1u;
  let r0 = wrow(min(n0, nl)); let r1 = wrow(min(n0 + WG, nl)); let r2 = wrow(min(n0 + 2u * WG, nl)); let r3 = wrow(min(n0 + 3u * WG, nl));
  let r4 = wrow(min(n0 + 4u * WG, nl)); let r5 = wrow(min(n0 + 5u * WG, nl)); let r6 = wrow(min(n0 + 6u * WG, nl)); let r7 = wrow(min(n0 + 7u * WG, nl));
  let ng = P.K / 8u;
  for (var m = 0u; m < P.M; m++) {
    let s = row_scale(m);
    var a = vec4<f32>(0.0);
    var b = vec4<f32>(0.0);
    for (var g = 0u; g < ng; g++) {
      let xa = xin(m, 2u * g, s);
      let xc = xin(m, 2u * g + 1u, s);
      a += vec4<f32>(dot8(r0, g, xa, xc), dot8(r1, g, xa, xc), dot8(r2, g, xa, xc), dot8(r3, g, xa, xc));
      b += vec4<f32>(dot8(r4, g, xa, xc), dot8(r5, g, xa, xc), dot8(r6, g, xa, xc), dot8(r7, g, xa, xc));
    }
    put(m, n0, a.x); put(m, n0 + WG, a.y); put(m, n0 + 2u * WG, a.z); put(m, n0 + 3u * WG, a.w);
    put(m, n0 + 4u * WG, b.x); put(m, n0 + 5u * WG, b.y); put(m, n0 + 6u * WG, b.z); put(m, n0 + 7u * WG, b.w);
  }
}
