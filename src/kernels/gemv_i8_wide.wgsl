// gemv_i8_wide.wgsl -- the weight access of gemv_i8.wgsl for the block types whose blocks are
// not 16-byte aligned, with W bound as vec4<u32> (DOPPLER_GEMV_I8_WIDE=1; off by default: no
// faster than gemv_i8_u32.wgsl's word loads on the H200). Units, sums and order as gemv_i8_u32:
//   Q8_0 (WT 3, K % 64 == 0): two blocks = 68 bytes at a 4-byte aligned offset, read as the 5
//        aligned vec4 that hold them and shifted by whole words (selects): 5 wide loads a unit
//        instead of 17 word loads.
//   Q6_K (WT 5): one quarter (h, t) of a 210-byte block: ql runs 64h + 16t and 64h + 32 + 16t,
//        qh run 128 + 32h + 16t, scales sc[8h + t + 2qd], d; every 16-byte run (at any even
//        offset: blocks start 2-byte aligned) read as the two aligned vec4 that hold it and
//        shifted into place by selects: 8 wide loads a unit (the two ql runs share a pair)
//        instead of 20 word loads, the 18 bytes of scales and d at the block's end from one pair.
// The binding is rounded up to 16 bytes (ops.c: a weight part has 16 bytes of slack,
// dp_weight_create); the last vec4 of a group may lie past it only when it is not used.
@group(0) @binding(2) var<storage, read> W: array<vec4<u32>>;

struct XU { a: vec4<u32>, b: vec4<u32>, c: vec4<u32>, d: vec4<u32>, s: vec4<f32> }

fn n_units(K: u32) -> u32 { return K / 64u; }
fn unit_x(u: u32, m: u32, s: f32) -> XU { // s unused (gemv_sg's RMSNorm scale)
  var r: XU;
  let q0 = m * (P.K / 16u); let d0 = m * (P.K / 32u);
  if (WT == 3u) { // Q8_0: input blocks 2u, 2u + 1
    let q = q0 + 4u * u;
    r.a = XQ[q]; r.b = XQ[q + 1u]; r.c = XQ[q + 2u]; r.d = XQ[q + 3u];
    r.s = vec4<f32>(XD[d0 + 2u * u].x, XD[d0 + 2u * u + 1u].x, 0.0, 0.0);
    return r;
  }
  // input blocks c = 8b + 4h + qd (qd 0..3), vec4 t of each
  let c = 8u * (u >> 2u) + 4u * ((u >> 1u) & 1u);
  let t = u & 1u;
  r.a = XQ[q0 + 2u * c + t]; r.b = XQ[q0 + 2u * c + 2u + t]; r.c = XQ[q0 + 2u * c + 4u + t]; r.d = XQ[q0 + 2u * c + 6u + t];
  r.s = vec4<f32>(XD[d0 + c].x, XD[d0 + c + 1u].x, XD[d0 + c + 2u].x, XD[d0 + c + 3u].x);
  return r;
}
// the 16 bytes at byte s (even, < 16) of the 32 bytes a | b
fn shift16(a: vec4<u32>, b: vec4<u32>, s: u32) -> vec4<u32> {
  let ws = s >> 2u;
  let c1 = vec4<u32>(a.y, a.z, a.w, b.x); let c2 = vec4<u32>(a.z, a.w, b.x, b.y); let c3 = vec4<u32>(a.w, b.x, b.y, b.z);
  let lo = select(select(a, c1, ws == 1u), select(c2, c3, ws == 3u), ws >= 2u);
  let hi = select(select(c1, c2, ws == 1u), select(c3, b, ws == 3u), ws >= 2u);
  return select(lo, (lo >> vec4<u32>(16u)) | (hi << vec4<u32>(16u)), (s & 2u) != 0u);
}
// the 4 words from word ws (0..3) of the 8 words a | b
fn shiftw(a: vec4<u32>, b: vec4<u32>, ws: u32) -> vec4<u32> {
  let c1 = vec4<u32>(a.y, a.z, a.w, b.x); let c2 = vec4<u32>(a.z, a.w, b.x, b.y); let c3 = vec4<u32>(a.w, b.x, b.y, b.z);
  return select(select(a, c1, ws == 1u), select(c2, c3, ws == 3u), ws >= 2u);
}
// Q8_0 unit u of the row at byte rb: 17 words from word (rb / 4 + 17u) as 4 vec4 + 1 word
fn unit_w_q8(rb: u32, u: u32, x: XU) -> f32 {
  let o = rb + 68u * u;
  let i = o >> 4u;
  let ws = (o >> 2u) & 3u;
  let v0 = W[i]; let v1 = W[i + 1u]; let v2 = W[i + 2u]; let v3 = W[i + 3u]; let v4 = W[i + 4u];
  let w0 = shiftw(v0, v1, ws); let w1 = shiftw(v1, v2, ws); let w2 = shiftw(v2, v3, ws); let w3 = shiftw(v3, v4, ws);
  let w16 = select(select(v4.x, v4.y, ws == 1u), select(v4.z, v4.w, ws == 3u), ws >= 2u);
  // block A: d in the low half of word 0, q in the high half of word 0 .. low half of word 8;
  // block B: d in the high half of word 8, q in words 9 .. 16
  let qa = vec4<u32>((w0.x >> 16u) | (w0.y << 16u), (w0.y >> 16u) | (w0.z << 16u),
                     (w0.z >> 16u) | (w0.w << 16u), (w0.w >> 16u) | (w1.x << 16u));
  let qb = vec4<u32>((w1.x >> 16u) | (w1.y << 16u), (w1.y >> 16u) | (w1.z << 16u),
                     (w1.z >> 16u) | (w1.w << 16u), (w1.w >> 16u) | (w2.x << 16u));
  let qc = vec4<u32>(w2.y, w2.z, w2.w, w3.x);
  let qd = vec4<u32>(w3.y, w3.z, w3.w, w16);
  let da = unpack2x16float(w0.x).x; let db = unpack2x16float(w2.x >> 16u).x;
  return da * x.s.x * f32(dot16(qa, x.a) + dot16(qb, x.b)) + db * x.s.y * f32(dot16(qc, x.c) + dot16(qd, x.d));
}
fn sx8(b: u32) -> f32 { return f32((bitcast<i32>(b) << 24u) >> 24u); } // low byte, signed
fn unit_w(rb: u32, u: u32, x: XU) -> f32 {
  if (WT == 3u) { return unit_w_q8(rb, u, x); }
  let b = u >> 2u;
  let h = (u >> 1u) & 1u;
  let t = u & 1u;
  let o = rb + 210u * b;
  let s = o & 15u;                                // every run of the block: the same shift
  let ia = (o + 64u * h + 16u * t) >> 4u;         // ql runs: vec4 ia, ia + 1 (qd 0, 2) and ia + 2, ia + 3 (qd 1, 3)
  let iq = (o + 128u + 32u * h + 16u * t) >> 4u;  // qh run
  let ie = (o + 192u) >> 4u;                      // sc[16], d
  let v0 = W[ia]; let v1 = W[ia + 1u]; let v2 = W[ia + 2u]; let v3 = W[ia + 3u];
  let h0 = W[iq]; let h1 = W[iq + 1u];
  let e0 = W[ie]; let e1 = W[ie + 1u];
  let la = shift16(v0, v1, s);
  let lb = shift16(v2, v3, s);
  let qh = shift16(h0, h1, s);
  let sc = shift16(e0, e1, s);                    // sc[0..15]
  // d: bytes 16 .. 17 past the scales' start = word (s + 16) / 4 of e0 | e1, half (s & 2)
  let ws = s >> 2u;
  let dw = select(select(e1.x, e1.y, ws == 1u), select(e1.z, e1.w, ws == 3u), ws >= 2u);
  let d = unpack2x16float(dw >> ((s & 2u) * 8u)).x;
  // sc[8h + t + 2qd]: qd 0, 1 in word 2h (bytes t, t + 2), qd 2, 3 in word 2h + 1
  let s0 = select(sc.x, sc.z, h == 1u) >> (8u * t);
  let s2 = select(sc.y, sc.w, h == 1u) >> (8u * t);
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
