/**
 * What the user can do about a worker error. The models layer's errors carry `.action`, but an
 * error crossing the comlink boundary keeps only name, message and stack, so the action is
 * recovered from the error's name (the classes in lib/models/store.ts and download.ts).
 */
import type { ErrorAction } from '../lib/models/store.ts';

const BY_NAME: Record<string, ErrorAction> = {
  QuotaError: { kind: 'free-space', label: 'Manage stored models' },
  NotStoredError: { kind: 'download', label: 'Download' },
  PartialFileError: { kind: 'resume', label: 'Resume download' },
  CorruptFileError: { kind: 'redownload', label: 'Delete and re-download' },
  NetworkError: { kind: 'retry', label: 'Retry (resumes)' },
  GatedModelError: { kind: 'sign-in', label: 'Add an access token' },
  FileUnavailableError: { kind: 'check-manifest', label: 'Check the model source' },
  StaleFileError: { kind: 'redownload', label: 'Re-download' },
  ChecksumError: { kind: 'redownload', label: 'Download again' },
};

/** The action for an error: its own `.action` when it still has one, else by its name; null if none. */
export function errorAction(e: unknown): ErrorAction | null {
  const o = e as { action?: ErrorAction; name?: string } | null;
  if (o?.action && typeof o.action.kind === 'string') return o.action;
  return (o?.name && BY_NAME[o.name]) || null;
}

/** A message for people from anything thrown. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error || (typeof e === 'object' && e !== null && 'message' in e)) return String((e as Error).message);
  return String(e);
}
