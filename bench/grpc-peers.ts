/**
 * What the gRPC benchmark's servers and clients share: the .proto, and the same service built
 * for Connect (@connectrpc/connect-node with @bufbuild/protobuf v1 message types made at run
 * time, which is what protoc-gen-es would generate).
 */
import path from "node:path";
import { MethodKind, proto3 } from "@bufbuild/protobuf";
import { benchDir } from "./harness.js";

export const BENCH_PROTO = path.resolve(benchDir, "..", "..", "bench", "grpc.proto");

const Payload = proto3.makeMessageType("bench.Payload", [
  { no: 1, name: "id", kind: "scalar", T: 5 },
  { no: 2, name: "name", kind: "scalar", T: 9 },
  { no: 3, name: "tags", kind: "scalar", T: 9, repeated: true },
  { no: 4, name: "ok", kind: "scalar", T: 8 },
]);

const StreamRequest = proto3.makeMessageType("bench.StreamRequest", [{ no: 1, name: "count", kind: "scalar", T: 5 }]);

export const ConnectBench = {
  typeName: "bench.Bench",
  methods: {
    echo: { name: "Echo", I: Payload, O: Payload, kind: MethodKind.Unary },
    stream: { name: "Stream", I: StreamRequest, O: Payload, kind: MethodKind.ServerStreaming },
  },
} as const;
