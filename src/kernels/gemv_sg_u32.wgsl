// gemv_sg_u32.wgsl -- the weight access of gemv_sg.wgsl for block types whose blocks are not
// 16-byte units: W bound as u32 (lib_wdecode.wgsl placed before this file with the line
// choosing the type; its byte/u16/unaligned-u32 helpers are used here). WT, the dp_dtype:
//   Q8_0  (WT 3): unit = one block of 34 bytes (f16 d, int8 q[32]): 9 aligned words hold it
//         (blocks start 2-byte aligned), 32 weights, d * sum(q * x).
//   Q6_K  (WT 5): unit = 16 weights of a 210-byte block (ql[128], qh[64], int8 sc[16], f16 d):
//         half h (0, 1) and l = 4 lw .. 4 lw + 3 (lw 0..7); the ql words at 64h + l and
//         64h + 32 + l and the qh word at 128 + 32h + l give elements 128h + 32 qd + l + i for
//         qd = 0..3 (low/high nibbles, 2-bit pairs of qh), scale sc[8h + l/16 + 2 qd].
//   MXFP4 (WT 6): unit = 8 weights through w_load8.
// Bytes become floats as bitcast(0x4B000000 | byte) - 2^23 - offset (exact, no conversion).
@group(0) @binding(2) var<storage, read> W: array<u32>;

struct XU { a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32>,
            e: vec4<f32>, f: vec4<f32>, g: vec4<f32>, h: vec4<f32> }
fn n_units(K: u32) -> u32 {
  if (WT == 3u) { return K / 32u; }
  if (WT == 5u) { return K / 16u; }
  return K / 8u;
}
fn unit_x(u: u32, m: u32, s: f32) -> XU {
  var r: XU;
  if (WT == 3u) {
    let q = 8u * u;
    r.a = xin(m, q, s); r.b = xin(m, q + 1u, s); r.c = xin(m, q + 2u, s); r.d = xin(m, q + 3u, s);
    r.e = xin(m, q + 4u, s); r.f = xin(m, q + 5u, s); r.g = xin(m, q + 6u, s); r.h = xin(m, q + 7u, s);
    return r;
  }
  if (WT == 5u) { // vec4 index 64b + 32h + 8qd + lw
    let q = 64u * (u >> 4u) + 32u * ((u >> 3u) & 1u) + (u & 7u);
    r.a = xin(m, q, s); r.b = xin(m, q + 8u, s); r.c = xin(m, q + 16u, s); r.d = xin(m, q + 24u, s);
    return r;
  }
  r.a = xin(m, 2u * u, s); r.b = xin(m, 2u * u + 1u, s);
  return r;
}
// the 4 bytes of w as floats, minus off
fn bytes4(w: u32, off: f32) -> vec4<f32> {
  let f = vec4<u32>(w & 0xffu, (w >> 8u) & 0xffu, (w >> 16u) & 0xffu, w >> 24u) | vec4<u32>(0x4B000000u);
  return bitcast<vec4<f32>>(f) - vec4<f32>(8388608.0 + off);
}
fn sx8(b: u32) -> f32 { return f32((bitcast<i32>(b) << 24u) >> 24u); } // low byte, signed
fn unit_w(rb: u32, u: u32, x: XU) -> f32 {
  if (WT == 3u) {
    let o = rb + 34u * u;
    let i = o >> 2u;
    let w0 = W[i]; let w1 = W[i + 1u]; let w2 = W[i + 2u]; let w3 = W[i + 3u]; let w4 = W[i + 4u];
    let w5 = W[i + 5u]; let w6 = W[i + 6u]; let w7 = W[i + 7u]; let w8 = W[i + 8u];
    let al = (o & 2u) != 0u; // block at byte 2 of w0: d = high half, q = w1 .. w8
    let d = unpack2x16float(select(w0, w0 >> 16u, al)).x;
    let q0 = select((w0 >> 16u) | (w1 << 16u), w1, al); let q1 = select((w1 >> 16u) | (w2 << 16u), w2, al);
    let q2 = select((w2 >> 16u) | (w3 << 16u), w3, al); let q3 = select((w3 >> 16u) | (w4 << 16u), w4, al);
    let q4 = select((w4 >> 16u) | (w5 << 16u), w5, al); let q5 = select((w5 >> 16u) | (w6 << 16u), w6, al);
    let q6 = select((w6 >> 16u) | (w7 << 16u), w7, al); let q7 = select((w7 >> 16u) | (w8 << 16u), w8, al);
    let k = 0x80808080u; // signed bytes + 128 as unsigned
    let t = dot(bytes4(q0 ^ k, 128.0), x.a) + dot(bytes4(q1 ^ k, 128.0), x.b) + dot(bytes4(q2 ^ k, 128.0), x.c) +
            dot(bytes4(q3 ^ k, 128.0), x.d) + dot(bytes4(q4 ^ k, 128.0), x.e) + dot(bytes4(q5 ^ k, 128.0), x.f) +
            dot(bytes4(q6 ^ k, 128.0), x.g) + dot(bytes4(q7 ^ k, 128.0), x.h);
    return d * t;
  }
  if (WT == 5u) {
    let b = u >> 4u;
    let h = (u >> 3u) & 1u;
    let l = 4u * (u & 7u);
    let o = rb + 210u * b;
    let qa = w_u32(o + 64u * h + l);
    let qb = w_u32(o + 64u * h + 32u + l);
    let qh = w_u32(o + 128u + 32u * h + l);
    let s01 = w_u32(o + 192u + 8u * h + (l >> 4u));      // sc[qd 0] in byte 0, sc[qd 1] in byte 2
    let s23 = w_u32(o + 196u + 8u * h + (l >> 4u));      // sc[qd 2], sc[qd 3]
    let d = f16_of(w_u16(o + 208u));
    let m4 = 0x0f0f0f0fu; let m2 = 0x03030303u;
    let q0 = (qa & m4) | ((qh & m2) << 4u);
    let q1 = (qb & m4) | (((qh >> 2u) & m2) << 4u);
    let q2 = ((qa >> 4u) & m4) | (((qh >> 4u) & m2) << 4u);
    let q3 = ((qb >> 4u) & m4) | (((qh >> 6u) & m2) << 4u);
    return d * (sx8(s01) * dot(bytes4(q0, 32.0), x.a) + sx8(s01 >> 16u) * dot(bytes4(q1, 32.0), x.b) +
                sx8(s23) * dot(bytes4(q2, 32.0), x.c) + sx8(s23 >> 16u) * dot(bytes4(q3, 32.0), x.d));
  }
  let w = w_load8(rb, 8u * u, P.K);
  return dot(w.a, x.a) + dot(w.b, x.b);
}
