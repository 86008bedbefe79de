import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { servingDir } from './helpers/build';

const src = path.join(servingDir, 'src');

/** The modules a source file imports, as written. */
function importsOf(file: string): string[] {
  return [...readFileSync(path.join(src, file), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]);
}

/** Imports that tie a module to HTTP: fastify, node's http, or this server's HTTP layer. */
const HTTP = /^(?:fastify|node:https?|.*\/(?:app|http-errors|routes\/.*))$/;

const engine = readdirSync(path.join(src, 'engine')).map((f) => `engine/${f}`);
const domain = ['admission.ts', 'predictor.ts', 'errors.ts', 'request.ts', 'preprocess.ts', 'postprocess.ts'];

test.each([...engine, ...domain])('%s knows nothing of HTTP', (file) => {
  // GIVEN a module below the HTTP layer WHEN its imports are read THEN none is HTTP
  expect(importsOf(file).filter((m) => HTTP.test(m))).toEqual([]);
});

test('the HTTP pattern catches what it is meant to', () => {
  // GIVEN imports of the HTTP layer THEN each matches, and a domain import does not
  expect(['fastify', '../http-errors', './app', './routes/predict'].filter((m) => HTTP.test(m))).toHaveLength(4);
  expect(HTTP.test('../errors')).toBe(false);
});
