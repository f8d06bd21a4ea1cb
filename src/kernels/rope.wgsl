// rope.wgsl -- rotary position embedding, in place on x[T, H, hd]:
//   for t < T, h < H, i < rot/2, angle = f32(pos0 + t) * inv_freq[i] (an f32 product, as HF),
//   (a, b) = (i, i + rot/2) (rotate-half, style 0) or (2i, 2i + 1) (pairs, style 1):
//   x[a] = x[a] c - x[b] s,  x[b] = x[b] c + x[a] s,  c = af cos(angle), s = af sin(angle).
// Dims >= rot pass through (partial rotary). cos and sin come from lib_trig.wgsl (not the
// builtins, which are good to ~1e-4 only on SwiftShader).
// One invocation per (t, h, i); WG = 64; 2-D grid, linear id.
// Bindings: 0 uniform Params; 1 X [T, H, hd] f32; 2 F inv_freq [rot/2] f32.
struct Params { T: u32, H: u32, hd: u32, rot: u32, pos0: u32, style: u32, af: f32, p0: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read> F: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let half = P.rot / 2u;
  let g = (wid.x + wid.y * nw.x) * WG + lid;
  if (g >= P.T * P.H * half) { return; }
  let i = g % half;
  let th = g / half;
  let t = th / P.H;
  let cs = cos_sin(f32(P.pos0 + t) * F[i]) * P.af;
  let c = cs.x;
  let s = cs.y;
  let base = th * P.hd;
  let a = base + select(i, 2u * i, P.style != 0u);
  let b = base + select(i + half, 2u * i + 1u, P.style != 0u);
  let x1 = X[a];
  let x2 = X[b];
  X[a] = x1 * c - x2 * s;
  X[b] = x2 * c + x1 * s;
}
