export type { ConsumeOptions, Consumer, Event, EventHandler, EventPublishOptions, Stream } from "./events.js";
export { MemoryStream } from "./memory.js";
