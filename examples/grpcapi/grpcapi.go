// Package grpcapi is the example app's own gRPC service, described by
// hand so no generated code or protoc is needed (its messages are
// protobuf's well-known wrapper types):
//
//	service easlocal.example.Example {
//	  // "<instance>: <text>"; the trailer x-instance names the instance.
//	  rpc Echo(google.protobuf.StringValue) returns (google.protobuf.StringValue);
//	  // n messages "<instance> <i>", one every CountInterval.
//	  rpc Count(google.protobuf.UInt32Value) returns (stream google.protobuf.StringValue);
//	}
//
// The app serves it next to grpc.health.v1.Health; the end-to-end tests
// call it through the gateway with Echo and Count.
package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ServiceName is the full name of the service.
const ServiceName = "easlocal.example.Example"

// CountInterval is the pause between two messages of Count.
const CountInterval = 10 * time.Millisecond

// MaxCount bounds n in Count.
const MaxCount = 100_000

// Register adds the service to s; instance names the server in answers.
func Register(s grpc.ServiceRegistrar, instance string) {
	s.RegisterService(&desc, impl{instance})
}

type impl struct{ instance string }

var desc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			name := srv.(impl).instance
			_ = grpc.SetTrailer(ctx, metadata.Pairs("x-instance", name))
			return wrapperspb.String(name + ": " + in.GetValue()), nil
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Count",
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			in := new(wrapperspb.UInt32Value)
			if err := stream.RecvMsg(in); err != nil {
				return err
			}
			if in.GetValue() > MaxCount {
				return status.Errorf(codes.InvalidArgument, "count %d is more than %d", in.GetValue(), MaxCount)
			}
			name := srv.(impl).instance
			t := time.NewTicker(CountInterval)
			defer t.Stop()
			for i := range in.GetValue() {
				if i > 0 {
					select {
					case <-t.C:
					case <-stream.Context().Done():
						return stream.Context().Err()
					}
				}
				if err := stream.SendMsg(wrapperspb.String(fmt.Sprintf("%s %d", name, i))); err != nil {
					return err
				}
			}
			return nil
		},
	}},
}

// Echo calls Echo on cc and returns the answer and the instance the
// trailer names.
func Echo(ctx context.Context, cc grpc.ClientConnInterface, text string, opts ...grpc.CallOption) (answer, instance string, err error) {
	var trailer metadata.MD
	out := new(wrapperspb.StringValue)
	opts = append(opts, grpc.Trailer(&trailer))
	if err := cc.Invoke(ctx, "/"+ServiceName+"/Echo", wrapperspb.String(text), out, opts...); err != nil {
		return "", "", err
	}
	if v := trailer.Get("x-instance"); len(v) > 0 {
		instance = v[0]
	}
	return out.GetValue(), instance, nil
}

// Count calls Count on cc and returns the messages as they arrive on got
// (closed at the end of the stream) and the stream's end: nil or its error.
func Count(ctx context.Context, cc grpc.ClientConnInterface, n uint32, got chan<- string, opts ...grpc.CallOption) error {
	defer close(got)
	st, err := cc.NewStream(ctx, &desc.Streams[0], "/"+ServiceName+"/Count", opts...)
	if err != nil {
		return err
	}
	if err := st.SendMsg(wrapperspb.UInt32(n)); err != nil {
		return err
	}
	if err := st.CloseSend(); err != nil {
		return err
	}
	for {
		m := new(wrapperspb.StringValue)
		if err := st.RecvMsg(m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		got <- m.GetValue()
	}
}
