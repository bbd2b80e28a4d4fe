// grpcplain is a plain grpc-go client (no Go Micro) calling INTEROP_ADDRESS as any gRPC client
// would: unary with metadata, the three stream kinds, a deadline, an error status with its
// errors.Error detail, the standard health service and server reflection. Its messages are
// well-known wrappers, wire-identical to test/grpc/echo.proto's (see interop/grpcecho). Prints
// one JSON line with what it got.
package main

import (
	"context"
	"io"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"ts-micro.dev/interop/internal/shared"
)

type detail struct {
	ID     string `json:"id"`
	Code   int32  `json:"code"`
	Detail string `json:"detail"`
	Status string `json:"status"`
}

type result struct {
	Call       string            `json:"call"`
	Metadata   map[string]string `json:"metadata"`
	Count      []int32           `json:"count"`
	Sum        int32             `json:"sum"`
	Chat       []string          `json:"chat"`
	Deadline   string            `json:"deadline"`
	ErrCode    string            `json:"errCode"`
	ErrMessage string            `json:"errMessage"`
	ErrType    string            `json:"errType"`
	ErrDetail  detail            `json:"errDetail"`
	Unknown    string            `json:"unknown"`
	Health     string            `json:"health"`
	Services   []string          `json:"services"`
	Failed     string            `json:"failed,omitempty"`
}

func main() {
	conn, err := grpc.NewClient(os.Getenv("INTEROP_ADDRESS"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		shared.Emit(result{Failed: err.Error()})
		return
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := result{Metadata: map[string]string{}}
	if err := run(ctx, conn, &out); err != nil {
		out.Failed = err.Error()
	}
	shared.Emit(out)
}

func run(ctx context.Context, conn *grpc.ClientConn, out *result) error {
	// Unary, with metadata the handler echoes in Response.metadata (field 2, a map).
	rsp := &wrapperspb.StringValue{}
	mctx := metadata.AppendToOutgoingContext(ctx, "x-trace-id", "go-1")
	if err := conn.Invoke(mctx, "/echo.Echo/Call", wrapperspb.String("Gopher"), rsp); err != nil {
		return err
	}
	out.Call = rsp.Value
	readMap(rsp.ProtoReflect().GetUnknown(), out.Metadata)

	desc := &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}
	count, err := conn.NewStream(ctx, desc, "/echo.Echo/Count")
	if err != nil {
		return err
	}
	if err := count.SendMsg(wrapperspb.Int32(3)); err != nil {
		return err
	}
	count.CloseSend()
	for {
		var n wrapperspb.Int32Value
		if err := count.RecvMsg(&n); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		out.Count = append(out.Count, n.Value)
	}

	sum, err := conn.NewStream(ctx, desc, "/echo.Echo/Sum")
	if err != nil {
		return err
	}
	for _, n := range []int32{4, 5, 6} {
		if err := sum.SendMsg(wrapperspb.Int32(n)); err != nil {
			return err
		}
	}
	sum.CloseSend()
	var total wrapperspb.Int32Value
	if err := sum.RecvMsg(&total); err != nil {
		return err
	}
	out.Sum = total.Value

	chat, err := conn.NewStream(ctx, desc, "/echo.Echo/Chat")
	if err != nil {
		return err
	}
	for _, name := range []string{"x", "y"} {
		if err := chat.SendMsg(wrapperspb.String(name)); err != nil {
			return err
		}
		var reply wrapperspb.StringValue
		if err := chat.RecvMsg(&reply); err != nil {
			return err
		}
		out.Chat = append(out.Chat, reply.Value)
	}
	chat.CloseSend()

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err = conn.Invoke(short, "/echo.Echo/Slow", wrapperspb.Int32(10000), &wrapperspb.StringValue{})
	out.Deadline = status.Code(err).String()

	err = conn.Invoke(ctx, "/echo.Echo/Fail", wrapperspb.Int32(404), &wrapperspb.StringValue{})
	st := status.Convert(err)
	out.ErrCode = st.Code().String()
	out.ErrMessage = st.Message()
	if details := st.Proto().GetDetails(); len(details) > 0 {
		out.ErrType = details[0].GetTypeUrl()
		out.ErrDetail = readError(details[0].GetValue())
	}

	err = conn.Invoke(ctx, "/echo.Echo/Nope", wrapperspb.String(""), &wrapperspb.StringValue{})
	out.Unknown = status.Code(err).String()

	health, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	out.Health = health.Status.String()

	reflection, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return err
	}
	if err := reflection.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		return err
	}
	listed, err := reflection.Recv()
	if err != nil {
		return err
	}
	for _, s := range listed.GetListServicesResponse().GetService() {
		out.Services = append(out.Services, s.Name)
	}
	reflection.CloseSend()
	return nil
}

// readMap reads map<string,string> entries of field 2 from a message's unknown fields.
func readMap(b []byte, into map[string]string) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return
			}
			b = b[n:]
			continue
		}
		entry, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return
		}
		b = b[n:]
		if num != 2 {
			continue
		}
		var key, value string
		for len(entry) > 0 {
			f, t, m := protowire.ConsumeTag(entry)
			if m < 0 || t != protowire.BytesType {
				return
			}
			entry = entry[m:]
			s, m := protowire.ConsumeString(entry)
			if m < 0 {
				return
			}
			entry = entry[m:]
			if f == 1 {
				key = s
			} else {
				value = s
			}
		}
		into[key] = value
	}
}

// readError decodes Go Micro's errors.Error {id=1, code=2, detail=3, status=4}.
func readError(b []byte) detail {
	var d detail
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return d
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return d
			}
			b = b[m:]
			if num == 2 {
				d.Code = int32(v)
			}
		case protowire.BytesType:
			s, m := protowire.ConsumeString(b)
			if m < 0 {
				return d
			}
			b = b[m:]
			switch num {
			case 1:
				d.ID = s
			case 3:
				d.Detail = s
			case 4:
				d.Status = s
			}
		default:
			return d
		}
	}
	return d
}
