// attention_sg8.wgsl -- the attention of attention.wgsl (same math, Params and bindings: read
// its header) for CPU adapters whose subgroup is the whole 8-invocation workgroup (lavapipe,
// 256-bit SIMD) and head_dim <= 64. Appended by ops.c after lib_reduce_sg.wgsl + attention.wgsl.
// Why: on lavapipe a 32-bit load costs several ns per lane and arithmetic is 8-wide, so each K
// and V row is loaded once per 8 query rows (queries x heads of one kv head), split across the lanes, and never staged through
// workgroup memory (no barrier).
//   rows_sg  query rows of one kv head hk: row r = t * G + gi (G = H / KVH, gi < G) is query
//            t of head h = hk * G + gi, so the heads sharing K/V rows share a workgroup (decode:
//            one workgroup per kv head). Workgroup g (linear over a 2-D grid): hk = g % KVH, rows
//            r0 = (g / KVH) * 8 .. r0 + 7. Lane s owns dims 8s .. 8s+7 (zero past head_dim) of
//            all 8 rows (q and output accumulators stay in registers). Keys j run in one loop
//            that is uniform over the workgroup (from the first row's lowest visible key to the
//            last row's position): lane s loads its 8 dims of K[j] and V[j]; the partial dot
//            products of the 8 rows are summed by subgroupAdd; lane l keeps row r0 + l's online
//            softmax (running max m, denominator l); its weight p and rescale alpha reach the
//            other lanes by subgroupBroadcast. Keys a row does not see (causal, window) get
//            p = 0 and alpha = 1 for it.
// Grid: cdiv(T * G, 8) * KVH workgroups. ops.c uses it only when subgroup size == WG == 8.
// offset of query row r of kv head hk (row r = query t = r / G of head hk * G + r % G) in Q / O
fn rbase(r: u32, hk: u32, G: u32) -> u32 { return ((r / G) * P.H + hk * G + r % G) * P.hd; }
fn pick8(a: vec4<f32>, b: vec4<f32>, i: u32) -> f32 { return select(b[i & 3u], a[i & 3u], i < 4u); }
fn qdot(qa: vec4<f32>, qb: vec4<f32>, ka: vec4<f32>, kb: vec4<f32>) -> f32 { return dot(qa, ka) + dot(qb, kb); }
fn q4(B: u32, d0: u32, hd: u32) -> vec4<f32> { // dims d0..d0+3 of the Q row at B
  return vec4<f32>(select(0.0, Q[B + d0], d0 < hd), select(0.0, Q[B + d0 + 1u], d0 + 1u < hd),
                   select(0.0, Q[B + d0 + 2u], d0 + 2u < hd), select(0.0, Q[B + d0 + 3u], d0 + 3u < hd));
}
fn kv4(isk: bool, b: u32, d0: u32, hd: u32) -> vec4<f32> { // dims d0..d0+3 of a K or V row at b
  if (isk) {
    return vec4<f32>(select(0.0, Kc[b + d0], d0 < hd), select(0.0, Kc[b + d0 + 1u], d0 + 1u < hd),
                     select(0.0, Kc[b + d0 + 2u], d0 + 2u < hd), select(0.0, Kc[b + d0 + 3u], d0 + 3u < hd));
  }
  return vec4<f32>(select(0.0, Vc[b + d0], d0 < hd), select(0.0, Vc[b + d0 + 1u], d0 + 1u < hd),
                   select(0.0, Vc[b + d0 + 2u], d0 + 2u < hd), select(0.0, Vc[b + d0 + 3u], d0 + 3u < hd));
}

@compute @workgroup_size(WG)
fn rows_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
           @builtin(subgroup_invocation_id) sl: u32) {
  let g = wid.x + wid.y * nw.x;
  let G = P.H / P.KVH;
  let nr = P.T * G;              // query rows of one kv head
  if (g >= (nr + 7u) / 8u * P.KVH) { return; } // uniform
  let r0 = (g / P.KVH) * 8u;
  let hk = g % P.KVH;
  let hd = P.hd;
  let kof = hk * hd;             // offset of the kv head inside a cache row
  let rs = P.KVH * hd;           // cache row stride
  let d0 = sl * 8u;              // this lane's dims
  let rl = nr - 1u;
  // q of the 8 rows (clamped to the last row; those are never stored), this lane's dims
  let b0 = rbase(min(r0, rl), hk, G); let b1 = rbase(min(r0 + 1u, rl), hk, G);
  let b2 = rbase(min(r0 + 2u, rl), hk, G); let b3 = rbase(min(r0 + 3u, rl), hk, G);
  let b4 = rbase(min(r0 + 4u, rl), hk, G); let b5 = rbase(min(r0 + 5u, rl), hk, G);
  let b6 = rbase(min(r0 + 6u, rl), hk, G); let b7 = rbase(min(r0 + 7u, rl), hk, G);
  let q0a = q4(b0, d0, hd); let q0b = q4(b0, d0 + 4u, hd); let q1a = q4(b1, d0, hd); let q1b = q4(b1, d0 + 4u, hd);
  let q2a = q4(b2, d0, hd); let q2b = q4(b2, d0 + 4u, hd); let q3a = q4(b3, d0, hd); let q3b = q4(b3, d0 + 4u, hd);
  let q4a = q4(b4, d0, hd); let q4b = q4(b4, d0 + 4u, hd); let q5a = q4(b5, d0, hd); let q5b = q4(b5, d0 + 4u, hd);
  let q6a = q4(b6, d0, hd); let q6b = q4(b6, d0 + 4u, hd); let q7a = q4(b7, d0, hd); let q7b = q4(b7, d0 + 4u, hd);
  // this lane's row: query t, head h, visible keys jlo .. qp
  let myr = min(r0 + sl, rl);
  let qp = P.pos0 + myr / G;
  let h = hk * G + myr % G;
  var jlo = 0u;
  if (P.window > 0u && qp + 1u > P.window) { jlo = qp + 1u - P.window; }
  // the workgroup's key range (uniform): the first row's lowest key .. the last row's position
  let qp0 = P.pos0 + r0 / G;
  var jmin = 0u;
  if (P.window > 0u && qp0 + 1u > P.window) { jmin = qp0 + 1u - P.window; }
  let jmax = P.pos0 + min(r0 + 7u, rl) / G;
  var m = -3.402823e38;
  var l = 0.0;
  if (P.has_sinks != 0u) { m = S[h]; l = 1.0; }
  var o0a = vec4<f32>(0.0); var o0b = vec4<f32>(0.0); var o1a = vec4<f32>(0.0); var o1b = vec4<f32>(0.0);
  var o2a = vec4<f32>(0.0); var o2b = vec4<f32>(0.0); var o3a = vec4<f32>(0.0); var o3b = vec4<f32>(0.0);
  var o4a = vec4<f32>(0.0); var o4b = vec4<f32>(0.0); var o5a = vec4<f32>(0.0); var o5b = vec4<f32>(0.0);
  var o6a = vec4<f32>(0.0); var o6b = vec4<f32>(0.0); var o7a = vec4<f32>(0.0); var o7b = vec4<f32>(0.0);
  for (var j = jmin; j <= jmax; j++) {
    let kb = (j % P.cap) * rs + kof;
    let ka = kv4(true, kb, d0, hd); let kc = kv4(true, kb, d0 + 4u, hd);
    let sa = subgroupAdd(vec4<f32>(qdot(q0a, q0b, ka, kc), qdot(q1a, q1b, ka, kc), qdot(q2a, q2b, ka, kc), qdot(q3a, q3b, ka, kc)));
    let sb = subgroupAdd(vec4<f32>(qdot(q4a, q4b, ka, kc), qdot(q5a, q5b, ka, kc), qdot(q6a, q6b, ka, kc), qdot(q7a, q7b, ka, kc)));
    var z = pick8(sa, sb, sl) * P.scale;
    if (P.softcap > 0.0) { z = P.softcap * tanh_safe(z / P.softcap); }
    let vis = j >= jlo && j <= qp;
    let nm = select(m, max(m, z), vis);
    let p = select(0.0, exp(z - nm), vis);
    let alpha = exp(m - nm);
    l = l * alpha + p;
    m = nm;
    let pa = vec2<f32>(p, alpha);
    let va = kv4(false, kb, d0, hd); let vc = kv4(false, kb, d0 + 4u, hd);
    let e0 = subgroupBroadcast(pa, 0u); o0a = o0a * e0.y + e0.x * va; o0b = o0b * e0.y + e0.x * vc;
    let e1 = subgroupBroadcast(pa, 1u); o1a = o1a * e1.y + e1.x * va; o1b = o1b * e1.y + e1.x * vc;
    let e2 = subgroupBroadcast(pa, 2u); o2a = o2a * e2.y + e2.x * va; o2b = o2b * e2.y + e2.x * vc;
    let e3 = subgroupBroadcast(pa, 3u); o3a = o3a * e3.y + e3.x * va; o3b = o3b * e3.y + e3.x * vc;
    let e4 = subgroupBroadcast(pa, 4u); o4a = o4a * e4.y + e4.x * va; o4b = o4b * e4.y + e4.x * vc;
    let e5 = subgroupBroadcast(pa, 5u); o5a = o5a * e5.y + e5.x * va; o5b = o5b * e5.y + e5.x * vc;
    let e6 = subgroupBroadcast(pa, 6u); o6a = o6a * e6.y + e6.x * va; o6b = o6b * e6.y + e6.x * vc;
    let e7 = subgroupBroadcast(pa, 7u); o7a = o7a * e7.y + e7.x * va; o7b = o7b * e7.y + e7.x * vc;
  }
  let il = 1.0 / l;
  out8(r0 + 0u, nr, rbase(r0 + 0u, hk, G), subgroupBroadcast(il, 0u), o0a, o0b, d0, hd);
  out8(r0 + 1u, nr, rbase(r0 + 1u, hk, G), subgroupBroadcast(il, 1u), o1a, o1b, d0, hd);
  out8(r0 + 2u, nr, rbase(r0 + 2u, hk, G), subgroupBroadcast(il, 2u), o2a, o2b, d0, hd);
  out8(r0 + 3u, nr, rbase(r0 + 3u, hk, G), subgroupBroadcast(il, 3u), o3a, o3b, d0, hd);
  out8(r0 + 4u, nr, rbase(r0 + 4u, hk, G), subgroupBroadcast(il, 4u), o4a, o4b, d0, hd);
  out8(r0 + 5u, nr, rbase(r0 + 5u, hk, G), subgroupBroadcast(il, 5u), o5a, o5b, d0, hd);
  out8(r0 + 6u, nr, rbase(r0 + 6u, hk, G), subgroupBroadcast(il, 6u), o6a, o6b, d0, hd);
  out8(r0 + 7u, nr, rbase(r0 + 7u, hk, G), subgroupBroadcast(il, 7u), o7a, o7b, d0, hd);
}

// out row r (base o, the same offset as its q row) dims d0 .. d0 + 7 = (a, b) * il, for dims
// < hd and rows < nr
fn out8(r: u32, nr: u32, o0: u32, il: f32, a: vec4<f32>, b: vec4<f32>, d0: u32, hd: u32) {
  if (r >= nr) { return; }
  let o = o0 + d0;
  if (d0 < hd) { O[o] = a.x * il; }
  if (d0 + 1u < hd) { O[o + 1u] = a.y * il; }
  if (d0 + 2u < hd) { O[o + 2u] = a.z * il; }
  if (d0 + 3u < hd) { O[o + 3u] = a.w * il; }
  if (d0 + 4u < hd) { O[o + 4u] = b.x * il; }
  if (d0 + 5u < hd) { O[o + 5u] = b.y * il; }
  if (d0 + 6u < hd) { O[o + 6u] = b.z * il; }
  if (d0 + 7u < hd) { O[o + 7u] = b.w * il; }
}
