/**
 * WGSL: the context map x·Mᵀ applied where the context lives, on the GPU (issue 5: "a tiny
 * kernel when the context lives there"). TypeScript reference: applyContextMap
 * (src/lib/erasure/context-map.ts). Two kernels cover every map kind:
 *
 *   project   c[r, o] = Σ_j x[r, j] · B[o, j]                 (f32 out, [rows, n])
 *   combine   y[r, j] = base[r, j] + Σ_q c[r, q] · F[q, j]     (out in the UNet's dtype)
 *
 *   low rank M = I + U·Vᵀ:  c = project(x, Vᵀ), y = combine(x, c, Uᵀ)     (2 passes, k columns)
 *   dense M:                c = project(x, M),  y = combine(c, none)       (2 passes, d columns)
 *   identity:               y = combine(x, none)                           (a copy / dtype cast)
 *
 * float16 tensors (fp16 text encoders and UNets) are read and written as packed u32 pairs with
 * unpack2x16float / pack2x16float, which are core WGSL and need no `shader-f16`; `combine` thus
 * writes two adjacent columns per invocation (d is even for every CLIP width). Row r of `y` is
 * written at element `outOffset + r·d`, so the two guidance branches can share one buffer.
 */

/** Element type of a tensor buffer. */
export type TensorFormat = 'f32' | 'f16';

export const CONTEXT_MAP_WORKGROUP = 64;

/** Bytes of each kernel's params uniform (four u32, padded to 16). */
export const CONTEXT_MAP_PARAMS_BYTES = 16;

/** WGSL that reads element i of `name` (declared as array<f32> or packed array<u32>). */
function reader(name: string, format: TensorFormat): string {
  return format === 'f32'
    ? `fn read_${name}(i: u32) -> f32 { return ${name}[i]; }`
    : `fn read_${name}(i: u32) -> f32 { let pair = unpack2x16float(${name}[i >> 1u]); return select(pair.x, pair.y, (i & 1u) == 1u); }`;
}

const decl = (format: TensorFormat) => (format === 'f32' ? 'array<f32>' : 'array<u32>');

/**
 * `project`: one invocation per (row r = global y, output column o = global x).
 * Params: rows, width d of x, n output columns, xOffset (elements).
 */
export function projectWgsl(xFormat: TensorFormat): string {
  return /* wgsl */ `
struct Params { rows: u32, d: u32, n: u32, xOffset: u32 }
@group(0) @binding(0) var<storage, read> x: ${decl(xFormat)};
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
${reader('x', xFormat)}

@compute @workgroup_size(${CONTEXT_MAP_WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let o = id.x;
  let r = id.y;
  if (o >= params.n || r >= params.rows) { return; }
  let d = params.d;
  var s = 0.0;
  for (var j = 0u; j < d; j++) {
    s += read_x(params.xOffset + r * d + j) * b[o * d + j];
  }
  c[r * params.n + o] = s;
}
`;
}

/**
 * `combine`: one invocation per (row r = global y, column pair 2m, 2m+1 = global x).
 * Params: rows, width d, k factors (0: y = base), outOffset (elements, even).
 */
export function combineWgsl(baseFormat: TensorFormat, outFormat: TensorFormat): string {
  const write =
    outFormat === 'f32'
      ? 'y[o] = s0;\n  y[o + 1u] = s1;'
      : 'y[o >> 1u] = pack2x16float(vec2<f32>(s0, s1));';
  return /* wgsl */ `
struct Params { rows: u32, d: u32, k: u32, outOffset: u32 }
@group(0) @binding(0) var<storage, read> base: ${decl(baseFormat)};
@group(0) @binding(1) var<storage, read> c: array<f32>;
@group(0) @binding(2) var<storage, read> f: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: ${decl(outFormat)};
@group(0) @binding(4) var<uniform> params: Params;
${reader('base', baseFormat)}

@compute @workgroup_size(${CONTEXT_MAP_WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let j = id.x * 2u;
  let r = id.y;
  let d = params.d;
  if (j >= d || r >= params.rows) { return; }
  var s0 = read_base(r * d + j);
  var s1 = read_base(r * d + j + 1u);
  for (var q = 0u; q < params.k; q++) {
    let cq = c[r * params.k + q];
    s0 += cq * f[q * d + j];
    s1 += cq * f[q * d + j + 1u];
  }
  let o = params.outOffset + r * d + j;
  ${write}
}
`;
}
