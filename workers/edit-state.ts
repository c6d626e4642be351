/**
 * The worker's erasure state: the current edit (a context map M) and what computing one needs —
 * prompt encodings from the loaded text encoder and, for RECE and export, the UNet's projections.
 */
import {
  deserializeContextMap,
  exportEditedWeights,
  gramOfProjections,
  readSafetensors,
  recoverContextMap,
  runErasure,
  serializeContextMap,
  type ContextMap,
  type EncodedPrompt,
  type EraseRequest,
  type ProjectionWeight,
} from '../src/lib/erasure/index.ts';
import type { EraseSummary } from './diffusion-api.ts';
import { findCrossAttentionSites, indexModel, patchSiteProjection, type ModelSources } from '../src/lib/onnx/index.ts';
import { readCrossAttentionProjections } from './unet-projections.ts';

export interface EditContext {
  /** d: the text encoder's output width. */
  contextWidth: number;
  /** Text encoder output [1,77,d] for a prompt, with its ids. */
  encodePrompt(text: string): Promise<{ ids: Int32Array; hidden: Float32Array }>;
  /** The UNet file(s), to read the 32 to_k/to_v projections on demand. */
  unetSources: ModelSources;
}

/** What importing a published edit did. */
export interface ImportSummary {
  /** 'map': one shared M explains the file; 'weights': the UNet's weights were patched instead. */
  mode: 'map' | 'weights';
  /** Share of the edit one shared M cannot explain (0 = exactly W·M). */
  residual: number;
  message: string;
  tensors: number;
}

/**
 * The current edit is a context map (UCE, TIME, RECE, or an imported W·M) or, for an imported
 * edit that no single M explains, a patched copy of the UNet's weights.
 */
export class EditState {
  private current: ContextMap | null = null;
  /** UNet bytes with imported weights written in, when the edit is not a shared map. */
  patchedUnet: ModelSources | null = null;
  private projections: Promise<ProjectionWeight[]> | null = null;
  private gram: Promise<Float64Array> | null = null;

  constructor(private readonly ctx: EditContext) {}

  /** The current map, or null for the original model. */
  get map(): ContextMap | null {
    return this.current;
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
    this.patchedUnet = null;
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
    this.patchedUnet = null;
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

  /**
   * Import a published edit (a safetensors file of attn2 weights in diffusers names and torch
   * layout [out, in], as the UCE and RECE code save them). Where it is W·M for one M (residual
   * under 10% of the edit), M becomes the current map; otherwise the weights are patched into a
   * copy of the UNet (`patchedUnet`) and the worker runs that for the edited side.
   */
  async importWeights(bytes: Uint8Array): Promise<ImportSummary> {
    const file = readSafetensors(bytes);
    const projections = await this.readProjections();
    const known = new Set(projections.map((w) => w.name));
    const inFile = [...file.tensors.keys()];
    const ours = inFile.filter((n) => known.has(n));
    const others = inFile.filter((n) => !known.has(n));
    if (!ours.length) {
      throw new Error(
        `This file has no attn2 to_k/to_v weights this model knows (it has ${inFile.slice(0, 4).join(', ')}${inFile.length > 4 ? ', …' : ''}). ` +
          `Expected diffusers names such as ${projections[0]?.name}.`,
      );
    }
    if (others.length) {
      throw new Error(
        `This file also changes ${others.length} tensor${others.length > 1 ? 's' : ''} other than attn2 to_k/to_v (e.g. ${others[0]}); ` +
          `the app imports only cross-attention key/value edits (UCE, TIME, RECE, ESD-x-strict).`,
      );
    }
    if (ours.length === projections.length) {
      const recovered = recoverContextMap(projections, file.tensors);
      if (recovered.shared) {
        this.current = recovered.map;
        this.patchedUnet = null;
        return { mode: 'map', residual: recovered.residualOfEdit, message: recovered.message, tensors: ours.length };
      }
    }
    // Not one shared map (or only some projections): write the weights into the UNet itself.
    let sources = this.ctx.unetSources;
    const index = await indexModel(sources.model, sources.externalData ? { externalData: sources.externalData } : {});
    for (const site of findCrossAttentionSites(index)) {
      for (const which of ['k', 'v'] as const) {
        const t = file.tensors.get(`${site.name}.attn2.to_${which}.weight`);
        if (!t) continue;
        const [out, d] = t.shape as [number, number];
        const stored = new Float32Array(d * out); // ONNX layout [in, out] = transpose
        for (let o = 0; o < out; o++) for (let i = 0; i < d; i++) stored[i * out + o] = t.data[o * d + i]!;
        sources = await patchSiteProjection(site, which, stored, sources);
      }
    }
    this.current = null;
    this.patchedUnet = sources;
    return {
      mode: 'weights',
      residual: 1,
      message: `not one shared context map: ${ours.length} projections patched into the UNet's weights (a second UNet session holds them)`,
      tensors: ours.length,
    };
  }

  /** W·M for all 32 projections as a safetensors file (diffusers names, [out, in]). */
  async exportWeights(dtype: 'F32' | 'F16'): Promise<Uint8Array> {
    if (!this.current) throw new Error('There is no edit to export: erase a concept first.');
    return exportEditedWeights(await this.readProjections(), this.current, dtype);
  }
}
