// attention_split_sg.wgsl -- appended to attention_split.wgsl in the subgroup build (ops.c):
// entry part_sg, the same work as `part` (read that header) with the scores of a tile summed
// across the h4 invocations of a key by subgroupShuffleXor instead of workgroup memory (no
// barrier in the scores loop; each invocation loads the K and V vec4s of 4 steps before using
// them: more loads in flight), and the tile's softmax maxima and sums of all G heads by
// subgroupMax / subgroupAdd (two barriers a tile instead of two workgroup reductions per head).
// Needs subgroups of one size SG <= 64 with h4 a power of two <= SG (ops.c), invocation lid in
// subgroup lid / SG at lane lid % SG as gemv_sg.wgsl assumes; the h4 lanes of a key are lanes
// (lane & ~(h4 - 1)) + 0 .. h4 - 1 of one subgroup.
override SG: u32 = 32u;
var<workgroup> smx: array<f32, 128>; // [G][TK / SG] per-subgroup maxima of a tile's scores
var<workgroup> ssm: array<f32, 128>; // and sums of exp(s - m)

fn score_sg(z0: f32, h4: u32) -> f32 { // sum over the h4 lanes of this key (butterfly)
  var z = z0;
  for (var w = 1u; w < h4; w = w << 1u) { z += subgroupShuffleXor(z, w); }
  return z;
}

@compute @workgroup_size(WG)
fn part_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
           @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let g = wid.x + wid.y * nw.x;
  if (g >= P.KVH * P.ns) { return; } // uniform over the workgroup
  let kh = g / P.ns;
  let sp = g % P.ns;
  let G = P.H / P.KVH;
  let h4 = P.hd / 4u;
  let a = jlo() + sp * P.span;
  let e = min(a + P.span, P.pos0 + 1u);
  let rs4 = P.KVH * h4;
  for (var i = lid; i < G * h4; i += WG) { qs[i] = Q[kh * G * h4 + i]; }
  workgroupBarrier();
  let kps = WG / h4;                           // keys per step (h4 divides SG and WG)
  let kk = (lid / SG) * (SG / h4) + lane / h4; // this invocation's key of a step
  let d4 = lane % h4;
  let cb = kh * h4 + d4;
  var m = array<f32, 8>(NEG, NEG, NEG, NEG, NEG, NEG, NEG, NEG);
  var l = array<f32, 8>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
  var acc: array<vec4<f32>, 8>;
  for (var gi = 0u; gi < 8u; gi++) { acc[gi] = vec4<f32>(0.0); }
  for (var j0 = a; j0 < e; j0 += TK) {
    let n = min(TK, e - j0);
    for (var s0 = 0u; s0 < n; s0 += 4u * kps) { // 4 steps: loads first
      var kv: array<vec4<f32>, 4>;
      for (var u = 0u; u < 4u; u++) {
        let jj = s0 + u * kps + kk;
        kv[u] = select(vec4<f32>(0.0), Kc[((j0 + min(jj, n - 1u)) % P.cap) * rs4 + cb], jj < n);
      }
      for (var u = 0u; u < 4u; u++) {
        let jj = s0 + u * kps + kk;
        for (var gi = 0u; gi < G; gi++) {
          var z = score_sg(dot(qs[gi * h4 + d4], kv[u]), h4) * P.scale;
          if (P.softcap > 0.0) { z = P.softcap * tanh_safe(z / P.softcap); }
          if (d4 == 0u && jj < n) { sc[gi * TK + jj] = z; }
        }
      }
    }
    workgroupBarrier();
    // online softmax: WG / TK heads per pass, invocation (head slot lid / TK, key lid % TK); the
    // TK / SG subgroups of a head reduce by subgroupMax / subgroupAdd, two barriers per tile
    let hq = lid / TK;
    let jt = lid % TK;
    let nsg = TK / SG;
    let sgh = jt / SG;
    for (var p0 = 0u; p0 < G; p0 += WG / TK) {
      let gi = p0 + hq;
      let mx = subgroupMax(select(NEG, sc[min(gi, G - 1u) * TK + jt], gi < G && jt < n));
      if (gi < G && lane == 0u) { smx[gi * nsg + sgh] = mx; }
    }
    workgroupBarrier();
    var nm: array<f32, 8>;
    for (var gi = 0u; gi < G; gi++) {
      var t = m[gi];
      for (var q = 0u; q < nsg; q++) { t = max(t, smx[gi * nsg + q]); }
      nm[gi] = t;
    }
    for (var p0 = 0u; p0 < G; p0 += WG / TK) {
      let gi = p0 + hq;
      let gc = min(gi, G - 1u);
      let pr = select(0.0, exp(sc[gc * TK + jt] - nm[gc]), gi < G && jt < n);
      if (gi < G) { sc[gi * TK + jt] = pr; }
      let sm = subgroupAdd(pr);
      if (gi < G && lane == 0u) { ssm[gi * nsg + sgh] = sm; }
    }
    workgroupBarrier();
    for (var gi = 0u; gi < G; gi++) {
      var t = 0.0;
      for (var q = 0u; q < nsg; q++) { t += ssm[gi * nsg + q]; }
      let al = exp(m[gi] - nm[gi]);
      l[gi] = l[gi] * al + t;
      acc[gi] = acc[gi] * al;
      m[gi] = nm[gi];
    }
    for (var j1 = 0u; j1 < n; j1 += 4u * kps) { // V of 4 steps: loads first
      var vv: array<vec4<f32>, 4>;
      for (var u = 0u; u < 4u; u++) {
        let jj = j1 + u * kps + kk;
        vv[u] = select(vec4<f32>(0.0), Vc[((j0 + min(jj, n - 1u)) % P.cap) * rs4 + cb], jj < n);
      }
      for (var u = 0u; u < 4u; u++) {
        let jj = j1 + u * kps + kk;
        if (jj < n) {
          for (var gi = 0u; gi < G; gi++) { acc[gi] += sc[gi * TK + jj] * vv[u]; }
        }
      }
    }
    workgroupBarrier();
  }
  for (var gi = 0u; gi < G; gi++) {
    pp[lid] = acc[gi].x;
    pp[WG + lid] = acc[gi].y;
    pp[2u * WG + lid] = acc[gi].z;
    pp[3u * WG + lid] = acc[gi].w;
    workgroupBarrier();
    if (lid < h4) { // (key group k2, dims lid) sits at invocation index of kk = k2, d4 = lid
      var r = vec4<f32>(0.0);
      for (var k2 = 0u; k2 < kps; k2++) {
        let i = (k2 / (SG / h4)) * SG + (k2 % (SG / h4)) * h4 + lid;
        r += vec4<f32>(pp[i], pp[WG + i], pp[2u * WG + i], pp[3u * WG + i]);
      }
      let h = kh * G + gi;
      if (P.ns == 1u) {
        var M = m[gi];
        var L = l[gi];
        if (P.has_sinks != 0u) {
          M = max(M, S[h]);
          L = l[gi] * exp(m[gi] - M) + exp(S[h] - M);
        }
        O[h * h4 + lid] = r * exp(m[gi] - M) / L;
      } else {
        let o = (h * P.ns + sp) * (h4 + 1u);
        if (lid == 0u) { Part[o] = vec4<f32>(m[gi], l[gi], 0.0, 0.0); }
        Part[o + 1u + lid] = r;
      }
    }
    workgroupBarrier();
  }
}
