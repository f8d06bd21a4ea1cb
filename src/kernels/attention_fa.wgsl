// attention_fa.wgsl -- prefill attention on GPUs (issue 13): flash attention with query tiles,
// the math of attention.wgsl (read its header: causal, sliding window, GQA, softcap, sinks;
// key j in slot j % cap).
// One workgroup (WG = 128) per (head h, block of BQ = 32 consecutive queries t0..t0+31); a
// query row r = lid / 4 is owned by 4 invocations (part p = lid % 4), each holding the vec4
// chunks c = p, p + 4, ... of q (in registers) and of the output accumulator (so hd <= 128,
// hd % 4 == 0). The keys the block can see, jlo(first query) .. last query, go in tiles of
// BKV = 16: K and V rows staged in workgroup memory once for the 32 queries; each invocation
// computes its chunks' partial q.k for the 16 keys, the 4 partials of a row meet in workgroup
// memory, then every part of the row sums them (same order in all four), masks (causal and
// window per query), applies scale and softcap, and runs the online softmax (running max m,
// denominator l, accumulator rescaled by exp(m_old - m_new)) over its own output chunks.
// Rows past T load query T - 1 and store nothing. Query blocks run last block first (the
// longest, causal, start first). The private arrays (q and accumulator chunks) are indexed by
// constants only, each chunk written out (a loop index into them can make the compiler keep
// them in local memory); the scores are re-read from workgroup memory instead of being kept
// in a private array. Workgroup memory: K and V tiles 2 x 8 KiB,
// partials 8.5 KiB. Bindings as attention.wgsl (0 uniform Params; 1 Q [T, H, hd]; 2 Kc, 3 Vc
// [cap, KVH, hd]; 4 S [H] sinks; 5 O [T, H, hd]), Q, Kc, Vc and O read as vec4s.
struct Params {
  T: u32, H: u32, KVH: u32, hd: u32,
  pos0: u32, cap: u32, window: u32, has_sinks: u32,
  scale: f32, softcap: f32, p0: u32, p1: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> Q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> Kc: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> Vc: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> S: array<f32>;
@group(0) @binding(5) var<storage, read_write> O: array<vec4<f32>>;

const BQ = 32u;
const BKV = 16u;
const SPS = 17u; // partials row stride (vec4s): 16 keys + 1, so the 8 rows of a subgroup hit distinct banks
var<workgroup> ks: array<vec4<f32>, 512>; // [BKV][hd / 4 <= 32]
var<workgroup> vs: array<vec4<f32>, 512>;
var<workgroup> sp: array<vec4<f32>, 544>; // [BQ][SPS]: the 4 parts' partial q.k per key

fn tanh_safe(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
// the masked, scaled (and softcapped) score of query row r and key j0 + jj (-FLT_MAX if hidden)
fn score(r: u32, jj: u32, j0: u32, qp: u32, jl: u32) -> f32 {
  let v = sp[r * SPS + jj];
  var z = ((v.x + v.y) + (v.z + v.w)) * P.scale;
  if (P.softcap > 0.0) { z = P.softcap * tanh_safe(z / P.softcap); }
  let j = j0 + jj;
  return select(-3.402823e38, z, j <= qp && j >= jl);
}
// chunk c of the query row at qb (zero past the head: those lanes' dots add nothing)
fn qchunk(qb: u32, c: u32, h4: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), Q[qb + min(c, h4 - 1u)], c < h4);
}
fn jlo_of(qp: u32) -> u32 {
  if (P.window > 0u && qp + 1u > P.window) { return qp + 1u - P.window; }
  return 0u;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nw.x;
  let nb = (P.T + BQ - 1u) / BQ;
  if (g >= nb * P.H) { return; } // uniform over the workgroup
  let h = g % P.H;
  let t0 = (nb - 1u - g / P.H) * BQ;
  let h4 = P.hd / 4u;
  let kof4 = (h / (P.H / P.KVH)) * h4;
  let rs4 = P.KVH * h4;
  let r = lid / 4u;
  let p = lid % 4u;
  let t = min(t0 + r, P.T - 1u);
  let qp = P.pos0 + t;
  let jl = jlo_of(qp);
  var qv: array<vec4<f32>, 8>;
  var acc: array<vec4<f32>, 8>;
  let qb = (t * P.H + h) * h4;
  qv[0] = qchunk(qb, p, h4); qv[1] = qchunk(qb, p + 4u, h4); qv[2] = qchunk(qb, p + 8u, h4);
  qv[3] = qchunk(qb, p + 12u, h4); qv[4] = qchunk(qb, p + 16u, h4); qv[5] = qchunk(qb, p + 20u, h4);
  qv[6] = qchunk(qb, p + 24u, h4); qv[7] = qchunk(qb, p + 28u, h4);
  var m = -3.402823e38;
  var l = 0.0;
  if (P.has_sinks != 0u) { m = S[h]; l = 1.0; }
  let qfirst = P.pos0 + t0;
  let qlast = P.pos0 + min(t0 + BQ, P.T) - 1u;
  for (var j0 = jlo_of(qfirst); j0 <= qlast; j0 += BKV) {
    for (var i = lid; i < BKV * h4; i += WG) {
      let jj = i / h4;
      let c = i % h4;
      let slot = min(j0 + jj, qlast) % P.cap;
      ks[jj * h4 + c] = Kc[slot * rs4 + kof4 + c];
      vs[jj * h4 + c] = Vc[slot * rs4 + kof4 + c];
    }
    workgroupBarrier();
    for (var jj = 0u; jj < BKV; jj++) {
      // chunks past the head: q is zero there and the index stays inside the tile
      let kb = jj * h4 + p;
      let kl = jj * h4 + h4 - 1u;
      var z = dot(qv[0], ks[min(kb, kl)]);
      if (h4 > 4u) { z += dot(qv[1], ks[min(kb + 4u, kl)]); }
      if (h4 > 8u) { z += dot(qv[2], ks[min(kb + 8u, kl)]) + dot(qv[3], ks[min(kb + 12u, kl)]); }
      if (h4 > 16u) {
        z += dot(qv[4], ks[min(kb + 16u, kl)]) + dot(qv[5], ks[min(kb + 20u, kl)]);
        z += dot(qv[6], ks[min(kb + 24u, kl)]) + dot(qv[7], ks[min(kb + 28u, kl)]);
      }
      sp[r * SPS + jj][p] = z;
    }
    workgroupBarrier();
    var mt = m;
    for (var jj = 0u; jj < BKV; jj++) { mt = max(mt, score(r, jj, j0, qp, jl)); }
    let alpha = exp(m - mt);
    l *= alpha;
    acc[0] *= alpha; acc[1] *= alpha; acc[2] *= alpha; acc[3] *= alpha;
    acc[4] *= alpha; acc[5] *= alpha; acc[6] *= alpha; acc[7] *= alpha;
    for (var jj = 0u; jj < BKV; jj++) {
      let j = j0 + jj;
      let pj = select(0.0, exp(score(r, jj, j0, qp, jl) - mt), j <= qp && j >= jl);
      l += pj;
      let vb = jj * h4 + p;
      let vl = jj * h4 + h4 - 1u;
      acc[0] += pj * vs[min(vb, vl)];
      if (h4 > 4u) { acc[1] += pj * vs[min(vb + 4u, vl)]; }
      if (h4 > 8u) { acc[2] += pj * vs[min(vb + 8u, vl)]; acc[3] += pj * vs[min(vb + 12u, vl)]; }
      if (h4 > 16u) {
        acc[4] += pj * vs[min(vb + 16u, vl)]; acc[5] += pj * vs[min(vb + 20u, vl)];
        acc[6] += pj * vs[min(vb + 24u, vl)]; acc[7] += pj * vs[min(vb + 28u, vl)];
      }
    }
    m = mt;
    workgroupBarrier();
  }
  if (t0 + r < P.T) {
    if (p < h4) { O[qb + p] = acc[0] / l; }
    if (p + 4u < h4) { O[qb + p + 4u] = acc[1] / l; }
    if (p + 8u < h4) { O[qb + p + 8u] = acc[2] / l; }
    if (p + 12u < h4) { O[qb + p + 12u] = acc[3] / l; }
    if (p + 16u < h4) { O[qb + p + 16u] = acc[4] / l; }
    if (p + 20u < h4) { O[qb + p + 20u] = acc[5] / l; }
    if (p + 24u < h4) { O[qb + p + 24u] = acc[6] / l; }
    if (p + 28u < h4) { O[qb + p + 28u] = acc[7] / l; }
  }
}
