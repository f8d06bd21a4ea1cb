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
// Steps 4-6 and the writes: lib_sample.wgsl's draw() over the items below (the vocabulary).

fn item_w(j: u32) -> f32 { return work[j]; }
fn item_set(j: u32, v: f32) { work[j] = v; }
fn item_id(j: u32) -> u32 { return j; }


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

  draw(t, V, V, m, amax);
}
