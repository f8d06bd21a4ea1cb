// rope_kv.wgsl -- fused rope (q and k) + kv_write: the result of
//   rope(Q[T, H, hd]); rope(Kn[T, KVH, hd]); kv_write(Kc, Vc, Kn, Vn)
// in one dispatch (rope.wgsl and kv_write.wgsl give the math and layouts; the rotation uses the
// same cos_sin from lib_trig.wgsl, so the values are bit-identical to that sequence). Q and Kn are rotated in
// place; Kc/Vc[(pos0 + t) % cap, kh, :] receive the rotated Kn and the unchanged Vn rows.
// One invocation per (t, r, i): r < H + KVH (r >= H: kv head r - H), i < ceil(hd / 2):
// i < rot/2 rotates the pair (i, i + rot/2) or (2i, 2i + 1) as rope does; larger i are the
// pass-through dims rot + 2(i - rot/2) (+1). For kv heads the same dims of Kn and Vn go to
// the cache. WG = 64; 2-D grid, linear id. The library prepended by ops.c is unused.
// Bindings: 0 uniform Params; 1 Q; 2 Kn; 3 Vn; 4 Kc; 5 Vc (all f32); 6 F inv_freq [rot/2].
struct Params {
  T: u32, H: u32, KVH: u32, hd: u32,
  rot: u32, pos0: u32, style: u32, cap: u32,
  af: f32, p0: u32, p1: u32, p2: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> Q: array<f32>;
@group(0) @binding(2) var<storage, read_write> Kn: array<f32>;
@group(0) @binding(3) var<storage, read_write> Vn: array<f32>;
@group(0) @binding(4) var<storage, read_write> Kc: array<f32>;
@group(0) @binding(5) var<storage, read_write> Vc: array<f32>;
@group(0) @binding(6) var<storage, read> F: array<f32>;

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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let half = P.rot / 2u;
  let np = (P.hd + 1u) / 2u; // pairs per row
  let nr = P.H + P.KVH;
  let g = (wid.x + wid.y * nw.x) * WG + lid;
  if (g >= P.T * nr * np) { return; }
  let i = g % np;
  let r = (g / np) % nr;
  let t = g / (np * nr);
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
