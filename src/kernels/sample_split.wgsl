// sample_split.wgsl -- the GPU kernel family's sampler (runtime-owned; C side: ops.c
// dp_op_sample): sample.wgsl's math (read its header: the warpers, their order, the draw)
// over many workgroups, in two dispatches:
//   part   workgroup g of nwg owns the contiguous tokens [g R, g R + R) (R = P.range, a multiple
//          of WG): copies them to work with NaN and EOS masked, applies the repetition penalty
//          to the ids of the window that fall in its range (each id once, as sample.wgsl),
//          finds its maximum with the smallest index, and -- when sampling with 0 < top_k <=
//          KC -- its candidates: every token whose key is >= its range's top_k-th largest key,
//          in token order (all ties kept; more than KC of them marks the range overflowed).
//          Header of g in scr: [4 g] max, [4 g + 1] index (bits), [4 g + 2] candidates (bits).
//   pick   one workgroup: the maximum and its smallest index over the nwg partial results
//          (greedy: done). Sampling: with candidates (no range overflowed), the candidate lists
//          are concatenated in token order and the steps top-k .. draw of sample.wgsl run over
//          them; else over all of work (vocab items).
// Why the candidates are exact: a token whose key is >= the global top_k-th largest key has
// fewer than top_k tokens strictly above it anywhere, so also in its range: it is a candidate;
// and the bisection for the global threshold counts >= top_k over the candidates exactly when
// it does over the vocabulary. So the kept set, max, q values and the token-order CDF are
// sample.wgsl's; only the order of the float sums (Z, the top-p sums) differs, as it already
// does between sample.wgsl's workgroup sizes (8 on CPU adapters, 256 on GPUs).
// Placed after lib_sample.wgsl (Params with range and nwg, bindings 0-5, reductions, key, pcg).
// Bindings: 0 params (sample.wgsl's, range and nwg in its two pad words), 1 logits [vocab],
// 2 work [vocab] f32, 3 hist u32, 4 cur [1] u32, 5 out_ids u32, 6 scr f32 scratch of
// 4 * 256 + 2 * 256 * KC + 2 * 256 * KC words.
// Variants: none (greedy and sampling chosen at run time).

@group(0) @binding(6) var<storage, read_write> scr: array<f32>;

const KC = 64u;          // candidates per range
const CAND = 1024u;      // scr: per-range candidate lists [256][KC] of (w, id bits)
const LIST = 1024u + 2u * 256u * 64u; // the concatenated list: ws, then ids

var<workgroup> full: u32;

// (exclusive prefix sum of v over the workgroup, the total): thread 0 scans, as sample.wgsl's draw
fn scan_u(t: u32, v: u32) -> vec2<u32> {
  red_u[t] = v;
  workgroupBarrier();
  if (t == 0u) {
    var acc = 0u;
    for (var j = 0u; j < WG; j++) {
      let x = red_u[j];
      red_u[j] = acc;
      acc += x;
    }
    chosen = acc;
  }
  workgroupBarrier();
  let r = vec2<u32>(red_u[t], chosen);
  workgroupBarrier();
  return r;
}

// largest w (smallest index among equal) over the workgroup; every pair with i != NONE counts
fn argmax_wg(t: u32, w: f32, i: u32) -> vec2<u32> {
  red_f[t] = w;
  red_u[t] = i;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (t < s) {
      let ow = red_f[t + s];
      let oi = red_u[t + s];
      if (oi != NONE && (red_u[t] == NONE || ow > red_f[t] || (ow == red_f[t] && oi < red_u[t]))) {
        red_f[t] = ow;
        red_u[t] = oi;
      }
    }
    workgroupBarrier();
  }
  let r = vec2<u32>(bitcast<u32>(red_f[0]), red_u[0]);
  workgroupBarrier();
  return r;
}

fn sampling_cands() -> bool { return P.temperature > 0.0 && P.top_k > 0u && P.top_k <= KC && P.top_k < P.vocab; }

@compute @workgroup_size(WG)
fn part(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = lid.x;
  let g = wid.x;
  let V = P.vocab;
  let lo = g * P.range;
  let hi = min(V, lo + P.range);
  // 1. copy, mask NaN and EOS
  for (var i = lo + t; i < hi; i += WG) {
    var w = logits[i];
    if (w != w) { w = MASKED; }
    if (P.n_eos > 0u && is_eos(i)) { w = MASKED; }
    work[i] = w;
  }
  storageBarrier();
  workgroupBarrier();
  // 2. repetition penalty on the ids of this range, once per distinct id (its last occurrence)
  if (P.penalty != 1.0 && P.repeat_n > 0u) {
    let wlo = select(0u, P.hist_pos - P.repeat_n, P.hist_pos > P.repeat_n);
    for (var j = wlo + t; j < P.hist_pos; j += WG) {
      let id = hist[j];
      var last = true;
      for (var j2 = j + 1u; j2 < P.hist_pos; j2++) {
        if (hist[j2] == id) { last = false; break; }
      }
      if (last && id >= lo && id < hi) {
        let w = work[id];
        if (w > MASKED) { work[id] = select(w * P.penalty, w / P.penalty, w > 0.0); }
      }
    }
  }
  storageBarrier();
  workgroupBarrier();
  // 3. maximum and its smallest index over the range
  var bw = MASKED * 1.0;
  var bi = NONE;
  for (var i = lo + t; i < hi; i += WG) {
    let w = work[i];
    if (w > bw || (w == bw && i < bi) || bi == NONE) { bw = w; bi = i; }
  }
  let mx = argmax_wg(t, bw, bi);
  // 4. candidates (sampling with a small top-k): key >= the range's top_k-th largest key
  var cnt = 0u;
  if (sampling_cands()) {
    var kthr = 0u;
    for (var b = 31; b >= 0; b--) {
      let cand = kthr | (1u << u32(b));
      var c = 0u;
      for (var i = lo + t; i < hi; i += WG) { c += select(0u, 1u, key(work[i]) >= cand); }
      if (sum_u(t, c) >= P.top_k) { kthr = cand; }
    }
    // thread t owns the contiguous tokens [c0, c1) of the range: the list stays in token order
    let chunk = P.range / WG;
    let c0 = min(hi, lo + t * chunk);
    let c1 = min(hi, c0 + chunk);
    var own = 0u;
    for (var i = c0; i < c1; i++) { own += select(0u, 1u, key(work[i]) >= kthr); }
    let sc = scan_u(t, own);
    cnt = sc.y;
    var o = sc.x;
    for (var i = c0; i < c1; i++) {
      let w = work[i];
      if (key(w) >= kthr) {
        if (o < KC) {
          scr[CAND + (g * KC + o) * 2u] = w;
          scr[CAND + (g * KC + o) * 2u + 1u] = bitcast<f32>(i);
        }
        o++;
      }
    }
  }
  if (t == 0u) {
    scr[4u * g] = bitcast<f32>(mx.x);
    scr[4u * g + 1u] = bitcast<f32>(mx.y);
    scr[4u * g + 2u] = bitcast<f32>(cnt);
  }
}

// items of the pick pass: the candidate list, or (full) all of work
fn item_w(j: u32) -> f32 {
  if (full != 0u) { return work[j]; }
  return scr[LIST + j];
}
fn item_set(j: u32, v: f32) {
  if (full != 0u) { work[j] = v; } else { scr[LIST + j] = v; }
}
fn item_id(j: u32) -> u32 {
  if (full != 0u) { return j; }
  return bitcast<u32>(scr[LIST + 256u * KC + j]);
}

@compute @workgroup_size(WG)
fn pick(@builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let V = P.vocab;
  // the maximum and its smallest index over the ranges
  var bw = MASKED * 1.0;
  var bi = NONE;
  var cnt = 0u;
  if (t < P.nwg) {
    bw = scr[4u * t];
    bi = bitcast<u32>(scr[4u * t + 1u]);
    cnt = bitcast<u32>(scr[4u * t + 2u]);
  }
  let mx = argmax_wg(t, bw, bi);
  let m = bitcast<f32>(mx.x);
  let amax = mx.y;

  // the items: concatenated candidate lists when every range has <= KC, else the vocabulary
  var n = V;
  if (P.temperature > 0.0) {
    let over = sum_u(t, select(0u, 1u, cnt > KC));
    if (t == 0u) { full = select(1u, 0u, sampling_cands() && over == 0u); }
    if (workgroupUniformLoad(&full) == 0u) {
      let sc = scan_u(t, cnt);
      n = sc.y;
      for (var i = 0u; i < cnt; i++) {
        scr[LIST + sc.x + i] = scr[CAND + (t * KC + i) * 2u];
        scr[LIST + 256u * KC + sc.x + i] = scr[CAND + (t * KC + i) * 2u + 1u];
      }
      storageBarrier();
      workgroupBarrier();
    }
  }
  draw(t, n, V, m, amax);
}
