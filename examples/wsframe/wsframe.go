package wsframe

import (
	"strings"

	"golang.org/x/net/websocket"
)

// Frame is one WebSocket message and its type (websocket.TextFrame or
// websocket.BinaryFrame).
type Frame struct {
	Type byte
	Data []byte
}

// Codec sends a Frame (Send takes one by value) and receives into a
// *Frame, which gets its own copy of the data.
var Codec = websocket.Codec{
	Marshal: func(v any) ([]byte, byte, error) { f := v.(Frame); return f.Data, f.Type, nil },
	Unmarshal: func(data []byte, typ byte, v any) error {
		f := v.(*Frame)
		f.Type, f.Data = typ, append([]byte(nil), data...)
		return nil
	},
}

// Dial opens a WebSocket to base+path, base being http://HOST[:PORT]
// (the origin sent too), with token in the Authorization header unless
// it is "".
func Dial(base, path, token string) (*websocket.Conn, error) {
	cfg, err := websocket.NewConfig("ws"+strings.TrimPrefix(base, "http")+path, base)
	if err != nil {
		return nil, err
	}
	if token != "" {
		cfg.Header.Set("Authorization", token)
	}
	return websocket.DialConfig(cfg)
}
