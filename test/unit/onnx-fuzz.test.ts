import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs/minimal.js';
import { generateUnet, generateVaeDecoder } from '../../tools/sdgen/index.ts';
import { Attribute, AttributeType, bytesPerElement, Graph, Model, Node } from '../../src/lib/onnx/schema.ts';
import { findCrossAttentionSites, indexModel, OnnxFormatError, type GraphInfo, type ModelIndex, type TensorInfo } from '../../src/lib/onnx/index.ts';
import { prng } from './onnx-helpers.ts';

const vae = generateVaeDecoder({ seed: 1 }).model;
const unet = generateUnet({ style: 'fused', dtype: 'float16', seed: 1, externalData: true });
const ext = unet.externalData!.bytes;
const enc = new TextEncoder();

async function formatError(bytes: Uint8Array | Blob): Promise<OnnxFormatError> {
  const e = await indexModel(bytes).then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(OnnxFormatError);
  return e as OnnxFormatError;
}

describe('bad files give a clear OnnxFormatError', () => {
  it('truncated files say where and to re-download', async () => {
    for (const cut of [vae.length - 1, vae.length >> 1, 40, 3]) {
      const e = await formatError(vae.subarray(0, cut));
      expect(e.message).toMatch(new RegExp(`re-download the file; it looks truncated at ${cut} bytes`));
      expect(e.offset).toBeLessThanOrEqual(cut);
    }
    expect((await formatError(new Uint8Array(0))).message).toMatch(/the file is empty/);
  });

  it('text files, HTML pages, LFS pointers and other binaries are named as such', async () => {
    const cases: [string | Uint8Array, RegExp][] = [
      ['ir_version: 8\nproducer_name: "pytorch"\ngraph {\n  node {\n', /starts with "ir_version: 8.*looks like a text file/],
      ['<!DOCTYPE html><html><body>Access denied</body></html>', /HTML\/XML page/],
      ['version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1732687681\n', /Git LFS pointer/],
      [Uint8Array.from([0x50, 0x4b, 3, 4, 20, 0, 0, 0, 8, 0]), /ZIP archive/],
      [Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46]), /byte 0xff is no ModelProto field/],
    ];
    for (const [content, re] of cases) {
      const e = await formatError(typeof content === 'string' ? enc.encode(content) : content);
      expect(e.message).toMatch(re);
      expect(e.message).toMatch(/download the binary model\.onnx again/);
      expect(e.offset).toBe(0);
    }
  });

  it('a length pointing past its message or the file is reported with its offset', async () => {
    const w = protobuf.Writer.create();
    w.uint32((Model.irVersion << 3) | 0).int32(8);
    w.uint32((Model.graph << 3) | 2).fork();
    w.uint32((Graph.node << 3) | 2).uint32(200).uint32((Node.opType << 3) | 2).string('Relu'); // claims 200 bytes, graph ends first
    w.ldelim();
    w.uint32((Model.opsetImport << 3) | 2).fork().uint32(16).int32(17).ldelim().uint32((Model.producerName << 3) | 2).string('x'.repeat(300));
    const bytes = w.finish();
    expect((await formatError(bytes)).message).toMatch(/field 1 of GraphProto declares 200 bytes, past the end of its message/);
    const tail = protobuf.Writer.create().uint32((Model.irVersion << 3) | 0).int32(8).uint32((Model.graph << 3) | 2).uint32(1 << 20).finish();
    const e = await formatError(tail);
    expect(e.message).toMatch(/field 7 of ModelProto declares 1048576 bytes, past the end of the file.*truncated at 6 bytes/);
    expect(e.offset).toBe(2);
  });

  it('a recursion bomb (graphs nested in attributes 1000 deep) fails fast on the depth limit', async () => {
    let inner: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < 1000; i++) {
      const attr = protobuf.Writer.create().uint32((Attribute.name << 3) | 2).string('body').uint32((Attribute.type << 3) | 0).int32(AttributeType.GRAPH)
        .uint32((Attribute.g << 3) | 2).bytes(inner).finish();
      const node = protobuf.Writer.create().uint32((Node.opType << 3) | 2).string('Loop').uint32((Node.attribute << 3) | 2).bytes(attr).finish();
      inner = protobuf.Writer.create().uint32((Graph.node << 3) | 2).bytes(node).finish();
    }
    const model = protobuf.Writer.create().uint32((Model.irVersion << 3) | 0).int32(8).uint32((Model.graph << 3) | 2).bytes(inner).finish();
    const t = performance.now();
    const e = await formatError(model);
    expect(performance.now() - t).toBeLessThan(2000);
    expect(e.message).toMatch(/subgraphs nested more than 8 levels deep.*recursion bomb/);
  });

  it('absurd counts and sizes are refused', async () => {
    await expect(indexModel(vae, { limits: { maxEntries: 100 } })).rejects.toThrow(/more than 100 nodes\/tensors\/values/);
    // A weight whose dims claim 2^31 × 2^31 elements.
    const tensor = protobuf.Writer.create().uint32(8).int64(2 ** 31).uint32(8).int64(2 ** 31).uint32(16).int32(1).uint32(66).string('w').uint32(74).bytes(new Uint8Array(8)).finish();
    const model = protobuf.Writer.create().uint32(8).int32(8).uint32(58).fork().uint32((Graph.initializer << 3) | 2).bytes(tensor).ldelim().finish();
    expect((await formatError(model)).message).toMatch(/initializer #0 'w' has an absurd element count \(dims \[2147483648,2147483648\]\)/);
    // raw_data that does not match its dims.
    const short = protobuf.Writer.create().uint32(8).int64(4).uint32(16).int32(1).uint32(66).string('w').uint32(74).bytes(new Uint8Array(12)).finish();
    const model2 = protobuf.Writer.create().uint32(8).int32(8).uint32(58).fork().uint32((Graph.initializer << 3) | 2).bytes(short).ldelim().finish();
    expect((await formatError(model2)).message).toMatch(/'w' \(float32, dims \[4\]\) has 12 bytes of raw, but needs 16/);
  });
});

/** Every tensor of a graph and its subgraphs. */
function tensorsOf(g: GraphInfo): TensorInfo[] {
  return [
    ...g.initializers,
    ...g.nodes.flatMap((n) => n.attributes.flatMap((a) => [...(a.t ? [a.t] : []), ...(a.tensors ?? []), ...[...(a.g ? [a.g] : []), ...(a.graphs ?? [])].flatMap(tensorsOf)])),
  ];
}

/** A valid index must never point outside its files or disagree with its own dims. */
function checkIndex(index: ModelIndex, size: number, extSize: number): void {
  for (const t of tensorsOf(index.graph)) {
    if (t.data.kind === 'none') continue;
    const limit = t.data.kind === 'external' ? extSize : size;
    if (!(t.data.offset >= 0 && t.data.length >= 0 && t.data.offset + t.data.length <= limit)) {
      throw new Error(`tensor '${t.name}' range ${t.data.offset}+${t.data.length} outside its file (${limit} bytes)`);
    }
    const count = t.dims.reduce((p, d) => p * d, 1);
    const bpe = bytesPerElement[t.dataType];
    if ((t.data.kind === 'raw' || t.data.kind === 'external') && bpe && t.data.length !== count * bpe) {
      throw new Error(`tensor '${t.name}' has ${t.data.length} bytes for ${count} elements`);
    }
  }
}

type Mutation = (b: Uint8Array, r: () => number) => Uint8Array;
const pick = (r: () => number, n: number) => Math.floor(r() * n);
const mutations: Record<string, Mutation> = {
  flipBytes: (b, r) => {
    const c = b.slice();
    for (let k = 1 + pick(r, 8); k > 0; k--) c[pick(r, c.length)] = pick(r, 256);
    return c;
  },
  flipInHeader: (b, r) => {
    // Structure lives in the first bytes of messages; hit the first 4 KiB harder.
    const c = b.slice();
    c[pick(r, Math.min(4096, c.length))] ^= 1 << pick(r, 8);
    return c;
  },
  truncate: (b, r) => b.subarray(0, pick(r, b.length)),
  corruptVarint: (b, r) => {
    // Overwrite bytes at a random position with a long varint (a huge or 10-byte length).
    const c = b.slice();
    const at = pick(r, c.length - 10);
    const n = 2 + pick(r, 9);
    for (let i = 0; i < n - 1; i++) c[at + i] = 0x80 | pick(r, 128);
    c[at + n - 1] = pick(r, 128);
    return c;
  },
  spliceRandom: (b, r) => {
    const at = pick(r, b.length);
    const junk = Uint8Array.from({ length: 1 + pick(r, 32) }, () => pick(r, 256));
    const c = new Uint8Array(b.length + junk.length);
    c.set(b.subarray(0, at));
    c.set(junk, at);
    c.set(b.subarray(at), at + junk.length);
    return c;
  },
  deleteRange: (b, r) => {
    const at = pick(r, b.length);
    const len = 1 + pick(r, 64);
    const c = new Uint8Array(Math.max(0, b.length - len));
    c.set(b.subarray(0, at));
    c.set(b.subarray(Math.min(b.length, at + len)), at);
    return c;
  },
};

describe('fuzz', () => {
  // 1700 mutations of the tiny VAE decoder + 300 of a fused fp16 UNet with external data = 2000.
  const runs: [string, Uint8Array, number][] = [['vae decoder', vae, 1700], ['fused fp16 unet (external data)', unet.model, 300]];
  for (const [label, original, count] of runs) {
    it(`${count} seeded mutations of the ${label}: an OnnxFormatError or a sound index, never a hang or a crash`, async () => {
      const r = prng(label.length * 7919);
      const names = Object.keys(mutations);
      const outcome = { error: 0, valid: 0 };
      let slowest = 0;
      for (let i = 0; i < count; i++) {
        const kind = names[i % names.length];
        const bytes = mutations[kind](original, r);
        const t = performance.now();
        try {
          const index = await indexModel(bytes, { externalData: label.includes('unet') ? { 'weights.pb': ext } : undefined });
          checkIndex(index, bytes.length, ext.length);
          outcome.valid++;
          if (label.includes('unet')) {
            try {
              findCrossAttentionSites(index);
            } catch (e) {
              if (!(e instanceof OnnxFormatError)) throw new Error(`mutation #${i} (${kind}): findCrossAttentionSites leaked ${e}`);
            }
          }
        } catch (e) {
          if (!(e instanceof OnnxFormatError)) throw new Error(`mutation #${i} (${kind}) leaked ${(e as Error)?.stack ?? e}`);
          outcome.error++;
        }
        slowest = Math.max(slowest, performance.now() - t);
      }
      expect(outcome.error + outcome.valid).toBe(count);
      expect(outcome.error).toBeGreaterThan(count / 10); // the mutations do break files
      expect(slowest).toBeLessThan(10_000); // generous: the point is "never hangs" on a shared, loaded machine
      console.log(`${label}: ${outcome.error} errors, ${outcome.valid} valid indexes, slowest ${slowest.toFixed(0)} ms`);
    });
  }
});
