// lib_wdecode.wgsl -- weight decoding shared by matmul.wgsl and embed.wgsl (a library that
// ops.c places before those kernels). The kernel declares the weight buffer
//   var<storage, read> W: array<u32>;
// holding rows of GGUF-layout data (src/quant/quant.h); blocks of 34, 210 and 17 bytes are not
// 4-aligned, so every read goes through byte/u16/unaligned-u32 extraction from W.
// One decoder per type, wl_TYPE(rb, k0, K) -> W8 (TYPE = dp_dtype_name: f32 f16 bf16 q8_0 q4_k
// q6_k mxfp4): weights k0 .. k0+7 (k0 % 8 == 0) of the row starting at byte rb of W; elements
// at k >= K (only possible for f32/f16/bf16) are 0.
// Variant: ops.c appends one line choosing the type,
//   fn w_load8(rb: u32, k0: u32, K: u32) -> W8 { return wl_q4_k(rb, k0, K); }
// so the other decoders are unreachable and never compiled. The including kernel's uniform P
// has a field row_bytes (bytes per row): when it is a multiple of 4, F16/BF16 rows are read
// with aligned word loads (a branch that is uniform, so SIMD back ends take one side).
// Math per type (d, dmin f16; sc, m 6-bit; q the stored integer):
//   Q8_0  x = d*q (q int8)          Q4_K  x = d*sc*q - dmin*m (q 4-bit, 8 sub-blocks of 32)
//   Q6_K  x = d*sc*(q-32) (sc int8) MXFP4 x = 2^(e-127) * e2m1(q)

struct W8 { a: vec4<f32>, b: vec4<f32> }

fn w_u8(o: u32) -> u32 { return (W[o >> 2u] >> ((o & 3u) * 8u)) & 0xffu; }
fn w_u16(o: u32) -> u32 { return (W[o >> 2u] >> ((o & 2u) * 8u)) & 0xffffu; } // o even
fn w_u32(o: u32) -> u32 {                                                        // any o
  let s = (o & 3u) * 8u;
  let i = o >> 2u;
  if (s == 0u) { return W[i]; }
  return (W[i] >> s) | (W[i + 1u] << (32u - s));
}
fn f16_of(h: u32) -> f32 { return unpack2x16float(h).x; }
// four signed bytes of a word -> f32
fn i8x4(w: u32) -> vec4<f32> {
  let v = bitcast<i32>(w);
  return vec4<f32>(f32((v << 24u) >> 24u), f32((v << 16u) >> 24u), f32((v << 8u) >> 24u), f32(v >> 24u));
}
// four unsigned bytes of a word -> f32
fn u8x4(w: u32) -> vec4<f32> {
  return vec4<f32>(f32(w & 0xffu), f32((w >> 8u) & 0xffu), f32((w >> 16u) & 0xffu), f32(w >> 24u));
}
// four nibbles (bits 0-3, 8-11, 16-19, 24-27 of w >> sh) -> f32
fn nib4(w: u32, sh: u32) -> vec4<f32> { return u8x4((w >> sh) & 0x0f0f0f0fu); }
fn e2m1(n: u32) -> f32 {
  let e = (n >> 1u) & 3u;
  let mag = select(ldexp(1.0 + 0.5 * f32(n & 1u), i32(e) - 1), 0.5 * f32(n & 1u), e == 0u);
  return select(mag, -mag, (n & 8u) != 0u);
}
fn e2m1x4(w: u32, sh: u32) -> vec4<f32> {
  let v = w >> sh;
  return vec4<f32>(e2m1(v & 15u), e2m1((v >> 8u) & 15u), e2m1((v >> 16u) & 15u), e2m1((v >> 24u) & 15u));
}
fn mask4(v: vec4<f32>, k: u32, K: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), v, vec4<u32>(k, k + 1u, k + 2u, k + 3u) < vec4<u32>(K));
}

// F32
fn wl_f32(rb: u32, k0: u32, K: u32) -> W8 {
  var r: W8;
  let i = (rb >> 2u) + k0;
  r.a = mask4(vec4<f32>(bitcast<f32>(W[i]), bitcast<f32>(W[i + 1u]), bitcast<f32>(W[i + 2u]), bitcast<f32>(W[i + 3u])), k0, K);
  r.b = mask4(vec4<f32>(bitcast<f32>(W[i + 4u]), bitcast<f32>(W[i + 5u]), bitcast<f32>(W[i + 6u]), bitcast<f32>(W[i + 7u])), k0 + 4u, K);
  return r;
}

// F16, BF16: 4 words of 2 halves, row start possibly 2 mod 4
fn wl_16(rb: u32, k0: u32, K: u32, bf: bool) -> W8 {
  var r: W8;
  let o = rb + 2u * k0;
  var w0: u32; var w1: u32; var w2: u32; var w3: u32;
  if ((P.row_bytes & 3u) == 0u) { // every row word-aligned: plain loads (a uniform branch)
    let i = o >> 2u;
    w0 = W[i]; w1 = W[i + 1u]; w2 = W[i + 2u]; w3 = W[i + 3u];
  } else { // 5 words cover the 16 bytes; s is 0 or 16 per lane, so no branch per word
    let i = o >> 2u;
    let s = (o & 3u) * 8u;
    let t = 32u - s;
    let u0 = W[i]; let u1 = W[i + 1u]; let u2 = W[i + 2u]; let u3 = W[i + 3u]; let u4 = W[i + 4u];
    let z = s == 0u; // then the next word does not contribute (and << 32 is not a shift by 32)
    w0 = select((u0 >> s) | (u1 << t), u0, z); w1 = select((u1 >> s) | (u2 << t), u1, z);
    w2 = select((u2 >> s) | (u3 << t), u2, z); w3 = select((u3 >> s) | (u4 << t), u3, z);
  }
  if (!bf) {
    r.a = vec4<f32>(unpack2x16float(w0), unpack2x16float(w1));
    r.b = vec4<f32>(unpack2x16float(w2), unpack2x16float(w3));
  } else {
    r.a = vec4<f32>(bitcast<f32>(w0 << 16u), bitcast<f32>(w0 & 0xffff0000u), bitcast<f32>(w1 << 16u), bitcast<f32>(w1 & 0xffff0000u));
    r.b = vec4<f32>(bitcast<f32>(w2 << 16u), bitcast<f32>(w2 & 0xffff0000u), bitcast<f32>(w3 << 16u), bitcast<f32>(w3 & 0xffff0000u));
  }
  r.a = mask4(r.a, k0, K);
  r.b = mask4(r.b, k0 + 4u, K);
  return r;
}
fn wl_f16(rb: u32, k0: u32, K: u32) -> W8 { return wl_16(rb, k0, K, false); }
fn wl_bf16(rb: u32, k0: u32, K: u32) -> W8 { return wl_16(rb, k0, K, true); }

// Q8_0: 34 bytes = f16 d, int8 q[32]
fn wl_q8_0(rb: u32, k0: u32, K: u32) -> W8 {
  var r: W8;
  let o = rb + 34u * (k0 >> 5u);
  let d = f16_of(w_u16(o));
  let q = o + 2u + (k0 & 31u);
  r.a = d * i8x4(w_u32(q));
  r.b = d * i8x4(w_u32(q + 4u));
  return r;
}

// Q4_K: 144 bytes = f16 d, f16 dmin, scales[12], qs[128]
fn wl_q4_k(rb: u32, k0: u32, K: u32) -> W8 {
  var r: W8;
  let o = rb + 144u * (k0 >> 8u);
  let e = k0 & 255u;
  let sb = e >> 5u;
  let dm = unpack2x16float(W[o >> 2u]);
  var sc: u32; var mn: u32;
  if (sb < 4u) {
    sc = w_u8(o + 4u + sb) & 63u;
    mn = w_u8(o + 8u + sb) & 63u;
  } else {
    sc = (w_u8(o + 8u + sb) & 15u) | ((w_u8(o + sb) >> 6u) << 4u);
    mn = (w_u8(o + 8u + sb) >> 4u) | ((w_u8(o + 4u + sb) >> 6u) << 4u);
  }
  let q = (o + 16u + 32u * (sb >> 1u) + (e & 31u)) >> 2u;
  let sh = 4u * (sb & 1u);
  let a = dm.x * f32(sc);
  let b = dm.y * f32(mn);
  r.a = a * nib4(W[q], sh) - b;
  r.b = a * nib4(W[q + 1u], sh) - b;
  return r;
}

// Q6_K: 210 bytes = ql[128], qh[64], int8 scales[16], f16 d
fn wl_q6_k(rb: u32, k0: u32, K: u32) -> W8 {
  var r: W8;
  let o = rb + 210u * (k0 >> 8u);
  let e = k0 & 255u;
  let h = e >> 7u;
  let qd = (e & 127u) >> 5u;
  let l = e & 31u;
  let d = f16_of(w_u16(o + 208u));
  let sc = f32((bitcast<i32>(w_u8(o + 192u + 8u * h + (l >> 4u) + 2u * qd)) << 24u) >> 24u);
  let ql = o + 64u * h + l + 32u * (qd & 1u);
  let qh = o + 128u + 32u * h + l;
  let nsh = 4u * (qd >> 1u);
  let hsh = 2u * qd;
  let l0 = w_u32(ql); let l1 = w_u32(ql + 4u);
  let h0 = w_u32(qh); let h1 = w_u32(qh + 4u);
  let q0 = ((l0 >> nsh) & 0x0f0f0f0fu) | (((h0 >> hsh) & 0x03030303u) << 4u);
  let q1 = ((l1 >> nsh) & 0x0f0f0f0fu) | (((h1 >> hsh) & 0x03030303u) << 4u);
  r.a = d * sc * (u8x4(q0) - 32.0);
  r.b = d * sc * (u8x4(q1) - 32.0);
  return r;
}

// MXFP4: 17 bytes = E8M0 e, qs[16] (element j: low nibble of qs[j], j+16: high)
fn wl_mxfp4(rb: u32, k0: u32, K: u32) -> W8 {
  var r: W8;
  let o = rb + 17u * (k0 >> 5u);
  let ex = w_u8(o);
  let s = select(bitcast<f32>(ex << 23u), bitcast<f32>(0x00400000u), ex == 0u);
  let l = k0 & 31u;
  let q = o + 1u + (l & 15u);
  let sh = 4u * (l >> 4u);
  r.a = s * e2m1x4(w_u32(q), sh);
  r.b = s * e2m1x4(w_u32(q + 4u), sh);
  return r;
}
