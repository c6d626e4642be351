/**
 * The worker's erasure state: the current edit (a context map M) and what computing one needs —
 * prompt encodings from the loaded text encoder and, for RECE and export, the UNet's projections.
 */
import {
  applyContextMap,
  deserializeContextMap,
  exportEditedWeights,
  gramOfProjections,
  runErasure,
  serializeContextMap,
  type ContextMap,
  type EncodedPrompt,
  type EraseRequest,
  type ProjectionWeight,
} from '../src/lib/erasure/index.ts';
import type { EraseSummary } from './diffusion-api.ts';
import type { ModelSources } from '../src/lib/onnx/index.ts';
import { readCrossAttentionProjections } from './unet-projections.ts';

export interface EditContext {
  /** d: the text encoder's output width. */
  contextWidth: number;
  /** Text encoder output [1,77,d] for a prompt, with its ids. */
  encodePrompt(text: string): Promise<{ ids: Int32Array; hidden: Float32Array }>;
  /** The UNet file(s), to read the 32 to_k/to_v projections on demand. */
  unetSources: ModelSources;
}

export class EditState {
  private current: ContextMap | null = null;
  private projections: Promise<ProjectionWeight[]> | null = null;
  private gram: Promise<Float64Array> | null = null;

  constructor(private readonly ctx: EditContext) {}

  /** The current map, or null for the original model. */
  get map(): ContextMap | null {
    return this.current;
  }

  /** Context [B,77,d] as the edited model sees it: x·Mᵀ (unchanged without an edit). */
  apply(context: Float32Array, batch: number): Float32Array {
    return this.current ? applyContextMap(this.current, context, [batch, 77, this.ctx.contextWidth]) : context;
  }

  private readProjections(): Promise<ProjectionWeight[]> {
    this.projections ??= readCrossAttentionProjections(this.ctx.unetSources);
    return this.projections;
  }

  /** Compute an erasure and make it current. */
  async erase(request: EraseRequest): Promise<EraseSummary> {
    const t0 = performance.now();
    const encode = async (texts: string[]): Promise<EncodedPrompt[]> => {
      const out: EncodedPrompt[] = [];
      for (const text of texts) {
        const { ids, hidden } = await this.ctx.encodePrompt(text);
        out.push({ text, ids, hidden, d: this.ctx.contextWidth });
      }
      return out;
    };
    const gram = () => (this.gram ??= this.readProjections().then(gramOfProjections));
    const outcome = await runErasure(request, encode, gram);
    this.current = outcome.map;
    return {
      method: outcome.method,
      ms: performance.now() - t0,
      diagnostics: outcome.diagnostics,
      stages: outcome.stages.map((s) => ({ label: s.label, rank: s.result.diagnostics.rank, conditionNumber: s.result.diagnostics.conditionNumber })),
      map: serializeContextMap(outcome.map, 'float32'),
    };
  }

  /** Replace the current edit with a saved one (validated), or clear it with null. */
  set(json: string | null): { rank: number } | null {
    if (json === null) {
      this.current = null;
      return null;
    }
    const map = deserializeContextMap(json);
    if (map.d !== this.ctx.contextWidth) {
      throw new Error(`This edit was made for a model with context width ${map.d}; the loaded model has ${this.ctx.contextWidth}. Load the model it was made with.`);
    }
    this.current = map;
    return { rank: map.kind === 'lowrank' ? map.rank : map.kind === 'identity' ? 0 : map.d };
  }

  /** W·M for all 32 projections as a safetensors file (diffusers names, [out, in]). */
  async exportWeights(dtype: 'F32' | 'F16'): Promise<Uint8Array> {
    if (!this.current) throw new Error('There is no edit to export: erase a concept first.');
    return exportEditedWeights(await this.readProjections(), this.current, dtype);
  }
}
