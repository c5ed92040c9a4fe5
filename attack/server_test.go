package attack

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crashguard/crashguard_exporter/internal/cgroup/cgrouptest"
)

var (
	bigOnce sync.Once
	bigArgs []string
	bigErr  error
)

// bigHost generates (once per test binary) a host with 1,500 cgroups, every
// one exported, so that a response is far larger than the socket buffers
// between client and server.
func bigHost(t *testing.T) []string {
	t.Helper()
	bigOnce.Do(func() {
		dir := filepath.Join(scratch, "bighost")
		tree, err := cgrouptest.Generate(dir, 1500, cgrouptest.V2)
		if err != nil {
			bigErr = err
			return
		}
		for name, content := range map[string]string{
			"loadavg":                "0.52 0.58 0.59 3/41234 812331\n",
			"sys/kernel/pid_max":     "4194304\n",
			"sys/kernel/threads-max": "126789\n",
			"vmstat":                 "oom_kill 17\n",
		} {
			p := filepath.Join(tree.ProcPath, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				bigErr = err
				return
			}
		}
		bigArgs = []string{
			"--path.procfs=" + tree.ProcPath, "--path.sysfs=" + tree.SysPath, "--path.rootfs=" + tree.Root,
			"--collector.disable-defaults", "--collector.pids", "--collector.memcg",
			"--collector.cgroups.include=.*", "--collector.cgroups.max=100000",
		}
	})
	if bigErr != nil {
		t.Fatal(bigErr)
	}
	return append([]string(nil), bigArgs...)
}

// stalledClient asks for /metrics over a connection with a tiny receive
// window and never reads the answer.
func stalledClient(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	return c
}

// TestStalledClientsReleaseScrapeSlots: clients that ask for a large
// response and never read it hold their --web.max-requests slots only until
// the scrape timeout; then scrapes are answered again.
func TestStalledClientsReleaseScrapeSlots(t *testing.T) {
	// The timeout leaves a whole scrape of the big host room on a loaded
	// machine; the stalled ones are cut off when it passes.
	args := append(bigHost(t), "--web.max-requests=3", "--scrape.timeout=6s", "--scrape.timeout-offset=200ms")
	e := start(t, args...)
	if body := e.scrape(t, nil); len(body) < 1<<20 {
		t.Fatalf("response of %d bytes is too small to stall a writer", len(body))
	}
	for range 3 {
		stalledClient(t, e.Addr)
	}
	time.Sleep(500 * time.Millisecond) // the three are now stuck writing
	if r := e.get("/metrics", nil); r.Status != http.StatusServiceUnavailable {
		t.Logf("while stalled: status %d (expected 503: all slots taken)", r.Status)
	}
	// Each stalled response is cut off at the scraper's timeout (6s); a
	// scrape some seconds later gets a slot. The bound is a hang guard.
	deadline := time.Now().Add(40 * time.Second)
	for {
		r := e.get("/metrics", nil)
		if r.Err == nil && r.Status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stalled clients still hold every scrape slot after 40s (last status %d, %v)", r.Status, r.Err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestAbandonedScrapeLogsOneLine: a scraper that goes away mid-response
// costs one log line, not one per metric family.
func TestAbandonedScrapeLogsOneLine(t *testing.T) {
	e := start(t, append(bigHost(t), "--scrape.timeout=10s")...)
	for range 2 {
		c := stalledClient(t, e.Addr)
		br := bufio.NewReader(c)
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		// RST instead of FIN, so the server's next writes fail at once.
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	// Let both handlers finish writing (or hit the write deadline).
	time.Sleep(4 * time.Second)
	e.scrape(t, nil)
	logs := e.Logs()
	var lines []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "broken pipe") || strings.Contains(l, "connection reset") ||
			strings.Contains(l, "i/o timeout") || strings.Contains(l, "could not send") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 || len(lines) > 2 {
		t.Errorf("%d log lines about two abandoned responses, want one each:\n%s", len(lines), strings.Join(lines, "\n"))
	}
}

// TestIdleConnectionsAreClosed: keep-alive connections left idle are
// closed by the server after --web.idle-timeout.
func TestIdleConnectionsAreClosed(t *testing.T) {
	e := start(t, append(profileArgs(t, profileDir(t, "minimal")), "--web.idle-timeout=1s")...)
	var conns []net.Conn
	for range 200 {
		c, err := net.Dial("tcp", e.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		conns = append(conns, c)
	}
	// Hang guard only: every connection must be closed well within 20s.
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("idle connection %d not closed by the server: %v", i, err)
		}
	}
}

// TestOnlyGetAndHead: the exporter only serves reads.
func TestOnlyGetAndHead(t *testing.T) {
	e := start(t, profileArgs(t, profileDir(t, "minimal"))...)
	for _, path := range []string{"/", "/metrics"} {
		for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "TRACE", "OPTIONS"} {
			req, _ := http.NewRequest(m, e.URL+path, strings.NewReader("x"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: status %d, Allow %q; want 405 with Allow: GET, HEAD", m, path, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
		resp, err := http.Head(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("HEAD %s: status %d", path, resp.StatusCode)
		}
	}
}

// TestTLSErrorsInStructuredLog: a failed TLS handshake is logged through
// the exporter's logger, with a level, not by Go's default logger.
func TestTLSErrorsInStructuredLog(t *testing.T) {
	dir := t.TempDir()
	writeSelfSigned(t, dir)
	cfg := filepath.Join(dir, "web.yml")
	os.WriteFile(cfg, []byte("tls_server_config:\n  cert_file: "+dir+"/cert.pem\n  key_file: "+dir+"/key.pem\n"), 0o600)
	e := startWith(t, startOpts{noWait: true}, append(profileArgs(t, profileDir(t, "minimal")), "--web.config.file="+cfg)...)
	// Plain HTTP to the TLS port fails the handshake.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(e.Logs(), "TLS handshake error") {
		if c, err := net.Dial("tcp", e.Addr); err == nil {
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			io.Copy(io.Discard, c)
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no TLS handshake error logged:\n%s", e.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, l := range strings.Split(e.Logs(), "\n") {
		if strings.Contains(l, "TLS handshake error") && !strings.Contains(l, "level=warn") {
			t.Errorf("handshake error not in the structured log: %s", l)
		}
	}
}

func writeSelfSigned(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}

// TestGracefulShutdown: SIGTERM and SIGINT stop the exporter cleanly with
// exit status 0, also while a client is stuck mid-response (bounded by the
// scrape timeout).
func TestGracefulShutdown(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			e := start(t, profileArgs(t, profileDir(t, "broken-host"))...)
			e.scrape(t, nil)
			e.Signal(sig)
			code, ok := e.Wait(30 * time.Second)
			if !ok {
				t.Fatal("still running 30s after the signal")
			}
			if code != 0 {
				t.Errorf("exit status %d, want 0:\n%s", code, e.Logs())
			}
			if !strings.Contains(e.Logs(), `msg=Stopped`) {
				t.Errorf("no clean stop logged:\n%s", e.Logs())
			}
		})
	}
	t.Run("stalled client", func(t *testing.T) {
		e := start(t, append(bigHost(t), "--scrape.timeout=2s")...)
		stalledClient(t, e.Addr)
		time.Sleep(300 * time.Millisecond)
		e.Signal(syscall.SIGTERM)
		code, ok := e.Wait(30 * time.Second)
		if !ok {
			t.Fatal("a stalled client kept the exporter from stopping for 30s")
		}
		if code != 0 {
			t.Errorf("exit status %d, want 0:\n%s", code, e.Logs())
		}
	})
}

// TestShutdownFinishesScrapeInFlight: a scrape already running when SIGTERM
// arrives (here held up by a dump target that stops answering) still gets
// its full answer, and the exporter then exits 0.
func TestShutdownFinishesScrapeInFlight(t *testing.T) {
	requireFUSE(t)
	dir := copyProfile(t, "rhel9")
	h := mountHung(t, filepath.Join(dir, "root", "var", "crash"))
	h.block(opStatfs)
	e := start(t, profileArgs(t, dir)...)
	t.Cleanup(h.unblock)
	got := make(chan scrapeResult, 1)
	go func() { got <- e.get("/metrics", map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": "3"}) }()
	// The scrape is in flight once the exporter's statfs is held.
	for deadline := time.Now().Add(30 * time.Second); h.heldCalls(opStatfs) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the scrape never reached the dump target's statfs")
		}
	}
	e.Signal(syscall.SIGTERM)
	r := <-got
	if r.Err != nil || r.Status != http.StatusOK {
		t.Fatalf("scrape in flight at SIGTERM: status %d, %v", r.Status, r.Err)
	}
	fams := families(t, r.Body)
	if f := failed(fams); len(f) > 0 {
		t.Errorf("scrape in flight at SIGTERM: collectors failed: %v", f)
	}
	if _, ok := value(fams, "crashguard_kdump_crash_kernel_loaded", nil); !ok {
		t.Error("scrape in flight at SIGTERM lost the kdump series")
	}
	h.unblock()
	code, ok := e.Wait(30 * time.Second)
	if !ok || code != 0 {
		t.Errorf("exit after SIGTERM: code %d, exited %v\n%s", code, ok, e.Logs())
	}
}
