package interop_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestWampy runs wampy.js 8 (npm wampy, interop/autobahn/wampy.test.mjs)
// against a switchboard router over WebSocket, once per serializer:
// subscribe, publish and call through its plain API, which sends
// JavaScript undefined for the options it leaves out (msgpackr's undefined
// extension over msgpack, CBOR undefined over cbor), and undefined inside
// payloads crossing to a JSON peer.
//
// wampy is in interop/autobahn's package.json. package.json overrides
// cbor-extract (cbor-x's optional native decoder) to 2.2.2 because the
// platform packages of 2.2.3 are missing from the registry, and npm ci
// refuses a lock file that names them.
func TestWampy(t *testing.T) {
	if testing.Short() {
		t.Skip("interop test: builds the router and runs Node.js")
	}
	node := lookTool(t, "node")
	root := moduleRoot(t)
	dir := filepath.Join(root, "interop", "autobahn")
	npmCI(t, dir)
	checkInstalled(t, dir, "wampy")

	r := startRouter(t, root)
	for _, s := range serializers {
		t.Run("websocket-"+s, func(t *testing.T) {
			runNode(t, node, dir, "wampy.test.mjs",
				"SWITCHBOARD_URL="+r.wsURL,
				"SWITCHBOARD_SERIALIZER="+s)
		})
	}
}

// checkInstalled fails unless node_modules in dir holds the version of pkg
// that package.json asks for. npmCI keeps an existing node_modules, which
// may predate pkg; the failure says how to bring it up to date rather than
// letting node report a missing module.
func checkInstalled(t *testing.T, dir, pkg string) {
	t.Helper()
	var want struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	readJSON(t, filepath.Join(dir, "package.json"), &want)
	version, ok := want.Dependencies[pkg]
	if !ok {
		t.Fatalf("%s is not a dependency in %s", pkg, filepath.Join(dir, "package.json"))
	}
	var got struct {
		Version string `json:"version"`
	}
	installed := filepath.Join(dir, "node_modules", pkg, "package.json")
	if _, err := os.Stat(installed); err != nil {
		t.Fatalf("%s %s is not installed (%v): run npm ci in %s", pkg, version, err, dir)
	}
	readJSON(t, installed, &got)
	if got.Version != version {
		t.Fatalf("%s %s installed, package.json wants %s: run npm ci in %s", pkg, got.Version, version, dir)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
