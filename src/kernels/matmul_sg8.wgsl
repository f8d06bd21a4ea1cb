// matmul_sg8.wgsl -- y[M, N] (+)= x[M, K] . W[N, K]^T (+ bias) for CPU adapters whose subgroup
// is exactly the 8-invocation workgroup (lavapipe with 256-bit SIMD: subgroup size 8). Appended
// by ops.c after lib_reduce_sg.wgsl + lib_wdecode.wgsl + matmul.wgsl (uses their Params,
// bindings, W8/w_load8, x4, store_row, wrow; `enable subgroups;` comes from lib_reduce_sg).
// Why: on lavapipe every 32-bit load costs several ns per lane while arithmetic is 8-wide, so
// the kernel minimises loads per multiply-add. rows_mm loads every x value in every lane; here
// lane s loads only row m0 + s (8 k at a time) and the other lanes get it by subgroupBroadcast
// (a register shuffle): a k-step of 8 costs 8 x loads + 4 W groups per lane for an 8 x 4 tile
// (rows_mm: 64 + 4). Larger tiles (16 x 8, 8 x 8) measured no faster and compile 2-7x longer.
//   rows_mm_sg  M > 4: workgroup g: row block g % cdiv(M, 8) (fastest, so the workgroups that
//               run together share W columns: the LM head's W does not fit in cache), column
//               block g / cdiv(M, 8); invocation lid: rows m0 .. m0 + 7 (clamped to M - 1 for
//               the loads, not stored past M), columns n = nb * 4 * WG + lid + j * WG (j < 4).
//               Grid cdiv(N, 4 * WG) * cdiv(M, 8).
// WG must be 8 and equal the subgroup size (ops.c checks subgroup_min == subgroup_max == 8).
// No workgroup memory, no barrier; the k loop is uniform, so every lane reaches the broadcasts.
fn row4(acc: vec4<f32>, xa: vec4<f32>, xc: vec4<f32>, w0: W8, w1: W8, w2: W8, w3: W8) -> vec4<f32> {
  return acc + vec4<f32>(dot8(w0, xa, xc), dot8(w1, xa, xc), dot8(w2, xa, xc), dot8(w3, xa, xc));
}

@compute @workgroup_size(WG)
fn rows_mm_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
              @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sl: u32) {
  let g = wid.x + wid.y * nw.x;
  let mblk = (P.M + 7u) / 8u;
  let m0 = (g % mblk) * 8u;
  if (g >= mblk * ((P.N + 4u * WG - 1u) / (4u * WG))) { return; } // uniform over the workgroup
  let n0 = (g / mblk) * 4u * WG + lid;
  let r0 = wrow(n0); let r1 = wrow(n0 + WG); let r2 = wrow(n0 + 2u * WG); let r3 = wrow(n0 + 3u * WG);
  let K = P.K;
  let xl = min(m0 + sl, P.M - 1u) * K; // this lane's x row
  var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
  var a4 = vec4<f32>(0.0); var a5 = vec4<f32>(0.0); var a6 = vec4<f32>(0.0); var a7 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < K; k0 += 8u) {
    let la = x4(xl, k0); let lc = x4(xl, k0 + 4u);
    let w0 = w_load8(r0, k0, K); let w1 = w_load8(r1, k0, K); let w2 = w_load8(r2, k0, K); let w3 = w_load8(r3, k0, K);
    a0 = row4(a0, subgroupBroadcast(la, 0u), subgroupBroadcast(lc, 0u), w0, w1, w2, w3);
    a1 = row4(a1, subgroupBroadcast(la, 1u), subgroupBroadcast(lc, 1u), w0, w1, w2, w3);
    a2 = row4(a2, subgroupBroadcast(la, 2u), subgroupBroadcast(lc, 2u), w0, w1, w2, w3);
    a3 = row4(a3, subgroupBroadcast(la, 3u), subgroupBroadcast(lc, 3u), w0, w1, w2, w3);
    a4 = row4(a4, subgroupBroadcast(la, 4u), subgroupBroadcast(lc, 4u), w0, w1, w2, w3);
    a5 = row4(a5, subgroupBroadcast(la, 5u), subgroupBroadcast(lc, 5u), w0, w1, w2, w3);
    a6 = row4(a6, subgroupBroadcast(la, 6u), subgroupBroadcast(lc, 6u), w0, w1, w2, w3);
    a7 = row4(a7, subgroupBroadcast(la, 7u), subgroupBroadcast(lc, 7u), w0, w1, w2, w3);
  }
  store_row(m0, n0, a0); store_row(m0 + 1u, n0, a1); store_row(m0 + 2u, n0, a2); store_row(m0 + 3u, n0, a3);
  store_row(m0 + 4u, n0, a4); store_row(m0 + 5u, n0, a5); store_row(m0 + 6u, n0, a6); store_row(m0 + 7u, n0, a7);
}
