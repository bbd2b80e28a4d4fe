export { type JsonTable, type JsonTableOptions, jsonTable } from "./json-table.js";
export {
  DEFAULT_DATABASE,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_TABLE,
  type DeleteOptions,
  type ListOptions,
  NAME_PATTERN,
  type Page,
  type ReadOptions,
  type Scope,
  STORE_ERROR_ID,
  type Store,
  StoreNotFoundError,
  type StoreRecord,
  type WritableRecord,
  type WriteOptions,
} from "./store.js";
