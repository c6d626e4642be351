/**
 * "A new request or a cancel stops the running one cleanly": each generation holds a token; a
 * newer generation or cancelAll() marks older tokens cancelled, and the loop checks its token
 * between UNet steps (an ONNX Runtime run cannot be interrupted midway).
 */

/**
 * Let the worker's event loop run (a task, not a microtask). onnxruntime-web's WASM run resolves
 * through microtasks only, so without this a generation never lets a cancel() message in.
 */
export const nextTask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** Thrown inside a superseded generation; the page treats it as "stopped", not as a failure. */
export class CancelledError extends Error {
  override name = 'CancelledError';
  constructor() {
    super('Generation cancelled: a newer request replaced it.');
  }
}

export interface CancelToken {
  readonly id: number;
  /** Throws CancelledError when this generation has been superseded. */
  check(): void;
}

export class Cancellation {
  private latest = 0;
  private cancelledBelow = 0;
  private readonly running = new Set<number>();

  /** Start a generation: every earlier one is cancelled. */
  begin(): CancelToken {
    const id = ++this.latest;
    this.cancelledBelow = id;
    this.running.add(id);
    return {
      id,
      check: () => {
        if (id < this.cancelledBelow) throw new CancelledError();
      },
    };
  }

  end(token: CancelToken): void {
    this.running.delete(token.id);
  }

  /** Cancel every running generation. */
  cancelAll(): void {
    this.cancelledBelow = this.latest + 1;
  }

  /** Generations still running (for leak checks). */
  get active(): number {
    return this.running.size;
  }
}
