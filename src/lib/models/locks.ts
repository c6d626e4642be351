/**
 * One stored model is used by several workers of the same origin at once (the playground's
 * diffusion worker, the engine check's, a second tab): its files are written while one worker
 * downloads and read while another loads, and a read of an OPFS file that is rewritten under it
 * fails ("The requested file could not be read…"). A Web Lock per model orders them: writers
 * (download, import, delete) hold it exclusively, readers (load) shared.
 */

/**
 * Runs `fn` holding the lock of stored model `modelId`. Without Web Locks (Node), or where the
 * browser denies them because it denies storage (a cross-site embed, which then keeps the model
 * in memory and shares nothing), `fn` runs unlocked.
 */
export async function withModelLock<T>(modelId: string, mode: LockMode, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const locks = (globalThis as { navigator?: Navigator }).navigator?.locks;
  if (!locks) return fn();
  let entered = false;
  try {
    return await locks.request(`erasure-lab:model:${modelId}`, { mode, ...(signal ? { signal } : {}) }, () => {
      entered = true;
      return fn();
    });
  } catch (e) {
    if (entered || (e as Error)?.name !== 'SecurityError') throw e;
    return fn();
  }
}
