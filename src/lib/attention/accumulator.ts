/**
 * Running sums of cross-attention probabilities over denoising steps, one per layer, on the CPU
 * (the WASM path, and the reference of the WebGPU runner). DAAM sums, never averages, and never
 * stores single steps: memory is Σ_layers heads · H·W · 77 floats (66 MB for SD 1.x at 64²).
 */
import type { CrossAttentionSite } from '../onnx/index.ts';
import { accumulateProbabilities, contextKeys, keysPerHeadTransposed, type AttentionShape } from './probabilities.ts';

/** What a layer needs to be known by: a subset of the ONNX layer's CrossAttentionSite. */
export type AttentionSiteInfo = Pick<CrossAttentionSite, 'name' | 'level' | 'heads' | 'headSize' | 'qTensor'>;

/** One layer's running sum. */
export interface AttentionLayerSums {
  /** Transformer block, e.g. 'down_blocks.0.attentions.0.transformer_blocks.0'. */
  name: string;
  /** 0 = full latent resolution, 1 = /2, 2 = /4, 3 = /8 (SD's mid block). */
  level: number;
  heads: number;
  /** Spatial grid of the layer's queries (height · width = pixels). */
  height: number;
  width: number;
  /** Σ over captured steps of P [heads, height·width, tokens] (row-major). */
  sums: Float32Array;
}

/** Everything captured for one image: plain data (structured-cloneable, transferable sums). */
export interface AttentionMaps {
  latentHeight: number;
  latentWidth: number;
  /** Context tokens per map (77). */
  tokens: number;
  /** Step indices (0-based, scheduler order) that were summed. */
  steps: number[];
  layers: AttentionLayerSums[];
}

/**
 * Grid size at a resolution level: SD's downsamplers (3×3 conv, stride 2, padding 1) give
 * ceil(n / 2) per level.
 */
export function levelSize(latent: number, level: number): number {
  let n = latent;
  for (let i = 0; i < level; i++) n = Math.ceil(n / 2);
  return n;
}

/** Options of {@link AttentionAccumulator}. */
export interface AccumulatorOptions {
  /** Step indices to sum (default: every step). Running sums cannot be split afterwards. */
  steps?: number[];
  /** Resolution levels to capture (default: all; aggregation drops level 3 anyway). */
  levels?: number[];
}

interface Layer {
  info: AttentionLayerSums;
  shape: AttentionShape;
  /** Per-head transposed K [heads, headSize, tokens]. */
  kT: Float32Array;
}

/** Running sums of the conditional branch's probabilities for every captured layer. */
export class AttentionAccumulator {
  private readonly layers = new Map<string, Layer>();
  private readonly steps: number[] = [];
  private readonly stepFilter: Set<number> | null;

  /**
   * @param sites the UNet's cross-attention sites (with levels)
   * @param keys K = context · W_k per site name, [tokens, heads·headSize] (see {@link contextKeys})
   * @param latentHeight latent grid (64 for SD 1.x at 512 px)
   */
  constructor(
    sites: AttentionSiteInfo[],
    keys: Map<string, Float32Array>,
    readonly latentHeight: number,
    readonly latentWidth: number,
    readonly tokens: number,
    options: AccumulatorOptions = {},
  ) {
    this.stepFilter = options.steps ? new Set(options.steps) : null;
    for (const s of sites) {
      if (s.level === null) throw new Error(`cross-attention site ${s.name} has no resolution level; attention maps need down_blocks/mid_block/up_blocks names`);
      if (options.levels && !options.levels.includes(s.level)) continue;
      const k = keys.get(s.name);
      if (!k) throw new Error(`no K for cross-attention site ${s.name}: compute context · W_k for every site`);
      const [height, width] = [levelSize(latentHeight, s.level), levelSize(latentWidth, s.level)];
      const shape: AttentionShape = { heads: s.heads, headSize: s.headSize, pixels: height * width, tokens };
      this.layers.set(s.qTensor, {
        info: { name: s.name, level: s.level, heads: s.heads, height, width, sums: new Float32Array(s.heads * height * width * tokens) },
        shape,
        kT: keysPerHeadTransposed(k, shape),
      });
    }
  }

  /** Builds the keys from one prompt's context [tokens, contextDim] and each site's W_k [contextDim, inner]. */
  static keysFor(sites: (AttentionSiteInfo & { contextDim: number })[], context: Float32Array, tokens: number, wk: Map<string, Float32Array>): Map<string, Float32Array> {
    const keys = new Map<string, Float32Array>();
    for (const s of sites) {
      const w = wk.get(s.name);
      if (!w) throw new Error(`no W_k for cross-attention site ${s.name}`);
      keys.set(s.name, contextKeys(context, tokens, w, s.contextDim, s.heads * s.headSize));
    }
    return keys;
  }

  /** Names of the Q tensors to fetch from the UNet (captured layers only). */
  qTensorNames(): string[] {
    return [...this.layers.keys()];
  }

  /** True when step `step` is to be captured. */
  wants(step: number): boolean {
    return this.stepFilter === null || this.stepFilter.has(step);
  }

  /**
   * Adds one step: `q` maps each captured Q tensor name to its values [batch, H·W, inner];
   * `batchIndex` is the conditional branch's index in that batch (1 when [uncond, cond]).
   */
  accumulate(step: number, q: Map<string, ArrayLike<number>> | Record<string, ArrayLike<number>>, batchIndex: number): void {
    if (!this.wants(step)) return;
    const get = (name: string) => (q instanceof Map ? q.get(name) : q[name]);
    for (const [name, layer] of this.layers) {
      const values = get(name);
      if (!values) throw new Error(`Q tensor '${name}' (${layer.info.name}) was not fetched; fetch every name from qTensorNames()`);
      const per = layer.shape.pixels * layer.shape.heads * layer.shape.headSize;
      if (values.length % per !== 0 || (batchIndex + 1) * per > values.length) {
        throw new Error(`Q of ${layer.info.name} has ${values.length} values; expected batch × [${layer.shape.pixels}, ${per / layer.shape.pixels}] with the conditional branch at index ${batchIndex} (latent ${this.latentHeight}×${this.latentWidth})`);
      }
      accumulateProbabilities(layer.info.sums, values, batchIndex * per, layer.kT, layer.shape);
    }
    this.steps.push(step);
  }

  /** Bytes the running sums hold. */
  byteLength(): number {
    let n = 0;
    for (const l of this.layers.values()) n += l.info.sums.byteLength;
    return n;
  }

  /** The sums so far (shared, not copied). */
  result(): AttentionMaps {
    return { latentHeight: this.latentHeight, latentWidth: this.latentWidth, tokens: this.tokens, steps: [...this.steps], layers: [...this.layers.values()].map((l) => l.info) };
  }
}
