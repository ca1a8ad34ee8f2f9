// Order-exact JSON for the conformance runner. Vectors compare bodies byte for byte against "the
// compact serialization of this value, keys in file order" (serde_json with preserve_order).
// JSON.parse/JSON.stringify cannot promise that: integer-like keys move to the front and number
// lexemes are reformatted. This parser keeps objects as ordered entry lists and numbers as their
// lexemes, and `stringify` writes them the way serde_json does.

export class JObject {
  constructor(entries = []) {
    this.entries = entries; // [[key, value], ...] in file order
  }

  get(key) {
    for (const [k, v] of this.entries) if (k === key) return v;
    return undefined;
  }

  has(key) {
    return this.entries.some(([k]) => k === key);
  }
}

export class JNumber {
  constructor(raw) {
    this.raw = raw;
  }

  valueOf() {
    return Number(this.raw);
  }
}

export function parse(text) {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const fail = (what) => {
    throw new SyntaxError(`JSON: ${what} at offset ${i}`);
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj = new JObject();
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const k = string();
        ws();
        if (text[i] !== ':') fail('expected :');
        i++;
        obj.entries.push([k, value()]);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      const arr = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail('expected , or ]');
      }
    }
    if (c === '"') return string();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) fail('unexpected character');
    i += m[0].length;
    return new JNumber(m[0]);
  };
  const string = () => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

// serde_json's number output: integers as written (i64/u64 range), floats shortest round-trip
// with a `.0` when integral and no `+` in the exponent.
function numberText(raw) {
  if (/^-?\d+$/.test(raw)) {
    const b = BigInt(raw);
    if (b >= -(2n ** 63n) && b < 2n ** 64n) return b.toString();
  }
  const n = Number(raw);
  let s = String(n).replace('e+', 'e');
  if (!/[.e]/.test(s)) s += '.0';
  return s;
}

export function stringify(v) {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof JNumber) return numberText(v.raw);
  if (typeof v === 'number') return numberText(String(v));
  if (Array.isArray(v)) return `[${v.map(stringify).join(',')}]`;
  if (v instanceof JObject) return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${stringify(x)}`).join(',')}}`;
  throw new TypeError(`cannot serialize ${typeof v}`);
}

/** Plain JS value (objects lose nothing but key order, which plain-JS comparisons ignore). */
export function toJs(v) {
  if (v instanceof JNumber) return Number(v.raw);
  if (Array.isArray(v)) return v.map(toJs);
  if (v instanceof JObject) {
    const o = {};
    for (const [k, x] of v.entries) o[k] = toJs(x);
    return o;
  }
  return v;
}

/** Replace `{{base}}` and `{{token:NAME}}` in every string and object key. */
export function substitute(v, base, tokens) {
  const s = (text) => {
    let out = text.replaceAll('{{base}}', base);
    for (const [name, tok] of tokens) out = out.replaceAll(`{{token:${name}}}`, tok);
    return out;
  };
  if (typeof v === 'string') return s(v);
  if (Array.isArray(v)) return v.map((x) => substitute(x, base, tokens));
  if (v instanceof JObject) return new JObject(v.entries.map(([k, x]) => [s(k), substitute(x, base, tokens)]));
  return v;
}

/** Equality of plain JS values, object key order ignored (serde_json::Value equality). */
export function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
}
