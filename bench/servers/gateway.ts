/** The ts-micro gateway in front of the registry (MICRO_REGISTRY_ADDRESS); prints "READY <url>". */
import { createGateway } from "../../src/gateway/index.js";

const gateway = await createGateway({ address: "127.0.0.1:0" });
process.stdout.write(`READY ${gateway.url}\n`);
process.on("SIGTERM", () => void gateway.close().then(() => process.exit(0)));
