// rope_kv.wgsl -- fused rope (q and k) + kv_write: the result of
//   rope(Q[T, H, hd]); rope(Kn[T, KVH, hd]); kv_write(Kc, Vc, Kn, Vn)
// in one dispatch (rope.wgsl and kv_write.wgsl give the math and layouts; the rotation uses the
// same cos_sin from lib_trig.wgsl, so the values are bit-identical to that sequence). Q and Kn are rotated in
// place; Kc/Vc[(pos0 + t) % cap, kh, :] receive the rotated Kn and the unchanged Vn rows.
// One invocation per (t, r, i): r < H + KVH (r >= H: kv head r - H), i < ceil(hd / 2):
// i < rot/2 rotates the pair (i, i + rot/2) or (2i, 2i + 1) as rope does; larger i are the
// pass-through dims rot + 2(i - rot/2) (+1). For kv heads the same dims of Kn and Vn go to
// the cache. WG = 64; 2-D grid, linear id. The library prepended by ops.c is used by `norm`.
// Entry `norm` (GPU family, q/k RMSNorm as in qwen3 / gemma3): one workgroup (WG =
// rmsnorm's for hd) per (t, r): the row first normalized in place exactly as rmsnorm.wgsl's
// inplace does (same workgroup size and sums: bit-identical) by QW (q rows) or KW (k rows),
// (1 + w) with plus_one; a row whose weight is absent (flags bit 0: q, bit 1: k) is left as it
// is; then the same pair work as main. Replaces rmsnorm(q); rmsnorm(k); rope_kv: 3 -> 1 dispatch.
// Bindings: 0 uniform Params; 1 Q; 2 Kn; 3 Vn; 4 Kc; 5 Vc (all f32); 6 F inv_freq [rot/2];
// 7 QW [hd], 8 KW [hd] norm weights (dummies for main).
struct Params {
  T: u32, H: u32, KVH: u32, hd: u32,
  rot: u32, pos0: u32, style: u32, cap: u32,
  af: f32, eps: f32, plus_one: u32, norms: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> Q: array<f32>;
@group(0) @binding(2) var<storage, read_write> Kn: array<f32>;
@group(0) @binding(3) var<storage, read_write> Vn: array<f32>;
@group(0) @binding(4) var<storage, read_write> Kc: array<f32>;
@group(0) @binding(5) var<storage, read_write> Vc: array<f32>;
@group(0) @binding(6) var<storage, read> F: array<f32>;
@group(0) @binding(7) var<storage, read> QW: array<f32>;
@group(0) @binding(8) var<storage, read> KW: array<f32>;

// one rotated (or passed-through) element pair (a, b) of a row at base; returns the new values
fn rot_pair(isq: bool, base: u32, a: u32, b: u32, cs: vec2<f32>, rotate: bool, has_b: bool) -> vec2<f32> {
  var x1: f32; var x2 = 0.0;
  if (isq) { x1 = Q[base + a]; if (has_b) { x2 = Q[base + b]; } }
  else { x1 = Kn[base + a]; if (has_b) { x2 = Kn[base + b]; } }
  if (!rotate) { return vec2<f32>(x1, x2); }
  let y = vec2<f32>(x1 * cs.x - x2 * cs.y, x2 * cs.x + x1 * cs.y);
  if (isq) { Q[base + a] = y.x; Q[base + b] = y.y; } else { Kn[base + a] = y.x; Kn[base + b] = y.y; }
  return y;
}

// the work of pair i of row r (r < H: q head r; else kv head r - H) of token t
fn pair_work(t: u32, r: u32, i: u32) {
  let half = P.rot / 2u;
  let rotate = i < half;
  var a: u32; var b: u32;
  if (rotate) {
    a = select(i, 2u * i, P.style != 0u);
    b = select(i + half, 2u * i + 1u, P.style != 0u);
  } else {
    a = P.rot + 2u * (i - half);
    b = a + 1u;
  }
  let has_b = b < P.hd;
  var cs = vec2<f32>(1.0, 0.0);
  if (rotate) { cs = cos_sin(f32(P.pos0 + t) * F[i]) * P.af; }
  if (r < P.H) {
    _ = rot_pair(true, (t * P.H + r) * P.hd, a, b, cs, rotate, has_b);
    return;
  }
  let kh = r - P.H;
  let row = P.KVH * P.hd;
  let src = t * row + kh * P.hd;
  let y = rot_pair(false, src, a, b, cs, rotate, has_b);
  let dst = ((P.pos0 + t) % P.cap) * row + kh * P.hd;
  Kc[dst + a] = y.x;
  Vc[dst + a] = Vn[src + a];
  if (has_b) {
    Kc[dst + b] = y.y;
    Vc[dst + b] = Vn[src + b];
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let np = (P.hd + 1u) / 2u; // pairs per row
  let nr = P.H + P.KVH;
  let g = (wid.x + wid.y * nw.x) * WG + lid;
  if (g >= P.T * nr * np) { return; }
  pair_work(g / (np * nr), (g / np) % nr, g % np);
}

fn x_at(isq: bool, j: u32) -> f32 { if (isq) { return Q[j]; } return Kn[j]; }
fn w_at(isq: bool, i: u32) -> f32 {
  var w: f32;
  if (isq) { w = QW[i]; } else { w = KW[i]; }
  return select(w, 1.0 + w, P.plus_one != 0u);
}

@compute @workgroup_size(WG)
fn norm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let nr = P.H + P.KVH;
  let g = wid.x + wid.y * nw.x;
  if (g >= P.T * nr) { return; } // uniform over the workgroup
  let r = g % nr;
  let t = g / nr;
  let isq = r < P.H;
  var base = (t * P.H + r) * P.hd;
  if (!isq) { base = t * P.KVH * P.hd + (r - P.H) * P.hd; }
  if ((P.norms & select(2u, 1u, isq)) != 0u) { // uniform: the row's kind
    var ss = 0.0; // rmsnorm.wgsl's row_scale
    for (var i = lid; i < P.hd; i += WG) { let v = x_at(isq, base + i); ss += v * v; }
    let s = 1.0 / sqrt(wg_sum(ss, lid) / f32(P.hd) + P.eps);
    for (var i = lid; i < P.hd; i += WG) {
      let y = x_at(isq, base + i) * s * w_at(isq, i);
      if (isq) { Q[base + i] = y; } else { Kn[base + i] = y; }
    }
  }
  storageBarrier();
  workgroupBarrier();
  for (var i = lid; i < (P.hd + 1u) / 2u; i += WG) { pair_work(t, r, i); }
}
