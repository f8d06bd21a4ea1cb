// quantize_x.wgsl -- the input of the int8 decode GEMVs (gemv_i8.wgsl): x rows quantized to
// int8 blocks of 32 with one scale per block (llama.cpp's q8_1 input), with the prologue PRO
// of gemv_sg.wgsl applied first (so RMSNorm + quantize, or GLU + quantize, is one dispatch
// whose output several products share):
//   PRO 0: v = x[m, k]                                        X [M, K]
//   PRO 1: v = x[m, k] / sqrt(mean(x[m, :]^2) + eps) * w'[k]  (RMSNorm, w' = w or 1 + w)
//   PRO 2: v = silu(g[m, k]) * u[m, k]                        X [M, 2K] = gate | up per row
//   PRO 3: v = gelu_tanh(g[m, k]) * u[m, k]
// Per block b of 32 values (row m): amax = max |v|, d = amax / 127, q = v * (127 / amax)
// rounded half away from zero as floor(|.| + 0.5) with the sign (0 when amax = 0), stored as
// int8 (pack4xI8); s = d * sum(q). Outputs: XQ [M, K / 4] u32 (4 int8, element 4i in the low
// byte), XD [M, K / 32] vec2(d, s) (a second view of the same buffer, ops.c). The CPU
// reference dp_ref_quantize_x computes the same expressions in f32.
// One invocation per block; workgroup g covers blocks [c * WG, +WG) of row m = g / nc (nc
// workgroups per row, Params.nc), so the RMSNorm sum of squares (PRO 1, wg_sum over the row in
// lid-strided order, as gemv_sg) is per row and does not depend on M.
struct Params { M: u32, K: u32, nc: u32, flags: u32, eps: f32, p0: u32, p1: u32, p2: u32 }
override PRO: u32 = 0u;
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> NW: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> XQ: array<u32>;
@group(0) @binding(4) var<storage, read_write> XD: array<vec2<f32>>;

fn tanh_safe(x: vec4<f32>) -> vec4<f32> { // as glu.wgsl
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
fn act(g: vec4<f32>) -> vec4<f32> { // as glu.wgsl, per component
  if (PRO == 2u) { return g / (1.0 + exp(-g)); }
  return 0.5 * g * (1.0 + tanh_safe(0.7978845608028654 * (g + 0.044715 * g * g * g)));
}
fn xin(m: u32, q: u32, s: f32) -> vec4<f32> { // as gemv_sg.wgsl
  let k4 = P.K / 4u;
  if (PRO == 0u) { return X[m * k4 + q]; }
  if (PRO == 1u) {
    var w = NW[q];
    if ((P.flags & 4u) != 0u) { w += vec4<f32>(1.0); }
    return X[m * k4 + q] * s * w;
  }
  return act(X[2u * m * k4 + q]) * X[2u * m * k4 + k4 + q];
}
fn row_scale(m: u32, lid: u32) -> f32 { // as gemv_sg.wgsl
  if (PRO != 1u) { return 1.0; }
  let k4 = P.K / 4u;
  var ss = 0.0;
  for (var q = lid; q < k4; q += WG) { let v = X[m * k4 + q]; ss += dot(v, v); }
  return 1.0 / sqrt(wg_sum(ss, lid) / f32(P.K) + P.eps);
}
fn q4(v: vec4<f32>, id: f32) -> vec4<i32> {
  let t = v * id;
  return vec4<i32>(sign(t) * floor(abs(t) + vec4<f32>(0.5)));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nw.x;
  let m = g / P.nc;
  if (m >= P.M) { return; } // uniform over the workgroup
  let s = row_scale(m, lid);
  let nb = P.K / 32u;
  let b = (g % P.nc) * WG + lid;
  if (b >= nb) { return; }
  var v: array<vec4<f32>, 8>;
  var mx = vec4<f32>(0.0);
  for (var i = 0u; i < 8u; i++) { v[i] = xin(m, 8u * b + i, s); mx = max(mx, abs(v[i])); }
  let amax = max(max(mx.x, mx.y), max(mx.z, mx.w));
  let d = amax / 127.0;
  let id = select(0.0, 127.0 / amax, amax > 0.0);
  var sum = vec4<i32>(0);
  let o = m * (P.K / 4u) + 8u * b;
  for (var i = 0u; i < 8u; i++) {
    let q = q4(v[i], id);
    sum += q;
    XQ[o + i] = pack4xI8(q);
  }
  XD[m * nb + b] = vec2<f32>(d, d * f32(sum.x + sum.y + sum.z + sum.w));
}
