package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-kit/log/level"
)

func TestLevelsFilter(t *testing.T) {
	var buf bytes.Buffer
	l, _, err := New(&buf, Config{Level: "warn", Format: "logfmt"})
	if err != nil {
		t.Fatal(err)
	}
	level.Info(l).Log("msg", "hidden")
	level.Warn(l).Log("msg", "shown")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, "msg=shown") || !strings.Contains(out, "level=warn") {
		t.Errorf("unexpected output: %q", out)
	}
}

func TestJSONAndSlogBridge(t *testing.T) {
	var buf bytes.Buffer
	l, base, err := New(&buf, Config{Level: "info", Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	level.Info(l).Log("msg", "kit")
	Slog(base, Config{Level: "info"}).Info("bridged", "address", ":9865")
	Slog(base, Config{Level: "info"}).Debug("too verbose")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", buf.String())
	}
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
	}
	if !strings.Contains(lines[1], `"address":":9865"`) || !strings.Contains(lines[1], "bridged") {
		t.Errorf("slog line lost attributes: %s", lines[1])
	}
}

func TestRejectsUnknown(t *testing.T) {
	if _, _, err := New(&bytes.Buffer{}, Config{Format: "xml"}); err == nil {
		t.Error("unknown format accepted")
	}
	if _, _, err := New(&bytes.Buffer{}, Config{Level: "loud"}); err == nil {
		t.Error("unknown level accepted")
	}
}
