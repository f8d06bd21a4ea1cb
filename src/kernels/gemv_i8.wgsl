// gemv_i8.wgsl -- decode GEMV for GPUs over an int8-quantized input (llama.cpp's MMVQ):
//   y[m, n] (+)= sum_k W[n, k] * xq(m, k) (+ bias[c0 + n]),  m < M,
// xq the output of quantize_x.wgsl (XQ [M, K / 4] u32 of 4 int8, XD [M, K / 32] vec2(d, s):
// x ~ d * q per block of 32, s = d * sum(q)). The weight x input products of a block are
// integer dot products of 4 int8 pairs (dot4I8Packed, the WGSL language feature
// packed_4x8_integer_dot_product: one instruction on GPUs that have it), scaled once per
// block by the weight's and the input block's scales.
// Placed after lib_reduce_sg.wgsl, the line `const WT = <dp_dtype>u;`, the weight-type file
// (gemv_i8_v4.wgsl: Q4_K, W as vec4<u32>; gemv_i8_wide.wgsl: Q6_K, Q8_0, W as vec4<u32>;
// gemv_i8_u32.wgsl: the same by word loads, W as u32), which declares binding 2 (W)
// and defines n_units(K) (Q4_K, Q6_K, Q8_0: units of 64 weights), unit_x(u, m, s) -> XU (the
// int8 inputs and block scales of unit u of row m, s unused) and unit_w(rb, u, xu), and
// lib_gemv.wgsl: the work split (row groups of SPR subgroups own R rows each, U units per
// invocation and step), the order of sums and the store. Each x row is reduced on its own (the
// m loop outermost) in an order that does not depend on M: a row's result does not depend on
// the batch (docs/kernels.md).
// Bindings: 0 uniform Params (lib_gemv; eps unused); 1 XQ vec4<u32> (read); 2 W; 3 B [c0 + N]
// f32 (dummy without bias); 4 Y [M, ldy] f32 (W row n -> column c0 + n); 5 XD vec2<f32> (read;
// the same buffer as XQ at a later offset). Params.flags: 1 add bias, 2 accumulate into Y.
@group(0) @binding(1) var<storage, read> XQ: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read> XD: array<vec2<f32>>;

// sum of the 4 int8 dot products of a and b
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
  for (var m = 0u; m < P.M; m++) {
    gv_store(m, n0, gv_sum(gv_dot(rb, m, 0.0, lid, lane), lid), lid, lane);
  }
}
