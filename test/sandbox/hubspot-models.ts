import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const sdkEntry = createRequire(import.meta.url).resolve('@hubspot/api-client');
const sdkRoot = sdkEntry.slice(0, sdkEntry.lastIndexOf('api-client') + 'api-client'.length);

/**
 * The attributes a generated HubSpot SDK model declares as required (no `?` in its .d.ts), with
 * their declared types: the SDK's own statement of what a real response always carries.
 */
function requiredAttributes(modelPath: string): Map<string, string> {
  const source = readFileSync(join(sdkRoot, 'lib', 'codegen', `${modelPath}.d.ts`), 'utf8');
  const required = new Map<string, string>();
  for (const match of source.matchAll(/^\s{4}'(\w+)': (.+?);?$/gm)) required.set(match[1]!, match[2]!);
  return required;
}

/** Names every required attribute of `model` missing from `json`, following nested models. */
export function missingRequired(json: unknown, modelPath: string, at = '$'): string[] {
  if (json === null || typeof json !== 'object') return [`${at} is not an object`];
  const folder = modelPath.slice(0, modelPath.lastIndexOf('/'));
  const missing: string[] = [];
  for (const [name, type] of requiredAttributes(modelPath)) {
    const value = (json as Record<string, unknown>)[name];
    if (value === undefined) {
      missing.push(`${at}.${name}`);
      continue;
    }
    const nested = /^(?:Array<)?([A-Z]\w+)>?$/.exec(type)?.[1];
    if (!nested || nested === 'Date' || nested.endsWith('Enum')) continue;
    const items = Array.isArray(value) ? value : [value];
    items.forEach((item, i) => missing.push(...missingRequired(item, `${folder}/${nested}`, `${at}.${name}${Array.isArray(value) ? `[${i}]` : ''}`)));
  }
  return missing;
}
