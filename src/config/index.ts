/** Dynamic config: `loadConfig(...sources)` and the sources that need no server. */
export * from "./config.js";
export { parseDuration } from "./duration.js";
export { EnvSource, type EnvSourceOptions, env } from "./env.js";
export { DEFAULT_MAX_FILE_BYTES, FileSource, type FileSourceOptions, file } from "./file.js";
export { FlagsSource, type FlagsSourceOptions, flags } from "./flags.js";
export { type ConfigFormat, formatOf, parseDocument, YAML_MAX_ALIASES } from "./formats.js";
export { type LoadConfigOptions, loadConfig, loadConfigSync } from "./load.js";
export { MemorySource, memory } from "./memory.js";
export type { StandardSchemaV1 } from "./schema.js";
export { interpolate, merge } from "./tree.js";
