/**
 * Builds the CLIP text tokenizer (the one every Stable Diffusion 1.x / 2.x / SD-Turbo text
 * encoder uses) from OpenAI's real BPE merges, in the Hugging Face `tokenizers` JSON format that
 * transformers.js loads:
 *
 *   npx tsx tools/build-tokenizer.ts
 *
 * reads  ../shared/data/clip/bpe_simple_vocab_16e6.txt.gz  (relative to the repository root)
 * writes public/tokenizers/clip/{tokenizer.json, tokenizer_config.json, LICENSE}
 *
 * The vocabulary is built exactly as OpenAI CLIP's `simple_tokenizer.py` builds it:
 *   1. the 256 byte-to-unicode characters (GPT-2's printable byte mapping, in its order),
 *   2. the same 256 characters with the end-of-word marker "</w>",
 *   3. the first 49152 − 256 − 2 = 48894 merges, each pair joined,
 *   4. <|startoftext|> (49406) and <|endoftext|> (49407)  → 49408 entries.
 * The normaliser / pre-tokeniser / post-processor are those of the Hugging Face CLIP fast
 * tokenizer (transformers' CLIPConverter). The output is deterministic: building twice gives
 * byte-identical files (the unit test checks the committed file against a fresh build).
 */
import { gunzipSync } from 'node:zlib';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** CLIP's vocabulary size: 256 bytes × 2 + 48894 merges + 2 special tokens. */
export const CLIP_VOCAB_SIZE = 49408;
/** Number of merges CLIP uses out of the 262 144 lines of the merges file. */
export const CLIP_MERGE_COUNT = 49152 - 256 - 2;
export const BOS_TOKEN = '<|startoftext|>';
export const EOS_TOKEN = '<|endoftext|>';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the real merges and their licence live (`shared/` sits beside the repository). */
export const CLIP_DATA_DIR = resolve(REPO_ROOT, '..', 'shared', 'data', 'clip');
/** Where the built tokenizer is written (served by Vite as `tokenizers/clip/`). */
export const CLIP_OUTPUT_DIR = join(REPO_ROOT, 'public', 'tokenizers', 'clip');

/**
 * GPT-2's reversible byte → printable-character map, in CLIP's order: the bytes that are
 * already printable ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves and come first, then every
 * other byte b (in increasing order) maps to chr(256 + n), n counting those bytes.
 * @returns 256 characters; entry k is the vocabulary string of token id k.
 */
export function byteLevelAlphabet(): string[] {
  const printable: number[] = [];
  const ranges: [number, number][] = [[0x21, 0x7e], [0xa1, 0xac], [0xae, 0xff]];
  for (const [lo, hi] of ranges) for (let b = lo; b <= hi; b++) printable.push(b);
  const isPrintable = new Set(printable);
  const chars = printable.map((b) => String.fromCodePoint(b));
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!isPrintable.has(b)) chars.push(String.fromCodePoint(256 + n++));
  }
  return chars;
}

/**
 * Parses the gzip'd merges file into the merge pairs CLIP uses.
 * @param gz bytes of bpe_simple_vocab_16e6.txt.gz
 * @returns CLIP_MERGE_COUNT pairs [left, right], in rank order
 */
export function parseMerges(gz: Uint8Array): [string, string][] {
  const lines = new TextDecoder('utf-8').decode(gunzipSync(gz)).split('\n');
  // Line 0 is the "#version" header; simple_tokenizer takes lines[1 : 49152-256-2+1].
  const used = lines.slice(1, CLIP_MERGE_COUNT + 1);
  if (used.length !== CLIP_MERGE_COUNT) {
    throw new Error(`merges file has ${used.length} merges after the header; CLIP needs ${CLIP_MERGE_COUNT}. Is it the real bpe_simple_vocab_16e6.txt.gz?`);
  }
  return used.map((line, i) => {
    const parts = line.split(' ');
    if (parts.length !== 2) throw new Error(`merges line ${i + 2} is "${line}", expected two symbols separated by one space`);
    return [parts[0], parts[1]];
  });
}

/**
 * CLIP's vocabulary in id order (see the file comment for the four parts).
 * @returns CLIP_VOCAB_SIZE strings; index = token id
 */
export function buildVocab(merges: [string, string][]): string[] {
  const alphabet = byteLevelAlphabet();
  const vocab = [...alphabet, ...alphabet.map((c) => c + '</w>'), ...merges.map(([a, b]) => a + b), BOS_TOKEN, EOS_TOKEN];
  if (vocab.length !== CLIP_VOCAB_SIZE) throw new Error(`built ${vocab.length} vocabulary entries, expected ${CLIP_VOCAB_SIZE}`);
  if (new Set(vocab).size !== vocab.length) throw new Error('vocabulary has duplicate entries: the merges file is not CLIP\'s');
  return vocab;
}

function addedToken(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/**
 * The Hugging Face `tokenizers` JSON (tokenizer.json) for CLIP.
 * @returns a plain object; serialise with JSON.stringify
 */
export function buildTokenizerJson(merges: [string, string][]): Record<string, unknown> {
  const vocabList = buildVocab(merges);
  const vocab: Record<string, number> = {};
  vocabList.forEach((token, id) => { vocab[token] = id; });
  const bosId = vocab[BOS_TOKEN];
  const eosId = vocab[EOS_TOKEN];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [addedToken(bosId, BOS_TOKEN), addedToken(eosId, EOS_TOKEN)],
    // simple_tokenizer's whitespace_clean + lower(); NFC stands in for ftfy.fix_text.
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFC' },
        { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
        { type: 'Lowercase' },
      ],
    },
    // simple_tokenizer's `pat` (keep the matches, drop what lies between), then bytes → chars.
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [EOS_TOKEN, eosId],
      cls: [BOS_TOKEN, bosId],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: EOS_TOKEN,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/**
 * tokenizer_config.json. SD 1.x pads with <|endoftext|>; SD 2.x / SD-Turbo pad with "!" (id 0):
 * the app passes the pad id explicitly (src/lib/models/tokenizer.ts), so this default is SD 1.x's.
 */
export function buildTokenizerConfig(): Record<string, unknown> {
  return {
    tokenizer_class: 'CLIPTokenizer',
    model_max_length: 77,
    bos_token: BOS_TOKEN,
    eos_token: EOS_TOKEN,
    unk_token: EOS_TOKEN,
    pad_token: EOS_TOKEN,
    do_lower_case: true,
    add_prefix_space: false,
    errors: 'replace',
    clean_up_tokenization_spaces: true,
  };
}

/** Serialises a JSON object the same way every time (2-space indent, trailing newline). */
export function serialise(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/**
 * Builds both files' text from the merges in `dataDir`.
 * @returns { tokenizerJson, tokenizerConfig } as file contents (strings)
 */
export function buildClipTokenizerFiles(dataDir = CLIP_DATA_DIR): { tokenizerJson: string; tokenizerConfig: string } {
  const gzPath = join(dataDir, 'bpe_simple_vocab_16e6.txt.gz');
  let gz: Uint8Array;
  try {
    gz = readFileSync(gzPath);
  } catch (e) {
    throw new Error(`cannot read the CLIP merges at ${gzPath} (${(e as Error).message}); clone the shared data beside the repository as ../shared`);
  }
  const merges = parseMerges(gz);
  return { tokenizerJson: serialise(buildTokenizerJson(merges)), tokenizerConfig: serialise(buildTokenizerConfig()) };
}

function main(): void {
  const { tokenizerJson, tokenizerConfig } = buildClipTokenizerFiles();
  mkdirSync(CLIP_OUTPUT_DIR, { recursive: true });
  writeFileSync(join(CLIP_OUTPUT_DIR, 'tokenizer.json'), tokenizerJson);
  writeFileSync(join(CLIP_OUTPUT_DIR, 'tokenizer_config.json'), tokenizerConfig);
  // Copy the bytes, not the file mode: the shared LICENSE is read-only, the copy must stay writable.
  writeFileSync(join(CLIP_OUTPUT_DIR, 'LICENSE'), readFileSync(join(CLIP_DATA_DIR, 'LICENSE')));
  console.log(`wrote ${CLIP_OUTPUT_DIR}/{tokenizer.json (${(tokenizerJson.length / 1e6).toFixed(2)} MB), tokenizer_config.json, LICENSE}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
