import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ESLint } from 'eslint';
import { afterAll, describe, expect, it } from 'vitest';
import { crmFolderOf, crmSdks, parseImports, providerFolderImporters, registry, registryViolations, sdkViolations, type Project } from './architecture.ts';

// DESIGN.md §2, checked by reading the files (a unit test: no database, no Redis, no network), and
// a check that eslint.config.js still reports what it should: a rule whose patterns stop matching
// (as the old `'../api/*'` ones did when src/model went one folder deeper) fails here.

const root = path.resolve(import.meta.dirname, '../..');

function readProject(): Project {
  const project: Project = new Map();
  for (const entry of readdirSync(path.join(root, 'src'), { recursive: true, encoding: 'utf8' })) {
    if (!entry.endsWith('.ts')) continue;
    const file = `src/${entry.split(path.sep).join('/')}`;
    project.set(file, parseImports(file, readFileSync(path.join(root, file), 'utf8')));
  }
  return project;
}

function synthetic(files: Record<string, string>): Project {
  return new Map(Object.entries(files).map(([file, code]) => [file, parseImports(file, code)]));
}

describe('the architecture of src/', () => {
  const project = readProject();

  it('has a provider folder for each CRM', () => {
    const folders = readdirSync(path.join(root, 'src/providers'), { withFileTypes: true }).filter((entry) => entry.isDirectory());
    expect(folders.length).toBeGreaterThan(0);
    for (const folder of folders) expect(crmFolderOf(`src/providers/${folder.name}/index.ts`)).toBe(folder.name);
  });

  it('reaches the provider folders only through the registry src/providers/index.ts, which lists every one', () => {
    // Before the registry exists there is nothing to route through yet; the SDK rule holds regardless.
    expect(registryViolations(project)).toEqual([]);
  });

  it('imports a CRM SDK only inside that CRM\'s provider folder', () => {
    expect(sdkViolations(project)).toEqual([]);
  });
});

describe('the checks themselves', () => {
  it('parse every kind of import, and nothing in comments or strings', () => {
    const imports = parseImports(
      'src/orchestration/probe.ts',
      [
        "import {",
        "  a,",
        "  b,",
        "} from '../providers/hubspot/connector.ts';",
        "import type { T } from '../model/store/schema.ts';",
        "import { type U } from './u.ts';",
        "import './side-effect.ts';",
        "export * from './all.ts';",
        "export type { V } from './v.ts';",
        "const lazy = () => import('../jobs/queues.ts');",
        "let reply: import('fastify').FastifyReply;",
        "// import x from 'pipedrive';",
        "const s = \"import y from '@hubspot/api-client'\";",
      ].join('\n'),
    );
    expect(imports).toEqual([
      { specifier: '../providers/hubspot/connector.ts', target: 'src/providers/hubspot/connector.ts', typeOnly: false, line: 1 },
      { specifier: '../model/store/schema.ts', target: 'src/model/store/schema.ts', typeOnly: true, line: 5 },
      { specifier: './u.ts', target: 'src/orchestration/u.ts', typeOnly: false, line: 6 },
      { specifier: './side-effect.ts', target: 'src/orchestration/side-effect.ts', typeOnly: false, line: 7 },
      { specifier: './all.ts', target: 'src/orchestration/all.ts', typeOnly: false, line: 8 },
      { specifier: './v.ts', target: 'src/orchestration/v.ts', typeOnly: true, line: 9 },
      { specifier: '../jobs/queues.ts', target: 'src/jobs/queues.ts', typeOnly: false, line: 10 },
      { specifier: 'fastify', target: null, typeOnly: true, line: 11 },
    ]);
  });

  it('find an SDK imported outside its provider folder, and allow it inside, in the sandboxes', () => {
    const project = synthetic({
      'src/providers/hubspot/connector.ts': "import { Client } from '@hubspot/api-client';",
      'src/providers/pipedrive/client.ts': "import { v2 } from 'pipedrive';",
      'src/providers/hubspot/oops.ts': "import { v2 } from 'pipedrive/dist/esm';",
      'src/sandbox/pipedrive/index.ts': "import type { v2 } from 'pipedrive';",
      'src/orchestration/connectors.ts': "import type { Client } from '@hubspot/api-client';",
      'src/api/server.ts': "let x: import('pipedrive').v2.DealsApi;",
      'src/webhooks/receivers.ts': "import { hubspotish } from '@hubspot/api-client-not';",
    });
    expect(crmSdks).toEqual({ hubspot: ['@hubspot/api-client'], pipedrive: ['pipedrive'] });
    expect(sdkViolations(project)).toEqual([
      "src/providers/hubspot/oops.ts:1 imports 'pipedrive/dist/esm'",
      "src/orchestration/connectors.ts:1 imports '@hubspot/api-client'",
      "src/api/server.ts:1 imports 'pipedrive'",
    ]);
  });

  it('find a provider folder imported from outside the registry, and a CRM the registry leaves out', () => {
    const project = synthetic({
      'src/providers/index.ts': "import { hubspot } from './hubspot/index.ts';\nimport type { ProviderModule } from './types.ts';",
      'src/providers/types.ts': "import type { X } from './hubspot/connector.ts';",
      'src/providers/hubspot/index.ts': "import { connector } from './connector.ts';",
      'src/providers/pipedrive/index.ts': "import { connector } from './connector.ts';\nimport { mapping } from '../hubspot/mapping.ts';",
      'src/orchestration/flush.ts': "import { providerModule } from '../providers/index.ts';\nimport { hubspotErrors } from '../providers/hubspot/errors.ts';",
      'src/sandbox/hubspot/index.ts': "import { fake } from '../../providers/hubspot/fake.ts';",
    });
    expect(providerFolderImporters(project)).toEqual([
      "src/providers/index.ts:1 imports './hubspot/index.ts'",
      "src/providers/types.ts:1 imports './hubspot/connector.ts'",
      "src/providers/pipedrive/index.ts:2 imports '../hubspot/mapping.ts'",
      "src/orchestration/flush.ts:2 imports '../providers/hubspot/errors.ts'",
    ]);
    expect(registryViolations(project)).toEqual([
      "src/providers/types.ts:1 imports './hubspot/connector.ts'",
      "src/providers/pipedrive/index.ts:2 imports '../hubspot/mapping.ts'",
      "src/orchestration/flush.ts:2 imports '../providers/hubspot/errors.ts'",
      `${registry} does not import src/providers/pipedrive/`,
    ]);
  });

  it('fall back to the SDK rule while there is no registry', () => {
    const project = synthetic({
      'src/providers/hubspot/index.ts': "import { Client } from '@hubspot/api-client';",
      'src/orchestration/connectors.ts': "import { hubspot } from '../providers/hubspot/index.ts';",
    });
    expect(registryViolations(project)).toEqual([]);
    project.set('src/orchestration/credentials.ts', parseImports('src/orchestration/credentials.ts', "import { Client } from '@hubspot/api-client';"));
    expect(registryViolations(project)).toEqual(["src/orchestration/credentials.ts:1 imports '@hubspot/api-client'"]);
  });
});

describe('eslint.config.js', () => {
  const eslint = new ESLint({ cwd: root });
  async function reports(file: string, code: string) {
    const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
    return result.messages.filter((message) => message.ruleId?.startsWith('architecture/') || message.ruleId === 'import-x/no-cycle').map((message) => `${message.line} ${message.ruleId}`);
  }

  it('keeps src/model from importing anything of ours but config, at any depth', async () => {
    const code = [
      "import { a } from '../../api/server.ts';",
      "import type { B } from '../../orchestration/flush.ts';",
      "import '../../cli.ts';",
      "export * from '../../status.ts';",
      "import { c } from '../../sync/merge.ts';",
      "import { d } from '../../providers/index.ts';",
      "import { e } from '../../sandbox/shared/random.ts';",
      "import { f } from '../accounts/accounts.ts';",
      "import { g } from '../../config.ts';",
      'export { a, c, d, e, f, g };',
      'export type { B };',
    ].join('\n');
    expect(await reports('src/model/store/probe.ts', code)).toEqual([1, 2, 3, 4, 5, 6, 7].map((line) => `${line} architecture/imports`));
    expect(await reports('src/model/probe.ts', "import { a } from '../jobs/queues.ts';\nexport { a };")).toEqual(['1 architecture/imports']);
  });

  it('keeps src/sync pure: model types only, no I/O packages', async () => {
    const code = [
      "import { sql } from 'drizzle-orm';",
      "import { readFileSync } from 'node:fs';",
      "import { request } from 'http';",
      "import { db } from '../model/store/db.ts';",
      "import type { Db } from '../model/store/db.ts';",
      "import { mergeDeal } from './merge.ts';",
      "import { providerModule } from '../providers/index.ts';",
      'export { sql, readFileSync, request, db, mergeDeal, providerModule };',
      'export type { Db };',
    ].join('\n');
    expect(await reports('src/sync/probe.ts', code)).toEqual([1, 2, 3, 4, 7].map((line) => `${line} architecture/imports`));
  });

  it('keeps a provider folder to itself: no BullMQ, jobs, orchestration, other providers, the registry', async () => {
    const code = [
      "import { Queue } from 'bullmq';",
      "import { pipedrive } from '../pipedrive/index.ts';",
      "import { queues } from '../../jobs/queues.ts';",
      "import { flush } from '../../orchestration/flush.ts';",
      "import { v2 } from 'pipedrive';",
      "import { mapping } from './mapping.ts';",
      "import type { ProviderModule } from '../types.ts';",
      "import { Client } from '@hubspot/api-client';",
      "import { providerModules } from '../index.ts';",
      "import { shared } from '../shared-helper.ts';",
      'export { Queue, pipedrive, queues, flush, v2, mapping, Client, providerModules, shared };',
      'export type { ProviderModule };',
    ].join('\n');
    expect(await reports('src/providers/hubspot/probe.ts', code)).toEqual([1, 2, 3, 4, 5, 9].map((line) => `${line} architecture/imports`));
    expect(await reports('src/providers/types.ts', "import { providerModules } from './index.ts';\nimport { hubspot } from './hubspot/index.ts';\nimport { e } from './errors.ts';\nexport { providerModules, hubspot, e };")).toEqual(
      ['1 architecture/imports', '2 architecture/imports', '2 architecture/no-provider-names'],
    );
  });

  it('keeps the provider folders and SDKs out of reach outside them', async () => {
    const code = [
      "import { providerModule } from '../providers/index.ts';",
      "import { connector } from '../providers/pipedrive/connector.ts';",
      "import { Client } from '@hubspot/api-client';",
      'export { providerModule, connector, Client };',
    ].join('\n');
    // Line 2 and 3 also name a CRM in their strings.
    expect(await reports('src/jobs/probe.ts', code)).toEqual(['2 architecture/imports', '2 architecture/no-provider-names', '3 architecture/imports', '3 architecture/no-provider-names']);
  });

  it('finds a CRM named in a string outside the files that may, but not in a comment', async () => {
    const code = ["// HubSpot and Pipedrive in a comment are fine", "export const a = 'HubSpot';", 'export const b = `a ${a} PIPEDRIVE`;', "export const c = 'neither';"].join('\n');
    expect(await reports('src/orchestration/probe.ts', code)).toEqual(['2 architecture/no-provider-names', '3 architecture/no-provider-names']);
    expect(await reports('src/providers/hubspot/probe.ts', code)).toEqual([]);
    expect(await reports('src/model/store/schema.ts', code)).toEqual([]);
  });

  describe('import cycles', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'crm-sync-cycles-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reports a runtime cycle at any depth, not one of `import type` only', async () => {
      const files: Record<string, string> = {
        'src/orchestration/credentials.ts': "import { flush } from './flush.ts';\nexport const credentials = () => flush;",
        'src/orchestration/flush.ts': "import { store } from '../model/store.ts';\nexport const flush = 1 + store;",
        'src/model/store.ts': "import { credentials } from '../orchestration/credentials.ts';\nexport const store = 2;\nexport const again = credentials;",
        'src/api/a.ts': "import type { B } from './b.ts';\nexport type A = { b?: B };",
        'src/api/b.ts': "import type { A } from './a.ts';\nexport type B = { a?: A };",
      };
      for (const [file, code] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        writeFileSync(path.join(dir, file), code);
      }
      const results = await new ESLint({ cwd: dir, overrideConfigFile: path.join(root, 'eslint.config.js') }).lintFiles(['src']);
      const cycles = results.flatMap((result) => result.messages.filter((message) => message.ruleId === 'import-x/no-cycle').map(() => path.relative(dir, result.filePath).split(path.sep).join('/')));
      expect(cycles.sort()).toEqual(['src/model/store.ts', 'src/orchestration/credentials.ts', 'src/orchestration/flush.ts']);
    });
  });

  it('lints src/ with the architecture rules on (the config was found and applies)', async () => {
    expect(existsSync(path.join(root, 'eslint.config.js'))).toBe(true);
    const config = await eslint.calculateConfigForFile(path.join(root, 'src/orchestration/flush.ts'));
    const severity = (rule: string) => [config.rules?.[rule]].flat()[0];
    for (const rule of ['architecture/imports', 'import-x/no-cycle']) expect([2, 'error']).toContain(severity(rule));
  });
});
