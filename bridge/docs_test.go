package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/switchboard/switchboard/config"
	"github.com/switchboard/switchboard/router/routertest"
)

// lookTool finds a command the test needs: a developer machine without it
// skips, CI (where .ci/run installs it) fails.
func lookTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s not found on PATH: %v", name, err)
		}
		t.Fatalf("%s not found on PATH in CI: %v", name, err)
	}
}

// block is one fenced code block of a Markdown file.
type block struct {
	lang, text string
	line       int
}

func fencedBlocks(t *testing.T, file string) []block {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []block
	var cur *block
	var body strings.Builder
	for i, line := range strings.Split(string(data), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &block{lang: strings.TrimPrefix(line, "```"), line: i + 1}
			body.Reset()
		case cur != nil && line == "```":
			cur.text = body.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line)
			body.WriteByte('\n')
		}
	}
	return out
}

// TestDocsWeb runs the examples of docs/web.md: its YAML block is the
// router's config, each sh block is run with bash against it, and its
// output must match the json block that follows (publication ids, which
// are random, match any number).
func TestDocsWeb(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "openssl", "od", "base64"} {
		lookTool(t, tool)
	}
	const file = "../docs/web.md"
	const docAddr = "127.0.0.1:8080"
	blocks := fencedBlocks(t, file)
	if len(blocks) == 0 || blocks[0].lang != "yaml" {
		t.Fatalf("%s: the first block must be the config", file)
	}
	t.Setenv("DJANGO_BRIDGE_SECRET", "docs-secret")
	cfg, err := config.Parse(file, []byte(strings.Replace(blocks[0].text, docAddr, "127.0.0.1:0", 1)))
	if err != nil {
		t.Fatalf("the config of %s: %v", file, err)
	}
	r := routertest.Run(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := r.BridgesReady(ctx); err != nil {
		t.Fatal(err)
	}
	n := &node{r: r, ws: r.URL(config.WebSocket)}
	addr := strings.TrimSuffix(strings.TrimPrefix(n.ws, "ws://"), "/ws")

	c := n.connect(t)
	news := events(t, c, "com.example.news", nil)
	hooks := events(t, c, "com.example.github", nil)
	must(t, c.Register("com.example.add2", func(_ context.Context, inv *wamp.Invocation) client.InvokeResult {
		x, _ := wamp.AsInt64(inv.Arguments[0])
		y, _ := wamp.AsInt64(inv.Arguments[1])
		return client.InvokeResult{Args: wamp.List{x + y}}
	}, nil))

	ran := 0
	for i, b := range blocks {
		if b.lang != "sh" {
			continue
		}
		ran++
		if i+1 >= len(blocks) || blocks[i+1].lang != "json" {
			t.Fatalf("%s:%d: an sh block must be followed by the json it answers", file, b.line)
		}
		script := strings.ReplaceAll(b.text, docAddr, addr)
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s:%d: %v\n%s", file, b.line, err, stderr.String())
		}
		var got, want any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s:%d: output %q is not JSON: %v", file, b.line, out, err)
		}
		if err := json.Unmarshal([]byte(blocks[i+1].text), &want); err != nil {
			t.Fatalf("%s:%d: bad json block: %v", file, blocks[i+1].line, err)
		}
		if !matchJSON(got, want, "") {
			t.Errorf("%s:%d: got\n %s\nwant\n %s", file, b.line, out, blocks[i+1].text)
		}
	}
	if ran < 5 {
		t.Fatalf("only %d sh blocks in %s", ran, file)
	}
	for _, want := range []string{"[Hello from curl]", "[signed]"} {
		if e := receive(t, news, "event "+want); fmt.Sprint(e.Arguments) != want {
			t.Errorf("event %v, want %s", e.Arguments, want)
		}
	}
	if e := receive(t, hooks, "webhook event"); !strings.Contains(fmt.Sprint(e.Arguments), "refs/heads/main") {
		t.Errorf("webhook event %v", e.Arguments)
	}
}

// matchJSON compares decoded JSON, taking any number for a number under
// the key "id".
func matchJSON(got, want any, key string) bool {
	if _, ok := want.(float64); ok && key == "id" {
		_, ok := got.(float64)
		return ok
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, wv := range w {
			if gv, ok := g[k]; !ok || !matchJSON(gv, wv, k) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !matchJSON(g[i], w[i], "") {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}
