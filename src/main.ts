import { mount } from 'svelte';
import App from './App.svelte';
import { ensureCrossOriginIsolation } from './isolation.ts';
import './ui/global.css';

// `?embed`: the compact widget for an iframe.
const embed = new URLSearchParams(location.search).has('embed');
// Isolation first: it may reload the page once under the service worker.
const isolation = await ensureCrossOriginIsolation().catch((e: Error) => ({ isolated: false as const, why: e.message }));
mount(App, { target: document.getElementById('app')!, props: { isolation, embed } });
