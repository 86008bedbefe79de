import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/paths';

/**
 * The layering rule (.dependency-cruiser.cjs): layers only point down. The real tree must pass,
 * and each rule must bite: a fixture tree, laid out like the project, holds one forbidden import
 * per rule, and every one of them must be reported under that rule's name.
 */
const CONFIG = path.join(REPO_ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = path.join(REPO_ROOT, 'node_modules', '.bin', 'depcruise');
const SOURCES = [
  'main.ts',
  'app',
  'config',
  'constructs',
  'contract',
  'deployer',
  'rules',
  'scripts',
  'serving-image/src',
];

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

function cruise(cwd: string, paths: string[]): Violation[] {
  const out = execFileSync(DEPCRUISE, ['--config', CONFIG, '--output-type', 'json', ...paths], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out).summary.violations;
}

/**
 * Each file imports one thing it must not, and names every rule that import breaks. The imported
 * files import nothing, so no cycle muddles the report.
 */
const FORBIDDEN: { file: string; imports: string; rules: string[] }[] = [
  { file: 'constructs/vertex/a.ts', imports: '../../config/leaf', rules: ['library-knows-no-app'] },
  { file: 'constructs/vertex/b.ts', imports: '../../app/leaf', rules: ['library-knows-no-app', 'app-only-from-main'] },
  { file: 'config/a.ts', imports: '../constructs/vertex/leaf', rules: ['config-only-rules'] },
  { file: 'deployer/a.ts', imports: '../constructs/vertex/leaf', rules: ['deployer-only-contract-and-rules'] },
  {
    file: 'deployer/b.ts',
    imports: '../constructs/private/leaf',
    rules: ['deployer-only-contract-and-rules', 'private-stays-in-its-folder'],
  },
  { file: 'contract/a.ts', imports: '../deployer/leaf', rules: ['contract-only-rules'] },
  { file: 'rules/a.ts', imports: '../contract/leaf', rules: ['rules-are-pure'] },
  { file: 'rules/b.ts', imports: 'cdktf', rules: ['rules-are-pure', 'cdktf-in-one-place'] },
  { file: 'constructs/registry/a.ts', imports: 'cdktf', rules: ['cdktf-in-one-place'] },
  { file: 'serving-image/src/a.ts', imports: '../../rules/leaf', rules: ['server-stands-alone'] },
  { file: 'serving-image/src/engine/a.ts', imports: 'fastify', rules: ['engine-knows-no-http'] },
  { file: 'constructs/vertex/c.ts', imports: './d', rules: ['no-circular'] },
  // A cycle is reported once, from the file the cruise reaches first.
  { file: 'constructs/vertex/d.ts', imports: './c', rules: [] },
];

/** Imports each layer may make: none of them may be reported. */
const ALLOWED: Record<string, string[]> = {
  'main.ts': ['./app/leaf', './config/leaf', './constructs/cdk'],
  'app/a.ts': ['../constructs/cdk', '../constructs/vertex/leaf', '../config/leaf', '../rules/leaf'],
  'config/b.ts': ['../rules/leaf'],
  'constructs/cdk.ts': ['cdktf'],
  'constructs/vertex/e.ts': ['../private/leaf', '../../contract/leaf', '../../rules/leaf', '../cdk'],
  'contract/b.ts': ['../rules/leaf'],
  'deployer/c.ts': ['../contract/leaf', '../rules/leaf'],
  'serving-image/src/b.ts': ['fastify', './engine/leaf'],
};

const LEAVES = [
  'app',
  'config',
  'constructs/vertex',
  'constructs/private',
  'contract',
  'deployer',
  'rules',
  'serving-image/src/engine',
];

function writeFixture(root: string): void {
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.join(root, path.dirname(file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  };
  for (const folder of LEAVES) write(`${folder}/leaf.ts`, 'export const leaf = 1;\n');
  const files: [string, string[]][] = [
    ...Object.entries(ALLOWED),
    ...FORBIDDEN.map((f): [string, string[]] => [f.file, [f.imports]]),
  ];
  for (const [file, imports] of files) {
    write(
      file,
      `${imports.map((spec, i) => `import * as m${i} from '${spec}';\nexport const x${i} = m${i};\n`).join('')}`,
    );
  }
}

describe('layering rule', () => {
  it('finds no forbidden import in the project', () => {
    // GIVEN the project's own sources
    // WHEN the rule runs over them
    const violations = cruise(REPO_ROOT, SOURCES);
    // THEN none is reported
    expect(violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`)).toEqual([]);
  });

  it('reports each forbidden import under its rule, and nothing else', () => {
    // GIVEN a tree laid out like the project, inside the repository so node_modules resolves
    const root = fs.mkdtempSync(path.join(REPO_ROOT, '.cache', 'layering-'));
    try {
      writeFixture(root);
      // WHEN the rule runs over it
      const violations = cruise(
        root,
        SOURCES.filter((s) => fs.existsSync(path.join(root, s))),
      );
      // THEN every forbidden import is reported under its rule, and no allowed one is
      const reported = violations.map((v) => `${v.rule.name}: ${v.from}`).sort();
      const expected = FORBIDDEN.flatMap((f) => f.rules.map((rule) => `${rule}: ${f.file}`)).sort();
      expect(reported).toEqual(expected);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
