import path from 'node:path';
import ts from 'typescript';

/**
 * The file-reading half of test/unit/architecture.test.ts: the imports of each src/ file, parsed
 * with the TypeScript compiler (so multi-line imports, `export … from`, `import()` and
 * `import('x').T` count, and comments and strings do not), and the checks over them.
 */

/** Each CRM's SDK, which only that CRM's folder src/providers/<crm>/ may import (and the sandboxes). */
export const crmSdks: Record<string, string[]> = { hubspot: ['@hubspot/api-client'], pipedrive: ['pipedrive'] };

/** The provider registry: the only file outside the provider folders that imports them. */
export const registry = 'src/providers/index.ts';

export interface Import {
  specifier: string;
  /** For a relative import, the file it names, from the repository root (`src/...`); null for a package. */
  target: string | null;
  /** `import type`, `export type` and `import('x').T`: erased when Node strips the types. */
  typeOnly: boolean;
  line: number;
}

/** Each file of src/ (from the repository root, with `/`) and its imports. */
export type Project = Map<string, Import[]>;

export function parseImports(file: string, code: string): Import[] {
  const source = ts.createSourceFile(file, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const imports: Import[] = [];
  const add = (node: ts.Node, specifier: ts.Node | undefined, typeOnly: boolean) => {
    if (!specifier || !ts.isStringLiteralLike(specifier)) return;
    const text = specifier.text;
    const target = text.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(file), text)) : null;
    imports.push({ specifier: text, target, typeOnly, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) add(node, node.moduleSpecifier, node.importClause?.isTypeOnly ?? false);
    else if (ts.isExportDeclaration(node)) add(node, node.moduleSpecifier, node.isTypeOnly);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node, node.moduleReference.expression, node.isTypeOnly);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node, node.arguments[0], false);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal, true);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return imports;
}

/** The CRM whose provider folder holds the file (`src/providers/<crm>/…`), or null. */
export function crmFolderOf(file: string): string | null {
  return /^src\/providers\/([^/]+)\//.exec(file)?.[1] ?? null;
}

const inSandbox = (file: string) => file.startsWith('src/sandbox/');
const describeImport = (file: string, imported: Import) => `${file}:${imported.line} imports '${imported.specifier}'`;

/** Imports of a CRM SDK anywhere but that CRM's folder and the sandboxes. */
export function sdkViolations(project: Project): string[] {
  const violations: string[] = [];
  for (const [file, imports] of project) {
    if (inSandbox(file)) continue;
    const own = crmFolderOf(file);
    for (const imported of imports) {
      if (imported.target !== null) continue;
      const sdkOf = Object.keys(crmSdks).find((crm) => crmSdks[crm].some((sdk) => imported.specifier === sdk || imported.specifier.startsWith(`${sdk}/`)));
      if (sdkOf && sdkOf !== own) violations.push(describeImport(file, imported));
    }
  }
  return violations;
}

/** Imports of a file inside a provider folder from outside that folder (the sandboxes aside). */
export function providerFolderImporters(project: Project): string[] {
  const importers: string[] = [];
  for (const [file, imports] of project) {
    if (inSandbox(file)) continue;
    for (const imported of imports) {
      const crm = imported.target === null ? null : crmFolderOf(imported.target);
      if (crm !== null && crm !== crmFolderOf(file)) importers.push(describeImport(file, imported));
    }
  }
  return importers;
}

/**
 * Once the registry exists: nothing but the registry imports the provider folders, and the
 * registry imports each of them. Before it exists, there is nothing to route through yet, and what
 * already holds is the SDK rule.
 */
export function registryViolations(project: Project): string[] {
  if (!project.has(registry)) return sdkViolations(project);
  const violations = providerFolderImporters(project).filter((violation) => !violation.startsWith(`${registry}:`));
  const crms = new Set([...project.keys()].map(crmFolderOf).filter((crm) => crm !== null));
  const listed = new Set((project.get(registry) ?? []).map((imported) => (imported.target === null ? null : crmFolderOf(imported.target))));
  for (const crm of crms) if (!listed.has(crm)) violations.push(`${registry} does not import src/providers/${crm}/`);
  return violations;
}
