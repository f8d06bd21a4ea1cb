// gemv_sg_v4.wgsl -- the weight access of gemv_sg.wgsl for rows that are whole 16-byte units:
// W bound as vec4<u32>, one 16-byte load per unit and row (WT, the dp_dtype, set by ops.c):
//   F32  (WT 0, K % 4 == 0): unit = 4 weights
//   F16  (WT 1), BF16 (WT 2) (K % 8 == 0): unit = 8 weights
//   Q4_K (WT 4): unit = one 16-byte run of a block's qs (block = 144 bytes = 9 units: the
//        header d, dmin, scales[12], then qs[128]); qs run j (0..7) holds sub-blocks
//        s0 = 2(j/2) (low nibbles) and s0 + 1 (high nibbles), elements 16(j%2) .. +15 of each,
//        so a unit is 32 weights: d*sc*sum(q*x) - dmin*m*sum(x) per sub-block (the sums of x
//        computed once per unit for all R rows). Scales and mins are picked from the header
//        words with shifts and selects (no dynamic vector index); nibbles become floats as
//        bitcast(0x4B000000 | q) - 2^23 (exact; no integer-to-float conversion).
// Row starts must be 16-byte aligned (row_bytes % 16 == 0 and a 256-aligned view: ops.c).
@group(0) @binding(2) var<storage, read> W: array<vec4<u32>>;

struct XU { l0: vec4<f32>, l1: vec4<f32>, l2: vec4<f32>, l3: vec4<f32>,
            h0: vec4<f32>, h1: vec4<f32>, h2: vec4<f32>, h3: vec4<f32>, sl: f32, sh: f32 }

fn n_units(K: u32) -> u32 {
  if (WT == 0u) { return K / 4u; }
  if (WT == 4u) { return K / 32u; }
  return K / 8u;
}
fn unit_x(u: u32, m: u32, s: f32) -> XU {
  var r: XU;
  if (WT == 0u) { r.l0 = xin(m, u, s); return r; }
  if (WT != 4u) { r.l0 = xin(m, 2u * u, s); r.l1 = xin(m, 2u * u + 1u, s); return r; }
  let b = u >> 3u;
  let j = u & 7u;
  let x0 = 64u * b + 16u * (j >> 1u) + 4u * (j & 1u); // vec4 index of the low nibbles' first input
  r.l0 = xin(m, x0, s); r.l1 = xin(m, x0 + 1u, s); r.l2 = xin(m, x0 + 2u, s); r.l3 = xin(m, x0 + 3u, s);
  r.h0 = xin(m, x0 + 8u, s); r.h1 = xin(m, x0 + 9u, s); r.h2 = xin(m, x0 + 10u, s); r.h3 = xin(m, x0 + 11u, s);
  let one = vec4<f32>(1.0);
  r.sl = dot(r.l0 + r.l1 + r.l2 + r.l3, one);
  r.sh = dot(r.h0 + r.h1 + r.h2 + r.h3, one);
  return r;
}
// the four nibbles at bit sh of the bytes of w, as floats
fn nib(w: u32, sh: u32) -> vec4<f32> {
  let v = (w >> sh) & 0x0f0f0f0fu;
  let f = vec4<u32>(v & 0xffu, (v >> 8u) & 0xffu, (v >> 16u) & 0xffu, v >> 24u) | vec4<u32>(0x4B000000u);
  return bitcast<vec4<f32>>(f) - vec4<f32>(8388608.0);
}
fn bf2(w: u32) -> vec2<f32> { return vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u)); }

fn unit_w(rb: u32, u: u32, x: XU) -> f32 {
  let r = rb >> 4u;
  if (WT == 0u) { return dot(bitcast<vec4<f32>>(W[r + u]), x.l0); }
  if (WT == 1u) {
    let c = W[r + u];
    return dot(vec4<f32>(unpack2x16float(c.x), unpack2x16float(c.y)), x.l0) +
           dot(vec4<f32>(unpack2x16float(c.z), unpack2x16float(c.w)), x.l1);
  }
  if (WT == 2u) {
    let c = W[r + u];
    return dot(vec4<f32>(bf2(c.x), bf2(c.y)), x.l0) + dot(vec4<f32>(bf2(c.z), bf2(c.w)), x.l1);
  }
  // Q4_K
  let b = u >> 3u;
  let j = u & 7u;
  let h = W[r + 9u * b];
  let q = W[r + 9u * b + 1u + j];
  let dm = unpack2x16float(h.x);
  // scale bytes: 0-3 in h.y, 4-7 in h.z, 8-11 in h.w; sub-blocks s0 = 2(j/2) and s0 + 1 start
  // at byte s0 % 4 of their word (get_scale_min_k4)
  let t = 8u * ((2u * (j >> 1u)) & 3u);
  let y = h.y >> t; let z = h.z >> t; let w = h.w >> t;
  let lo = vec4<u32>(y & 63u, (y >> 8u) & 63u, z & 63u, (z >> 8u) & 63u); // sc0, sc1, m0, m1 (sub-blocks 0-3)
  let hi = vec4<u32>((w & 15u) | (((y >> 6u) & 3u) << 4u), ((w >> 8u) & 15u) | (((y >> 14u) & 3u) << 4u),
                     ((w >> 4u) & 15u) | (((z >> 6u) & 3u) << 4u), ((w >> 12u) & 15u) | (((z >> 14u) & 3u) << 4u));
  let sm = vec4<f32>(select(lo, hi, j >= 4u));
  let dl = dot(nib(q.x, 0u), x.l0) + dot(nib(q.y, 0u), x.l1) + dot(nib(q.z, 0u), x.l2) + dot(nib(q.w, 0u), x.l3);
  let dh = dot(nib(q.x, 4u), x.h0) + dot(nib(q.y, 4u), x.h1) + dot(nib(q.z, 4u), x.h2) + dot(nib(q.w, 4u), x.h3);
  return dm.x * (sm.x * dl + sm.y * dh) - dm.y * (sm.z * x.sl + sm.w * x.sh);
}
