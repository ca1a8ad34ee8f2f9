// Writes native.d.ts from the type definitions napi-derive emits while the addon compiles.
//
// `cargo build -p authsec-node` with NAPI_TYPE_DEF_TMP_FOLDER=<dir> makes the napi-derive macros
// write one JSON line per exported item (kind, name, js_doc, def) into <dir>/authsec-node. This
// script turns those lines into the declaration file, the way `napi build --dts` lays it out
// (the ExternalObject helper when used, classes first, then interfaces and functions by name), so
// the types are checked without the @napi-rs/cli package at test time.
//
// Usage: node scripts/gen-native-dts.mjs <type-def file> <output .d.ts>
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: node scripts/gen-native-dts.mjs <type-def file> <output .d.ts>');
  process.exit(2);
}

const lines = readFileSync(input, 'utf8').split('\n').filter((l) => l.trim() !== '');
const defs = lines.map((l, i) => {
  try { return JSON.parse(l); } catch { throw new Error(`${input}:${i + 1}: not a JSON type-def line`); }
});

// Each definition line is re-indented: code lines flush, doc-comment continuations (` * ...`) one
// space in, then the block's own indent.
const indent = (text, n) => text.split('\n').map((l) => {
  const t = l.trim();
  if (t === '') return '';
  return ' '.repeat(n) + (t.startsWith('*') ? ` ${t}` : t);
}).join('\n');

// Classes: a `struct` line names the class, `impl` lines carry its members.
const classes = new Map();
const others = [];
for (const d of defs) {
  if (d.js_mod) throw new Error(`${d.name}: namespaced items (js_mod) are not supported by this generator`);
  switch (d.kind) {
    case 'struct': {
      const c = classes.get(d.name) ?? { doc: '', members: [] };
      c.doc = d.js_doc ?? '';
      if (d.def) c.members.unshift(d.def);
      classes.set(d.name, c);
      break;
    }
    case 'impl': {
      const c = classes.get(d.name) ?? { doc: '', members: [] };
      if (d.def) c.members.push(d.def);
      classes.set(d.name, c);
      break;
    }
    case 'interface': case 'fn': case 'enum': case 'const':
      others.push(d);
      break;
    default:
      throw new Error(`${d.name}: unknown type-def kind ${JSON.stringify(d.kind)}`);
  }
}

const byName = (a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase());
const blocks = [];
for (const name of [...classes.keys()].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()))) {
  const c = classes.get(name);
  blocks.push(`${c.doc}export declare class ${name} {\n${indent(c.members.join('\n'), 2)}\n}\n`);
}
for (const d of others.sort(byName)) {
  const doc = d.js_doc ?? '';
  if (d.kind === 'interface') blocks.push(`${doc}export interface ${d.name} {\n${indent(d.def, 2)}\n}\n`);
  else if (d.kind === 'fn') blocks.push(`${doc}export declare ${d.def}\n`);
  else if (d.kind === 'enum') blocks.push(`${doc}export declare const enum ${d.name} {\n${indent(d.def, 2)}\n}\n`);
  else blocks.push(`${doc}export declare const ${d.def}\n`);
}

let out = blocks.join('\n');
if (out.includes('ExternalObject<')) {
  out = `\nexport declare class ExternalObject<T> {\n  readonly '': {\n    readonly '': unique symbol\n    [K: symbol]: T\n  }\n}\n\n${out}`;
}
writeFileSync(output, out);
