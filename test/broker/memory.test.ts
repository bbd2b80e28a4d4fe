import { MemoryBroker } from "../../src/broker/memory.js";
import { brokerConformance } from "../conformance/broker.js";

// One shared instance stands for "the process": every test's brokers must reach each other.
const shared = new MemoryBroker({ redeliveryDelay: 20 });
brokerConformance("memory", { create: () => shared, ordered: true, redelivers: true });
