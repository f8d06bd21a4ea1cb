// gemv_i8_fused.wgsl -- gemv_i8.wgsl with the input quantized inside the product: no
// quantize_x dispatch before it. For each x row m (m < M, in turn) every workgroup reads the
// whole row, applies the prologue PRO and quantizes it into workgroup memory (lib_qx.wgsl:
// the same expressions and order as quantize_x, so the same codes), then runs gemv_i8's
// product over it (the weight files' unit_x read XQ / XD, here workgroup arrays, at m = 0):
//   y[m, n] (+)= sum_k W[n, k] * quantize(pro(x))(m, k) (+ bias[c0 + n]).
// Each row is quantized and reduced on its own: a row's result does not depend on M.
// Assembled as gemv_i8 (lib_reduce_sg, `const WT`, then `const KMAX` = the largest K the
// workgroup memory holds (ops.c, from maxComputeWorkgroupStorageSize), the weight file) and
// lib_qx.wgsl after it. Work split, order of sums and rows as gemv_i8.wgsl.
// Bindings: 0 uniform Params; 1 X f32 ([M, K], GLU [M, 2K]); 2 W; 3 B; 4 Y; 5 NW (RMSNorm
// weight [K], dummy otherwise). Params.flags: 1 add bias, 2 accumulate into Y, 4 norm 1 + w.
struct Params {
  M: u32, N: u32, K: u32, row_bytes: u32,
  flags: u32, c0: u32, ldy: u32, eps: f32,
}
override SG: u32 = 32u;  // subgroup size
override R: u32 = 1u;    // rows per subgroup (1..4)
override PRO: u32 = 0u;  // lib_qx.wgsl
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read> NW: array<vec4<f32>>;
var<workgroup> XQ: array<vec4<u32>, KMAX / 16u>; // one row's codes
var<workgroup> XD: array<vec2<f32>, KMAX / 32u>; // its (d, s) per block

fn store(m: u32, n: u32, v: f32) {
  var r = v;
  if ((P.flags & 1u) != 0u) { r += B[P.c0 + n]; }
  let i = m * P.ldy + P.c0 + n;
  if ((P.flags & 2u) != 0u) { r += Y[i]; }
  Y[i] = r;
}
fn out(m: u32, n: u32, lane: u32, a: f32) {
  let t = subgroupAdd(a);
  if (lane == 0u && n < P.N) { store(m, n, t); }
}
fn dot16(a: vec4<u32>, b: vec4<u32>) -> i32 {
  return dot4I8Packed(a.x, b.x) + dot4I8Packed(a.y, b.y) + dot4I8Packed(a.z, b.z) + dot4I8Packed(a.w, b.w);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let g = wid.x + wid.y * nw.x;
  if (g * (WG / SG) * R >= P.N) { return; } // uniform over the workgroup
  let n0 = (g * (WG / SG) + lid / SG) * R;
  let last = P.N - 1u;
  let rb0 = min(n0, last) * P.row_bytes; let rb1 = min(n0 + 1u, last) * P.row_bytes;
  let rb2 = min(n0 + 2u, last) * P.row_bytes; let rb3 = min(n0 + 3u, last) * P.row_bytes;
  let nu = n_units(P.K);
  let nb = P.K / 32u;
  for (var m = 0u; m < P.M; m++) {
    workgroupBarrier(); // the previous row's products are done with XQ / XD
    let s = row_scale(m, lid);
    for (var b = lid; b < nb; b += WG) {
      let r = qblock(m, b, s);
      XQ[2u * b] = vec4<u32>(r.q[0], r.q[1], r.q[2], r.q[3]);
      XQ[2u * b + 1u] = vec4<u32>(r.q[4], r.q[5], r.q[6], r.q[7]);
      XD[b] = r.ds;
    }
    workgroupBarrier();
    var a0 = 0.0; var a1 = 0.0; var a2 = 0.0; var a3 = 0.0;
    var u = lane;
    for (; u + SG < nu; u += 2u * SG) { // two units per lane and step
      let v = u + SG;
      let xu = unit_x(u, 0u);
      let xv = unit_x(v, 0u);
      a0 += unit_w(rb0, u, xu) + unit_w(rb0, v, xv);
      if (R > 1u) { a1 += unit_w(rb1, u, xu) + unit_w(rb1, v, xv); }
      if (R > 2u) { a2 += unit_w(rb2, u, xu) + unit_w(rb2, v, xv); }
      if (R > 3u) { a3 += unit_w(rb3, u, xu) + unit_w(rb3, v, xv); }
    }
    if (u < nu) { // the last unit of this lane
      let xu = unit_x(u, 0u);
      a0 += unit_w(rb0, u, xu);
      if (R > 1u) { a1 += unit_w(rb1, u, xu); }
      if (R > 2u) { a2 += unit_w(rb2, u, xu); }
      if (R > 3u) { a3 += unit_w(rb3, u, xu); }
    }
    out(m, n0, lane, a0);
    if (R > 1u) { out(m, n0 + 1u, lane, a1); }
    if (R > 2u) { out(m, n0 + 2u, lane, a2); }
    if (R > 3u) { out(m, n0 + 3u, lane, a3); }
  }
}
