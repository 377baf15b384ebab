export {
  type ErrorCode,
  type ErrorEntry,
  errorCatalog,
  isWharfError,
  WharfError,
} from "./catalog.ts";
