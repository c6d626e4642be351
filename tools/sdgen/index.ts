/**
 * sdgen: small (or full-size) Stable Diffusion pipelines with random weights as REAL ONNX files,
 * with the input/output names, dtypes and node naming of the real exports. See unet.ts for the
 * export styles. Node-only (writePipeline uses node:fs); the generate* functions are pure.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MS_DOMAIN } from '../../src/lib/onnx/schema.ts';
import { encodeModel, encodeModelChunks, type EncodeOptions } from './onnx-writer.ts';
import { resolveSpec, textEncoderConfig, unetConfig, vaeConfig, type PipelineSpec, type ResolvedSpec, type TextEncoderConfig, type UnetConfig, type VaeConfig } from './config.ts';
import { buildTextEncoder } from './text-encoder.ts';
import { buildUnet } from './unet.ts';
import { buildVaeDecoder } from './vae.ts';
import type { Net } from './net.ts';

export { resolveSpec, textEncoderConfig, unetConfig, vaeConfig } from './config.ts';
export type { PipelineSpec, ResolvedSpec, ExportStyle, ComputeDtype, SizePreset } from './config.ts';

/** One generated model: the .onnx bytes, the external data file (UNet with externalData), the config. */
export interface GeneratedModel<C> {
  model: Uint8Array;
  externalData?: { location: string; bytes: Uint8Array };
  config: C;
}

/** Name of the UNet's external data file. */
export const EXTERNAL_DATA_FILE = 'weights.pb';

/** The CLIP text encoder: input_ids int32 [batch, 77] → last_hidden_state float32 [batch, 77, D]. */
export function generateTextEncoder(spec: PipelineSpec = {}): GeneratedModel<TextEncoderConfig> {
  const s = resolveSpec(spec);
  const config = textEncoderConfig(s.size);
  return { model: encodeModel(buildTextEncoder(config, s.dtype, s.seed).g, encodeOptions(s, false)).model, config };
}

/** The UNet (sample, timestep, encoder_hidden_states → out_sample); external data if asked. */
export function generateUnet(spec: PipelineSpec = {}): GeneratedModel<UnetConfig> {
  const s = resolveSpec(spec);
  const config = unetConfig(s.size);
  const encoded = encodeModel(buildUnet(config, s).g, encodeOptions(s, s.externalData, true));
  const out: GeneratedModel<UnetConfig> = { model: encoded.model, config };
  if (encoded.externalData) out.externalData = { location: EXTERNAL_DATA_FILE, bytes: encoded.externalData };
  return out;
}

/** The VAE decoder: latent_sample float32 [batch, 4, h, w] → sample float32 [batch, 3, 8h, 8w]. */
export function generateVaeDecoder(spec: PipelineSpec = {}): GeneratedModel<VaeConfig> {
  const s = resolveSpec(spec);
  const config = vaeConfig(s.size);
  return { model: encodeModel(buildVaeDecoder(config, s.dtype, s.seed).g, encodeOptions(s, false)).model, config };
}

/** Contents of `pipeline.json`. */
export interface PipelineManifest {
  generator: 'sdgen';
  /** Hash of the generator's sources: a changed generator never reuses old files. */
  generatorHash: string;
  spec: ResolvedSpec;
  d: number;
  channels: number[];
  heads: number;
  latentSize: number;
  style: ResolvedSpec['style'];
  dtype: ResolvedSpec['dtype'];
  seed: number;
  timestepDtype: ResolvedSpec['timestepDtype'];
  vaeScalingFactor: number;
  files: { textEncoder: string; unet: string; unetExternalData?: string; vaeDecoder: string };
  textEncoder: TextEncoderConfig;
  unet: UnetConfig;
  vae: VaeConfig;
}

/** The manifest `writePipeline(dir, spec)` writes (without touching the disk). */
export function pipelineManifest(spec: PipelineSpec = {}): PipelineManifest {
  const s = resolveSpec(spec);
  const unet = unetConfig(s.size);
  const vae = vaeConfig(s.size);
  return {
    generator: 'sdgen',
    generatorHash: generatorHash(),
    spec: s,
    d: unet.crossAttentionDim,
    channels: unet.blockOutChannels,
    heads: unet.heads,
    latentSize: s.latentSize,
    style: s.style,
    dtype: s.dtype,
    seed: s.seed,
    timestepDtype: s.timestepDtype,
    vaeScalingFactor: vae.scalingFactor,
    files: {
      textEncoder: 'text_encoder/model.onnx',
      unet: 'unet/model.onnx',
      ...(s.externalData ? { unetExternalData: `unet/${EXTERNAL_DATA_FILE}` } : {}),
      vaeDecoder: 'vae_decoder/model.onnx',
    },
    textEncoder: textEncoderConfig(s.size),
    unet,
    vae,
  };
}

/**
 * Writes dir/text_encoder/model.onnx, dir/unet/model.onnx (+ weights.pb), dir/vae_decoder/model.onnx
 * and dir/pipeline.json. Skips (returns false) when dir/pipeline.json already matches the spec
 * and generator and every file exists. Streams chunks to disk: a 3.4 GB sd15 UNet is never
 * copied into one buffer.
 */
export function writePipeline(dir: string, spec: PipelineSpec = {}, log: (line: string) => void = () => {}): boolean {
  const manifest = pipelineManifest(spec);
  const s = manifest.spec;
  if (isUpToDate(dir, manifest)) return false;
  const models: [string, () => Net, boolean][] = [
    ['text_encoder', () => buildTextEncoder(manifest.textEncoder, s.dtype, s.seed), false],
    ['unet', () => buildUnet(manifest.unet, s), true],
    ['vae_decoder', () => buildVaeDecoder(manifest.vae, s.dtype, s.seed), false],
  ];
  for (const [name, build, isUnet] of models) {
    const external = isUnet && s.externalData;
    const started = performance.now();
    const sub = join(dir, name);
    mkdirSync(sub, { recursive: true });
    const chunks = encodeModelChunks(build().g, encodeOptions(s, external, isUnet));
    const modelBytes = writeChunks(join(sub, 'model.onnx'), chunks.model);
    const dataBytes = chunks.externalData ? writeChunks(join(sub, EXTERNAL_DATA_FILE), chunks.externalData) : 0;
    log(`${name}: model.onnx ${modelBytes} bytes${chunks.externalData ? `, ${EXTERNAL_DATA_FILE} ${dataBytes} bytes` : ''} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  writeFileSync(join(dir, 'pipeline.json'), JSON.stringify(manifest, null, 2) + '\n');
  return true;
}

function isUpToDate(dir: string, manifest: PipelineManifest): boolean {
  const path = join(dir, 'pipeline.json');
  if (!existsSync(path)) return false;
  try {
    const old = readFileSync(path, 'utf8');
    if (old !== JSON.stringify(manifest, null, 2) + '\n') return false;
  } catch {
    return false;
  }
  return Object.values(manifest.files).every((f) => existsSync(join(dir, f)));
}

function writeChunks(path: string, chunks: Uint8Array[]): number {
  const fd = openSync(path, 'w');
  let total = 0;
  try {
    for (const c of chunks) {
      let off = 0;
      while (off < c.byteLength) off += writeSync(fd, c, off, c.byteLength - off);
      total += c.byteLength;
    }
  } finally {
    closeSync(fd);
  }
  return total;
}

/** Opset 17; the UNet of a fused style also imports com.microsoft 1 (pass `unet`). */
function encodeOptions(s: ResolvedSpec, external: boolean, unet = false): EncodeOptions {
  const opsets: Record<string, number> = { '': 17 };
  if (unet && s.style !== 'plain') opsets[MS_DOMAIN] = 1;
  return { opsets, irVersion: 8, producerName: 'erasure-lab sdgen', externalData: external ? { location: EXTERNAL_DATA_FILE, sizeThreshold: 1024 } : undefined };
}

let cachedHash: string | undefined;

/** FNV-1a of the generator's own source files, so stale generated files are detected. */
export function generatorHash(): string {
  if (cachedHash) return cachedHash;
  const files = ['onnx-writer.ts', 'graph-builder.ts', 'rng.ts', '../../src/lib/onnx/fp16.ts', '../../src/lib/onnx/encode.ts', 'config.ts', 'net.ts', 'layers.ts', 'text-encoder.ts', 'unet.ts', 'unet-attention.ts', 'vae.ts', 'index.ts'];
  let h = 0x811c9dc5;
  for (const f of files) {
    const text = readFileSync(new URL(f, import.meta.url), 'utf8');
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  }
  cachedHash = h.toString(16).padStart(8, '0');
  return cachedHash;
}
