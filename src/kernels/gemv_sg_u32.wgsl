// gemv_sg_u32.wgsl -- the weight access of gemv_sg.wgsl for block types whose blocks are not
// 16-byte units (Q8_0: 34 bytes, Q6_K: 210, MXFP4: 17): W bound as u32 and decoded by
// lib_wdecode.wgsl's w_load8 (placed before this file with the line choosing the type);
// unit = 8 weights (K % 32 == 0 for these types).
@group(0) @binding(2) var<storage, read> W: array<u32>;

fn n_units(K: u32) -> u32 { return K / 8u; }
fn unit_dot(rb: u32, u: u32, m: u32, s: f32) -> f32 {
  let w = w_load8(rb, 8u * u, P.K);
  return dot(w.a, xin(m, 2u * u, s)) + dot(w.b, xin(m, 2u * u + 1u, s));
}
