// gemv_sg_v4.wgsl -- the weight access of gemv_sg.wgsl for rows that are whole 16-byte units:
// W bound as vec4<u32>, one 16-byte load per unit (WT, the dp_dtype, is set by ops.c):
//   F32  (WT 0, K % 4 == 0): unit = 4 weights
//   F16  (WT 1), BF16 (WT 2) (K % 8 == 0): unit = 8 weights
//   Q4_K (WT 4): unit = one 16-byte run of a block's qs (block = 144 bytes = 9 units: the
//        header d, dmin, scales[12], then qs[128]); qs run j (0..7) holds sub-blocks
//        2(j/2) (low nibbles) and 2(j/2)+1 (high nibbles), elements 16(j%2) .. +15 of each,
//        so a unit is 32 weights: d*sc*sum(q*x) - dmin*m*sum(x) per sub-block.
// Row starts must be 16-byte aligned (row_bytes % 16 == 0 and a 256-aligned view: ops.c).
@group(0) @binding(2) var<storage, read> W: array<vec4<u32>>;

fn n_units(K: u32) -> u32 {
  if (WT == 0u) { return K / 4u; }
  if (WT == 4u) { return K / 32u; }
  return K / 8u;
}
// scale byte i (0..11) of a Q4_K header
fn sbyte(h: vec4<u32>, i: u32) -> u32 { return (h[1u + (i >> 2u)] >> ((i & 3u) * 8u)) & 0xffu; }
// (scale, min) of sub-block s (get_scale_min_k4)
fn scmin(h: vec4<u32>, s: u32) -> vec2<f32> {
  if (s < 4u) { return vec2<f32>(f32(sbyte(h, s) & 63u), f32(sbyte(h, s + 4u) & 63u)); }
  return vec2<f32>(f32((sbyte(h, s + 4u) & 15u) | ((sbyte(h, s - 4u) >> 6u) << 4u)),
                   f32((sbyte(h, s + 4u) >> 4u) | ((sbyte(h, s) >> 6u) << 4u)));
}
fn nib(w: u32, sh: u32) -> vec4<f32> {
  let v = (w >> sh) & 0x0f0f0f0fu;
  return vec4<f32>(f32(v & 0xffu), f32((v >> 8u) & 0xffu), f32((v >> 16u) & 0xffu), f32(v >> 24u));
}
fn bf2(w: u32) -> vec2<f32> { return vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u)); }

fn unit_dot(rb: u32, u: u32, m: u32, s: f32) -> f32 {
  let r = rb >> 4u;
  if (WT == 0u) { return dot(bitcast<vec4<f32>>(W[r + u]), xin(m, u, s)); }
  if (WT == 1u) {
    let c = W[r + u];
    return dot(vec4<f32>(unpack2x16float(c.x), unpack2x16float(c.y)), xin(m, 2u * u, s)) +
           dot(vec4<f32>(unpack2x16float(c.z), unpack2x16float(c.w)), xin(m, 2u * u + 1u, s));
  }
  if (WT == 2u) {
    let c = W[r + u];
    return dot(vec4<f32>(bf2(c.x), bf2(c.y)), xin(m, 2u * u, s)) + dot(vec4<f32>(bf2(c.z), bf2(c.w)), xin(m, 2u * u + 1u, s));
  }
  // Q4_K
  let b = u >> 3u;
  let j = u & 7u;
  let h = W[r + 9u * b];
  let q = W[r + 9u * b + 1u + j];
  let dm = unpack2x16float(h.x);
  let s0 = 2u * (j >> 1u);
  let a0 = scmin(h, s0);
  let a1 = scmin(h, s0 + 1u);
  let x0 = 64u * b + 8u * s0 + 4u * (j & 1u); // vec4 index of the low nibbles' first input
  let xl0 = xin(m, x0, s); let xl1 = xin(m, x0 + 1u, s); let xl2 = xin(m, x0 + 2u, s); let xl3 = xin(m, x0 + 3u, s);
  let xh0 = xin(m, x0 + 8u, s); let xh1 = xin(m, x0 + 9u, s); let xh2 = xin(m, x0 + 10u, s); let xh3 = xin(m, x0 + 11u, s);
  let dl = dot(nib(q.x, 0u), xl0) + dot(nib(q.y, 0u), xl1) + dot(nib(q.z, 0u), xl2) + dot(nib(q.w, 0u), xl3);
  let dh = dot(nib(q.x, 4u), xh0) + dot(nib(q.y, 4u), xh1) + dot(nib(q.z, 4u), xh2) + dot(nib(q.w, 4u), xh3);
  let one = vec4<f32>(1.0);
  let sl = dot(xl0 + xl1 + xl2 + xl3, one);
  let sh = dot(xh0 + xh1 + xh2 + xh3, one);
  return dm.x * (a0.x * dl + a1.x * dh) - dm.y * (a0.y * sl + a1.y * sh);
}
