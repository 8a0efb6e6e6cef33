#!/usr/bin/env node
// Checks recorded gateway answers against the OpenAPI 3.1 spec.
//
//   node tools/spec/check-answers.mjs openapi/kycgate.yaml ANSWERS.jsonl
//
// ANSWERS.jsonl holds one JSON object per line:
//   {"method", "path" (the spec's path template), "status", "contentType" (or null),
//    "headers": {name: value}, "body": parsed JSON, or null for a non-JSON or empty body,
//    "bodyLength"? (bytes)}
//
// For each answer: the status must be declared for the operation (exact code, else the 1XX..5XX
// range, else default); the Content-Type must be one of that response's media types (none when it
// declares no content); a JSON body must match the media type's schema (JSON Schema 2020-12, with
// formats); every required header the response declares must be present and match its schema, and
// the headers every answer carries (X-Request-Id, X-Kycgate-Environment, Cache-Control,
// X-Content-Type-Options) must be there. A problem body must repeat the answer's status and
// X-Request-Id. A method the path does not take must be a 405 that some operation of the path
// declares, with Allow listing the path's methods. A path the spec does not have must be a 404,
// checked against components/responses/NotFound ("not-found when no route matches the path").
// Every operation of the spec must have at least one answer.
//
// Prints every mismatch and exits 1 when there is one; 2 on a usage or input error.
import { readFileSync } from 'node:fs';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

const Ajv2020 = Ajv2020Module.default ?? Ajv2020Module;
const addFormats = addFormatsModule.default ?? addFormatsModule;

const SPEC_ID = 'https://kycgate.invalid/openapi.yaml';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const ALWAYS_HEADERS = ['X-Request-Id', 'X-Kycgate-Environment', 'Cache-Control',
  'X-Content-Type-Options'];

function usage(msg) {
  console.error(`check-answers: ${msg}`);
  console.error('usage: node check-answers.mjs SPEC.yaml ANSWERS.jsonl');
  process.exit(2);
}

if (process.argv.length !== 4)
  usage('two arguments are needed');
const [specPath, answersPath] = process.argv.slice(2);

let spec;
try {
  spec = parseYaml(readFileSync(specPath, 'utf8'));
} catch (e) {
  usage(`cannot read ${specPath}: ${e.message}`);
}
if (typeof spec !== 'object' || spec === null || typeof spec.paths !== 'object')
  usage(`${specPath} is not an OpenAPI document`);

// The whole spec is one schema resource: "#/components/..." inside it resolves against SPEC_ID.
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
ajv.addSchema({ ...spec, $id: SPEC_ID }, SPEC_ID);

// A local "#/a/b" $ref (a response, a header) followed to its target.
function pointerGet(pointer) {
  if (!pointer.startsWith('#/'))
    throw new Error(`only local $ref is supported: ${pointer}`);
  let node = spec;
  for (const raw of pointer.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node))
      throw new Error(`$ref ${pointer} does not resolve`);
    node = node[key];
  }
  return node;
}

function deref(obj) {
  const seen = new Set();
  while (obj && typeof obj === 'object' && typeof obj.$ref === 'string') {
    if (seen.has(obj.$ref))
      throw new Error(`$ref loop at ${obj.$ref}`);
    seen.add(obj.$ref);
    obj = pointerGet(obj.$ref);
  }
  return obj;
}

// A schema taken out of the spec, its local $refs pointed at the spec resource.
function rebase(schema) {
  if (Array.isArray(schema))
    return schema.map(rebase);
  if (schema === null || typeof schema !== 'object')
    return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === '$ref' && typeof v === 'string' && v.startsWith('#'))
      out[k] = SPEC_ID + v;
    else if (k === 'example' || k === 'examples')
      out[k] = v;
    else
      out[k] = rebase(v);
  }
  return out;
}

const compiled = new Map();
function validator(schema) {
  if (!compiled.has(schema))
    compiled.set(schema, ajv.compile(rebase(schema)));
  return compiled.get(schema);
}

function ajvErrors(errors) {
  return (errors || []).map((e) => {
    const params = Object.keys(e.params || {}).length ? ` ${JSON.stringify(e.params)}` : '';
    return `    ${e.instancePath || '(root)'} ${e.message}${params} [${e.schemaPath}]`;
  });
}

// The response object for a status: exact code, else NXX range (either case), else default.
function responseFor(responses, status) {
  const code = String(status);
  const range = `${code[0]}XX`;
  for (const key of [code, range, range.toLowerCase(), 'default']) {
    if (Object.prototype.hasOwnProperty.call(responses, key))
      return { key, response: deref(responses[key]) };
  }
  return null;
}

function mediaBase(ct) {
  return ct ? ct.split(';')[0].trim().toLowerCase() : null;
}

function isJsonMedia(mt) {
  return mt === 'application/json' || /^[a-z0-9.+-]+\/[a-z0-9.+-]*\+json$/.test(mt);
}

function mediaFor(content, ct) {
  const keys = Object.keys(content);
  const exact = keys.find((k) => k.toLowerCase() === ct);
  if (exact)
    return exact;
  const wildType = keys.find((k) => k.toLowerCase() === `${ct.split('/')[0]}/*`);
  return wildType || keys.find((k) => k === '*/*') || null;
}

function headerValue(headers, name) {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers || {}))
    if (k.toLowerCase() === lower)
      return v;
  return undefined;
}

// A header value as its schema's type wants it (header values are strings on the wire).
function headerInstance(schema, value) {
  const s = deref(schema) || {};
  const types = Array.isArray(s.type) ? s.type : [s.type];
  if ((types.includes('integer') || types.includes('number')) && /^-?\d+(\.\d+)?$/.test(value))
    return Number(value);
  if (types.includes('boolean') && (value === 'true' || value === 'false'))
    return value === 'true';
  return value;
}

function checkAnswer(a) {
  const problems = [];
  const pathItem = spec.paths[a.path];
  const method = String(a.method || '').toLowerCase();
  let operation = null;
  let response = null;
  let key = null;

  if (pathItem === undefined) {
    if (a.status !== 404)
      return [`path ${a.path} is not in the spec, and only a 404 (no route) may answer it`];
    key = 'components/responses/NotFound';
    response = deref(spec.components?.responses?.NotFound);
    if (!response)
      return ['the spec has no components/responses/NotFound to check a no-route 404 against'];
  } else if (pathItem[method] === undefined) {
    const allowed = METHODS.filter((m) => pathItem[m] !== undefined);
    if (a.status !== 405)
      return [`${a.path} has no ${method.toUpperCase()} operation; only a 405 may answer it`];
    const declaring = allowed.find((m) => pathItem[m].responses?.['405'] !== undefined);
    if (!declaring)
      return [`no operation of ${a.path} declares 405`];
    key = `${declaring} 405`;
    response = deref(pathItem[declaring].responses['405']);
    const allow = headerValue(a.headers, 'Allow');
    const want = allowed.map((m) => m.toUpperCase()).sort().join(',');
    const got = allow === undefined ? '' :
      allow.split(',').map((m) => m.trim().toUpperCase()).filter(Boolean).sort().join(',');
    if (got !== want)
      problems.push(`Allow is ${JSON.stringify(allow)}, the path's methods are ${want}`);
  } else {
    operation = pathItem[method];
    const found = responseFor(operation.responses || {}, a.status);
    if (!found)
      return [`status ${a.status} is not declared (declared: ${
        Object.keys(operation.responses || {}).join(', ')})`];
    ({ key, response } = found);
  }

  // Headers: the ones the response declares, and the ones every answer carries.
  const declared = new Set();
  for (const [name, h0] of Object.entries(response.headers || {})) {
    const h = deref(h0);
    const value = headerValue(a.headers, name);
    declared.add(name.toLowerCase());
    if (value === undefined) {
      if (h.required)
        problems.push(`required header ${name} is missing (response ${key})`);
      continue;
    }
    if (h.schema) {
      const v = validator(h.schema);
      if (!v(headerInstance(h.schema, value)))
        problems.push(`header ${name}: ${JSON.stringify(value)} does not match its schema`,
          ...ajvErrors(v.errors));
    }
  }
  for (const name of ALWAYS_HEADERS)
    if (!declared.has(name.toLowerCase()) && headerValue(a.headers, name) === undefined)
      problems.push(`header ${name} is missing (every answer carries it)`);

  // Content-Type and body.
  const ct = mediaBase(a.contentType);
  const bodyLength = typeof a.bodyLength === 'number' ? a.bodyLength : null;
  if (!response.content || Object.keys(response.content).length === 0) {
    if (a.body !== null && a.body !== undefined || (bodyLength !== null && bodyLength > 0))
      problems.push(`response ${key} declares no content, but the answer has a body`);
    if (ct)
      problems.push(`response ${key} declares no content, but Content-Type is ${a.contentType}`);
    return problems;
  }
  if (!ct) {
    problems.push(`no Content-Type; response ${key} declares ${
      Object.keys(response.content).join(', ')}`);
    return problems;
  }
  const mt = mediaFor(response.content, ct);
  if (!mt) {
    problems.push(`Content-Type ${a.contentType} is not declared for response ${key} (declared: ${
      Object.keys(response.content).join(', ')})`);
    return problems;
  }
  const media = response.content[mt] || {};
  if (!isJsonMedia(ct)) {
    if (bodyLength === 0)
      problems.push(`${ct} answer with an empty body`);
    return problems; // a non-JSON body is not validated beyond its type
  }
  if (a.body === null || a.body === undefined) {
    problems.push(`${ct} answer whose body is not JSON (or is empty)`);
    return problems;
  }
  if (media.schema) {
    const v = validator(media.schema);
    if (!v(a.body))
      problems.push(`body does not match the schema of response ${key} ${mt}`,
        ...ajvErrors(v.errors));
  }
  // RFC 9457 bodies kycgate writes repeat the answer's status and request id.
  if (ct === 'application/problem+json' && typeof a.body === 'object' && a.body !== null) {
    if (a.body.status !== a.status)
      problems.push(`problem status ${a.body.status} differs from the answer's ${a.status}`);
    const rid = headerValue(a.headers, 'X-Request-Id');
    if (rid !== undefined && a.body.requestId !== rid)
      problems.push(`problem requestId ${JSON.stringify(a.body.requestId)} differs from ` +
        `X-Request-Id ${JSON.stringify(rid)}`);
  }
  return problems;
}

let text;
try {
  text = readFileSync(answersPath, 'utf8');
} catch (e) {
  usage(`cannot read ${answersPath}: ${e.message}`);
}

const seenOps = new Set();
let checked = 0;
let failed = 0;
text.split('\n').forEach((line, i) => {
  if (line.trim() === '')
    return;
  let a;
  try {
    a = JSON.parse(line);
  } catch (e) {
    console.log(`FAIL line ${i + 1}: not JSON: ${e.message}`);
    failed++;
    return;
  }
  checked++;
  const where = `${String(a.method).toUpperCase()} ${a.path} -> ${a.status} (line ${i + 1})`;
  let problems;
  try {
    problems = checkAnswer(a);
  } catch (e) {
    problems = [`checker error: ${e.message}`];
  }
  seenOps.add(`${String(a.method).toLowerCase()} ${a.path}`);
  if (problems.length > 0) {
    failed++;
    console.log(`FAIL ${where}`);
    for (const p of problems)
      console.log(`  ${p}`);
    console.log(`  body: ${JSON.stringify(a.body)?.slice(0, 2000)}`);
  }
});

let uncovered = 0;
for (const [path, item] of Object.entries(spec.paths)) {
  for (const m of METHODS) {
    if (item[m] !== undefined && !seenOps.has(`${m} ${path}`)) {
      console.log(`FAIL ${m.toUpperCase()} ${path}: no answer was recorded for this operation`);
      uncovered++;
    }
  }
}

console.log(`check-answers: ${checked} answers, ${failed} not conforming, ` +
  `${uncovered} operations without an answer`);
process.exit(failed > 0 || uncovered > 0 || checked === 0 ? 1 : 0);
