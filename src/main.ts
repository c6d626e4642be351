import { mount } from 'svelte';
import App from './App.svelte';
import { ensureCrossOriginIsolation } from './isolation.ts';
import './ui/global.css';

// Isolation first: it may reload the page once under the service worker.
const isolation = await ensureCrossOriginIsolation().catch((e: Error) => ({ isolated: false as const, why: e.message }));
mount(App, { target: document.getElementById('app')!, props: { isolation } });
