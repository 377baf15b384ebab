/**
 * The four exchange types. Each holds its bindings in the structure its matching needs and
 * emits the destinations a publish selects into a sink; the router dedupes and follows
 * exchange-to-exchange bindings. Bindings are keyed by a binding id (unique per exchange).
 */
import { fieldEquals, isVoid } from "./field-values.ts";
import { TopicTrie } from "./topic-trie.ts";
import {
  type Destination,
  type DestinationSink,
  type ExchangeType,
  type FieldTable,
  type FieldValue,
  RoutingError,
} from "./types.ts";

export interface ExchangeMatcher {
  /** Validates a binding before it is stored (throws RoutingError). */
  validate(routingKey: string, args: FieldTable): void;
  add(bindingId: string, destination: Destination, routingKey: string, args: FieldTable): void;
  remove(bindingId: string, routingKey: string, args: FieldTable): void;
  route(routingKey: string, headers: FieldTable | undefined, sink: DestinationSink): void;
}

export class DirectMatcher implements ExchangeMatcher {
  private readonly byKey = new Map<string, Map<string, Destination>>();

  validate(): void {}

  add(bindingId: string, destination: Destination, routingKey: string): void {
    let m = this.byKey.get(routingKey);
    if (m === undefined) this.byKey.set(routingKey, (m = new Map()));
    m.set(bindingId, destination);
  }

  remove(bindingId: string, routingKey: string): void {
    const m = this.byKey.get(routingKey);
    if (m?.delete(bindingId) && m.size === 0) this.byKey.delete(routingKey);
  }

  route(routingKey: string, _headers: FieldTable | undefined, sink: DestinationSink): void {
    const m = this.byKey.get(routingKey);
    if (m !== undefined) for (const d of m.values()) sink.emit(d);
  }
}

export class FanoutMatcher implements ExchangeMatcher {
  private readonly all = new Map<string, Destination>();

  validate(): void {}

  add(bindingId: string, destination: Destination): void {
    this.all.set(bindingId, destination);
  }

  remove(bindingId: string): void {
    this.all.delete(bindingId);
  }

  route(_routingKey: string, _headers: FieldTable | undefined, sink: DestinationSink): void {
    for (const d of this.all.values()) sink.emit(d);
  }
}

export class TopicMatcher implements ExchangeMatcher {
  private readonly trie = new TopicTrie();

  validate(): void {}

  add(bindingId: string, destination: Destination, routingKey: string): void {
    this.trie.add(routingKey, bindingId, destination);
  }

  remove(bindingId: string, routingKey: string): void {
    this.trie.remove(routingKey, bindingId);
  }

  route(routingKey: string, _headers: FieldTable | undefined, sink: DestinationSink): void {
    this.trie.match(routingKey, sink);
  }
}

export type XMatch = "all" | "any" | "all-with-x" | "any-with-x";

/** A headers binding compiled for matching: the argument keys it tests, with their values. */
export interface HeadersPattern {
  readonly all: boolean;
  readonly keys: readonly string[];
  readonly values: readonly FieldValue[];
}

/** Compiles binding arguments (RabbitMQ's rules; an invalid `x-match` is a 406). */
export function compileHeadersPattern(args: FieldTable): HeadersPattern {
  const xm = args["x-match"];
  let mode: XMatch = "all";
  if (xm !== undefined) {
    if (xm !== "all" && xm !== "any" && xm !== "all-with-x" && xm !== "any-with-x") {
      throw new RoutingError(
        "PRECONDITION_FAILED",
        `Invalid x-match field value ${JSON.stringify(String(xm))}; expected all, any, all-with-x, or any-with-x`,
      );
    }
    mode = xm;
  }
  const withX = mode === "all-with-x" || mode === "any-with-x";
  const keys: string[] = [];
  const values: FieldValue[] = [];
  for (const key of Object.keys(args)) {
    if (key === "x-match") continue;
    if (!withX && key.startsWith("x-")) continue;
    keys.push(key);
    values.push(args[key]);
  }
  return { all: mode === "all" || mode === "all-with-x", keys, values };
}

/**
 * RabbitMQ's headers_match: for `all` every tested key must be present in the message with an
 * equal value (a void binding value tests presence only); for `any` one such key is enough.
 * `all` over zero keys matches everything; `any` over zero keys matches nothing.
 */
export function headersMatch(pattern: HeadersPattern, headers: FieldTable | undefined): boolean {
  const { keys, values } = pattern;
  if (pattern.all) {
    for (let i = 0; i < keys.length; i++) {
      if (!keyMatches(keys[i], values[i], headers)) return false;
    }
    return true;
  }
  for (let i = 0; i < keys.length; i++) {
    if (keyMatches(keys[i], values[i], headers)) return true;
  }
  return false;
}

function keyMatches(key: string, expected: FieldValue, headers: FieldTable | undefined): boolean {
  if (headers === undefined || !Object.hasOwn(headers, key)) return false;
  return isVoid(expected) || fieldEquals(expected, headers[key]);
}

interface HeadersBinding {
  readonly destination: Destination;
  readonly pattern: HeadersPattern;
}

export class HeadersMatcher implements ExchangeMatcher {
  private readonly bindings = new Map<string, HeadersBinding>();

  validate(_routingKey: string, args: FieldTable): void {
    compileHeadersPattern(args);
  }

  add(bindingId: string, destination: Destination, _routingKey: string, args: FieldTable): void {
    this.bindings.set(bindingId, { destination, pattern: compileHeadersPattern(args) });
  }

  remove(bindingId: string): void {
    this.bindings.delete(bindingId);
  }

  route(_routingKey: string, headers: FieldTable | undefined, sink: DestinationSink): void {
    for (const b of this.bindings.values()) {
      if (headersMatch(b.pattern, headers)) sink.emit(b.destination);
    }
  }
}

export function createMatcher(type: ExchangeType): ExchangeMatcher {
  switch (type) {
    case "direct":
      return new DirectMatcher();
    case "fanout":
      return new FanoutMatcher();
    case "topic":
      return new TopicMatcher();
    case "headers":
      return new HeadersMatcher();
  }
}

export function isExchangeType(type: string): type is ExchangeType {
  return type === "direct" || type === "fanout" || type === "topic" || type === "headers";
}
