// rope.wgsl -- rotary position embedding, in place on x[T, H, hd]:
//   for t < T, h < H, i < rot/2, angle = f32(pos0 + t) * inv_freq[i] (an f32 product, as HF),
//   (a, b) = (i, i + rot/2) (rotate-half, style 0) or (2i, 2i + 1) (pairs, style 1):
//   x[a] = x[a] c - x[b] s,  x[b] = x[b] c + x[a] s,  c = af cos(angle), s = af sin(angle).
// Dims >= rot pass through (partial rotary). cos and sin are computed here, not by the
// builtins (SwiftShader's are good to ~1e-4 only): the f32 angle is reduced by k quarter turns,
// k = round(angle * 2/pi), with pi/2 = C1 + C2 + C3 (Cody-Waite; k*C1 is exact for k < 83000,
// k*C2 for k < 4133, beyond that the error stays below 4e-6 rad up to angle 1.3e5), then
// Taylor polynomials on |y| <= pi/4 (error < 1e-9) and the quadrant k mod 4.
// One invocation per (t, h, i); WG = 64; 2-D grid, linear id.
// Bindings: 0 uniform Params; 1 X [T, H, hd] f32; 2 F inv_freq [rot/2] f32.
struct Params { T: u32, H: u32, hd: u32, rot: u32, pos0: u32, style: u32, af: f32, p0: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read> F: array<f32>;

fn cos_sin(ang: f32) -> vec2<f32> {
  let k = round(ang * 0.63661977);
  var y = ang - k * 1.5703125;
  y = y - k * 0.0004838705062866211;
  y = y + k * 4.371138828673793e-08;
  let z = y * y;
  let sn = y * (1.0 + z * (-1.0 / 6.0 + z * (1.0 / 120.0 + z * (-1.0 / 5040.0 + z * (1.0 / 362880.0 + z * (-1.0 / 39916800.0))))));
  let cn = 1.0 + z * (-0.5 + z * (1.0 / 24.0 + z * (-1.0 / 720.0 + z * (1.0 / 40320.0 + z * (-1.0 / 3628800.0 + z * (1.0 / 479001600.0))))));
  let q = u32(i32(k) & 3);
  if (q == 0u) { return vec2<f32>(cn, sn); }
  if (q == 1u) { return vec2<f32>(-sn, cn); }
  if (q == 2u) { return vec2<f32>(-cn, -sn); }
  return vec2<f32>(sn, -cn);
}

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
