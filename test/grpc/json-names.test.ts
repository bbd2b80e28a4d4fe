/**
 * JSON field names over gRPC with a .proto, as Go Micro's gRPC server: `application/grpc+json`
 * answers use the .proto's field names (protojson's UseProtoNames: `user_id`, `home_address`,
 * nested, repeated and map values too) and leave unpopulated fields out, while requests may use
 * either the .proto's names or lowerCamel. The handler works with lowerCamel objects throughout;
 * a ts-micro client with the same schema reads the answer back as lowerCamel.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { Codecs, ProtoSchema, protoJsonCodec } from "../../src/codec/index.js";
import { createClient, createService, type Service } from "../../src/index.js";
import { MemoryRegistry } from "../../src/registry/memory.js";
import { quiet } from "../setup/logger.js";
import { PROTO_DIR } from "./echo-handler.js";

const NAMES_PROTO = path.join(PROTO_DIR, "names.proto");

interface Address {
  streetName?: string;
  houseNumber?: number;
}

class Names {
  async Convert(req: { firstName?: string; userId?: string }): Promise<Record<string, unknown>> {
    const home: Address = { streetName: "Main St", houseNumber: 0 };
    return {
      displayName: `Dr ${req.firstName}`,
      userId: req.userId,
      homeAddress: home,
      pastAddresses: [{ streetName: "Old Rd", houseNumber: 7 }],
      byLabel: { work_place: { streetName: "Office Way" } },
      isAdmin: false,
      seenKeys: Object.keys(req).sort().join(","),
    };
  }
}

/** A grpc-js client sending and reading JSON (`x-content-type: application/json`, Go Micro's override of the content subtype). */
const JsonClient = grpc.makeGenericClientConstructor(
  {
    Convert: {
      path: "/names.Names/Convert",
      requestStream: false,
      responseStream: false,
      requestSerialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
      requestDeserialize: (bytes: Buffer) => JSON.parse(bytes.toString()),
      responseSerialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
      responseDeserialize: (bytes: Buffer) => JSON.parse(bytes.toString()),
    },
  },
  "Names",
);

describe("JSON field names over gRPC with a .proto (Go Micro's UseProtoNames)", () => {
  const registry = new MemoryRegistry();
  let service: Service;
  let client: {
    close(): void;
    Convert: (req: object, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, value?: unknown) => void) => void;
  };

  const convert = (req: object): Promise<Record<string, unknown>> => {
    const md = new grpc.Metadata();
    md.set("x-content-type", "application/json");
    return new Promise((resolve, reject) => client.Convert(req, md, (err, value) => (err ? reject(err) : resolve(value as Record<string, unknown>))));
  };

  before(async () => {
    service = createService({ name: "names", server: "grpc", registry, address: "127.0.0.1:0", logger: quiet, grpc: { proto: NAMES_PROTO } });
    service.handle(new Names());
    await service.start();
    client = new JsonClient(service.address!, grpc.credentials.createInsecure()) as unknown as typeof client;
  });
  after(async () => {
    client?.close();
    await service?.stop();
    await registry.close();
  });

  const expected = {
    display_name: "Dr Ada",
    user_id: "42",
    home_address: { street_name: "Main St" },
    past_addresses: [{ street_name: "Old Rd", house_number: 7 }],
    by_label: { work_place: { street_name: "Office Way" } },
    seen_keys: "firstName,userId",
  };

  it("answers with the .proto's field names, without unpopulated fields, to a request in the .proto's names", async () => {
    assert.deepEqual(await convert({ first_name: "Ada", user_id: "42" }), expected);
  });

  it("reads a request in lowerCamel too, and the handler sees lowerCamel either way", async () => {
    assert.deepEqual(await convert({ firstName: "Ada", userId: 42 }), expected);
  });

  it("is read back as lowerCamel by a ts-micro client with the same schema", async () => {
    const schema = new ProtoSchema({ files: [NAMES_PROTO] });
    const micro = createClient({ registry, logger: quiet, codecs: new Codecs([protoJsonCodec(schema)]) });
    try {
      const reply = (await micro.call("names", "Names.Convert", { firstName: "Ada", userId: "42" })) as Record<string, unknown>;
      assert.equal(reply.displayName, "Dr Ada");
      assert.equal(reply.userId, "42");
      assert.deepEqual(reply.homeAddress, { streetName: "Main St", houseNumber: 0 });
      assert.deepEqual(reply.byLabel, { work_place: { streetName: "Office Way", houseNumber: 0 } });
    } finally {
      await micro.close();
    }
  });
});
