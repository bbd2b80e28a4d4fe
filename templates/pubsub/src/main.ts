import { createService } from "ts-micro";
import { type Greeting, Helloworld, TOPIC } from "./handler.js";

const service = createService({ name: "helloworld", version: "0.1.0" });
const handler = new Helloworld(service.client);
service.handle(handler);
// With a queue group, each greeting goes to one node of helloworld however many run.
service.subscribe<Greeting>(TOPIC, handler.onGreeting, { queue: "helloworld" });
await service.run(); // until Ctrl-C or SIGTERM: then it deregisters and drains the calls in flight
