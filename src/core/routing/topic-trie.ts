/**
 * The topic exchange's trie of binding patterns (RabbitMQ semantics). Words are separated by
 * `.`; `*` matches exactly one word, `#` zero or more. Empty words are words: "" is zero
 * words, "." is two empty words, "a." is ["a", ""] (RabbitMQ's split_topic_key).
 *
 * A publish walks the trie once; `#` edges try every number of words they can swallow.
 * Consecutive `#` words are collapsed when a pattern is inserted (`a.#.#.b` ≡ `a.#.b`), which
 * keeps the backtracking polynomial. Matching allocates nothing per publish beyond the words
 * of the key, which are written into a reused array.
 */
import type { Destination, DestinationSink } from "./types.ts";

class TrieNode {
  /** Literal-word edges; created lazily. */
  words: Map<string, TrieNode> | null = null;
  star: TrieNode | null = null;
  hash: TrieNode | null = null;
  /** Bindings whose pattern ends here, by binding id. */
  bindings: Map<string, Destination> | null = null;
}

/** Splits a routing key or pattern the way RabbitMQ does ("" → zero words). */
export function splitTopic(key: string): string[] {
  return key === "" ? [] : key.split(".");
}

function normalizedPattern(pattern: string): string[] {
  const out: string[] = [];
  for (const w of splitTopic(pattern)) {
    if (w === "#" && out.length > 0 && out[out.length - 1] === "#") continue;
    out.push(w);
  }
  return out;
}

export class TopicTrie {
  private readonly root = new TrieNode();
  private size = 0;
  /** Reused per publish: the words of the key being matched. */
  private readonly keyWords: string[] = [];
  private keyLength = 0;
  private sink: DestinationSink | null = null;

  get bindingCount(): number {
    return this.size;
  }

  add(pattern: string, bindingId: string, destination: Destination): boolean {
    let node = this.root;
    for (const w of normalizedPattern(pattern)) {
      if (w === "*") node = node.star ??= new TrieNode();
      else if (w === "#") node = node.hash ??= new TrieNode();
      else {
        node.words ??= new Map();
        let next = node.words.get(w);
        if (next === undefined) node.words.set(w, (next = new TrieNode()));
        node = next;
      }
    }
    node.bindings ??= new Map();
    if (node.bindings.has(bindingId)) return false;
    node.bindings.set(bindingId, destination);
    this.size++;
    return true;
  }

  remove(pattern: string, bindingId: string): boolean {
    const removed = this.removeAt(this.root, normalizedPattern(pattern), 0, bindingId);
    if (removed) this.size--;
    return removed;
  }

  /** Removes the binding below `node`, pruning nodes left empty. */
  private removeAt(node: TrieNode, words: string[], i: number, bindingId: string): boolean {
    if (i === words.length) {
      if (node.bindings === null || !node.bindings.delete(bindingId)) return false;
      if (node.bindings.size === 0) node.bindings = null;
      return true;
    }
    const w = words[i];
    const child = w === "*" ? node.star : w === "#" ? node.hash : (node.words?.get(w) ?? null);
    if (child === null || !this.removeAt(child, words, i + 1, bindingId)) return false;
    if (isEmpty(child)) {
      if (w === "*") node.star = null;
      else if (w === "#") node.hash = null;
      else {
        node.words!.delete(w);
        if (node.words!.size === 0) node.words = null;
      }
    }
    return true;
  }

  /** Emits the destination of every binding whose pattern matches `key` (maybe repeated). */
  match(key: string, sink: DestinationSink): void {
    this.splitInto(key);
    this.sink = sink;
    try {
      this.walk(this.root, 0);
    } finally {
      this.sink = null;
    }
  }

  private splitInto(key: string): void {
    const words = this.keyWords;
    let n = 0;
    if (key !== "") {
      let start = 0;
      for (;;) {
        const dot = key.indexOf(".", start);
        if (dot < 0) {
          words[n++] = key.slice(start);
          break;
        }
        words[n++] = key.slice(start, dot);
        start = dot + 1;
      }
    }
    this.keyLength = n;
  }

  private walk(node: TrieNode, i: number): void {
    const n = this.keyLength;
    if (i === n && node.bindings !== null) {
      for (const d of node.bindings.values()) this.sink!.emit(d);
    }
    if (i < n) {
      const next = node.words?.get(this.keyWords[i]);
      if (next !== undefined) this.walk(next, i + 1);
      if (node.star !== null) this.walk(node.star, i + 1);
    }
    if (node.hash !== null) {
      // `#` swallows 0..(n - i) words.
      for (let j = i; j <= n; j++) this.walk(node.hash, j);
    }
  }
}

function isEmpty(node: TrieNode): boolean {
  return node.bindings === null && node.words === null && node.star === null && node.hash === null;
}
