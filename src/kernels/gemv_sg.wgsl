// gemv_sg.wgsl -- decode GEMV for GPUs (the GPU kernel family with subgroups of one fixed size):
//   y[m, n] (+)= sum_k W[n, k] * xin(m, k) (+ bias[c0 + n]),  m < M <= 4,
// with the input prologue PRO of matmul_tex.wgsl (so RMSNorm or the GLU before the product
// needs no dispatch of its own):
//   PRO 0: xin = x[m, k]                                        X [M, K]
//   PRO 1: xin = x[m, k] / sqrt(mean(x[m, :]^2) + eps) * w'[k]  (RMSNorm, w' = w or 1 + w)
//   PRO 2: xin = silu(g[m, k]) * u[m, k]                        X [M, 2K] = gate | up per row
//   PRO 3: xin = gelu_tanh(g[m, k]) * u[m, k]                   (same layout)
// Placed after lib_reduce_sg.wgsl (wg_sum: the RMSNorm prologue's sum of squares, once per
// workgroup), the line `const WT = <dp_dtype>u;` and the weight-type file: gemv_sg_v4.wgsl
// (F32, F16, BF16 with 16-byte rows, Q4_K: W bound as vec4<u32>, one 16-byte load per unit and
// row) or gemv_sg_u32.wgsl (Q8_0, Q6_K, MXFP4: lib_wdecode's w_load8 over W as u32). That file
// declares binding 2 (W) and defines
//   n_units(K)            units per row (a unit: 4 F32, 8 F16/BF16 and blocks via w_load8,
//                         32 Q4_K weights);
//   unit_x(u, m, s) -> XU the inputs of unit u of x row m (loaded once for the R rows);
//   unit_w(rb, u, xu)     the dot product of unit u of the W row at byte rb with them.
// Work split, unit loop and reduction: lib_gemv.wgsl (placed before this file: row groups of
// SPR subgroups own R rows each, U units per invocation and step). Each x row m is reduced on
// its own (the m loop is outermost), in the same order whatever M is: a row's result does not
// depend on the batch (docs/kernels.md). No barrier except in the RMSNorm prologue's wg_sum and
// gv_sum with SPR > 1.
// Epilogue EPI 2 / 3 (GLU, with R = 2): W holds 2N rows (gate | up stacked); row group i owns
// the pair of rows n and n + N and writes y[m, n] = act(gate) * up, act SiLU (2) or GELU-tanh
// (3): the GLU of the FFN without a dispatch and without evaluating act per weight (a GLU
// prologue on the down product would evaluate it N times per input).
// Bindings: 0 uniform Params (lib_gemv); 1 X f32 vec4s; 2 W (weight-type file); 3 B [c0 + N]
// f32 (dummy without bias); 4 Y [M, ldy] f32 (W row n -> column c0 + n); 5 NW [K] f32 norm
// weight (dummy unless PRO 1). Params.flags: 1 add bias, 2 accumulate into Y, 4 norm weight is 1 + w.
override PRO: u32 = 0u;
override EPI: u32 = 0u;  // 0, or 2 / 3: GLU epilogue (SiLU / GELU-tanh) over row pairs (n, n + N)
@group(0) @binding(1) var<storage, read_write> X: array<vec4<f32>>;
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
// RMSNorm scale of x row m (PRO 1), summed by the whole workgroup; every invocation calls it
fn row_scale(m: u32, lid: u32) -> f32 {
  if (PRO != 1u) { return 1.0; }
  let k4 = P.K / 4u;
  var ss = 0.0;
  for (var q = lid; q < k4; q += WG) { let v = X[m * k4 + q]; ss += dot(v, v); }
  return 1.0 / sqrt(wg_sum(ss, lid) / f32(P.K) + P.eps);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let g = wid.x + wid.y * nw.x;
  let rpg = select(R, 1u, EPI != 0u);     // output rows per row group
  if (gv_idle(g, rpg)) { return; }        // uniform over the workgroup
  let n0 = gv_row0(g, lid, rpg);
  var rb = gv_rb(n0);
  if (EPI != 0u) { rb.y = (min(n0, P.N - 1u) + P.N) * P.row_bytes; } // the up row of the pair
  for (var m = 0u; m < P.M; m++) {
    let s = row_scale(m, lid);
    let t = gv_sum(gv_dot(rb, m, s, lid, lane), lid);
    if (EPI != 0u) {
      if (gv_leader(lid, lane) && n0 < P.N) {
        let gv = vec4<f32>(t.x);
        var av = 0.5 * gv * (1.0 + tanh_safe(0.7978845608028654 * (gv + 0.044715 * gv * gv * gv)));
        if (EPI == 2u) { av = gv / (1.0 + exp(-gv)); }
        store(m, n0, av.x * t.y);
      }
      continue;
    }
    gv_store(m, n0, t, lid, lane);
  }
}
