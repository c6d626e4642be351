import { describe, expect, it } from 'vitest';
import { defaultForm, formToRequest, parseConcepts, parseSeeds, requestToForm, switchMethod, type Method } from '../../src/app/edit-form.ts';
import { validateEdit } from '../../src/app/state.ts';

describe('erase form', () => {
  it('starts from the reference defaults and moves λ / preserve scale with the method', () => {
    const f = defaultForm();
    expect(formToRequest(f)).toEqual({ method: 'uce', erase: ['car'], target: '', preserve: [], lambda: 0.5, eraseScale: 1, preserveScale: 1, tokens: '2025' });
    expect(switchMethod(f, 'time').lambda).toBe(0.1);
    expect(switchMethod(f, 'rece')).toMatchObject({ lambda: 0.1, preserveScale: 0.1, rounds: 1 });
    expect(switchMethod({ ...f, preset: 'nudity' }, 'rece').rounds).toBe(3);
    expect(switchMethod(switchMethod(f, 'rece'), 'uce')).toMatchObject({ lambda: 0.5, preserveScale: 1 });
  });

  it('gives a valid request for every method and reads it back unchanged', () => {
    const f = { ...defaultForm(), erase: ['car', 'truck'], preserve: ['bus'], target: 'vehicle' };
    for (const m of ['uce', 'time', 'rece', 'progressive'] as Method[]) {
      const req = formToRequest(switchMethod(f, m));
      expect(validateEdit(JSON.parse(JSON.stringify(req)))).toEqual(req);
      expect(formToRequest(requestToForm(req))).toEqual(req);
    }
    expect(formToRequest(switchMethod(f, 'progressive'))).toMatchObject({ steps: [['car'], ['truck']] });
    expect(formToRequest(switchMethod(f, 'time'))).toEqual({ method: 'time', source: 'a photo of a rose', destination: 'a photo of a blue rose', lambda: 0.1 });
  });

  it('fills what a sparse request leaves out with the method defaults', () => {
    expect(requestToForm({ method: 'uce', erase: ['Van Gogh'], target: 'art' })).toMatchObject({ lambda: 0.5, preserveScale: 1, eraseScale: 1, tokens: '2025', target: 'art', preserve: [] });
    expect(requestToForm({ method: 'rece', erase: ['x'], preset: 'artists' })).toMatchObject({ lambda: 0.1, preserveScale: 0.1, rounds: 1, preset: 'artists' });
  });

  it('parses typed concepts and seeds', () => {
    expect(parseConcepts(' red  car, bus\nCar ,, ', ['car'])).toEqual(['car', 'red car', 'bus']);
    expect(parseSeeds('1, 2  7 2')).toEqual([1, 2, 7]);
    expect(parseSeeds('1, x')).toBeNull();
    expect(parseSeeds('-1')).toBeNull();
    expect(parseSeeds('4294967296')).toBeNull();
    expect(parseSeeds('')).toBeNull();
  });
});
