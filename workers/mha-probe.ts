/**
 * Runs the MultiHeadAttention probe (src/lib/onnx/mha-model.ts) on one engine and judges it
 * against float64 (src/lib/models/attention-check.ts), before a fused UNet is trusted to that
 * engine. One tiny session per distinct head shape; nothing is kept.
 */
import { multiHeadAttentionModel, type AttentionProbeShape } from '../src/lib/onnx/mha-model.ts';
import { attentionProbeInputs, judgeAttention, multiHeadAttentionReference, type AttentionCheck } from '../src/lib/models/attention-check.ts';
import type { Provider } from '../src/lib/models/provider.ts';
import type { Ort } from './ort-runtime.ts';

/** The verdict for each shape (the first failing one is enough to distrust the engine). */
export async function checkMultiHeadAttention(ort: Ort, provider: Provider, shapes: AttentionProbeShape[]): Promise<AttentionCheck[]> {
  const checks: AttentionCheck[] = [];
  for (const shape of shapes) {
    const session = await ort.InferenceSession.create(multiHeadAttentionModel(shape), { executionProviders: [provider] });
    try {
      const { q, k, v } = attentionProbeInputs(shape);
      const c = shape.heads * shape.headSize;
      const out = await session.run({
        q: new ort.Tensor('float32', q, [1, shape.queries, c]),
        k: new ort.Tensor('float32', k, [1, shape.keys, c]),
        v: new ort.Tensor('float32', v, [1, shape.keys, c]),
      });
      const data = (await out['out']!.getData()) as Float32Array;
      out['out']!.dispose();
      const check = judgeAttention(shape, data, multiHeadAttentionReference(q, k, v, shape));
      checks.push(check);
      if (!check.ok) break;
    } finally {
      await session.release();
    }
  }
  return checks;
}

/** What a failed check means, for the engine line. */
export function describeFailedCheck(check: AttentionCheck, adapter: string): string {
  const { heads, headSize, queries, keys } = check.shape;
  return `onnxruntime-web's WebGPU MultiHeadAttention gives wrong results on this adapter (${adapter}): ` +
    `max error ${check.maxError.toPrecision(2)} against float64 on a ${heads}-head × ${headSize} probe (${queries} queries, ${keys} keys)`;
}
