package transport_test

import (
	"fmt"
	"io"
	"net"

	"github.com/switchboard/switchboard/transport"
)

// A RawSocket echo server and a client that speaks the handshake by hand.
func ExampleServeRawSocket() {
	ln, err := transport.Listen("127.0.0.1:0", nil)
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	go transport.ServeRawSocket(ln, transport.Config{}, func(c transport.Conn) {
		for {
			msg, err := c.Read()
			if err != nil {
				return
			}
			if err := c.WriteBatch([][]byte{msg, msg}); err != nil {
				return
			}
		}
	})

	cli, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer cli.Close()
	cli.Write([]byte{0x7f, 0xf1, 0, 0}) // JSON, accepting up to 16 MiB
	reply := make([]byte, 4)
	io.ReadFull(cli, reply)
	fmt.Printf("handshake reply % x\n", reply)

	cli.Write([]byte{0, 0, 0, 5, '[', '6', '9', ']', ' '})
	for range 2 {
		frame := make([]byte, 4+5)
		io.ReadFull(cli, frame)
		fmt.Printf("type %d, %q\n", frame[0], frame[4:])
	}
	// Output:
	// handshake reply 7f f1 00 00
	// type 0, "[69] "
	// type 0, "[69] "
}
