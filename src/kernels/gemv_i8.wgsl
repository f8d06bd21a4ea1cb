// gemv_i8.wgsl -- decode GEMV for GPUs over an int8-quantized input (llama.cpp's MMVQ):
//   y[m, n] (+)= sum_k W[n, k] * xq(m, k) (+ bias[c0 + n]),  m < M,
// xq the output of quantize_x.wgsl (XQ [M, K / 4] u32 of 4 int8, XD [M, K / 32] vec2(d, s):
// x ~ d * q per block of 32, s = d * sum(q)). The weight x input products of a block are
// integer dot products of 4 int8 pairs (dot4I8Packed, the WGSL language feature
// packed_4x8_integer_dot_product: one instruction on GPUs that have it), scaled once per
// block by the weight's and the input block's scales.
// Placed after lib_reduce_sg.wgsl, the line `const WT = <dp_dtype>u;` and the weight-type
// file: gemv_i8_v4.wgsl (Q4_K: W as vec4<u32>) or gemv_i8_u32.wgsl (Q8_0, Q6_K: W as u32),
// which declares binding 2 (W) and defines
//   n_units(K)            units per row (Q4_K, Q6_K, Q8_0: 64 weights);
//   unit_x(u, m) -> XU    the int8 inputs and block scales of unit u of row m (loaded once
//                         for the R rows);
//   unit_w(rb, u, xu)     the unit's dot product with the W row at byte rb.
// Work split as gemv_sg.wgsl: subgroup i of workgroup g owns rows n0 = (g * WG / SG + i) * R
// .. n0 + R - 1 (overrides SG = the adapter's subgroup size, R = 1..4); lane l takes units
// l, l + SG, ... two at a time, adds unit pair sums in that order, then subgroupAdd. No
// barrier. Rows past N are clamped for the loads and not stored. Each x row is reduced on its
// own (the m loop outermost) in an order that does not depend on M: a row's result does not
// depend on the batch (docs/kernels.md).
// Bindings: 0 uniform Params; 1 XQ vec4<u32> (read); 2 W; 3 B [c0 + N] f32 (dummy without
// bias); 4 Y [M, ldy] f32 (W row n -> column c0 + n); 5 XD vec2<f32> (read; the same buffer
// as XQ at a later offset). Params.flags: 1 add bias, 2 accumulate into Y.
struct Params {
  M: u32, N: u32, K: u32, row_bytes: u32,
  flags: u32, c0: u32, ldy: u32, p0: u32,
}
override SG: u32 = 32u;  // subgroup size
override R: u32 = 1u;    // rows per subgroup (1..4)
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> XQ: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read> XD: array<vec2<f32>>;

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
// sum of the 4 int8 dot products of a and b
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
  for (var m = 0u; m < P.M; m++) {
    var a0 = 0.0; var a1 = 0.0; var a2 = 0.0; var a3 = 0.0;
    var u = lane;
    for (; u + SG < nu; u += 2u * SG) { // two units per lane and step
      let v = u + SG;
      let xu = unit_x(u, m);
      let xv = unit_x(v, m);
      a0 += unit_w(rb0, u, xu) + unit_w(rb0, v, xv);
      if (R > 1u) { a1 += unit_w(rb1, u, xu) + unit_w(rb1, v, xv); }
      if (R > 2u) { a2 += unit_w(rb2, u, xu) + unit_w(rb2, v, xv); }
      if (R > 3u) { a3 += unit_w(rb3, u, xu) + unit_w(rb3, v, xv); }
    }
    if (u < nu) { // the last unit of this lane
      let xu = unit_x(u, m);
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
