// lib_sample.wgsl -- what the two samplers share (ops.c places it before sample.wgsl and
// sample_split.wgsl): the parameters and bindings 0-5 (read sample.wgsl's header), the workgroup
// reductions, the order-preserving key of f32, the PCG hash of the draw and the EOS test.

struct Params {
  vocab: u32,
  top_k: u32,
  hist_pos: u32,
  repeat_n: u32,
  temperature: f32,
  top_p: f32,
  min_p: f32,
  penalty: f32,
  seed_lo: u32,
  seed_hi: u32,
  step_lo: u32,
  step_hi: u32,
  out_index: u32,
  n_eos: u32,
  range: u32,  // sample_split: tokens per part workgroup (unused by sample.wgsl)
  nwg: u32,    // sample_split: part workgroups
  eos: array<vec4<u32>, 4>,
};

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> work: array<f32>;
@group(0) @binding(3) var<storage, read_write> hist: array<u32>;
@group(0) @binding(4) var<storage, read_write> cur: array<u32>;
@group(0) @binding(5) var<storage, read_write> out_ids: array<u32>;

override WG: u32 = 256u; // a power of two (sample_split: >= its part workgroups, 256 at most)
const MASKED: f32 = -3.0e38;

var<workgroup> red_f: array<f32, WG>;
var<workgroup> red_u: array<u32, WG>;
var<workgroup> chosen: u32;

fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

// order-preserving key: a < b (as f32, no NaN) <=> key(a) < key(b) (as u32)
fn key(f: f32) -> u32 {
  let b = bitcast<u32>(f);
  if ((b & 0x80000000u) != 0u) { return ~b; }
  return b | 0x80000000u;
}

fn sum_f(t: u32, v: f32) -> f32 {
  red_f[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (t < s) { red_f[t] = red_f[t] + red_f[t + s]; }
    workgroupBarrier();
  }
  let r = red_f[0];
  workgroupBarrier();
  return r;
}

fn sum_u(t: u32, v: u32) -> u32 {
  red_u[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (t < s) { red_u[t] = red_u[t] + red_u[t + s]; }
    workgroupBarrier();
  }
  let r = red_u[0];
  workgroupBarrier();
  return r;
}

fn is_eos(i: u32) -> bool {
  for (var e = 0u; e < P.n_eos; e++) {
    if (P.eos[e / 4u][e % 4u] == i) { return true; }
  }
  return false;
}

const NONE = 0xffffffffu;

// Steps 4-6 of sample.wgsl's header (top-k, q and Z, top-p, min-p, the draw) over n items,
// then the writes of the token: every invocation calls it. The kernel supplies the items:
// item_w(j) (w, replaced by q through item_set) and item_id(j) (the token); m is the maximum w,
// amax its smallest index (the greedy token). sample.wgsl's items are the vocabulary in work,
// sample_split.wgsl's the candidate lists (or the vocabulary).
fn draw(t: u32, n: u32, V: u32, m: f32, amax: u32) {
  if (P.temperature > 0.0) {
    // 4. top-k threshold (key of the k-th largest w)
    var kthr = 0u;
    if (P.top_k > 0u && P.top_k < V) {
      for (var b = 31; b >= 0; b--) {
        let cand = kthr | (1u << u32(b));
        var c = 0u;
        for (var i = t; i < n; i += WG) { c += select(0u, 1u, key(item_w(i)) >= cand); }
        if (sum_u(t, c) >= P.top_k) { kthr = cand; }
      }
    }
    // 5. q for kept items over w; Z; top-p threshold; min-p
    let inv_t = 1.0 / P.temperature;
    var z = 0.0;
    for (var i = t; i < n; i += WG) {
      let w = item_w(i);
      var q = 0.0;
      if (key(w) >= kthr && w > MASKED) { q = exp((w - m) * inv_t); }
      item_set(i, q);
      z += q;
    }
    let Z = sum_f(t, z);
    var pthr = 0u;
    if (P.top_p < 1.0) {
      let goal = P.top_p * Z;
      for (var b = 30; b >= 0; b--) {
        let cand = pthr | (1u << u32(b));
        let cf = bitcast<f32>(cand);
        var s = 0.0;
        for (var i = t; i < n; i += WG) {
          let q = item_w(i);
          if (q >= cf) { s += q; }
        }
        if (sum_f(t, s) >= goal) { pthr = cand; }
      }
    }
    let qthr = max(max(bitcast<f32>(pthr), P.min_p), 1.0e-38);
    // 6. draw: thread t owns items [c0, c1), so the CDF below runs in token order
    let chunk = (n + WG - 1u) / WG;
    let c0 = min(n, t * chunk);
    let c1 = min(n, c0 + chunk);
    var own = 0.0;
    for (var i = c0; i < c1; i++) {
      let q = item_w(i);
      if (q >= qthr) { own += q; }
    }
    red_f[t] = own;
    if (t == 0u) { chosen = amax; }
    workgroupBarrier();
    if (t == 0u) {
      var acc = 0.0;
      for (var j = 0u; j < WG; j++) {
        red_u[j] = bitcast<u32>(acc);
        acc += red_f[j];
      }
      red_f[0] = acc;
    }
    workgroupBarrier();
    let total = red_f[0];
    let h = pcg(P.seed_lo ^ pcg(P.seed_hi ^ pcg(P.step_lo ^ pcg(P.step_hi + 0x9e3779b9u))));
    let u = f32(h >> 8u) * (1.0 / 16777216.0) * total;
    let start = bitcast<f32>(red_u[t]);
    if (own > 0.0 && u >= start && u < start + own) {
      var acc = start;
      var sel = NONE;
      for (var i = c0; i < c1; i++) {
        let q = item_w(i);
        if (q >= qthr) {
          sel = item_id(i);
          acc += q;
          if (u < acc) { break; }
        }
      }
      if (sel != NONE) { chosen = sel; }
    }
    workgroupBarrier();
  } else {
    if (t == 0u) { chosen = amax; }
    workgroupBarrier();
  }

  if (t == 0u) {
    let tok = select(chosen, 0u, chosen == NONE);
    out_ids[P.out_index] = tok;
    cur[0] = tok;
    hist[P.hist_pos] = tok;
  }
}
