package codec_test

import (
	"fmt"

	"github.com/switchboard/switchboard/wamp"
	"github.com/switchboard/switchboard/wamp/codec"
)

// A PUBLISH from a JSON peer becomes an EVENT for a MsgPack and a JSON
// subscriber: the JSON payload is copied verbatim, the MsgPack one is
// converted once.
func Example() {
	var pub wamp.Message
	frame := []byte(`[16,1,{},"com.example.topic",[1,"x"],{"bin":"\u0000AQI="}]`)
	if err := codec.For(wamp.JSON).Decode(frame, &pub); err != nil {
		panic(err)
	}
	ev := &wamp.Message{Type: wamp.EVENT, ID: 5, Publication: 6, Args: pub.Args, Kwargs: pub.Kwargs}

	j, _ := codec.For(wamp.JSON).Encode(nil, ev)
	fmt.Printf("%s\n", j)
	mp, _ := codec.For(wamp.MsgPack).Encode(nil, ev)
	fmt.Printf("% x\n", mp)
	// Output:
	// [36,5,6,{},[1,"x"],{"bin":"\u0000AQI="}]
	// 96 24 05 06 80 92 01 a1 78 81 a3 62 69 6e c4 02 01 02
}
