package interop_test

import (
	"path/filepath"
	"testing"
)

// TestDeflateWS runs interop/autobahn/deflate.test.mjs against a
// switchboard router: the ws package for Node.js (a dependency of
// AutobahnJS, and what AutobahnJS itself runs on under Node.js) offers
// permessage-deflate by default, as Chromium does. The test asserts that
// it was negotiated and that a 64 KiB WAMP payload crosses compressed
// both ways: PUBLISH and the shared EVENT, CALL, INVOCATION and RESULT.
func TestDeflateWS(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: builds the router and runs Node.js")
	}
	node := lookTool(t, "node")
	root := moduleRoot(t)
	dir := filepath.Join(root, "interop", "autobahn")
	npmCI(t, dir)
	checkInstalled(t, dir, "ws")

	r := startRouter(t, root)
	if r.bin == "" {
		t.Skipf("%s set: nexusd does not negotiate permessage-deflate by default", nexusdEnv)
	}
	runNode(t, node, dir, "deflate.test.mjs", "SWITCHBOARD_URL="+r.wsURL)
}
