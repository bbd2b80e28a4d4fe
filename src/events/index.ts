export type { ConsumeOptions, Consumer, Event, EventHandler, EventPublishOptions, Stream, TopicInfo } from "./events.js";
export { MemoryStream } from "./memory.js";
