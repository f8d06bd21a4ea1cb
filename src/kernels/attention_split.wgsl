// attention_split.wgsl -- decode attention (T = 1) of the GPU kernel family, split along the
// keys (flash-decoding); same math as attention.wgsl (read its header). Two entry points:
//   part     one workgroup per (KV head kh, split sp): keys a = jlo + sp * span .. min(a + span,
//            qp + 1) - 1 for the G = H / KVH query heads sharing kh (each K and V row read once
//            for the G heads), in tiles of TK = 64 keys with an online softmax (running max m
//            and sum l per head). Reads are coalesced: invocation t takes dims 4 (t % h4) .. +3
//            (h4 = hd / 4) of key t / h4 of a step of kps = WG / h4 keys, so consecutive
//            invocations load consecutive 16 bytes of one cache row (K and V alike); the q.k
//            partial dots of a step meet in workgroup memory and one invocation per (head, key)
//            sums its h4 terms. ns == 1: the workgroup writes O itself (no combine). Else
//            Part[(h * ns + sp) * (h4 + 1)] = (m, l, 0, 0), then the h4 vec4 of the
//            unnormalised sum of exp(s - m) V.
//   combine  one workgroup per head (ns > 1): M = max m_s (and S[h] with sinks), L = sum l_s
//            exp(m_s - M) (+ exp(S[h] - M)), out = sum acc_s (exp(m_s - M) / L), the splits
//            shared by WG / h4 groups of invocations (h4 each, one per 4 dims), then summed.
// ops.c picks ns and span (a multiple of TK) so that KVH * ns is about 512 workgroups at long
// contexts and every split holds >= 1 key, ns <= 512. Needs G <= 8, hd % 4 == 0, hd <= 256,
// WG = 128. Workgroup memory: q of the G heads (8 KB), G x TK probabilities
// (2 KB), G x WG partial dots (4 KB), the reduction library's (1 KB).
// Bindings: 0 uniform Params; 1 Q [H, hd]; 2 Kc, 3 Vc [cap, KVH, hd]; 4 S [H] sinks (dummy when
//           absent); 5 O [H, hd]; 6 Part [H, ns, hd + 4] scratch. All f32.
struct Params {
  T: u32, H: u32, KVH: u32, hd: u32,
  pos0: u32, cap: u32, window: u32, has_sinks: u32,
  scale: f32, softcap: f32, ns: u32, span: u32,
}
const TK = 64u;
const NEG = -3.402823e38;
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> Q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> Kc: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> Vc: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> S: array<f32>;
@group(0) @binding(5) var<storage, read_write> O: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> Part: array<vec4<f32>>;

var<workgroup> qs: array<vec4<f32>, 512>; // [G][h4]
var<workgroup> sc: array<f32, 512>;       // [G][TK] scores, then exp(s - m)
var<workgroup> pp: array<f32, 1024>;      // [G][WG] partial dots; then [4][WG] for the V sums

fn tanh_safe(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
fn jlo() -> u32 {
  let qp = P.pos0;
  if (P.window > 0u && qp + 1u > P.window) { return qp + 1u - P.window; }
  return 0u;
}

@compute @workgroup_size(WG)
fn part(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nw.x;
  if (g >= P.KVH * P.ns) { return; } // uniform over the workgroup
  let kh = g / P.ns;
  let sp = g % P.ns;
  let G = P.H / P.KVH;
  let h4 = P.hd / 4u;
  let a = jlo() + sp * P.span;
  let e = min(a + P.span, P.pos0 + 1u);
  let rs4 = P.KVH * h4;               // cache row stride in vec4s
  for (var i = lid; i < G * h4; i += WG) { qs[i] = Q[kh * G * h4 + i]; }
  workgroupBarrier();
  let kps = WG / h4;                  // keys per step
  let kk = lid / h4;                  // this invocation's key of a step
  let d4 = lid % h4;                  // and its 4 dims
  let act = kk < kps;
  var m = array<f32, 8>(NEG, NEG, NEG, NEG, NEG, NEG, NEG, NEG);
  var l = array<f32, 8>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
  var acc: array<vec4<f32>, 8>;
  for (var gi = 0u; gi < 8u; gi++) { acc[gi] = vec4<f32>(0.0); }
  for (var j0 = a; j0 < e; j0 += TK) {
    let n = min(TK, e - j0);
    // scores of the tile: kps keys per step, h4 invocations per key
    for (var s0 = 0u; s0 < n; s0 += kps) {
      var kv = vec4<f32>(0.0);
      if (act && s0 + kk < n) { kv = Kc[((j0 + s0 + kk) % P.cap) * rs4 + kh * h4 + d4]; }
      for (var gi = 0u; gi < G; gi++) { pp[gi * WG + lid] = dot(qs[gi * h4 + d4], kv); }
      workgroupBarrier();
      for (var t = lid; t < G * kps; t += WG) {
        let gi = t / kps;
        let k2 = t % kps;
        if (s0 + k2 < n) {
          var z = 0.0;
          for (var d = 0u; d < h4; d++) { z += pp[gi * WG + k2 * h4 + d]; }
          z *= P.scale;
          if (P.softcap > 0.0) { z = P.softcap * tanh_safe(z / P.softcap); }
          sc[gi * TK + s0 + k2] = z;
        }
      }
      workgroupBarrier();
    }
    // online softmax per head of the group (uniform loop; WG >= TK)
    for (var gi = 0u; gi < G; gi++) {
      let s = select(NEG, sc[gi * TK + lid % TK], lid < n);
      let nm = max(m[gi], wg_max(s, lid));
      let p = select(0.0, exp(s - nm), lid < n);
      if (lid < TK) { sc[gi * TK + lid] = p; }
      let al = exp(m[gi] - nm);
      l[gi] = l[gi] * al + wg_sum(p, lid); // its barriers also publish sc
      acc[gi] = acc[gi] * al;
      m[gi] = nm;
    }
    // P . V: invocation (key group kk, dims d4) over keys kk, kk + kps, ...
    if (act) {
      for (var jj = kk; jj < n; jj += kps) {
        let vv = Vc[((j0 + jj) % P.cap) * rs4 + kh * h4 + d4];
        for (var gi = 0u; gi < G; gi++) { acc[gi] += sc[gi * TK + jj] * vv; }
      }
    }
    workgroupBarrier(); // sc is rewritten by the next tile
  }
  // sum the key groups' accumulators per head; write O (one split) or the partial result
  for (var gi = 0u; gi < G; gi++) {
    pp[lid] = acc[gi].x;
    pp[WG + lid] = acc[gi].y;
    pp[2u * WG + lid] = acc[gi].z;
    pp[3u * WG + lid] = acc[gi].w;
    workgroupBarrier();
    if (lid < h4) {
      var r = vec4<f32>(0.0);
      for (var k2 = 0u; k2 < kps; k2++) {
        let i = k2 * h4 + lid;
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

var<workgroup> wsh: array<f32, 512>; // combine: exp(m_s - M) / L per split (ns <= 512)

@compute @workgroup_size(WG)
fn combine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let h = wid.x + wid.y * nw.x;
  if (h >= P.H) { return; }
  let h4 = P.hd / 4u;
  let st = h4 + 1u;
  let base = h * P.ns * st;
  var mx = NEG;
  for (var s = lid; s < P.ns; s += WG) { mx = max(mx, Part[base + s * st].x); }
  var M = wg_max(mx, lid);
  if (P.has_sinks != 0u) { M = max(M, S[h]); }
  var ls = 0.0;
  for (var s = lid; s < P.ns; s += WG) {
    let ml = Part[base + s * st];
    ls += ml.y * exp(ml.x - M);
  }
  var L = wg_sum(ls, lid);
  if (P.has_sinks != 0u) { L += exp(S[h] - M); }
  for (var s = lid; s < P.ns; s += WG) { wsh[s] = exp(Part[base + s * st].x - M) / L; }
  workgroupBarrier();
  // invocation (split group sg, dims d4) sums splits sg, sg + gs, ...; then the groups are summed
  let gs = WG / h4;
  let sg = lid / h4;
  let d4 = lid % h4;
  var acc = vec4<f32>(0.0);
  if (sg < gs) {
    for (var s = sg; s < P.ns; s += gs) { acc += Part[base + s * st + 1u + d4] * wsh[s]; }
  }
  pp[lid] = acc.x;
  pp[WG + lid] = acc.y;
  pp[2u * WG + lid] = acc.z;
  pp[3u * WG + lid] = acc.w;
  workgroupBarrier();
  if (lid < h4) {
    var r = vec4<f32>(0.0);
    for (var g2 = 0u; g2 < gs; g2++) {
      let i = g2 * h4 + lid;
      r += vec4<f32>(pp[i], pp[WG + i], pp[2u * WG + i], pp[3u * WG + i]);
    }
    O[h * h4 + lid] = r;
  }
}
