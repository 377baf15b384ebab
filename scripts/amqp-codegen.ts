/**
 * Generates the AMQP 0-9-1 method and content-property codecs,
 * src/protocols/amqp/codec/generated/methods.ts, from the restated protocol definition in
 * src/protocols/amqp/schema/amqp-0-9-1.json.
 *
 *   node --import tsx scripts/amqp-codegen.ts
 *
 * The output is straight-line TypeScript: per method an interface, a decode and an encode
 * function with bit fields already packed into octets (consecutive bits share an octet, first
 * field in the least significant bit, at most 8 per octet; spec 4.2.5.2), id constants, and a
 * table keyed by (classId << 16 | methodId). Per class with content, the properties with their
 * property-flags word (spec 4.2.6.1). `generateAmqpCodec` is pure, so the drift test
 * (codec/codegen.test.ts) can compare its output with the file on disk.
 */

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

export type AmqpWireType =
  | "bit"
  | "octet"
  | "short"
  | "long"
  | "longlong"
  | "shortstr"
  | "longstr"
  | "table"
  | "timestamp";

/** A field as the schema writes it: [name, type or domain]. */
type FieldSchema = readonly [string, string];

export interface AmqpMethodSchema {
  readonly name: string;
  readonly id: number;
  readonly synchronous?: boolean;
  readonly content?: boolean;
  readonly fields: readonly FieldSchema[];
}

export interface AmqpClassSchema {
  readonly name: string;
  readonly id: number;
  readonly methods: readonly AmqpMethodSchema[];
  readonly properties?: readonly FieldSchema[];
}

export interface AmqpSchema {
  readonly protocol: { major: number; minor: number; revision: number; port: number };
  readonly domains: Readonly<Record<string, AmqpWireType>>;
  readonly constants: Readonly<Record<string, { value: number; class?: string }>>;
  readonly classes: readonly AmqpClassSchema[];
}

export const schemaPath: string = fileURLToPath(
  new URL("../src/protocols/amqp/schema/amqp-0-9-1.json", import.meta.url),
);

export const generatedPath: string = fileURLToPath(
  new URL("../src/protocols/amqp/codec/generated/methods.ts", import.meta.url),
);

export function loadAmqpSchema(): AmqpSchema {
  return JSON.parse(readFileSync(schemaPath, "utf8")) as AmqpSchema;
}

const wireTypes = new Set<string>([
  "bit",
  "octet",
  "short",
  "long",
  "longlong",
  "shortstr",
  "longstr",
  "table",
  "timestamp",
]);

function resolveType(schema: AmqpSchema, typeOrDomain: string): AmqpWireType {
  if (wireTypes.has(typeOrDomain)) return typeOrDomain as AmqpWireType;
  const resolved = schema.domains[typeOrDomain];
  assert.ok(resolved !== undefined && wireTypes.has(resolved), `unknown domain ${typeOrDomain}`);
  return resolved;
}

/** "auto-delete" → "autoDelete"; "queue" + "declare" → "QueueDeclare" via `pascal`. */
export function camel(name: string): string {
  return name.replace(/[- ]([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function pascal(name: string): string {
  const text = camel(name);
  return text[0]!.toUpperCase() + text.slice(1);
}

const tsType: Record<AmqpWireType, string> = {
  bit: "boolean",
  octet: "number",
  short: "number",
  long: "number",
  longlong: "number",
  timestamp: "number",
  shortstr: "string",
  longstr: "Buffer",
  table: "AmqpFieldTable",
};

export interface ResolvedField {
  readonly name: string;
  readonly property: string;
  readonly type: AmqpWireType;
}

export function resolveFields(schema: AmqpSchema, fields: readonly FieldSchema[]): ResolvedField[] {
  return fields.map(([name, type]) => ({
    name,
    property: camel(name),
    type: resolveType(schema, type),
  }));
}

/** Splits fields into runs; each run of consecutive bits (≤ 8) becomes one octet. */
type Step =
  | { readonly kind: "field"; readonly field: ResolvedField }
  | { readonly kind: "bits"; readonly fields: readonly ResolvedField[] };

function steps(fields: readonly ResolvedField[]): Step[] {
  const out: Step[] = [];
  let bits: ResolvedField[] | undefined;
  for (const field of fields) {
    if (field.type === "bit") {
      if (bits === undefined || bits.length === 8) {
        bits = [];
        out.push({ kind: "bits", fields: bits });
      }
      bits.push(field);
    } else {
      bits = undefined;
      out.push({ kind: "field", field });
    }
  }
  return out;
}

function emitMethod(schema: AmqpSchema, cls: AmqpClassSchema, method: AmqpMethodSchema): string {
  const typeName = pascal(cls.name) + pascal(method.name);
  const constName = camel(`${cls.name}-${method.name}`);
  const fields = resolveFields(schema, method.fields);
  const lines: string[] = [];
  lines.push(
    `/** ${cls.name}.${method.name} (${cls.id}, ${method.id})${method.synchronous ? ", synchronous" : ""}${method.content ? ", carries content" : ""}. */`,
  );
  if (fields.length === 0) {
    lines.push(`export type ${typeName} = Record<string, never>;`);
  } else {
    lines.push(`export interface ${typeName} {`);
    for (const field of fields) lines.push(`  ${field.property}: ${tsType[field.type]};`);
    lines.push("}");
  }
  lines.push(`export const ${constName}ClassId = ${cls.id};`);
  lines.push(`export const ${constName}MethodId = ${method.id};`);
  lines.push("");
  const plan = steps(fields);
  // decode
  const reader = fields.length === 0 ? "_reader" : "reader";
  lines.push(`export function decode${typeName}(${reader}: AmqpReader): ${typeName} {`);
  const values: string[] = [];
  plan.forEach((step, index) => {
    if (step.kind === "field") {
      // `arguments` cannot name a local in strict mode.
      const local = step.field.property === "arguments" ? "args" : step.field.property;
      lines.push(`  const ${local} = reader.${step.field.type}();`);
      values.push(local === step.field.property ? local : `${step.field.property}: ${local}`);
    } else {
      lines.push(`  const bits${index} = reader.octet();`);
      step.fields.forEach((field, bit) => {
        values.push(`${field.property}: (bits${index} & ${1 << bit}) !== 0`);
      });
    }
  });
  lines.push(`  return { ${values.join(", ")} };`);
  lines.push("}");
  lines.push("");
  // encode
  const writer = fields.length === 0 ? "_writer" : "writer";
  const value = fields.length === 0 ? "_value" : "value";
  lines.push(
    `export function encode${typeName}(${writer}: AmqpWriter, ${value}: ${typeName}): void {`,
  );
  for (const step of plan) {
    if (step.kind === "field") {
      lines.push(`  writer.${step.field.type}(value.${step.field.property});`);
    } else {
      const parts = step.fields.map((field, bit) => `(value.${field.property} ? ${1 << bit} : 0)`);
      lines.push(`  writer.octet(${parts.join(" | ")});`);
    }
  }
  lines.push("}");
  return lines.join("\n");
}

function emitProperties(schema: AmqpSchema, cls: AmqpClassSchema): string {
  const typeName = `${pascal(cls.name)}Properties`;
  const fields = resolveFields(schema, cls.properties ?? []);
  // One flags word holds 15 properties (bit 0 is the continuation bit); every class of 0-9-1
  // has at most 14, and bit properties (flag-only) do not occur: the generator relies on both.
  assert.ok(fields.length <= 15, `${cls.name}: more than 15 properties`);
  assert.ok(
    fields.every((field) => field.type !== "bit"),
    `${cls.name}: bit property`,
  );
  const usedMask = fields.reduce((mask, _, index) => mask | (1 << (15 - index)), 0);
  const lines: string[] = [];
  lines.push(
    `/** Content header properties of class ${cls.name} (${cls.id}); absent ones are undefined. */`,
  );
  lines.push(`export interface ${typeName} {`);
  for (const field of fields) lines.push(`  ${field.property}?: ${tsType[field.type]};`);
  lines.push("}");
  lines.push("");
  lines.push("/** Reads the property-flags word(s), then each present property (spec 4.2.6.1). */");
  lines.push(`export function decode${typeName}(reader: AmqpReader): ${typeName} {`);
  lines.push("  const flags = reader.short();");
  lines.push(`  if ((flags & ${0xfffe & ~usedMask}) !== 0) {`);
  lines.push(
    `    reader.fail("property-flags-invalid", \`flags 0x\${flags.toString(16)} name properties ${cls.name} lacks\`);`,
  );
  lines.push("  }");
  lines.push("  let more = (flags & 1) !== 0;");
  lines.push("  while (more) {");
  lines.push(
    "    // A continuation word may only repeat the continuation bit: no property lives there.",
  );
  lines.push("    const next = reader.short();");
  lines.push(
    '    if ((next & 0xfffe) !== 0) reader.fail("property-flags-invalid", "flags beyond the class\'s properties");',
  );
  lines.push("    more = (next & 1) !== 0;");
  lines.push("  }");
  lines.push(`  const properties: ${typeName} = {};`);
  fields.forEach((field, index) => {
    lines.push(
      `  if ((flags & ${1 << (15 - index)}) !== 0) properties.${field.property} = reader.${field.type}();`,
    );
  });
  lines.push("  return properties;");
  lines.push("}");
  lines.push("");
  lines.push(
    `export function encode${typeName}(writer: AmqpWriter, properties: ${typeName}): void {`,
  );
  lines.push("  let flags = 0;");
  fields.forEach((field, index) => {
    lines.push(`  if (properties.${field.property} !== undefined) flags |= ${1 << (15 - index)};`);
  });
  lines.push("  writer.short(flags);");
  for (const field of fields) {
    lines.push(
      `  if (properties.${field.property} !== undefined) writer.${field.type}(properties.${field.property});`,
    );
  }
  lines.push("}");
  return lines.join("\n");
}

const banner =
  "// Generated by scripts/amqp-codegen.ts from src/protocols/amqp/schema/amqp-0-9-1.json — do not edit.\n" +
  "// Regenerate with: node --import tsx scripts/amqp-codegen.ts\n";

export function generateAmqpCodec(schema: AmqpSchema): string {
  const out: string[] = [banner];
  out.push('import type { AmqpFieldTable } from "../field-value.ts";');
  out.push('import type { AmqpReader } from "../reader.ts";');
  out.push('import type { AmqpWriter } from "../writer.ts";');
  out.push("");
  const { major, minor, revision, port } = schema.protocol;
  out.push(
    `export const amqpProtocolVersion = { major: ${major}, minor: ${minor}, revision: ${revision} } as const;`,
  );
  out.push(`export const amqpDefaultPort = ${port};`);
  out.push("");
  out.push("/** The spec's constants: frame types, frame-end, frame-min-size and reply codes. */");
  out.push("export const amqpConstant = {");
  for (const [name, constant] of Object.entries(schema.constants)) {
    out.push(`  ${camel(name)}: ${constant.value},`);
  }
  out.push("} as const;");
  out.push("");
  out.push("/** Reply codes that close only the channel (soft) or the whole connection (hard). */");
  out.push(
    'export const amqpReplyCodeClass: ReadonlyMap<number, "soft-error" | "hard-error"> = new Map([',
  );
  for (const constant of Object.values(schema.constants)) {
    if (constant.class) out.push(`  [${constant.value}, "${constant.class}"],`);
  }
  out.push("]);");
  out.push("");
  out.push("export const amqpClassId = {");
  for (const cls of schema.classes) out.push(`  ${camel(cls.name)}: ${cls.id},`);
  out.push("} as const;");
  out.push("");
  for (const cls of schema.classes) {
    for (const method of cls.methods) {
      out.push(emitMethod(schema, cls, method));
      out.push("");
    }
    if (cls.properties && cls.properties.length > 0) {
      out.push(emitProperties(schema, cls));
      out.push("");
    }
  }
  // The union of all methods and the lookup tables.
  const all = schema.classes.flatMap((cls) => cls.methods.map((method) => ({ cls, method })));
  out.push("/** Any method, tagged with its `class.method` name. */");
  out.push("export type AmqpMethod =");
  for (const { cls, method } of all) {
    out.push(
      `  | { readonly name: "${cls.name}.${method.name}"; readonly args: ${pascal(cls.name)}${pascal(method.name)} }`,
    );
  }
  out.push(";");
  out.push("");
  out.push('export type AmqpMethodName = AmqpMethod["name"];');
  out.push("");
  out.push("export interface AmqpMethodInfo {");
  out.push("  readonly name: AmqpMethodName;");
  out.push("  readonly classId: number;");
  out.push("  readonly methodId: number;");
  out.push("  /** The spec's `synchronous`: the peer answers with a matching -ok method. */");
  out.push("  readonly synchronous: boolean;");
  out.push("  /** Followed by a content header and body frames. */");
  out.push("  readonly content: boolean;");
  out.push('  readonly decode: (reader: AmqpReader) => AmqpMethod["args"];');
  out.push("  // biome-ignore lint/suspicious/noExplicitAny: each entry takes its own args type");
  out.push("  readonly encode: (writer: AmqpWriter, args: any) => void;");
  out.push("}");
  out.push("");
  out.push("/** The (classId << 16 | methodId) key of the method tables. */");
  out.push("export function amqpMethodKey(classId: number, methodId: number): number {");
  out.push("  return classId * 65536 + methodId;");
  out.push("}");
  out.push("");
  out.push(
    "export const amqpMethodsByName: { readonly [Name in AmqpMethodName]: AmqpMethodInfo } = {",
  );
  for (const { cls, method } of all) {
    const typeName = pascal(cls.name) + pascal(method.name);
    out.push(
      `  "${cls.name}.${method.name}": { name: "${cls.name}.${method.name}", classId: ${cls.id}, methodId: ${method.id}, synchronous: ${method.synchronous === true}, content: ${method.content === true}, decode: decode${typeName}, encode: encode${typeName} },`,
    );
  }
  out.push("};");
  out.push("");
  out.push("/** Every method by amqpMethodKey(classId, methodId). */");
  out.push("export const amqpMethodsByKey: ReadonlyMap<number, AmqpMethodInfo> = new Map(");
  out.push(
    "  Object.values(amqpMethodsByName).map((info) => [amqpMethodKey(info.classId, info.methodId), info]),",
  );
  out.push(");");
  out.push("");
  out.push("/** Content properties codecs by class id (only classes that carry content). */");
  out.push("export const amqpPropertiesByClassId: ReadonlyMap<");
  out.push("  number,");
  out.push("  {");
  out.push("    readonly decode: (reader: AmqpReader) => BasicProperties;");
  out.push("    readonly encode: (writer: AmqpWriter, properties: BasicProperties) => void;");
  out.push("  }");
  out.push("> = new Map([");
  const withProperties = schema.classes.filter((cls) => (cls.properties ?? []).length > 0);
  assert.deepEqual(
    withProperties.map((cls) => cls.name),
    ["basic"],
    "only basic carries content",
  );
  for (const cls of withProperties) {
    out.push(
      `  [${cls.id}, { decode: decode${pascal(cls.name)}Properties, encode: encode${pascal(cls.name)}Properties }],`,
    );
  }
  out.push("]);");
  return `${out.join("\n")}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  writeFileSync(generatedPath, generateAmqpCodec(loadAmqpSchema()));
  console.log(`wrote ${generatedPath}`);
}
