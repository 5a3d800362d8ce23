/**
 * A structural check of an OpenAPI 3.0/3.1 document, written out because no validator package is
 * installed: the parts a client generator relies on, and every $ref resolving. Returns what is
 * wrong, each with the JSON path where it is.
 */
export function openApiShapeProblems(doc: unknown): string[] {
  const problems: string[] = [];
  const fail = (at: string, what: string) => problems.push(`${at}: ${what}`);
  if (!isObject(doc)) return ['$: the document is not a JSON object'];

  if (typeof doc.openapi !== 'string' || !/^3\.[01]\.\d+$/.test(doc.openapi)) {
    fail('$.openapi', `must be a 3.0.x or 3.1.x version string, got ${JSON.stringify(doc.openapi)}`);
  }
  if (!isObject(doc.info)) fail('$.info', 'missing');
  else {
    if (!nonEmptyString(doc.info.title)) fail('$.info.title', 'must be a non-empty string');
    if (!nonEmptyString(doc.info.version)) fail('$.info.version', 'must be a non-empty string');
  }
  if (doc.tags !== undefined) {
    if (!Array.isArray(doc.tags)) fail('$.tags', 'must be an array');
    else doc.tags.forEach((tag, i) => !(isObject(tag) && nonEmptyString(tag.name)) && fail(`$.tags[${i}]`, 'needs a name'));
  }

  const components = isObject(doc.components) ? doc.components : {};
  const schemes = isObject(components.securitySchemes) ? components.securitySchemes : {};
  for (const [name, scheme] of Object.entries(schemes)) {
    const at = `$.components.securitySchemes.${name}`;
    if (!isObject(scheme) || !['apiKey', 'http', 'oauth2', 'openIdConnect', 'mutualTLS'].includes(String(scheme.type))) {
      fail(at, 'needs a type of apiKey, http, oauth2, openIdConnect or mutualTLS');
    } else if (scheme.type === 'http' && !nonEmptyString(scheme.scheme)) fail(at, 'an http scheme needs `scheme`');
  }
  const checkSecurity = (at: string, security: unknown) => {
    if (security === undefined) return;
    if (!Array.isArray(security)) return fail(at, 'must be an array of security requirements');
    security.forEach((requirement, i) => {
      if (!isObject(requirement)) return fail(`${at}[${i}]`, 'must be an object');
      for (const [name, scopes] of Object.entries(requirement)) {
        if (!(name in schemes)) fail(`${at}[${i}]`, `names the security scheme "${name}", which components.securitySchemes lacks`);
        if (!Array.isArray(scopes)) fail(`${at}[${i}].${name}`, 'must be an array of scopes');
      }
    });
  };
  checkSecurity('$.security', doc.security);

  if (!isObject(doc.paths)) fail('$.paths', 'missing');
  const operationIds = new Map<string, string>();
  for (const [path, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    const at = `$.paths['${path}']`;
    if (!path.startsWith('/')) fail(at, 'a path must start with /');
    if (!isObject(item)) {
      fail(at, 'must be a path item object');
      continue;
    }
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    const operations = Object.entries(item).filter(([key]) => HTTP_METHODS.includes(key));
    if (operations.length === 0) fail(at, 'has no operation');
    for (const key of Object.keys(item)) {
      if (!HTTP_METHODS.includes(key) && !PATH_ITEM_FIELDS.includes(key) && !key.startsWith('x-')) {
        fail(at, `unknown field "${key}"`);
      }
    }
    for (const [method, operation] of operations) {
      const opAt = `${at}.${method}`;
      if (!isObject(operation)) {
        fail(opAt, 'must be an operation object');
        continue;
      }
      if (operation.operationId !== undefined) {
        if (!nonEmptyString(operation.operationId)) fail(`${opAt}.operationId`, 'must be a non-empty string');
        else if (operationIds.has(operation.operationId)) {
          fail(`${opAt}.operationId`, `"${operation.operationId}" is also used by ${operationIds.get(operation.operationId)}`);
        } else operationIds.set(operation.operationId, opAt);
      }
      const parameters = [...asArray(item.parameters), ...asArray(operation.parameters)];
      const pathParameters = new Set<string>();
      parameters.forEach((parameter, i) => {
        const paramAt = `${opAt}.parameters[${i}]`;
        const resolved = isObject(parameter) && typeof parameter.$ref === 'string' ? resolveRef(doc, parameter.$ref) : parameter;
        if (!isObject(resolved)) return fail(paramAt, 'must be a parameter object');
        if (!nonEmptyString(resolved.name)) fail(paramAt, 'needs a name');
        if (!['query', 'header', 'path', 'cookie'].includes(String(resolved.in))) fail(paramAt, 'needs `in`: query, header, path or cookie');
        if (resolved.schema === undefined && resolved.content === undefined) fail(paramAt, 'needs a schema or content');
        if (resolved.in === 'path') {
          pathParameters.add(String(resolved.name));
          if (resolved.required !== true) fail(paramAt, 'a path parameter must be required: true');
          if (!templated.includes(String(resolved.name))) fail(paramAt, `path parameter "${resolved.name}" is not in the path`);
        }
      });
      for (const name of templated) if (!pathParameters.has(name)) fail(opAt, `path parameter {${name}} is not described`);
      if (operation.requestBody !== undefined) {
        const body = operation.requestBody;
        if (!isObject(body) || (!isObject(body.content) && typeof body.$ref !== 'string')) {
          fail(`${opAt}.requestBody`, 'needs content');
        } else if (isObject(body.content)) checkContent(`${opAt}.requestBody.content`, body.content, fail);
      }
      if (!isObject(operation.responses) || Object.keys(operation.responses).length === 0) {
        fail(`${opAt}.responses`, 'must have at least one response');
      } else {
        for (const [status, response] of Object.entries(operation.responses)) {
          const resAt = `${opAt}.responses['${status}']`;
          if (status !== 'default' && !/^[1-5](\d\d|XX)$/.test(status)) fail(resAt, 'must be an HTTP status code or default');
          if (isObject(response) && typeof response.$ref === 'string') continue;
          if (!isObject(response) || typeof response.description !== 'string') fail(resAt, 'needs a description');
          else if (response.content !== undefined) checkContent(`${resAt}.content`, response.content, fail);
        }
      }
      if (operation.tags !== undefined && !(Array.isArray(operation.tags) && operation.tags.every(nonEmptyString))) {
        fail(`${opAt}.tags`, 'must be an array of strings');
      }
      checkSecurity(`${opAt}.security`, operation.security);
    }
  }

  for (const [name, schema] of Object.entries(isObject(components.schemas) ? components.schemas : {})) {
    if (!/^[a-zA-Z0-9.\-_]+$/.test(name)) fail(`$.components.schemas`, `"${name}" is not a valid component name`);
    checkSchema(`$.components.schemas['${name}']`, schema, fail);
  }

  walk(doc, '$', (value, at) => {
    if (isObject(value) && typeof value.$ref === 'string' && resolveRef(doc, value.$ref) === undefined) {
      fail(at, `$ref ${value.$ref} does not resolve`);
    }
  });
  return problems;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const PATH_ITEM_FIELDS = ['$ref', 'summary', 'description', 'servers', 'parameters'];
const SCHEMA_TYPES = ['string', 'number', 'integer', 'boolean', 'array', 'object', 'null'];

type Fail = (at: string, what: string) => void;

function checkContent(at: string, content: unknown, fail: Fail): void {
  if (!isObject(content)) return fail(at, 'must be an object of media types');
  for (const [mediaType, media] of Object.entries(content)) {
    if (!/^[\w.+-]+\/[\w.+*-]+/.test(mediaType)) fail(at, `"${mediaType}" is not a media type`);
    if (!isObject(media)) fail(`${at}['${mediaType}']`, 'must be a media type object');
    else if (media.schema !== undefined) checkSchema(`${at}['${mediaType}'].schema`, media.schema, fail);
  }
}

function checkSchema(at: string, schema: unknown, fail: Fail): void {
  if (typeof schema === 'boolean') return;
  if (!isObject(schema)) return fail(at, 'must be a schema object');
  if (typeof schema.$ref === 'string') return;
  const types = schema.type === undefined ? [] : [schema.type].flat();
  for (const type of types) if (!SCHEMA_TYPES.includes(String(type))) fail(`${at}.type`, `unknown type ${JSON.stringify(type)}`);
  if (types.includes('array')) {
    if (schema.items === undefined) fail(at, 'an array schema needs items');
    else checkSchema(`${at}.items`, schema.items, fail);
  }
  if (schema.properties !== undefined) {
    if (!isObject(schema.properties)) fail(`${at}.properties`, 'must be an object');
    else for (const [name, property] of Object.entries(schema.properties)) checkSchema(`${at}.properties['${name}']`, property, fail);
  }
  if (schema.required !== undefined) {
    if (!Array.isArray(schema.required) || !schema.required.every((r) => typeof r === 'string')) {
      fail(`${at}.required`, 'must be an array of property names');
    } else if (isObject(schema.properties)) {
      for (const name of schema.required) if (!(name in schema.properties)) fail(`${at}.required`, `"${name}" is not a property`);
    }
  }
  if (schema.enum !== undefined && (!Array.isArray(schema.enum) || schema.enum.length === 0)) fail(`${at}.enum`, 'must be a non-empty array');
  if (isObject(schema.additionalProperties)) checkSchema(`${at}.additionalProperties`, schema.additionalProperties, fail);
  for (const key of ['allOf', 'oneOf', 'anyOf'] as const) {
    if (schema[key] === undefined) continue;
    if (!Array.isArray(schema[key])) fail(`${at}.${key}`, 'must be an array');
    else (schema[key] as unknown[]).forEach((sub, i) => checkSchema(`${at}.${key}[${i}]`, sub, fail));
  }
}

/** A local JSON pointer ($ref "#/components/schemas/x"); undefined when it points nowhere. */
export function resolveRef(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(node) || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}

function walk(value: unknown, at: string, visit: (value: unknown, at: string) => void): void {
  visit(value, at);
  if (Array.isArray(value)) value.forEach((item, i) => walk(item, `${at}[${i}]`, visit));
  else if (isObject(value)) for (const [key, item] of Object.entries(value)) walk(item, `${at}.${key}`, visit);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
