// glu.wgsl -- gated activation y[i] = act(gate[i]) * up[i], i < n:
//   act 0 SiLU: g / (1 + exp(-g));  act 1 GELU-tanh: 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3)));
//   act 2 gpt-oss's clamped SwiGLU (dp_op_glu_clamp): y = (clamp(u, -lim, lim) + 1) g / (1 + exp(-alpha g)),
//   g = min(gate, lim), with alpha = bitcast<f32>(p0), lim = bitcast<f32>(p1).
// One invocation per element; WG = 256; 2-D grid, linear id.
// Bindings: 0 uniform Params; 1 G [n]; 2 U [n]; 3 Y [n] (main only). All f32.
// Entry points: main (y separate), inplace (result written over G).
struct Params { n: u32, act: u32, p0: u32, p1: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> U: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

fn tanh_safe(x: f32) -> f32 { // tanh without inf/inf for large |x|
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}
fn act_up(g: f32, u: f32) -> f32 {
  if (P.act == 2u) {
    let lim = bitcast<f32>(P.p1);
    let gc = min(g, lim);
    return (clamp(u, -lim, lim) + 1.0) * gc / (1.0 + exp(-bitcast<f32>(P.p0) * gc));
  }
  return act(g) * u;
}
fn act(g: f32) -> f32 {
  if (P.act == 0u) { return g / (1.0 + exp(-g)); }
  return 0.5 * g * (1.0 + tanh_safe(0.7978845608028654 * (g + 0.044715 * g * g * g)));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nw.x) * WG + lid;
  if (i < P.n) { Y[i] = act_up(G[i], U[i]); }
}

@compute @workgroup_size(WG)
fn inplace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nw.x) * WG + lid;
  if (i < P.n) { G[i] = act_up(G[i], U[i]); }
}
