import { defineModelSuite } from './sdgen-harness.ts';

defineModelSuite('web');
