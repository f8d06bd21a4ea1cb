// quantize_x.wgsl -- the input of the int8 decode GEMVs (gemv_i8.wgsl): x rows quantized to
// int8 blocks of 32 with one scale per block (llama.cpp's q8_1 input), with the prologue PRO
// applied first (lib_qx.wgsl, placed before this file: the prologues, the rounding, the
// RMSNorm sum-of-squares order). Outputs: XQ [M, K / 4] u32 (4 int8, element 4i in the low
// byte), XD [M, K / 32] vec2(d, s) (a second view of the same buffer, ops.c). Where the
// product can quantize its input itself (gemv_i8_fused.wgsl) this dispatch is not needed.
// One invocation per block; workgroup g covers blocks [c * WG, +WG) of row m = g / nc (nc
// workgroups per row, Params.nc); WG = QS (ops.c QX_WG), so row_scale's order is the fused one.
struct Params { M: u32, K: u32, nc: u32, flags: u32, eps: f32, p0: u32, p1: u32, p2: u32 }
override PRO: u32 = 0u;
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> NW: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> XQ: array<u32>;
@group(0) @binding(4) var<storage, read_write> XD: array<vec2<f32>>;

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
  let r = qblock(m, b, s);
  let o = m * (P.K / 4u) + 8u * b;
  for (var i = 0u; i < 8u; i++) { XQ[o + i] = r.q[i]; }
  XD[m * nb + b] = r.ds;
}
