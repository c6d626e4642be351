/**
 * Harness for test/browser/attention-*.test.ts: the WGSL attention kernels (shaders/) on the
 * page's WebGPU adapter (SwiftShader in the tests). Inputs arrive as plain arrays from the test,
 * outputs go back as plain arrays; the test compares them with the TypeScript reference in Node.
 */
import { mount, unmount } from 'svelte';
import { AttentionGpu } from '../../../shaders/attention-runner.ts';
import AttentionView from '../../../src/ui/AttentionView.svelte';
import type { TokenMaps, WordTokens } from '../../../src/lib/attention/index.ts';
import type { QFormat } from '../../../shaders/attention-probs.ts';

let gpu: AttentionGpu | null = null;

async function runner(): Promise<AttentionGpu> {
  if (gpu) return gpu;
  if (!navigator.gpu) throw new Error('navigator.gpu is missing: start Chromium with --enable-unsafe-webgpu');
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter');
  gpu = new AttentionGpu(await adapter.requestDevice());
  return gpu;
}

function upload(g: AttentionGpu, data: Float32Array | Uint16Array): GPUBuffer {
  const size = Math.ceil(data.byteLength / 16) * 16;
  const b = g.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  const padded = new Uint8Array(size);
  padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  g.device.queue.writeBuffer(b, 0, padded);
  return b;
}

interface ProbsCase {
  heads: number;
  headSize: number;
  pixels: number;
  tokens: number;
  /** Per-head transposed K [heads, headSize, tokens]. */
  kT: number[];
  /** One entry per step: Q values (f32) or half bit patterns (f16), and the cond branch's first element. */
  steps: { q: number[]; qOffset: number }[];
  format: QFormat;
}

/** Accumulates every step with the probabilities kernel; returns the running sums. */
async function runProbs(c: ProbsCase): Promise<number[]> {
  const g = await runner();
  const layer = g.createLayer(c, Float32Array.from(c.kT));
  for (const s of c.steps) {
    const q = upload(g, c.format === 'f32' ? Float32Array.from(s.q) : Uint16Array.from(s.q));
    g.accumulate(layer, q, s.qOffset, c.format);
    q.destroy(); // as the worker disposes ORT's Q tensors right after accumulate
  }
  return Array.from(await g.readSums(layer));
}

interface AggregateCase {
  layers: { heads: number; height: number; width: number; tokens: number; sums: number[] }[];
  tokens: number[];
  outH: number;
  outW: number;
  heads?: number[];
}

/** DAAM maps with the aggregation kernel from given running sums. */
async function runAggregate(c: AggregateCase): Promise<number[]> {
  const g = await runner();
  const layers = c.layers.map((l) => {
    const layer = g.createLayer({ heads: l.heads, headSize: 1, pixels: l.height * l.width, tokens: l.tokens }, new Float32Array(l.heads * l.tokens));
    g.device.queue.writeBuffer(layer.sums, 0, Float32Array.from(l.sums));
    return { layer, height: l.height, width: l.width };
  });
  return Array.from(await g.aggregate(layers, c.tokens, c.outH, c.outW, c.heads));
}

interface ViewPanel {
  label: string;
  image: { width: number; height: number; rgba: number[] };
  maps: { height: number; width: number; tokens: number[]; maps: number[]; averaged: number; steps: number };
}

let view: ReturnType<typeof mount> | null = null;

/** Mounts AttentionView with plain-array props (replacing a previous one). */
function mountView(props: { words: WordTokens[]; panels: ViewPanel[] }): void {
  if (view) unmount(view);
  let host = document.getElementById('view');
  if (!host) {
    host = document.createElement('div');
    host.id = 'view';
    document.body.append(host);
  }
  const panels = props.panels.map((p) => ({
    label: p.label,
    image: { ...p.image, rgba: Uint8ClampedArray.from(p.image.rgba) },
    maps: { ...p.maps, maps: Float32Array.from(p.maps.maps) } satisfies TokenMaps,
  }));
  view = mount(AttentionView, { target: host, props: { words: props.words, panels } });
}

(window as unknown as { harness: object }).harness = { runProbs, runAggregate, mountView };
(window as unknown as { harnessReady: boolean }).harnessReady = true;
