/**
 * Make the page cross-origin isolated on hosts that cannot set COOP/COEP headers, by installing
 * public/coi-serviceworker.js and reloading once under its control. Does nothing when the host
 * already isolates the page, inside an iframe (an embed cannot be isolated unless its parent is),
 * or when the URL has `?coi=0`.
 */
const RELOAD_FLAG = 'erasure-lab:coi-reloaded';

export type IsolationState =
  | { isolated: true; via: 'headers' | 'service-worker' }
  | { isolated: false; why: string };

export async function ensureCrossOriginIsolation(): Promise<IsolationState> {
  if (globalThis.crossOriginIsolated) {
    // Under our worker the headers came from it (whatever the host sends).
    const viaWorker = Boolean(navigator.serviceWorker?.controller?.scriptURL.endsWith('coi-serviceworker.js'));
    return { isolated: true, via: viaWorker ? 'service-worker' : 'headers' };
  }
  if (new URLSearchParams(location.search).get('coi') === '0') return { isolated: false, why: 'disabled by ?coi=0' };
  if (window.top !== window.self) return { isolated: false, why: 'embedded in a page that is not isolated' };
  if (!window.isSecureContext || !('serviceWorker' in navigator)) {
    return { isolated: false, why: 'service workers need a secure context (https or localhost)' };
  }
  const registration = await navigator.serviceWorker.register(new URL('coi-serviceworker.js', document.baseURI), {
    scope: new URL('./', document.baseURI).pathname,
  });
  if (sessionStorage.getItem(RELOAD_FLAG) === '1') {
    // We already reloaded once and are still not isolated: do not loop.
    return { isolated: false, why: 'the service worker did not isolate the page (browser policy?)' };
  }
  await navigator.serviceWorker.ready;
  if (!registration.active) return { isolated: false, why: 'service worker did not activate' };
  sessionStorage.setItem(RELOAD_FLAG, '1');
  location.reload();
  // The reload replaces this document; never resolve.
  return new Promise<IsolationState>(() => {});
}
