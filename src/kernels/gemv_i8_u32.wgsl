// gemv_i8_u32.wgsl -- the weight access of gemv_i8.wgsl for block types whose blocks are not
// 16-byte aligned: W bound as u32. WT, the dp_dtype:
//   Q8_0 (WT 3, K % 64 == 0): unit = two blocks of 34 bytes (f16 d, int8 q[32]) = 68 bytes =
//        17 aligned words (a row is 68 K / 64 bytes): block A's d in the low half of word 0,
//        its q in the high half of word 0 .. low half of word 8; block B's d in the high half
//        of word 8, its q in words 9 .. 16. unit = dA * dxA * (qA . xqA) + dB * dxB * (qB . xqB).
//   Q6_K (WT 5): unit = one quarter (h, t) of a 210-byte block (ql[128], qh[64], int8 sc[16],
//        f16 d): half h (0, 1), bytes 16t .. 16t + 15 of the half's ql runs (64h, 64h + 32) and
//        qh run (128 + 32h) give elements 128h + 32qd + 16t + j (qd 0..3, j 0..15): 6-bit q =
//        ql nibble | 2 qh bits << 4, scale sc[8h + t + 2qd]; the input is 16 values of each of
//        the input blocks 8b + 4h + qd. unit = d * sum_qd sc * dx * (q . xq - 32 * sum(xq)), the
//        sums of xq as dot products with 0x01010101. Blocks start 2-byte aligned: each 16-byte
//        run is read as 5 words and shifted (no branch per word).
@group(0) @binding(2) var<storage, read> W: array<u32>;

struct XU { a: vec4<u32>, b: vec4<u32>, c: vec4<u32>, d: vec4<u32>, s: vec4<f32> }

fn n_units(K: u32) -> u32 { return K / 64u; }
fn unit_x(u: u32, m: u32, s: f32) -> XU { // s unused (gemv_sg's RMSNorm scale)
  var r: XU;
  let q0 = m * (P.K / 16u); let d0 = m * (P.K / 32u);
  if (WT == 3u) { // input blocks 2u, 2u + 1
    let q = q0 + 4u * u;
    r.a = XQ[q]; r.b = XQ[q + 1u]; r.c = XQ[q + 2u]; r.d = XQ[q + 3u];
    r.s = vec4<f32>(XD[d0 + 2u * u].x, XD[d0 + 2u * u + 1u].x, 0.0, 0.0);
    return r;
  }
  // Q6_K: input blocks c = 8b + 4h + qd (qd 0..3), vec4 t of each
  let c = 8u * (u >> 2u) + 4u * ((u >> 1u) & 1u);
  let t = u & 1u;
  r.a = XQ[q0 + 2u * c + t]; r.b = XQ[q0 + 2u * c + 2u + t]; r.c = XQ[q0 + 2u * c + 4u + t]; r.d = XQ[q0 + 2u * c + 6u + t];
  r.s = vec4<f32>(XD[d0 + c].x, XD[d0 + c + 1u].x, XD[d0 + c + 2u].x, XD[d0 + c + 3u].x);
  return r;
}
// the 16 bytes at byte o (o even) of W
fn run16(o: u32) -> vec4<u32> {
  let i = o >> 2u;
  let s = (o & 2u) * 8u; // 0 or 16
  let u0 = W[i]; let u1 = W[i + 1u]; let u2 = W[i + 2u]; let u3 = W[i + 3u]; let u4 = W[i + 4u];
  let z = s == 0u;
  return select(vec4<u32>((u0 >> 16u) | (u1 << 16u), (u1 >> 16u) | (u2 << 16u), (u2 >> 16u) | (u3 << 16u),
                          (u3 >> 16u) | (u4 << 16u)), vec4<u32>(u0, u1, u2, u3), z);
}
fn sx8(b: u32) -> f32 { return f32((bitcast<i32>(b) << 24u) >> 24u); } // low byte, signed
fn unit_w(rb: u32, u: u32, x: XU) -> f32 {
  if (WT == 3u) {
    let i = (rb >> 2u) + 17u * u;
    let w0 = W[i]; let w8 = W[i + 8u];
    let qa = vec4<u32>((w0 >> 16u) | (W[i + 1u] << 16u), (W[i + 1u] >> 16u) | (W[i + 2u] << 16u),
                       (W[i + 2u] >> 16u) | (W[i + 3u] << 16u), (W[i + 3u] >> 16u) | (W[i + 4u] << 16u));
    let qb = vec4<u32>((W[i + 4u] >> 16u) | (W[i + 5u] << 16u), (W[i + 5u] >> 16u) | (W[i + 6u] << 16u),
                       (W[i + 6u] >> 16u) | (W[i + 7u] << 16u), (W[i + 7u] >> 16u) | (w8 << 16u));
    let qc = vec4<u32>(W[i + 9u], W[i + 10u], W[i + 11u], W[i + 12u]);
    let qd = vec4<u32>(W[i + 13u], W[i + 14u], W[i + 15u], W[i + 16u]);
    let da = unpack2x16float(w0).x; let db = unpack2x16float(w8 >> 16u).x;
    return da * x.s.x * f32(dot16(qa, x.a) + dot16(qb, x.b)) + db * x.s.y * f32(dot16(qc, x.c) + dot16(qd, x.d));
  }
  // Q6_K
  let b = u >> 2u;
  let h = (u >> 1u) & 1u;
  let t = u & 1u;
  let o = rb + 210u * b;
  let la = run16(o + 64u * h + 16u * t);       // qd 0 (low nibbles), 2 (high)
  let lb = run16(o + 64u * h + 32u + 16u * t); // qd 1, 3
  let qh = run16(o + 128u + 32u * h + 16u * t);
  let so = o + 192u + 8u * h + t;              // sc[qd] at so + 2qd (any alignment)
  let s0 = (W[so >> 2u] >> ((so & 3u) * 8u)) | select(W[(so >> 2u) + 1u] << (32u - (so & 3u) * 8u), 0u, (so & 3u) == 0u);
  let s2 = (W[(so + 4u) >> 2u] >> ((so & 3u) * 8u)) | select(W[((so + 4u) >> 2u) + 1u] << (32u - (so & 3u) * 8u), 0u, (so & 3u) == 0u);
  let dw = o + 208u;
  let d = unpack2x16float(W[dw >> 2u] >> ((dw & 2u) * 8u)).x;
  let m4 = vec4<u32>(0x0f0f0f0fu); let m2 = vec4<u32>(0x03030303u);
  let q0 = (la & m4) | ((qh & m2) << vec4<u32>(4u));
  let q1 = (lb & m4) | (((qh >> vec4<u32>(2u)) & m2) << vec4<u32>(4u));
  let q2 = ((la >> vec4<u32>(4u)) & m4) | (((qh >> vec4<u32>(4u)) & m2) << vec4<u32>(4u));
  let q3 = ((lb >> vec4<u32>(4u)) & m4) | (((qh >> vec4<u32>(6u)) & m2) << vec4<u32>(4u));
  let one = vec4<u32>(0x01010101u);
  let i0 = dot16(q0, x.a) - 32 * dot16(one, x.a); let i1 = dot16(q1, x.b) - 32 * dot16(one, x.b);
  let i2 = dot16(q2, x.c) - 32 * dot16(one, x.c); let i3 = dot16(q3, x.d) - 32 * dot16(one, x.d);
  return d * (sx8(s0) * x.s.x * f32(i0) + sx8(s0 >> 16u) * x.s.y * f32(i1) +
              sx8(s2) * x.s.z * f32(i2) + sx8(s2 >> 16u) * x.s.w * f32(i3));
}
