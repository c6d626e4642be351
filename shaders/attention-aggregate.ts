/**
 * WGSL: DAAM aggregation of one layer's running sums into per-token maps.
 * TypeScript reference: aggregateTokenMaps (src/lib/attention/aggregate.ts).
 *
 *   maps[i, y, x] += weight · Σ_{h ∈ heads} max(0, Σ_{a,b} wy[y,a] · wx[x,b] · sums[h, ry[y,a]·w + cx[x,b], tokens[i]])
 *
 * i.e. each (head, token) map is upsampled bicubically (taps from cubicTaps: 4 clamped indices
 * and 4 weights per output row/column), clamped at 0, and added with weight 1 / (number of
 * (layer, head) maps averaged): run once per kept layer to get the mean over layers × heads.
 * One invocation per output pixel (x, y) and token i (global z).
 */

export const AGGREGATE_WORKGROUP = [8, 8] as const;

/** Bytes of the params uniform: height, width (of the layer), outH, outW, heads, tokens, headMask (u32), weight (f32). */
export const AGGREGATE_PARAMS_BYTES = 32;

/** The kernel's source for `tokens` context tokens per map (77). */
export function attentionAggregateWgsl(tokens = 77): string {
  return /* wgsl */ `
const TOKENS: u32 = ${tokens}u;

struct Params {
  height: u32,
  width: u32,
  outH: u32,
  outW: u32,
  heads: u32,
  count: u32,
  headMask: u32,
  weight: f32,
}

@group(0) @binding(0) var<storage, read> sums: array<f32>;
@group(0) @binding(1) var<storage, read> tokenIndex: array<u32>;
@group(0) @binding(2) var<storage, read> rowIndex: array<u32>;
@group(0) @binding(3) var<storage, read> rowWeight: array<f32>;
@group(0) @binding(4) var<storage, read> colIndex: array<u32>;
@group(0) @binding(5) var<storage, read> colWeight: array<f32>;
@group(0) @binding(6) var<storage, read_write> maps: array<f32>;
@group(0) @binding(7) var<uniform> params: Params;

@compute @workgroup_size(${AGGREGATE_WORKGROUP[0]}, ${AGGREGATE_WORKGROUP[1]})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let x = gid.x;
  let y = gid.y;
  let i = gid.z;
  if (x >= params.outW || y >= params.outH || i >= params.count) { return; }
  let t = tokenIndex[i];
  let pixels = params.height * params.width;
  var acc = 0.0;
  for (var h = 0u; h < params.heads; h++) {
    if ((params.headMask & (1u << h)) == 0u) { continue; }
    var v = 0.0;
    for (var a = 0u; a < 4u; a++) {
      let row = rowIndex[y * 4u + a] * params.width;
      var r = 0.0;
      for (var b = 0u; b < 4u; b++) {
        r = r + colWeight[x * 4u + b] * sums[(h * pixels + row + colIndex[x * 4u + b]) * TOKENS + t];
      }
      v = v + rowWeight[y * 4u + a] * r;
    }
    acc = acc + max(v, 0.0);
  }
  let o = (i * params.outH + y) * params.outW + x;
  maps[o] = maps[o] + params.weight * acc;
}
`;
}
