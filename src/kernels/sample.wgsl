// sample.wgsl -- picks the next token from one row of logits on the GPU (runtime-owned;
// C side: src/runtime/sampler.c). One workgroup of WG invocations (256 on GPUs; 8 on CPU
// adapters, where every barrier of a wider workgroup costs a switch through all its SIMD
// batches); thread t owns the tokens t, t + WG, t + 2 WG, ... (coalesced loads), except in the
// draw, where it owns a contiguous chunk so that the CDF runs in token order whatever WG is.
//
// Math, in order (HF generation's order of warpers):
//   w_i = logits_i
//   repetition penalty: for every distinct id in hist[hist_pos - repeat_n, hist_pos):
//       w = w > 0 ? w / penalty : w * penalty                       (penalty == 1: off)
//   end-of-generation masking (n_eos > 0, up to 16 ids): w_eos = -3e38 (never chosen)
//   temperature == 0: token = smallest i with w_i maximal (greedy), done.
//   top-k (0 < k < vocab): keep w_i >= the k-th largest w (found exactly by bisection over
//       the order-preserving u32 key of f32; ties at the threshold are all kept)
//   q_i = exp((w_i - max w) / temperature) for kept tokens (max q = 1), Z = sum q
//   top-p (top_p < 1): keep q_i >= the largest threshold whose kept mass is >= top_p * Z
//       (the smallest top set reaching top_p; bisection over f32 bits)
//   min-p: keep q_i >= min_p (= min_p * max probability)
//   u = uniform [0,1) from a hash of (seed, step); the token is where the running sum of
//       kept q (in token order) first exceeds u * sum(kept q).
// Writes the token to out_ids[out_index], cur[0] (the next decode step's input) and
// hist[hist_pos] (the penalty history).
//
// Bindings: 0 params (uniform), 1 logits [vocab] f32 (read), 2 work [vocab] f32 scratch,
// 3 hist [>= hist_pos + 1] u32, 4 cur [1] u32, 5 out_ids [>= out_index + 1] u32.
// Variants: none (temperature == 0 is the greedy path at run time).


@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let V = P.vocab;

  // 1. copy, mask EOS
  for (var i = t; i < V; i += WG) {
    var w = logits[i];
    if (w != w) { w = MASKED; }  // NaN is never chosen
    if (P.n_eos > 0u && is_eos(i)) { w = MASKED; }
    work[i] = w;
  }
  storageBarrier();
  workgroupBarrier();

  // 2. repetition penalty, once per distinct id of the window (its last occurrence applies it)
  if (P.penalty != 1.0 && P.repeat_n > 0u) {
    let lo = select(0u, P.hist_pos - P.repeat_n, P.hist_pos > P.repeat_n);
    for (var j = lo + t; j < P.hist_pos; j += WG) {
      let id = hist[j];
      var last = true;
      for (var j2 = j + 1u; j2 < P.hist_pos; j2++) {
        if (hist[j2] == id) { last = false; break; }
      }
      if (last && id < V) {
        let w = work[id];
        if (w > MASKED) { work[id] = select(w * P.penalty, w / P.penalty, w > 0.0); }
      }
    }
  }
  storageBarrier();
  workgroupBarrier();

  // 3. maximum and its smallest index (per thread, then across the workgroup)
  var bw = MASKED * 1.0;
  var bi = 0xffffffffu;
  for (var i = t; i < V; i += WG) {
    let w = work[i];
    if (w > bw || (w == bw && i < bi) || bi == 0xffffffffu) { bw = w; bi = i; }
  }
  red_f[t] = bw;
  red_u[t] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (t < s) {
      let ow = red_f[t + s];
      let oi = red_u[t + s];
      if (oi != 0xffffffffu && (red_u[t] == 0xffffffffu || ow > red_f[t] || (ow == red_f[t] && oi < red_u[t]))) {
        red_f[t] = ow;
        red_u[t] = oi;
      }
    }
    workgroupBarrier();
  }
  let m = red_f[0];
  let amax = red_u[0];
  workgroupBarrier();

  if (P.temperature > 0.0) {
    // 4. top-k threshold (key of the k-th largest w)
    var kthr = 0u;
    if (P.top_k > 0u && P.top_k < V) {
      for (var b = 31; b >= 0; b--) {
        let cand = kthr | (1u << u32(b));
        var c = 0u;
        for (var i = t; i < V; i += WG) { c += select(0u, 1u, key(work[i]) >= cand); }
        if (sum_u(t, c) >= P.top_k) { kthr = cand; }
      }
    }
    // 5. q = exp((w - max) / T) for kept tokens, 0 otherwise, stored over w (each invocation
    //    touches only its own tokens from here on); top-p threshold; min-p
    let inv_t = 1.0 / P.temperature;
    var z = 0.0;
    for (var i = t; i < V; i += WG) {
      let w = work[i];
      var q = 0.0;
      if (key(w) >= kthr && w > MASKED) { q = exp((w - m) * inv_t); }
      work[i] = q;
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
        for (var i = t; i < V; i += WG) {
          let q = work[i];
          if (q >= cf) { s += q; }
        }
        if (sum_f(t, s) >= goal) { pthr = cand; }
      }
    }
    let qthr = max(max(bitcast<f32>(pthr), P.min_p), 1.0e-38);
    // 6. draw: thread t owns tokens [c0, c1), so the CDF below runs in token order
    let chunk = (V + WG - 1u) / WG;
    let c0 = min(V, t * chunk);
    let c1 = min(V, c0 + chunk);
    var own = 0.0;
    for (var i = c0; i < c1; i++) {
      let q = work[i];
      if (q >= qthr) { own += q; }
    }
    red_f[t] = own;
    if (t == 0u) { chosen = amax; }
    workgroupBarrier();
    // exclusive prefix over threads (thread 0 scans WG values into red_u as f32 bits)
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
    if (own > 0.0 && u >= start && u < start + own) {  // disjoint intervals: one claimant
      var acc = start;
      var pick = 0xffffffffu;
      for (var i = c0; i < c1; i++) {
        let q = work[i];
        if (q >= qthr) {
          pick = i;
          acc += q;
          if (u < acc) { break; }
        }
      }
      if (pick != 0xffffffffu) { chosen = pick; }
    }
    workgroupBarrier();
  } else {
    if (t == 0u) { chosen = amax; }
    workgroupBarrier();
  }

  if (t == 0u) {
    let tok = select(chosen, 0u, chosen == 0xffffffffu);
    out_ids[P.out_index] = tok;
    cur[0] = tok;
    hist[P.hist_pos] = tok;
  }
}
