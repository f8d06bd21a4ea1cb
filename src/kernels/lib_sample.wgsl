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
