// lib_qx.wgsl -- the input quantizer shared by quantize_x.wgsl (its own dispatch) and
// gemv_i8_fused.wgsl (inside the product, into workgroup memory): the same f32 expressions in
// both, so both give the same int8 codes and scales. Needs from the kernel: Params P with K,
// flags (4: RMSNorm weight is 1 + w) and eps; X (f32 vec4) and NW (the norm weight, vec4);
// override PRO; lib_reduce_sg (wg_sum, WG >= QS).
//   PRO 0: v = x[m, k]                                        X [M, K]
//   PRO 1: v = x[m, k] / sqrt(mean(x[m, :]^2) + eps) * w'[k]  (RMSNorm, w' = w or 1 + w)
//   PRO 2: v = silu(g[m, k]) * u[m, k]                        X [M, 2K] = gate | up per row
//   PRO 3: v = gelu_tanh(g[m, k]) * u[m, k]
// Per block b of 32 values (row m): amax = max |v|, d = amax / 127, q = v * (127 / amax)
// rounded half away from zero as floor(|.| + 0.5) with the sign (0 when amax = 0), packed as
// int8 (pack4xI8, element 4i in the low byte of word i); s = d * sum(q). The CPU reference
// dp_ref_quantize_x computes the same expressions in f32.
// The RMSNorm sum of squares: invocations lid < QS each add the squares of vec4 lid, lid + QS,
// ... in order, then wg_sum (the others add 0, which changes no bit): the same order in every
// workgroup size >= QS, so quantize_x (WG = QS) and the fused product agree.
const QS: u32 = 64u;

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
// 1 / RMS of row m (PRO 1), else 1; every invocation of the workgroup calls it
fn row_scale(m: u32, lid: u32) -> f32 {
  if (PRO != 1u) { return 1.0; }
  let k4 = P.K / 4u;
  let x0 = m * k4;
  var ss = 0.0;
  if (lid < QS) {
    // the loads of 8 steps issued together (a loop of runtime length waits on each load in
    // turn: ~8 load latencies a row at K = 2048), the adds still in q order
    var q = lid;
    for (; q + 7u * QS < k4; q += 8u * QS) {
      var v: array<vec4<f32>, 8>;
      for (var i = 0u; i < 8u; i++) { v[i] = X[x0 + q + i * QS]; }
      for (var i = 0u; i < 8u; i++) { ss += dot(v[i], v[i]); }
    }
    for (; q < k4; q += QS) { let v = X[x0 + q]; ss += dot(v, v); }
  }
  return 1.0 / sqrt(wg_sum(ss, lid) / f32(P.K) + P.eps);
}
fn q4(v: vec4<f32>, id: f32) -> vec4<i32> {
  let t = v * id;
  return vec4<i32>(sign(t) * floor(abs(t) + vec4<f32>(0.5)));
}
struct QB { q: array<u32, 8>, ds: vec2<f32> } // 32 int8 codes, (d, s)
// block b of row m, s = row_scale(m, .)
fn qblock(m: u32, b: u32, s: f32) -> QB {
  var v: array<vec4<f32>, 8>;
  var mx = vec4<f32>(0.0);
  for (var i = 0u; i < 8u; i++) { v[i] = xin(m, 8u * b + i, s); mx = max(mx, abs(v[i])); }
  let amax = max(max(mx.x, mx.y), max(mx.z, mx.w));
  let d = amax / 127.0;
  let id = select(0.0, 127.0 / amax, amax > 0.0);
  var sum = vec4<i32>(0);
  var r: QB;
  for (var i = 0u; i < 8u; i++) {
    let q = q4(v[i], id);
    sum += q;
    r.q[i] = pack4xI8(q);
  }
  r.ds = vec2<f32>(d, d * f32(sum.x + sum.y + sum.z + sum.w));
  return r;
}
