// gemv_i8_v4.wgsl -- the weight access of gemv_i8.wgsl for Q4_K (WT 4): W bound as vec4<u32>
// (a block = 144 bytes = 9 vec4: the header d, dmin, scales[12], then qs[128]). A unit is
// one quarter i (0..3) of a block: qs bytes 32i .. 32i + 31 (two vec4 loads) hold sub-block
// 2i in their low nibbles and 2i + 1 in their high nibbles, element t of each in byte t; so
// a unit is 64 weights = two whole input blocks of 32, and
//   unit = d * (sc0 * dx0 * (q_lo . xq0) + sc1 * dx1 * (q_hi . xq1)) - dmin * (m0 * s0 + m1 * s1)
// with (dx, s) the input blocks' XD entries (s = dx * sum(xq): the min term needs no product).
// Scales and mins by shifts and selects from the header words (get_scale_min_k4).
// Row starts must be 16-byte aligned (row_bytes = 144 K / 256 and a 256-aligned view).
@group(0) @binding(2) var<storage, read> W: array<vec4<u32>>;

struct XU { l0: vec4<u32>, l1: vec4<u32>, h0: vec4<u32>, h1: vec4<u32>, dl: vec2<f32>, dh: vec2<f32> }

fn n_units(K: u32) -> u32 { return K / 64u; }
fn unit_x(u: u32, m: u32, s: f32) -> XU { // s unused (gemv_sg's RMSNorm scale)
  var r: XU;
  let q = m * (P.K / 16u) + 4u * u; // input blocks 2u, 2u + 1: 2 vec4 each
  r.l0 = XQ[q]; r.l1 = XQ[q + 1u]; r.h0 = XQ[q + 2u]; r.h1 = XQ[q + 3u];
  let d = m * (P.K / 32u) + 2u * u;
  r.dl = XD[d]; r.dh = XD[d + 1u];
  return r;
}
fn unit_w(rb: u32, u: u32, x: XU) -> f32 {
  let r = rb >> 4u;
  let b = u >> 2u;
  let i = u & 3u;
  let h = W[r + 9u * b];
  let qa = W[r + 9u * b + 1u + 2u * i];
  let qb = W[r + 9u * b + 2u + 2u * i];
  let dm = unpack2x16float(h.x);
  // scale bytes: 0-3 in h.y, 4-7 in h.z, 8-11 in h.w; sub-blocks 2i, 2i + 1 at byte (2i) % 4
  let t = 8u * ((2u * i) & 3u);
  let y = h.y >> t; let z = h.z >> t; let w = h.w >> t;
  let lo = vec4<u32>(y & 63u, (y >> 8u) & 63u, z & 63u, (z >> 8u) & 63u); // sc0, sc1, m0, m1 (sub-blocks 0-3)
  let hi = vec4<u32>((w & 15u) | (((y >> 6u) & 3u) << 4u), ((w >> 8u) & 15u) | (((y >> 14u) & 3u) << 4u),
                     ((w >> 4u) & 15u) | (((z >> 6u) & 3u) << 4u), ((w >> 12u) & 15u) | (((z >> 14u) & 3u) << 4u));
  let sm = vec4<f32>(select(lo, hi, i >= 2u));
  let k = vec4<u32>(0x0f0f0f0fu);
  let il = dot16(qa & k, x.l0) + dot16(qb & k, x.l1);
  let ih = dot16((qa >> vec4<u32>(4u)) & k, x.h0) + dot16((qb >> vec4<u32>(4u)) & k, x.h1);
  return dm.x * (sm.x * x.dl.x * f32(il) + sm.y * x.dh.x * f32(ih)) - dm.y * (sm.z * x.dl.y + sm.w * x.dh.y);
}
