// matmul_v4_sg8.wgsl -- rows_mm_sg (matmul_sg8.wgsl: read its header) with 16-byte loads, for
// F32/F16/BF16 weights with K % 8 == 0. Appended by ops.c after lib_reduce_sg.wgsl +
// matmul_v4.wgsl (uses its Params M/N/K, X as vec4, TYPE, wrow, w8v, put), or after
// matmul_tex.wgsl (the same names, W from a texture: prefill over weight textures);
// subgroup size == WG == 8.
//   rows_mm4_sg  M > 4: workgroup g: row block g % cdiv(M, 8) (fastest), column block
//                g / cdiv(M, 8); invocation lid: rows m0 .. m0 + 7 (lane s loads row m0 + s as
//                2 vec4 per 8 k, the others get it by subgroupBroadcast), columns
//                n = nb * 4 * WG + lid + j * WG (j < 4). Grid cdiv(N, 4 * WG) * cdiv(M, 8).
fn row4v(acc: vec4<f32>, xa: vec4<f32>, xc: vec4<f32>, w0: V8, w1: V8, w2: V8, w3: V8) -> vec4<f32> {
  return acc + vec4<f32>(dot(w0.a, xa) + dot(w0.b, xc), dot(w1.a, xa) + dot(w1.b, xc),
                         dot(w2.a, xa) + dot(w2.b, xc), dot(w3.a, xa) + dot(w3.b, xc));
}
fn put4(m: u32, n0: u32, a: vec4<f32>) {
  if (m >= P.M) { return; }
  put(m, n0, a.x); put(m, n0 + WG, a.y); put(m, n0 + 2u * WG, a.z); put(m, n0 + 3u * WG, a.w);
}

@compute @workgroup_size(WG)
fn rows_mm4_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
               @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sl: u32) {
  let g = wid.x + wid.y * nw.x;
  let mblk = (P.M + 7u) / 8u;
  let m0 = (g % mblk) * 8u;
  if (g >= mblk * ((P.N + 4u * WG - 1u) / (4u * WG))) { return; } // uniform over the workgroup
  let n0 = (g / mblk) * 4u * WG + lid;
  let nl = P.N - 1u;
  let r0 = wrow(min(n0, nl)); let r1 = wrow(min(n0 + WG, nl)); let r2 = wrow(min(n0 + 2u * WG, nl)); let r3 = wrow(min(n0 + 3u * WG, nl));
  let xl = min(m0 + sl, P.M - 1u) * (P.K / 4u); // this lane's x row (vec4 index)
  var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
  var a4 = vec4<f32>(0.0); var a5 = vec4<f32>(0.0); var a6 = vec4<f32>(0.0); var a7 = vec4<f32>(0.0);
  for (var k8 = 0u; k8 < P.K / 8u; k8++) {
    let la = X[xl + 2u * k8]; let lc = X[xl + 2u * k8 + 1u];
    let w0 = w8v(r0, k8); let w1 = w8v(r1, k8); let w2 = w8v(r2, k8); let w3 = w8v(r3, k8);
    a0 = row4v(a0, subgroupBroadcast(la, 0u), subgroupBroadcast(lc, 0u), w0, w1, w2, w3);
    a1 = row4v(a1, subgroupBroadcast(la, 1u), subgroupBroadcast(lc, 1u), w0, w1, w2, w3);
    a2 = row4v(a2, subgroupBroadcast(la, 2u), subgroupBroadcast(lc, 2u), w0, w1, w2, w3);
    a3 = row4v(a3, subgroupBroadcast(la, 3u), subgroupBroadcast(lc, 3u), w0, w1, w2, w3);
    a4 = row4v(a4, subgroupBroadcast(la, 4u), subgroupBroadcast(lc, 4u), w0, w1, w2, w3);
    a5 = row4v(a5, subgroupBroadcast(la, 5u), subgroupBroadcast(lc, 5u), w0, w1, w2, w3);
    a6 = row4v(a6, subgroupBroadcast(la, 6u), subgroupBroadcast(lc, 6u), w0, w1, w2, w3);
    a7 = row4v(a7, subgroupBroadcast(la, 7u), subgroupBroadcast(lc, 7u), w0, w1, w2, w3);
  }
  put4(m0, n0, a0); put4(m0 + 1u, n0, a1); put4(m0 + 2u, n0, a2); put4(m0 + 3u, n0, a3);
  put4(m0 + 4u, n0, a4); put4(m0 + 5u, n0, a5); put4(m0 + 6u, n0, a6); put4(m0 + 7u, n0, a7);
}
