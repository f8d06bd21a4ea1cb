// attention_split.wgsl -- decode attention (T = 1) of the GPU kernel family, split along the
// keys (flash-decoding); same math as attention.wgsl (read its header). The reduction of a
// key's dot product across its invocations is a piece appended after this file (ops.c):
// attention_split_wg.wgsl (workgroup memory, entry `part`) or attention_split_sg.wgsl
// (subgroup shuffles, entry `part_sg`); both define key_sum4 and the entry point, which calls
// part_main with the invocation's key group kg and lane c within it. Two dispatches:
//   part     one workgroup per (KV head kh, split sp): keys a = jlo + sp * span .. min(a + span,
//            qp + 1) - 1 for the G query heads sharing kh (each K and V row read once for the
//            G heads). The workgroup is WG / LK key groups of LK invocations; invocation c of
//            group kg holds dims 4 (dv * LK + c) .. + 3 (dv < DV) of the G queries in
//            registers and takes keys a + kg, a + kg + WG / LK, ... U = 4 at a time: it loads
//            their K and V vec4s first (U * DV * 2 loads in flight, consecutive lanes on
//            consecutive 16 bytes of a cache row), sums the q.k partial dots over the group
//            (key_sum4), and keeps its own online softmax per head (running max m, sum l and
//            the sum of exp(s - m) V; the LK lanes of a group hold the same m and l). No
//            barrier in the key loop but key_sum4's in the workgroup-memory piece. At the end
//            the key groups are merged per head: M = max m, L = sum l exp(m - M), acc summed
//            through workgroup memory. ns == 1: the workgroup writes O itself (sinks
//            included). Else Part[(h * ns + sp) * (H4 + 1)] = (M, L, 0, 0), then the H4 vec4 of
//            the unnormalised sum of exp(s - M) V.
//   combine  one workgroup per head (ns > 1): M = max m_s (and S[h] with sinks), L = sum l_s
//            exp(m_s - M) (+ exp(S[h] - M)), out = sum acc_s (exp(m_s - M) / L), the splits
//            shared by WG / h4 groups of invocations (h4 each, one per 4 dims), then summed.
// G, H4 and LK are constants of the module (ops.c), so the per-head and per-dim loops have
// constant bounds and the private arrays are sized exactly (registers). ops.c picks ns and span (a
// multiple of 64 keys) so that KVH * ns is about 256 workgroups at long contexts and every
// split holds >= 1 key, ns <= 512. Needs G <= 8, hd % 4 == 0, hd <= 256, DV <= 8.
// Bindings: 0 uniform Params; 1 Q [H, hd]; 2 Kc, 3 Vc [cap, KVH, hd]; 4 S [H] sinks (dummy when
//           absent); 5 O [H, hd]; 6 Part [H, ns, hd + 4] scratch. All f32.
struct Params {
  T: u32, H: u32, KVH: u32, hd: u32,
  pos0: u32, cap: u32, window: u32, has_sinks: u32,
  scale: f32, softcap: f32, ns: u32, span: u32,
}
// const G (query heads per KV head, <= 8), H4 (head_dim / 4, <= 64) and LK (invocations per
// key, a power of two): appended to the module by ops.c per shape (module-scope declarations
// may come in any order), so loop bounds and private array sizes are constants
const DV = (H4 + LK - 1u) / LK;          // vec4s of a row per invocation (<= 8)
const U = 4u;                            // keys per invocation per step
const NEG = -3.402823e38;
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> Q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> Kc: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> Vc: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> S: array<f32>;
@group(0) @binding(5) var<storage, read_write> O: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> Part: array<vec4<f32>>;

var<workgroup> ob: array<vec4<f32>, WG>; // merge of the key groups' accumulators

fn tanh_safe(x: vec4<f32>) -> vec4<f32> {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
fn jlo() -> u32 {
  let qp = P.pos0;
  if (P.window > 0u && qp + 1u > P.window) { return qp + 1u - P.window; }
  return 0u;
}
fn ring(x: u32) -> u32 { // x % cap, the division only where the ring wraps
  if (x >= P.cap) { return x % P.cap; }
  return x;
}

fn part_main(g: u32, kg: u32, c: u32, lid: u32) {
  if (g >= P.KVH * P.ns) { return; } // uniform over the workgroup
  let kh = g / P.ns;
  let sp = g % P.ns;
  let a = jlo() + sp * P.span;
  let e = min(a + P.span, P.pos0 + 1u);
  let nkg = WG / LK;
  let rs4 = P.KVH * H4;               // cache row stride in vec4s
  var q: array<vec4<f32>, G * DV>;
  var acc: array<vec4<f32>, G * DV>;
  var m: array<f32, G>;
  var l: array<f32, G>;
  var kr: array<vec4<f32>, U * DV>;   // a step's K and V: [U][DV]
  var vr: array<vec4<f32>, U * DV>;
  for (var gi = 0u; gi < G; gi++) {
    m[gi] = NEG;
    l[gi] = 0.0;
    for (var dv = 0u; dv < DV; dv++) {
      let d4 = dv * LK + c;
      q[gi * DV + dv] = select(vec4<f32>(0.0), Q[(kh * G + gi) * H4 + min(d4, H4 - 1u)], d4 < H4);
      acc[gi * DV + dv] = vec4<f32>(0.0);
    }
  }
  var sl = ring(a + kg);              // cache slot of this invocation's key a + kg
  for (var j0 = a; j0 < e; j0 += U * nkg) { // uniform
    var ok: vec4<bool>;
    for (var u = 0u; u < U; u++) {
      ok[u] = j0 + u * nkg + kg < e;
      let r = ring(sl + u * nkg) * rs4 + kh * H4;
      for (var dv = 0u; dv < DV; dv++) {
        let d4 = dv * LK + c;
        let ld = ok[u] && d4 < H4;
        let i = r + min(d4, H4 - 1u); // a slot < cap: in bounds even where the key is past e
        kr[u * DV + dv] = select(vec4<f32>(0.0), Kc[i], ld);
        vr[u * DV + dv] = select(vec4<f32>(0.0), Vc[i], ld);
      }
    }
    sl = ring(sl + U * nkg);
    for (var gi = 0u; gi < G; gi++) {
      var z = vec4<f32>(0.0);
      for (var dv = 0u; dv < DV; dv++) {
        let qq = q[gi * DV + dv];
        z += vec4<f32>(dot(qq, kr[dv]), dot(qq, kr[DV + dv]), dot(qq, kr[2u * DV + dv]), dot(qq, kr[3u * DV + dv]));
      }
      z = key_sum4(z, lid, kg, c) * P.scale;
      if (P.softcap > 0.0) { z = P.softcap * tanh_safe(z / P.softcap); }
      z = select(vec4<f32>(NEG), z, ok);
      let nm = max(m[gi], max(max(z.x, z.y), max(z.z, z.w)));
      let al = exp(m[gi] - nm);
      let p = select(vec4<f32>(0.0), exp(z - nm), ok);
      l[gi] = l[gi] * al + ((p.x + p.y) + (p.z + p.w));
      m[gi] = nm;
      for (var dv = 0u; dv < DV; dv++) {
        acc[gi * DV + dv] = acc[gi * DV + dv] * al + p.x * vr[dv] + p.y * vr[DV + dv] + p.z * vr[2u * DV + dv]
                            + p.w * vr[3u * DV + dv];
      }
    }
  }
  // merge the key groups per head; write O (one split) or the split's partial result
  let me = kg * LK + c;
  for (var gi = 0u; gi < G; gi++) {
    let h = kh * G + gi;
    let M = wg_max(m[gi], lid);
    var Ms = M;
    let sinks = P.ns == 1u && P.has_sinks != 0u;
    if (sinks) { Ms = max(M, S[h]); }
    let w = exp(m[gi] - Ms);          // 0 for a group without keys
    var L = wg_sum(select(0.0, l[gi] * w, c == 0u), lid);
    if (sinks) { L += exp(S[h] - Ms); }
    for (var dv = 0u; dv < DV; dv++) {
      ob[me] = acc[gi * DV + dv] * w;
      workgroupBarrier();
      let d4 = dv * LK + c;
      if (kg == 0u && d4 < H4) {
        var r = vec4<f32>(0.0);
        for (var k2 = 0u; k2 < nkg; k2++) { r += ob[k2 * LK + c]; }
        if (P.ns == 1u) {
          O[h * H4 + d4] = r / L;
        } else {
          Part[(h * P.ns + sp) * (H4 + 1u) + 1u + d4] = r;
        }
      }
      workgroupBarrier();
    }
    if (P.ns > 1u && lid == 0u) { Part[(h * P.ns + sp) * (H4 + 1u)] = vec4<f32>(M, L, 0.0, 0.0); }
  }
}

var<workgroup> wsh: array<f32, 512>;     // combine: exp(m_s - M) / L per split (ns <= 512)
var<workgroup> pp: array<f32, 1024>;     // combine: [4][WG] the split groups' sums

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
