package collector

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/kmsg"
)

func sparseFile(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// TestKmsgReplayOverCap: a replayed file over the 64 MiB cap is reported as
// a file error and by the follower's state, and logged once, not silently
// counted as nothing.
func TestKmsgReplayOverCap(t *testing.T) {
	cfg, dir := kmsgEnv(t, testBootID)
	huge := filepath.Join(dir, "huge")
	sparseFile(t, huge, kmsg.ReplayMax+1)
	logs := &syncBuffer{}
	c, err := newKmsgCollector(cfg, log.NewLogfmtLogger(logs), kmsgOptions{
		path: huge, statePath: filepath.Join(dir, "kmsg.state"), retention: time.Hour, maxSeries: 10,
		tune: func(fc *kmsg.Config) { fc.BackoffMin, fc.BackoffMax = time.Millisecond, time.Millisecond },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "retries", func() bool { return c.follower.Stats().Reopens >= 3 })
	wantValue(t, c, "crashguard_kmsg_follower_state", map[string]string{"reason": "io"}, 1)
	wantValue(t, c, "crashguard_scrape_collector_success", nil, 1)
	if errs := fileErrors(t, c); errs["too_large"] != 1 || len(errs) != 1 {
		t.Errorf("file errors %v, want too_large 1", errs)
	}
	if n := strings.Count(logs.String(), "cannot replay the kernel log file"); n != 1 || !strings.Contains(logs.String(), "path="+huge) || !strings.Contains(logs.String(), "reason=too_large") {
		t.Errorf("logged %d times, want once with path and reason:\n%s", n, logs)
	}

	// Once the file is usable the file error goes away.
	writeFile(t, huge, kmsgRecords(0, "INFO: task a:1 blocked for more than 120 seconds."))
	waitFor(t, "the file to be replayed", func() bool { return c.follower.Stats().Running })
	if errs := fileErrors(t, c); len(errs) != 0 {
		t.Errorf("file errors %v after the file became usable", errs)
	}
}

// TestKmsgPathHelpStatesCap: the replay cap is documented where the flag is.
func TestKmsgPathHelpStatesCap(t *testing.T) {
	app := kingpin.New("test", "")
	AddFlags(app)
	f := app.GetFlag("collector.kmsg.path")
	if f == nil || !strings.Contains(f.Model().Help, "larger than 64 MiB is refused") {
		t.Fatalf("--collector.kmsg.path help does not state the replay cap: %+v", f)
	}
	if kmsg.ReplayMax != 64<<20 {
		t.Fatalf("help says 64 MiB, cap is %d", kmsg.ReplayMax)
	}
}

// TestKmsgHelpStatesLabelCaps: the caps HELP states are the ones kept.
func TestKmsgHelpStatesLabelCaps(t *testing.T) {
	cg, comm := fmt.Sprintf("capped at %d bytes", kmsg.CgroupMax), fmt.Sprintf("comm (capped at %d bytes)", kmsg.CommMax)
	for _, d := range []*prometheus.Desc{kmsgOOMKills, kmsgForkRejections, kmsgLastKillInfo} {
		if !strings.Contains(d.String(), cg) {
			t.Errorf("%s does not say %q", d, cg)
		}
	}
	if !strings.Contains(kmsgLastKillInfo.String(), comm) {
		t.Errorf("%s does not say %q", kmsgLastKillInfo, comm)
	}
}
