/**
 * Cross-attention projection weights in and out of the context-map world.
 *
 * Layouts (both row-major float32):
 *   'torch' [out, in]  nn.Linear.weight, safetensors / diffusers state dicts. y = W·c.
 *   'onnx'  [in, out]  the MatMul initializer of an ONNX export (= Wᵀ): y = c·W_onnx.
 * `in` is the context width d. With M the context map, the edited projection is
 *   torch: W·M            onnx: (W·M)ᵀ = Mᵀ·W_onnx
 * and G = Σ_l W_lᵀW_l (d×d) = Σ_l W_onnx,l·W_onnx,lᵀ.
 */
import { cholesky, choleskySolve, type Matrix } from './linalg.ts';
import { denseMap, type ContextMap, type DenseMap } from './context-map.ts';
import { writeSafetensors, type ReadTensor, type SafetensorsDtype } from './safetensors.ts';

export interface ProjectionWeight {
  /** Diffusers parameter name, e.g. down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight */
  name: string;
  layout: 'torch' | 'onnx';
  rows: number;
  cols: number;
  data: Float32Array;
}

/** Context width d (the `in` dimension) and output width of a projection; validates the size. */
export function projectionDims(w: ProjectionWeight): { d: number; out: number } {
  if (w.layout !== 'torch' && w.layout !== 'onnx') throw new Error(`weight ${w.name}: layout must be 'torch' ([out, in]) or 'onnx' ([in, out]), got ${JSON.stringify(w.layout)}`);
  if (w.data.length !== w.rows * w.cols) throw new Error(`weight ${w.name}: ${w.data.length} values but shape ${w.rows}×${w.cols}`);
  return w.layout === 'torch' ? { d: w.cols, out: w.rows } : { d: w.rows, out: w.cols };
}

/** Row o of the torch-layout weight (length d), for either layout. */
function torchRow(w: ProjectionWeight, o: number, d: number, buf: Float64Array): Float64Array {
  if (w.layout === 'torch') for (let i = 0; i < d; i++) buf[i] = w.data[o * d + i];
  else for (let i = 0; i < d; i++) buf[i] = w.data[i * w.cols + o];
  return buf;
}

function commonWidth(weights: ProjectionWeight[]): number {
  if (weights.length === 0) throw new Error('no projection weights given');
  const d = projectionDims(weights[0]).d;
  for (const w of weights) {
    if (projectionDims(w).d !== d) throw new Error(`weight ${w.name} has input width ${projectionDims(w).d}, others have ${d}; pass only attn2.to_k / to_v weights`);
  }
  return d;
}

/** G = Σ_l W_lᵀW_l (d×d row-major float64) over the given projections, in either layout. */
export function gramOfProjections(weights: ProjectionWeight[]): Float64Array {
  const d = commonWidth(weights);
  const G = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (const w of weights) {
    const { out } = projectionDims(w);
    for (let o = 0; o < out; o++) {
      torchRow(w, o, d, row);
      // Upper triangle of the outer product row·rowᵀ; mirrored at the end.
      for (let i = 0; i < d; i++) {
        const ri = row[i];
        if (ri === 0) continue;
        const gi = i * d;
        for (let j = i; j < d; j++) G[gi + j] += ri * row[j];
      }
    }
  }
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) G[i * d + j] = G[j * d + i];
  return G;
}

/** The edited weight W·M in the weight's own layout (torch: W·M, onnx: Mᵀ·W_onnx). */
export function materializeWeight(w: ProjectionWeight, map: ContextMap): Float32Array {
  const { d, out } = projectionDims(w);
  if (d !== map.d) throw new Error(`weight ${w.name} has input width ${d} but the map is ${map.d}×${map.d}`);
  if (map.kind === 'identity') return Float32Array.from(w.data);
  const result = new Float32Array(w.data.length);
  const row = new Float64Array(d), acc = new Float64Array(d);
  const M = map.kind === 'dense' ? map.matrix : null;
  for (let o = 0; o < out; o++) {
    torchRow(w, o, d, row);
    if (M) {
      // (row · M)[j] = Σ_i row[i] M[i][j]
      acc.fill(0);
      for (let i = 0; i < d; i++) {
        const ri = row[i];
        if (ri === 0) continue;
        for (let j = 0; j < d; j++) acc[j] += ri * M[i * d + j];
      }
    } else if (map.kind === 'lowrank') {
      // row · (I + U Vᵀ) = row + Σ_q (row · u_q) v_q
      acc.set(row);
      for (let q = 0; q < map.rank; q++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += row[i] * map.ut[q * d + i];
        for (let j = 0; j < d; j++) acc[j] += s * map.vt[q * d + j];
      }
    }
    if (w.layout === 'torch') for (let j = 0; j < d; j++) result[o * d + j] = acc[j];
    else for (let j = 0; j < d; j++) result[j * out + o] = acc[j];
  }
  return result;
}

/** Diffusers parameter name of an ONNX MatMul node: "/down_blocks.0/…/attn2/to_k/MatMul" → "down_blocks.0.….attn2.to_k.weight". */
export function diffusersWeightName(onnxNodeName: string): string {
  const parts = onnxNodeName.split('/').filter((p) => p !== '');
  if (parts.length < 2 || !/^MatMul(_\d+)?$/.test(parts[parts.length - 1])) {
    throw new Error(`diffusersWeightName: ${JSON.stringify(onnxNodeName)} is not an ONNX MatMul node name like /down_blocks.0/attentions.0/transformer_blocks.0/attn2/to_k/MatMul`);
  }
  return parts.slice(0, -1).join('.') + '.weight';
}

/**
 * Safetensors bytes holding W·M for every projection, named by `name`, shaped [out, in] (torch
 * layout, as UCE's uce_sd_erase.py saves them), stored as F32 (default), F16 or BF16.
 */
export function exportEditedWeights(weights: ProjectionWeight[], map: ContextMap, dtype: SafetensorsDtype = 'F32'): Uint8Array {
  commonWidth(weights);
  const tensors = weights.map((w) => {
    const { d, out } = projectionDims(w);
    const edited = materializeWeight(w, map);
    const torch = w.layout === 'torch' ? edited : transposeF32(edited, d, out);
    return { name: w.name, shape: [out, d], data: torch };
  });
  return writeSafetensors(tensors, { dtype, metadata: { format: 'pt', 'erasure-lab.provenance': JSON.stringify(map.provenance) } });
}

function transposeF32(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

export interface RecoveredMap {
  map: DenseMap;
  /** √(Σ‖W_l M − W'_l‖²) / √(Σ‖W'_l − W_l‖²): the share of the edit one shared M cannot explain. */
  residualOfEdit: number;
  /** √(Σ‖W_l M − W'_l‖²) / √(Σ‖W'_l‖²). */
  residualOfWeights: number;
  shared: boolean;
  message: string;
}

/**
 * Recover the shared context map of an imported edit: M = argmin Σ_l ‖W_l M − W'_l‖²
 * = G⁻¹ Σ_l W_lᵀ W'_l (torch layout). `edited` maps names to [out, in] tensors (readSafetensors).
 * If the residual exceeds `tolerance` (default 0.1 of the edit), the edit is not one shared map.
 */
export function recoverContextMap(originals: ProjectionWeight[], edited: Map<string, ReadTensor>, tolerance = 0.1): RecoveredMap {
  const d = commonWidth(originals);
  const H = new Float64Array(d * d);
  const row = new Float64Array(d);
  const pairs = originals.map((w) => {
    const e = edited.get(w.name);
    if (!e) throw new Error(`recoverContextMap: the edited file has no tensor ${w.name}`);
    const { out } = projectionDims(w);
    if (e.shape.length !== 2 || e.shape[0] !== out || e.shape[1] !== d) throw new Error(`recoverContextMap: ${w.name} is [${e.shape}] in the edited file, expected [${out}, ${d}] (torch layout)`);
    return { w, e: e.data, out };
  });
  for (const { w, e, out } of pairs) {
    for (let o = 0; o < out; o++) {
      torchRow(w, o, d, row);
      for (let i = 0; i < d; i++) {
        const ri = row[i];
        if (ri === 0) continue;
        for (let j = 0; j < d; j++) H[i * d + j] += ri * e[o * d + j];
      }
    }
  }
  const G: Matrix = { rows: d, cols: d, data: gramOfProjections(originals) };
  let L: Matrix;
  try {
    L = cholesky(G);
  } catch {
    throw new Error(`recoverContextMap: Σ WᵀW is singular (the ${originals.length} projections have fewer than d = ${d} independent rows); pass every to_k and to_v weight`);
  }
  const m = choleskySolve(L, { rows: d, cols: d, data: H }).data;
  const map = denseMap(d, m, { method: 'import', params: { layers: originals.length } });
  let res = 0, edit = 0, total = 0;
  for (const { w, e, out } of pairs) {
    const fitted = materializeWeight({ ...w }, map);
    for (let o = 0; o < out; o++) {
      for (let j = 0; j < d; j++) {
        const f = w.layout === 'torch' ? fitted[o * d + j] : fitted[j * out + o];
        const orig = w.layout === 'torch' ? w.data[o * d + j] : w.data[j * out + o];
        const target = e[o * d + j];
        res += (f - target) ** 2; edit += (target - orig) ** 2; total += target ** 2;
      }
    }
  }
  const residualOfEdit = edit === 0 ? 0 : Math.sqrt(res / edit);
  const residualOfWeights = total === 0 ? 0 : Math.sqrt(res / total);
  const shared = residualOfEdit <= tolerance;
  const message = shared
    ? `shared context map recovered (residual ${(residualOfEdit * 100).toFixed(3)}% of the edit)`
    : `not a shared context map; use weight patching (one M explains only ${(100 * (1 - residualOfEdit ** 2)).toFixed(1)}% of the edit's energy, residual ${(residualOfEdit * 100).toFixed(1)}%)`;
  return { map, residualOfEdit, residualOfWeights, shared, message };
}
