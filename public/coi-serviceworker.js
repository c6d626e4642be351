/*
 * Cross-origin isolation for static hosts that cannot send headers (GitHub Pages, a blog's CDN).
 * onnxruntime-web needs SharedArrayBuffer for multi-threaded WASM, which browsers give only to
 * cross-origin-isolated pages (COOP same-origin + COEP). This worker adds those two headers to the
 * page itself and to worker scripts; every other request passes through untouched, so model
 * downloads are never buffered here. Registered by src/isolation.ts.
 */
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const isDocument = request.mode === 'navigate';
  const isWorker = request.destination === 'worker' || request.destination === 'sharedworker';
  if (!isDocument && !isWorker) return;
  if (new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(
    fetch(request).then((response) => {
      if (response.status === 0 || response.type === 'opaque') return response;
      const headers = new Headers(response.headers);
      headers.set('Cross-Origin-Opener-Policy', 'same-origin');
      headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
      headers.set('X-Isolated-By', 'coi-serviceworker');
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    }),
  );
});
