// attention_split.wgsl -- decode attention (T = 1) over long contexts, split along the keys
// (flash-decoding), same math as attention.wgsl (read its header): two dispatches,
//   part     one workgroup per (KV head kh, split sp): keys j0 = jlo + sp * CH .. j0 + CH - 1
//            (CH = 128, the last split shorter) for the G = H / KVH query heads sharing kh (K
//            and V rows read once for the G heads): scores (invocation = key, vec4 loads of the
//            key row), per-head max m and sum l of exp(s - m) over the split, and the
//            unnormalised sum of exp(s - m) V per head and dim; written to Part[(h * ns + sp) *
//            (hd + 4)]: m, l, -, -, acc[hd].
//   combine  one workgroup per head: M = max m_s, L = sum l_s exp(m_s - M) (+ exp(S[h] - M)
//            with sinks), out = sum acc_s exp(m_s - M) / L.
// So a context of n keys runs KVH * ceil(n / CH) workgroups instead of H long ones. Needs
// G <= 8, hd % 4 == 0, hd <= 256 (ops.c). Workgroup memory: q of the G heads (8 KB at most)
// and the G x CH scores (4 KB).
// Bindings: 0 uniform Params; 1 Q [H, hd]; 2 Kc, 3 Vc [cap, KVH, hd]; 4 S [H] sinks (dummy when
//           absent); 5 O [H, hd]; 6 Part [H, ns, hd + 4] scratch. All f32.
struct Params {
  T: u32, H: u32, KVH: u32, hd: u32,
  pos0: u32, cap: u32, window: u32, has_sinks: u32,
  scale: f32, softcap: f32, ns: u32, p1: u32,
}
const CH = 128u;
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> Q: array<f32>;
@group(0) @binding(2) var<storage, read_write> Kc: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> Vc: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> S: array<f32>;
@group(0) @binding(5) var<storage, read_write> O: array<f32>;
@group(0) @binding(6) var<storage, read_write> Part: array<f32>;

var<workgroup> qs: array<vec4<f32>, 512>; // [G][hd / 4]
var<workgroup> sc: array<f32, 1024>; // [G][CH] scores, then exp(s - m)

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
  let hd = P.hd;
  let h4 = hd / 4u;
  let qp = P.pos0;
  let j0 = jlo() + sp * CH;
  let n = min(CH, qp + 1u - j0);      // keys in this split (>= 1)
  let rs4 = P.KVH * h4;               // cache row stride in vec4s
  for (var i = lid; i < G * h4; i += WG) {
    let b = kh * G * hd + 4u * i;
    qs[i] = vec4<f32>(Q[b], Q[b + 1u], Q[b + 2u], Q[b + 3u]);
  }
  workgroupBarrier();
  for (var jj = lid; jj < CH; jj += WG) {
    var z = array<f32, 8>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    if (jj < n) {
      let kb = ((j0 + jj) % P.cap) * rs4 + kh * h4;
      for (var d4 = 0u; d4 < h4; d4++) {
        let k = Kc[kb + d4];
        for (var gi = 0u; gi < 8u; gi++) {
          if (gi < G) { z[gi] += dot(qs[gi * h4 + d4], k); }
        }
      }
    }
    for (var gi = 0u; gi < 8u; gi++) {
      if (gi < G) {
        var s = z[gi] * P.scale;
        if (P.softcap > 0.0) { s = P.softcap * tanh_safe(s / P.softcap); }
        sc[gi * CH + jj] = select(-3.402823e38, s, jj < n);
      }
    }
  }
  workgroupBarrier();
  for (var gi = 0u; gi < G; gi++) { // per head of the group: max, exp, sum (uniform loop)
    var mx = -3.402823e38;
    for (var jj = lid; jj < CH; jj += WG) { mx = max(mx, sc[gi * CH + jj]); }
    let m = wg_max(mx, lid);
    var sum = 0.0;
    for (var jj = lid; jj < CH; jj += WG) {
      let p = select(0.0, exp(sc[gi * CH + jj] - m), jj < n);
      sc[gi * CH + jj] = p;
      sum += p;
    }
    let l = wg_sum(sum, lid); // its barriers also publish sc
    if (lid == 0u) {
      let o = ((kh * G + gi) * P.ns + sp) * (hd + 4u);
      Part[o] = m;
      Part[o + 1u] = l;
    }
  }
  for (var e = lid; e < G * h4; e += WG) {
    let gi = e / h4;
    let d4 = e % h4;
    var a = vec4<f32>(0.0);
    for (var jj = 0u; jj < n; jj++) { a += sc[gi * CH + jj] * Vc[((j0 + jj) % P.cap) * rs4 + kh * h4 + d4]; }
    let o = ((kh * G + gi) * P.ns + sp) * (hd + 4u) + 4u + 4u * d4;
    Part[o] = a.x; Part[o + 1u] = a.y; Part[o + 2u] = a.z; Part[o + 3u] = a.w;
  }
}

@compute @workgroup_size(WG)
fn combine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let h = wid.x + wid.y * nw.x;
  if (h >= P.H) { return; }
  let hd = P.hd;
  let st = hd + 4u;
  let base = h * P.ns * st;
  var M = -3.402823e38;
  if (P.has_sinks != 0u) { M = S[h]; }
  for (var s = 0u; s < P.ns; s++) { M = max(M, Part[base + s * st]); }
  var L = 0.0;
  if (P.has_sinks != 0u) { L = exp(S[h] - M); }
  for (var s = 0u; s < P.ns; s++) { L += Part[base + s * st + 1u] * exp(Part[base + s * st] - M); }
  for (var d = lid; d < hd; d += WG) {
    var a = 0.0;
    for (var s = 0u; s < P.ns; s++) { a += Part[base + s * st + 4u + d] * exp(Part[base + s * st] - M); }
    O[h * hd + d] = a / L;
  }
}
