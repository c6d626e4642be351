/**
 * The one error type the ONNX layer throws for a file it cannot use. The message says what is
 * wrong, where (byte offset) and what to do, so the app can show it unchanged.
 */
export class OnnxFormatError extends Error {
  /** Byte offset in the model (or external data) file where the problem was found, if known. */
  readonly offset: number | undefined;
  /** What the user can do about it. */
  readonly hint: string;

  constructor(problem: string, offset?: number, hint = 're-download the file; it may be damaged') {
    const at = offset === undefined ? '' : ` (at byte ${offset})`;
    super(`${problem}${at}: ${hint}`);
    this.name = 'OnnxFormatError';
    this.offset = offset;
    this.hint = hint;
  }
}

/** Hint for a file that ends too early. */
export function truncatedHint(fileSize: number, needed: number): string {
  return (
    `re-download the file; it looks truncated at ${fileSize} bytes ` +
    `(the data it describes needs at least ${needed} bytes)`
  );
}
