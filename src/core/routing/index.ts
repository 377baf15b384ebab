export {
  compileHeadersPattern,
  type HeadersPattern,
  headersMatch,
  type XMatch,
} from "./exchange-types.ts";
export { canonicalTable, fieldEquals } from "./field-values.ts";
export {
  createRouter,
  DEFAULT_EXCHANGE,
  type ExchangeInfo,
  type ExchangeOptions,
  PREDECLARED_EXCHANGES,
  Router,
  type RouterOptions,
} from "./router.ts";
export { splitTopic, TopicTrie } from "./topic-trie.ts";
export {
  type Binding,
  type Destination,
  type DestinationKind,
  type ExchangeType,
  type FieldTable,
  type FieldValue,
  isRoutingError,
  RoutingError,
  type RoutingErrorCode,
} from "./types.ts";
