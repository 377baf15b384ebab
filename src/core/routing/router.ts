/**
 * The Router: a set of exchanges and their bindings, resolving a publish (exchange, routing
 * key, headers) to the final queues and streams, with RabbitMQ's rules:
 * - exchange-to-exchange bindings are followed breadth-first; every exchange is visited at
 *   most once per publish (cycles terminate) and every queue/stream is delivered once;
 * - when an exchange's own bindings select nothing, its alternate exchange is routed to (and
 *   that one's alternate, and so on); a missing alternate exchange is ignored;
 * - internal exchanges cannot be published to (403), an unknown exchange is a 404;
 * - the default exchange "" routes to the queue named by the routing key when it exists.
 * The publish path reuses its work list and sets; it allocates only the result array.
 */

import { createMatcher, type ExchangeMatcher, isExchangeType } from "./exchange-types.ts";
import { canonicalTable } from "./field-values.ts";
import {
  type Binding,
  type Destination,
  type DestinationKind,
  type DestinationSink,
  type ExchangeType,
  type FieldTable,
  RoutingError,
} from "./types.ts";

export const DEFAULT_EXCHANGE = "";

/** Placeholder output between publishes (never written: emit runs only inside routeInto). */
const NO_OUTPUT: Destination[] = [];

export interface ExchangeOptions {
  readonly durable?: boolean;
  readonly autoDelete?: boolean;
  readonly internal?: boolean;
  /** Name of the alternate exchange; defaults to the `alternate-exchange` argument. */
  readonly alternateExchange?: string;
  readonly arguments?: FieldTable;
}

export interface ExchangeInfo {
  readonly name: string;
  readonly type: ExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly alternateExchange: string | undefined;
  readonly arguments: FieldTable;
}

export interface RouterOptions {
  /** Whether a queue exists (used by the default exchange). Defaults to "never". */
  readonly queueExists?: (name: string) => boolean;
}

interface StoredBinding extends Binding {
  readonly id: string;
}

class Exchange implements ExchangeInfo {
  readonly matcher: ExchangeMatcher;
  /** Bindings with this exchange as source, by binding id. */
  readonly bindings = new Map<string, StoredBinding>();
  readonly arguments: FieldTable;

  constructor(
    readonly name: string,
    readonly type: ExchangeType,
    readonly durable: boolean,
    readonly autoDelete: boolean,
    readonly internal: boolean,
    readonly alternateExchange: string | undefined,
    args: FieldTable,
  ) {
    this.matcher = createMatcher(type);
    this.arguments = args;
  }
}

function destKey(kind: DestinationKind, name: string): string {
  return `${kind}\u0000${name}`;
}

export class Router implements DestinationSink {
  private readonly exchanges = new Map<string, Exchange>();
  /** Interned destinations, so that dedupe on the publish path is by identity. */
  private readonly destinations = new Map<string, Destination>();
  /** Bindings that point at a destination, by destination key (for deletion cascades). */
  private readonly inbound = new Map<string, Set<StoredBinding>>();
  private readonly queueExists: (name: string) => boolean;

  // Publish-path state, reused between publishes.
  private readonly work: Exchange[] = [];
  private readonly seenExchanges = new Set<Exchange>();
  private readonly seenDestinations = new Set<Destination>();
  private out: Destination[] = NO_OUTPUT;
  private emitted = 0;

  constructor(options: RouterOptions = {}) {
    this.queueExists = options.queueExists ?? (() => false);
    this.exchanges.set(
      DEFAULT_EXCHANGE,
      new Exchange(DEFAULT_EXCHANGE, "direct", true, false, false, undefined, {}),
    );
  }

  /** The interned destination for (kind, name). */
  destination(kind: DestinationKind, name: string): Destination {
    const key = destKey(kind, name);
    let d = this.destinations.get(key);
    if (d === undefined) {
      d = Object.freeze({ kind, name });
      this.destinations.set(key, d);
    }
    return d;
  }

  // ---- exchanges ---------------------------------------------------------------------

  /**
   * Declares an exchange. Redeclaring with the same type, flags and alternate exchange is a
   * no-op; anything else is a 406 (as RabbitMQ's equivalence check). Names starting with `amq.` are reserved (403)
   * unless `reserved` is set (used for the predeclared exchanges).
   */
  declareExchange(
    name: string,
    type: string,
    options: ExchangeOptions = {},
    reserved = false,
  ): ExchangeInfo {
    if (!isExchangeType(type)) {
      throw new RoutingError("COMMAND_INVALID", `unknown exchange type '${type}'`);
    }
    const existing = this.exchanges.get(name);
    const durable = options.durable ?? false;
    const autoDelete = options.autoDelete ?? false;
    const internal = options.internal ?? false;
    const fromArgs = options.arguments?.["alternate-exchange"];
    const alternate =
      options.alternateExchange ?? (typeof fromArgs === "string" ? fromArgs : undefined);
    if (existing !== undefined) {
      if (
        existing.type !== type ||
        existing.durable !== durable ||
        existing.autoDelete !== autoDelete ||
        existing.internal !== internal ||
        existing.alternateExchange !== alternate
      ) {
        throw new RoutingError(
          "PRECONDITION_FAILED",
          `inequivalent arg for exchange '${name}': declared as ${existing.type}`,
        );
      }
      return existing;
    }
    if (name === DEFAULT_EXCHANGE || (!reserved && name.startsWith("amq."))) {
      throw new RoutingError(
        "ACCESS_REFUSED",
        `exchange name '${name}' contains reserved prefix 'amq.*'`,
      );
    }
    const x = new Exchange(
      name,
      type,
      durable,
      autoDelete,
      internal,
      alternate,
      options.arguments ?? {},
    );
    this.exchanges.set(name, x);
    return x;
  }

  getExchange(name: string): ExchangeInfo | undefined {
    return this.exchanges.get(name);
  }

  hasExchange(name: string): boolean {
    return this.exchanges.has(name);
  }

  exchangeNames(): IterableIterator<string> {
    return this.exchanges.keys();
  }

  /**
   * Deletes an exchange and every binding where it is the source or the destination.
   * Deleting a missing exchange is a no-op (RabbitMQ 3.x+). `ifUnused`: 406 when it is the
   * source of any binding. The default exchange cannot be deleted (403).
   */
  deleteExchange(name: string, options: { ifUnused?: boolean } = {}): boolean {
    if (name === DEFAULT_EXCHANGE || name.startsWith("amq.")) {
      throw new RoutingError("ACCESS_REFUSED", `operation not permitted on exchange '${name}'`);
    }
    const x = this.exchanges.get(name);
    if (x === undefined) return false;
    if (options.ifUnused && x.bindings.size > 0) {
      throw new RoutingError("PRECONDITION_FAILED", `exchange '${name}' in use`);
    }
    for (const b of [...x.bindings.values()]) this.removeStored(x, b, false);
    this.exchanges.delete(name);
    this.removeDestination(this.destination("exchange", name));
    return true;
  }

  /** Drops every binding that points at `destination` (call when a queue/stream is deleted). */
  removeDestination(destination: Destination): void {
    const key = destKey(destination.kind, destination.name);
    const set = this.inbound.get(key);
    if (set !== undefined) {
      for (const b of [...set]) {
        const source = this.exchanges.get(b.source);
        if (source !== undefined) this.removeStored(source, b, true);
      }
    }
    this.inbound.delete(key);
    this.destinations.delete(key);
  }

  // ---- bindings ----------------------------------------------------------------------

  /**
   * Binds `source` to `destination`. Identity = (source, destination, routingKey,
   * arguments); binding twice is a no-op (returns false). The source must exist (404), and
   * an exchange destination too; binding from or to the default exchange is a 403.
   */
  bind(source: string, destination: Destination, routingKey = "", args: FieldTable = {}): boolean {
    const x = this.sourceExchange(source);
    this.checkDestination(destination);
    const id = bindingId(destination, routingKey, args);
    if (x.bindings.has(id)) return false;
    x.matcher.validate(routingKey, args);
    const dest = this.destination(destination.kind, destination.name);
    const stored: StoredBinding = Object.freeze({
      id,
      source,
      destination: dest,
      routingKey,
      arguments: args,
    });
    x.bindings.set(id, stored);
    x.matcher.add(id, dest, routingKey, args);
    const key = destKey(dest.kind, dest.name);
    let set = this.inbound.get(key);
    if (set === undefined) this.inbound.set(key, (set = new Set()));
    set.add(stored);
    return true;
  }

  /** Removes a binding; a missing binding is a no-op (returns false). */
  unbind(
    source: string,
    destination: Destination,
    routingKey = "",
    args: FieldTable = {},
  ): boolean {
    const x = this.sourceExchange(source);
    const stored = x.bindings.get(bindingId(destination, routingKey, args));
    if (stored === undefined) return false;
    this.removeStored(x, stored, true);
    return true;
  }

  /** Every binding, or those with `source` as source. */
  *bindings(source?: string): IterableIterator<Binding> {
    if (source !== undefined) {
      const x = this.exchanges.get(source);
      if (x !== undefined) yield* x.bindings.values();
      return;
    }
    for (const x of this.exchanges.values()) yield* x.bindings.values();
  }

  private sourceExchange(source: string): Exchange {
    if (source === DEFAULT_EXCHANGE) {
      throw new RoutingError("ACCESS_REFUSED", "operation not permitted on the default exchange");
    }
    const x = this.exchanges.get(source);
    if (x === undefined) throw new RoutingError("NOT_FOUND", `no exchange '${source}'`);
    return x;
  }

  private checkDestination(destination: Destination): void {
    if (destination.kind !== "exchange") return;
    if (destination.name === DEFAULT_EXCHANGE) {
      throw new RoutingError("ACCESS_REFUSED", "operation not permitted on the default exchange");
    }
    if (!this.exchanges.has(destination.name)) {
      throw new RoutingError("NOT_FOUND", `no exchange '${destination.name}'`);
    }
  }

  private removeStored(x: Exchange, b: StoredBinding, autoDelete: boolean): void {
    x.bindings.delete(b.id);
    x.matcher.remove(b.id, b.routingKey, b.arguments);
    const key = destKey(b.destination.kind, b.destination.name);
    const set = this.inbound.get(key);
    if (set !== undefined) {
      set.delete(b);
      if (set.size === 0) this.inbound.delete(key);
    }
    // RabbitMQ: an auto-delete exchange goes when its last binding (as source) goes.
    if (autoDelete && x.autoDelete && x.bindings.size === 0 && this.exchanges.get(x.name) === x) {
      this.deleteExchange(x.name);
    }
  }

  // ---- publish -----------------------------------------------------------------------

  /**
   * Resolves a publish to its queues and streams (each once). Throws 404 for an unknown
   * exchange and 403 for an internal one. The result is a fresh array, owned by the caller.
   */
  route(exchange: string, routingKey: string, headers?: FieldTable): Destination[] {
    const out: Destination[] = [];
    this.routeInto(exchange, routingKey, headers, out);
    return out;
  }

  /** As `route`, appending to `out` (which the caller may reuse); returns how many. */
  routeInto(
    exchange: string,
    routingKey: string,
    headers: FieldTable | undefined,
    out: Destination[],
  ): number {
    const start = this.exchanges.get(exchange);
    if (start === undefined) throw new RoutingError("NOT_FOUND", `no exchange '${exchange}'`);
    if (start.internal) {
      throw new RoutingError("ACCESS_REFUSED", `cannot publish to internal exchange '${exchange}'`);
    }
    const before = out.length;
    if (start.name === DEFAULT_EXCHANGE) {
      if (this.queueExists(routingKey)) out.push(this.destination("queue", routingKey));
      return out.length - before;
    }
    const work = this.work;
    this.out = out;
    try {
      work.push(start);
      this.seenExchanges.add(start);
      for (let i = 0; i < work.length; i++) {
        const x = work[i];
        this.emitted = 0;
        x.matcher.route(routingKey, headers, this);
        if (this.emitted === 0 && x.alternateExchange !== undefined) {
          const ae = this.exchanges.get(x.alternateExchange);
          if (ae !== undefined && !this.seenExchanges.has(ae)) {
            this.seenExchanges.add(ae);
            work.push(ae);
          }
        }
      }
    } finally {
      work.length = 0;
      this.seenExchanges.clear();
      this.seenDestinations.clear();
      this.out = NO_OUTPUT;
    }
    return out.length - before;
  }

  /** DestinationSink: called by exchange types during `routeInto`. */
  emit(destination: Destination): void {
    this.emitted++;
    if (destination.kind === "exchange") {
      const x = this.exchanges.get(destination.name);
      if (x !== undefined && !this.seenExchanges.has(x)) {
        this.seenExchanges.add(x);
        this.work.push(x);
      }
      return;
    }
    if (this.seenDestinations.has(destination)) return;
    this.seenDestinations.add(destination);
    this.out.push(destination);
  }
}

function bindingId(destination: Destination, routingKey: string, args: FieldTable): string {
  return `${destination.kind}\u0000${destination.name}\u0000${routingKey}\u0000${canonicalTable(args)}`;
}

/** The predeclared exchanges every virtual host has (durable, as in RabbitMQ). */
export const PREDECLARED_EXCHANGES: readonly (readonly [string, ExchangeType])[] = [
  ["amq.direct", "direct"],
  ["amq.fanout", "fanout"],
  ["amq.topic", "topic"],
  ["amq.headers", "headers"],
  ["amq.match", "headers"],
];

/** A router with the default exchange and amq.direct/fanout/topic/headers/match declared. */
export function createRouter(options: RouterOptions = {}): Router {
  const router = new Router(options);
  for (const [name, type] of PREDECLARED_EXCHANGES) {
    router.declareExchange(name, type, { durable: true }, true);
  }
  return router;
}
