// sample_nll.wgsl -- negative log-likelihood of target tokens, one row of logits per
// workgroup (runtime-owned; C side: src/runtime/sampler.c; used by perplexity scoring).
//   nll[out_off + r] = log(sum_j exp(x[r, j] - m_r)) + m_r - x[r, targets[tgt_off + r]],
//   m_r = max_j x[r, j], for r < rows (workgroup index r = wg.x + wg.y * num_workgroups.x).
// Bindings: 0 params, 1 logits [rows, vocab] f32 (read), 2 targets [..] u32 (read),
// 3 nll [..] f32. Variants: none.

struct Params {
  vocab: u32,
  rows: u32,
  out_off: u32,
  tgt_off: u32,
};

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> nll: array<f32>;

const WG: u32 = 256u;
var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= P.rows) { return; }  // uniform per workgroup
  let t = lid.x;
  let base = r * P.vocab;
  var m = -3.0e38;
  for (var j = t; j < P.vocab; j += WG) { m = max(m, logits[base + j]); }
  red[t] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (t < s) { red[t] = max(red[t], red[t + s]); }
    workgroupBarrier();
  }
  let mx = red[0];
  workgroupBarrier();
  var z = 0.0;
  for (var j = t; j < P.vocab; j += WG) { z += exp(logits[base + j] - mx); }
  red[t] = z;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (t < s) { red[t] = red[t] + red[t + s]; }
    workgroupBarrier();
  }
  if (t == 0u) {
    let tgt = targets[P.tgt_off + r];
    nll[P.out_off + r] = log(red[0]) + mx - logits[base + tgt];
  }
}
