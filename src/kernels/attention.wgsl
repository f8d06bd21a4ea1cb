// attention.wgsl -- causal multi-head attention over the KV cache (layout in ops.h):
//   out[t, h, :] = sum_j p_j V[j, h / G, :],  p = softmax over visible keys j (+ sink),
//   s_j = softcap(scale * q[t, h, :] . K[j, h / G, :]),  softcap(z) = c tanh(z / c) if c > 0,
//   visible: jlo <= j <= qp with qp = pos0 + t, jlo = max(0, qp - window + 1) (window > 0).
//   With sinks, exp(S[h] - max) joins the denominator (gpt-oss). Slot of key j: j % cap.
// One workgroup (WG = 64) per (t, h), linear id over a 2-D grid, so decode (T = 1) and
// prefill (T > 1) share the kernel. Keys are taken WG at a time (one per invocation): scores,
// online-softmax update (running max m and denominator l), then each invocation accumulates
// its output dims d = lid + i*WG (i < 4, so hd <= 256) over the chunk's keys.
// CPU adapters with subgroups of exactly 8 and hd <= 64 run rows_sg (attention_sg8.wgsl).
// Bindings: 0 uniform Params; 1 Q [T, H, hd]; 2 Kc, 3 Vc [cap, KVH, hd]; 4 S [H] f32 (sinks;
//           bound to Q when absent, then unused); 5 O [T, H, hd]. All f32.
struct Params {
  T: u32, H: u32, KVH: u32, hd: u32,
  pos0: u32, cap: u32, window: u32, has_sinks: u32,
  scale: f32, softcap: f32, p0: u32, p1: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> Q: array<f32>;
@group(0) @binding(2) var<storage, read_write> Kc: array<f32>;
@group(0) @binding(3) var<storage, read_write> Vc: array<f32>;
@group(0) @binding(4) var<storage, read> S: array<f32>;
@group(0) @binding(5) var<storage, read_write> O: array<f32>;

var<workgroup> qs: array<f32, 256>;
var<workgroup> ps: array<f32, WG>;

fn tanh_safe(x: f32) -> f32 { // tanh without inf/inf for large |x|
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nw.x;
  if (g >= P.T * P.H) { return; }
  let t = g / P.H;
  let h = g % P.H;
  let hd = P.hd;
  let kof = (h / (P.H / P.KVH)) * hd; // offset of this kv head inside a cache row
  let rs = P.KVH * hd;                // cache row stride
  let qb = g * hd;
  for (var d = lid; d < hd; d += WG) { qs[d] = Q[qb + d]; }
  workgroupBarrier();
  let qp = P.pos0 + t;
  var jlo = 0u;
  if (P.window > 0u && qp + 1u > P.window) { jlo = qp + 1u - P.window; }
  var m = -3.402823e38;
  var l = 0.0;
  if (P.has_sinks != 0u) { m = S[h]; l = 1.0; }
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var j0 = jlo; j0 <= qp; j0 += WG) {
    let j = j0 + lid;
    var s = -3.402823e38;
    if (j <= qp) {
      let kb = (j % P.cap) * rs + kof;
      var z = 0.0;
      for (var d = 0u; d < hd; d++) { z += qs[d] * Kc[kb + d]; }
      z *= P.scale;
      if (P.softcap > 0.0) { z = P.softcap * tanh_safe(z / P.softcap); }
      s = z;
    }
    let nm = max(m, wg_max(s, lid));
    let p = select(0.0, exp(s - nm), j <= qp);
    ps[lid] = p;
    let sum = wg_sum(p, lid); // its barrier also publishes ps
    let alpha = exp(m - nm);
    l = l * alpha + sum;
    let cnt = min(WG, qp + 1u - j0);
    for (var i = 0u; i < 4u; i++) {
      let d = lid + i * WG;
      if (d < hd) {
        var a = acc[i] * alpha;
        for (var jj = 0u; jj < cnt; jj++) { a += ps[jj] * Vc[((j0 + jj) % P.cap) * rs + kof + d]; }
        acc[i] = a;
      }
    }
    m = nm;
  }
  for (var i = 0u; i < 4u; i++) {
    let d = lid + i * WG;
    if (d < hd) { O[qb + d] = acc[i] / l; }
  }
}
