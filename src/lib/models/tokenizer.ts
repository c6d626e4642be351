/**
 * CLIP prompt tokenizer for Stable Diffusion text encoders.
 *
 * Wraps transformers.js' `PreTrainedTokenizer`, built from the JSON objects of
 * `public/tokenizers/clip/{tokenizer.json, tokenizer_config.json}` (made by
 * tools/build-tokenizer.ts from OpenAI's merges). The caller fetches those two files (in a
 * worker: `fetch(url).then(r => r.json())`), so nothing here touches the network or the disk and
 * the same code runs in Node and in browser workers.
 *
 * Stable Diffusion's text encoder reads exactly 77 positions: <|startoftext|>, up to 75
 * word-pieces, <|endoftext|>, then padding. A longer prompt is an error here, never silently
 * truncated (diffusers truncates and warns; a silently cut prompt would make an erasure
 * experiment lie about what the model saw).
 */
import { PreTrainedTokenizer } from '@huggingface/transformers';

/** Positions the CLIP text encoder reads, start and end tokens included. */
export const CLIP_MAX_LENGTH = 77;
/** <|startoftext|> id. */
export const CLIP_BOS_ID = 49406;
/** <|endoftext|> id; SD 1.x pads with it. */
export const CLIP_EOS_ID = 49407;
/** Pad id of SD 1.x tokenizers (CompVis, runwayml): <|endoftext|>. */
export const SD1_PAD_ID = CLIP_EOS_ID;
/** Pad id of SD 2.x / SD-Turbo tokenizers: "!" (id 0). */
export const SD2_PAD_ID = 0;

/** The two JSON files of a Hugging Face tokenizer, already parsed. */
export interface TokenizerFiles {
  /** Parsed tokenizer.json. */
  tokenizerJson: object;
  /** Parsed tokenizer_config.json. */
  tokenizerConfig: object;
}

/** One whitespace-separated word of the prompt and where its word-pieces sit. */
export interface PromptWord {
  /** The word as typed (original case and punctuation). */
  text: string;
  /** Positions in the 77-long id array (0 is <|startoftext|>), in order; ≥ 1 entry. */
  tokenIndices: number[];
}

/** A prompt ready for the text encoder. */
export interface EncodedPrompt {
  /** Token ids, length 77: BOS, word-pieces, EOS, then the pad id. */
  ids: Int32Array;
  /** Number of real tokens, BOS and EOS included (2 for the empty prompt). */
  tokenCount: number;
  /** Each prompt word with its sub-word token positions (for per-word attention maps). */
  words: PromptWord[];
}

/** Thrown when a prompt needs more than 77 positions. */
export class PromptTooLongError extends Error {
  /** Tokens the prompt needs, BOS and EOS included. */
  readonly tokenCount: number;
  /** Positions available (77). */
  readonly maxLength: number;
  constructor(prompt: string, tokenCount: number, maxLength: number) {
    const shown = prompt.length > 48 ? `${prompt.slice(0, 45)}…` : prompt;
    const over = tokenCount - maxLength;
    super(
      `The prompt "${shown}" is ${tokenCount} tokens; Stable Diffusion reads at most ` +
        `${maxLength - 2} word-pieces plus start/end — shorten it by ${over} word-piece${over === 1 ? '' : 's'}.`,
    );
    this.name = 'PromptTooLongError';
    this.tokenCount = tokenCount;
    this.maxLength = maxLength;
  }
}

/** Options for {@link ClipPromptTokenizer}. */
export interface ClipPromptTokenizerOptions {
  /** Id written after EOS up to length 77: SD1_PAD_ID (default) or SD2_PAD_ID. */
  padId?: number;
}

/** CLIP tokenizer producing the fixed-length input of a Stable Diffusion text encoder. */
export class ClipPromptTokenizer {
  /** Pad id used by {@link encodePrompt}. */
  readonly padId: number;
  /** Number of entries in the vocabulary (49408 for CLIP). */
  readonly vocabSize: number;
  private readonly tokenizer: PreTrainedTokenizer;

  /**
   * @param files parsed tokenizer.json and tokenizer_config.json
   * @param options pad id (see {@link ClipPromptTokenizerOptions})
   */
  constructor(files: TokenizerFiles, options: ClipPromptTokenizerOptions = {}) {
    if (!files || typeof files.tokenizerJson !== 'object' || typeof files.tokenizerConfig !== 'object') {
      throw new Error('ClipPromptTokenizer needs { tokenizerJson, tokenizerConfig } as parsed JSON objects (fetch tokenizers/clip/tokenizer.json and tokenizer_config.json first).');
    }
    this.tokenizer = new PreTrainedTokenizer(files.tokenizerJson, files.tokenizerConfig);
    this.vocabSize = this.tokenizer.get_vocab().size;
    if (this.tokenizer.bos_token_id !== CLIP_BOS_ID || this.tokenizer.eos_token_id !== CLIP_EOS_ID) {
      throw new Error(
        `This is not the CLIP tokenizer: start/end ids are ${this.tokenizer.bos_token_id}/${this.tokenizer.eos_token_id}, ` +
          `expected ${CLIP_BOS_ID}/${CLIP_EOS_ID}. Rebuild it with \`npx tsx tools/build-tokenizer.ts\`.`,
      );
    }
    const padId = options.padId ?? SD1_PAD_ID;
    if (!Number.isInteger(padId) || padId < 0 || padId >= this.vocabSize) {
      throw new Error(`padId ${padId} is not a token id; use an integer in [0, ${this.vocabSize}) — ${SD1_PAD_ID} for SD 1.x, ${SD2_PAD_ID} for SD 2.x / SD-Turbo.`);
    }
    this.padId = padId;
  }

  /**
   * Word-piece ids of `text`, without start/end tokens (no length limit).
   * @returns ids in prompt order
   */
  encodePieces(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false });
  }

  /**
   * Encodes a prompt to the 77 ids a Stable Diffusion text encoder reads.
   * @param text the prompt (any case; whitespace is collapsed)
   * @returns ids [77] padded with `padId`, the real token count, and word → token positions
   * @throws PromptTooLongError when the prompt needs more than 77 positions
   */
  encodePrompt(text: string): EncodedPrompt {
    if (typeof text !== 'string') throw new Error(`encodePrompt expects a string prompt, got ${typeof text}`);
    const withSpecials = this.tokenizer.encode(text);
    if (withSpecials.length > CLIP_MAX_LENGTH) throw new PromptTooLongError(text, withSpecials.length, CLIP_MAX_LENGTH);

    const ids = new Int32Array(CLIP_MAX_LENGTH).fill(this.padId);
    ids.set(withSpecials);
    return { ids, tokenCount: withSpecials.length, words: this.mapWords(text, withSpecials) };
  }

  /**
   * Assigns token positions to the prompt's whitespace-separated words. CLIP's pre-tokeniser
   * never joins characters across whitespace, so the prompt's pieces are the concatenation of
   * each word's pieces; that is checked, not assumed.
   */
  private mapWords(text: string, withSpecials: number[]): PromptWord[] {
    const words: PromptWord[] = [];
    let position = 1; // 0 is <|startoftext|>
    for (const word of text.split(/\s+/u).filter((w) => w.length > 0)) {
      const pieces = this.encodePieces(word);
      if (pieces.length === 0) continue; // nothing the encoder sees (e.g. a lone control character)
      for (let k = 0; k < pieces.length; k++) {
        if (withSpecials[position + k] !== pieces[k]) {
          throw new Error(`Cannot place the word "${word}" in the token sequence of "${text}": tokenizing it alone gives different pieces. Please report this prompt.`);
        }
      }
      words.push({ text: word, tokenIndices: pieces.map((_, k) => position + k) });
      position += pieces.length;
    }
    if (position !== withSpecials.length - 1) {
      throw new Error(`The words of "${text}" cover ${position - 1} word-pieces but the prompt has ${withSpecials.length - 2}. Please report this prompt.`);
    }
    return words;
  }
}

/**
 * Fetches and parses tokenizer.json and tokenizer_config.json from a folder URL (in the app:
 * `new URL('tokenizers/clip/', document.baseURI)`; the files ship with the app, no Hub access).
 * @param folderUrl URL of the folder, with or without a trailing slash
 * @param fetchFn fetch implementation (defaults to the global fetch)
 */
export async function fetchTokenizerFiles(folderUrl: string | URL, fetchFn: typeof fetch = fetch): Promise<TokenizerFiles> {
  const base = String(folderUrl).endsWith('/') ? String(folderUrl) : `${String(folderUrl)}/`;
  const load = async (name: string): Promise<object> => {
    const url = new URL(name, base).href;
    let response: Response;
    try {
      response = await fetchFn(url);
    } catch (e) {
      throw new Error(`Could not download the tokenizer file ${url}: ${(e as Error).message}. Check the connection and reload.`);
    }
    if (!response.ok) throw new Error(`The tokenizer file ${url} answered HTTP ${response.status}; the app build is missing public/tokenizers/clip (run \`npx tsx tools/build-tokenizer.ts\`).`);
    try {
      return (await response.json()) as object;
    } catch (e) {
      throw new Error(`The tokenizer file ${url} is not valid JSON (${(e as Error).message}); it may be truncated — reload, or rebuild it.`);
    }
  };
  const [tokenizerJson, tokenizerConfig] = await Promise.all([load('tokenizer.json'), load('tokenizer_config.json')]);
  return { tokenizerJson, tokenizerConfig };
}
