import { defineModelSuite } from './sdgen-harness.ts';

defineModelSuite('node');
