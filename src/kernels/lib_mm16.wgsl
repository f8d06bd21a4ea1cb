// lib_mm16.wgsl -- what the CPU-adapter matmuls that read F32 / F16 / BF16 weights 16 bytes at
// a time share: matmul_v4.wgsl (from a storage buffer) and matmul_tex.wgsl (from a texture),
// each placed after this file, and matmul_v4_sg8.wgsl appended to either. Here: the weight
// decoder, the output store and the GEMV rows_mv8. The including file provides
//   Params P (M, N, K, flags: 1 add bias, 2 accumulate; c0, ldy: W row n goes to column c0 + n
//   of Y rows of ldy floats, bias B[c0 + n]), bindings X (vec4<f32>), B, Y,
//   fn wrow(n) -> vec2<u32>        a handle for W row n,
//   fn w8v(t, g) -> V8             weights 8g .. 8g+7 of the row with handle t,
//   fn xin(m, q, s) -> vec4<f32>   inputs 4q .. 4q+3 of x row m (s from row_scale),
//   fn row_scale(m) -> f32         per-row factor for xin (matmul_tex's RMSNorm prologue).
//   rows_mv8 (M <= 4): invocation lid of workgroup nb: 8 columns n = nb * 8 * WG + lid + j * WG
//             (j < 8), indices clamped to N - 1 so the loop is branch-free; x is read at the
//             same address in every lane (one scalar load per workgroup on lavapipe); rows of x
//             one after the other. Grid cdiv(N, 8 * WG), linear id over a 2-D grid.
//   rows_mv8x4 (batch-invariant rows, ops.h DP_MM_ROWS, M > 4: a batch of decode rows): the
//             same columns and grid; rows of x in blocks of 4, each group of 8 weights of the 8
//             columns decoded once for the block (the weights read a quarter as often), then
//             the rest one by one exactly as rows_mv8. A row's sums are the same expressions
//             in the same order as in rows_mv8 (a += dot per group g, g ascending), so its
//             result does not depend on M or its place in a block: bit for bit rows_mv8's
//             (tests/gpu_batch.c). A separate entry point because it takes ~5x longer to
//             compile on lavapipe: only batches pay for it.
// Override TYPE: 0 F32 (two units: lo then hi), 1 F16, 2 BF16 (one unit: lo; hi unused).
override TYPE: u32 = 1u;
struct V8 { a: vec4<f32>, b: vec4<f32> }
fn bf2(w: u32) -> vec2<f32> { return vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u)); }
fn w8_decode(lo: vec4<u32>, hi: vec4<u32>) -> V8 {
  var v: V8;
  if (TYPE == 0u) {
    v.a = bitcast<vec4<f32>>(lo);
    v.b = bitcast<vec4<f32>>(hi);
  } else if (TYPE == 1u) {
    v.a = vec4<f32>(unpack2x16float(lo.x), unpack2x16float(lo.y));
    v.b = vec4<f32>(unpack2x16float(lo.z), unpack2x16float(lo.w));
  } else {
    v.a = vec4<f32>(bf2(lo.x), bf2(lo.y));
    v.b = vec4<f32>(bf2(lo.z), bf2(lo.w));
  }
  return v;
}

fn put(m: u32, n: u32, v: f32) {
  if (n >= P.N) { return; }
  var r = v;
  if ((P.flags & 1u) != 0u) { r += B[P.c0 + n]; }
  let i = m * P.ldy + P.c0 + n;
  if ((P.flags & 2u) != 0u) { r += Y[i]; }
  Y[i] = r;
}
// dot of the 8 weights of group g of the row with handle t with xa (k = 8g..8g+3), xc (8g+4..)
fn dot8(t: vec2<u32>, g: u32, xa: vec4<f32>, xc: vec4<f32>) -> f32 {
  let w = w8v(t, g);
  return dot(w.a, xa) + dot(w.b, xc);
}
// the same with the 8 weights already decoded
fn dotw(w: V8, xa: vec4<f32>, xc: vec4<f32>) -> f32 { return dot(w.a, xa) + dot(w.b, xc); }
// row m's 8 outputs (a: columns n0 + j * WG, j < 4; b: j = 4..7)
fn put8(m: u32, n0: u32, a: vec4<f32>, b: vec4<f32>) {
  put(m, n0, a.x); put(m, n0 + WG, a.y); put(m, n0 + 2u * WG, a.z); put(m, n0 + 3u * WG, a.w);
  put(m, n0 + 4u * WG, b.x); put(m, n0 + 5u * WG, b.y); put(m, n0 + 6u * WG, b.z); put(m, n0 + 7u * WG, b.w);
}

@compute @workgroup_size(WG)
fn rows_mv8(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let n0 = (wid.x + wid.y * nw.x) * 8u * WG + lid;
  if (n0 - lid >= P.N) { return; }
  let nl = P.N - 1u;
  let r0 = wrow(min(n0, nl)); let r1 = wrow(min(n0 + WG, nl)); let r2 = wrow(min(n0 + 2u * WG, nl)); let r3 = wrow(min(n0 + 3u * WG, nl));
  let r4 = wrow(min(n0 + 4u * WG, nl)); let r5 = wrow(min(n0 + 5u * WG, nl)); let r6 = wrow(min(n0 + 6u * WG, nl)); let r7 = wrow(min(n0 + 7u * WG, nl));
  let ng = P.K / 8u;
  for (var m = 0u; m < P.M; m++) {
    let s = row_scale(m);
    var a = vec4<f32>(0.0);
    var b = vec4<f32>(0.0);
    for (var g = 0u; g < ng; g++) {
      let xa = xin(m, 2u * g, s);
      let xc = xin(m, 2u * g + 1u, s);
      a += vec4<f32>(dot8(r0, g, xa, xc), dot8(r1, g, xa, xc), dot8(r2, g, xa, xc), dot8(r3, g, xa, xc));
      b += vec4<f32>(dot8(r4, g, xa, xc), dot8(r5, g, xa, xc), dot8(r6, g, xa, xc), dot8(r7, g, xa, xc));
    }
    put(m, n0, a.x); put(m, n0 + WG, a.y); put(m, n0 + 2u * WG, a.z); put(m, n0 + 3u * WG, a.w);
    put(m, n0 + 4u * WG, b.x); put(m, n0 + 5u * WG, b.y); put(m, n0 + 6u * WG, b.z); put(m, n0 + 7u * WG, b.w);
  }
}

@compute @workgroup_size(WG)
fn rows_mv8x4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let n0 = (wid.x + wid.y * nw.x) * 8u * WG + lid;
  if (n0 - lid >= P.N) { return; }
  let nl = P.N - 1u;
  let r0 = wrow(min(n0, nl)); let r1 = wrow(min(n0 + WG, nl)); let r2 = wrow(min(n0 + 2u * WG, nl)); let r3 = wrow(min(n0 + 3u * WG, nl));
  let r4 = wrow(min(n0 + 4u * WG, nl)); let r5 = wrow(min(n0 + 5u * WG, nl)); let r6 = wrow(min(n0 + 6u * WG, nl)); let r7 = wrow(min(n0 + 7u * WG, nl));
  let ng = P.K / 8u;
  var m = 0u;
  for (; m + 4u <= P.M; m += 4u) { // 4 rows: each weight group decoded once for them
    let s0 = row_scale(m); let s1 = row_scale(m + 1u); let s2 = row_scale(m + 2u); let s3 = row_scale(m + 3u);
    var a0 = vec4<f32>(0.0); var b0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var b1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0); var b2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0); var b3 = vec4<f32>(0.0);
    for (var g = 0u; g < ng; g++) {
      let w0 = w8v(r0, g); let w1 = w8v(r1, g); let w2 = w8v(r2, g); let w3 = w8v(r3, g);
      let w4 = w8v(r4, g); let w5 = w8v(r5, g); let w6 = w8v(r6, g); let w7 = w8v(r7, g);
      var xa = xin(m, 2u * g, s0); var xc = xin(m, 2u * g + 1u, s0);
      a0 += vec4<f32>(dotw(w0, xa, xc), dotw(w1, xa, xc), dotw(w2, xa, xc), dotw(w3, xa, xc));
      b0 += vec4<f32>(dotw(w4, xa, xc), dotw(w5, xa, xc), dotw(w6, xa, xc), dotw(w7, xa, xc));
      xa = xin(m + 1u, 2u * g, s1); xc = xin(m + 1u, 2u * g + 1u, s1);
      a1 += vec4<f32>(dotw(w0, xa, xc), dotw(w1, xa, xc), dotw(w2, xa, xc), dotw(w3, xa, xc));
      b1 += vec4<f32>(dotw(w4, xa, xc), dotw(w5, xa, xc), dotw(w6, xa, xc), dotw(w7, xa, xc));
      xa = xin(m + 2u, 2u * g, s2); xc = xin(m + 2u, 2u * g + 1u, s2);
      a2 += vec4<f32>(dotw(w0, xa, xc), dotw(w1, xa, xc), dotw(w2, xa, xc), dotw(w3, xa, xc));
      b2 += vec4<f32>(dotw(w4, xa, xc), dotw(w5, xa, xc), dotw(w6, xa, xc), dotw(w7, xa, xc));
      xa = xin(m + 3u, 2u * g, s3); xc = xin(m + 3u, 2u * g + 1u, s3);
      a3 += vec4<f32>(dotw(w0, xa, xc), dotw(w1, xa, xc), dotw(w2, xa, xc), dotw(w3, xa, xc));
      b3 += vec4<f32>(dotw(w4, xa, xc), dotw(w5, xa, xc), dotw(w6, xa, xc), dotw(w7, xa, xc));
    }
    put8(m, n0, a0, b0); put8(m + 1u, n0, a1, b1); put8(m + 2u, n0, a2, b2); put8(m + 3u, n0, a3, b3);
  }
  for (; m < P.M; m++) { // the rest one by one, as rows_mv8
    let s = row_scale(m);
    var a = vec4<f32>(0.0);
    var b = vec4<f32>(0.0);
    for (var g = 0u; g < ng; g++) {
      let xa = xin(m, 2u * g, s);
      let xc = xin(m, 2u * g + 1u, s);
      a += vec4<f32>(dot8(r0, g, xa, xc), dot8(r1, g, xa, xc), dot8(r2, g, xa, xc), dot8(r3, g, xa, xc));
      b += vec4<f32>(dot8(r4, g, xa, xc), dot8(r5, g, xa, xc), dot8(r6, g, xa, xc), dot8(r7, g, xa, xc));
    }
    put8(m, n0, a, b);
  }
}
