/**
 * The UNet's 32 cross-attention projections (attn2 to_k and to_v of 16 blocks) as the erasure
 * engine takes them: RECE needs G = Σ WᵀW, exporting an edit needs every W. Read through the
 * ONNX index, so any export style works (plain, fused, packed KV) and nothing else is copied.
 */
import { findCrossAttentionSites, indexModel, readSiteProjection, type ModelSources } from '../src/lib/onnx/index.ts';
import type { ProjectionWeight } from '../src/lib/erasure/index.ts';

/**
 * Every attn2 to_k/to_v weight, [in = d, out] as ONNX stores it, named as diffusers names it
 * (`down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight`).
 */
export async function readCrossAttentionProjections(sources: ModelSources): Promise<ProjectionWeight[]> {
  const index = await indexModel(sources.model, sources.externalData ? { externalData: sources.externalData } : {});
  const sites = findCrossAttentionSites(index);
  const out: ProjectionWeight[] = [];
  for (const site of sites) {
    for (const which of ['k', 'v'] as const) {
      const m = await readSiteProjection(site, which, sources);
      out.push({ name: `${site.name}.attn2.to_${which}.weight`, layout: 'onnx', rows: m.rows, cols: m.cols, data: m.data });
    }
  }
  return out;
}
