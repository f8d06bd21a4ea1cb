// gemv_i8_fused.wgsl -- gemv_i8.wgsl with the input quantized inside the product: no
// quantize_x dispatch before it. For each x row m (m < M, in turn) every workgroup reads the
// whole row, applies the prologue PRO and quantizes it into workgroup memory (lib_qx.wgsl:
// the same expressions and order as quantize_x, so the same codes), then runs gemv_i8's
// product over it (the weight files' unit_x read XQ / XD, here workgroup arrays, at m = 0):
//   y[m, n] (+)= sum_k W[n, k] * quantize(pro(x))(m, k) (+ bias[c0 + n]).
// Each row is quantized and reduced on its own: a row's result does not depend on M.
// Assembled as gemv_i8 (lib_reduce_sg, `const WT`, then `const KMAX` = the largest K the
// workgroup memory holds (ops.c, from maxComputeWorkgroupStorageSize), the weight file,
// lib_gemv) and lib_qx.wgsl after it. Work split, order of sums and rows as gemv_i8.wgsl.
// Bindings: 0 uniform Params (lib_gemv); 1 X f32 ([M, K], GLU [M, 2K]); 2 W; 3 B; 4 Y; 5 NW (RMSNorm
// weight [K], dummy otherwise). Params.flags: 1 add bias, 2 accumulate into Y, 4 norm 1 + w.
override PRO: u32 = 0u;  // lib_qx.wgsl
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> NW: array<vec4<f32>>;
var<workgroup> XQ: array<vec4<u32>, KMAX / 16u>; // one row's codes
var<workgroup> XD: array<vec2<f32>, KMAX / 32u>; // its (d, s) per block

fn dot16(a: vec4<u32>, b: vec4<u32>) -> i32 {
  return dot4I8Packed(a.x, b.x) + dot4I8Packed(a.y, b.y) + dot4I8Packed(a.z, b.z) + dot4I8Packed(a.w, b.w);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let g = wid.x + wid.y * nw.x;
  if (gv_idle(g, R)) { return; } // uniform over the workgroup
  let n0 = gv_row0(g, lid, R);
  let rb = gv_rb(n0);
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
    gv_store(m, n0, gv_sum(gv_dot(rb, 0u, 0.0, lid, lane), lid), lid, lane); // unit_x reads XQ / XD as row 0
  }
}
