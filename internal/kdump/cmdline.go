// Package kdump holds pure parsers for kdump readiness: the crashkernel=
// request on /proc/cmdline, the "Crash kernel" regions of /proc/iomem, and
// the dump target named by the distribution's kdump configuration.
package kdump

import (
	"fmt"
	"strings"
)

// Default sizes of the low region the kernel adds when only
// crashkernel=X,high is given (DEFAULT_CRASH_KERNEL_LOW_SIZE). On x86_64 it
// is max(swiotlb size + 8 MiB, 256 MiB) since 5.x (crash_low_size_default);
// with the default 64 MiB swiotlb that is 256 MiB, but a larger swiotlb=
// raises it, so the x86_64 figure is a floor. arm64 and riscv use the
// generic 128 MiB, ppc64 64 MiB; 32-bit x86 reserves none.
const (
	DefaultLowX86_64  uint64 = 256 << 20
	DefaultLowGeneric uint64 = 128 << 20
)

const (
	maxTokenLen = 256 // bound on Spec.Token, which may end up in logs
	maxRanges   = 64  // far beyond any real range list; bounds allocation
	ramRounding = 128 << 20
)

// Range is one entry of crashkernel=start-[end]:size[,...].
type Range struct {
	Start uint64 // inclusive
	End   uint64 // exclusive; 0 means no upper bound ("2G-:...")
	Size  uint64
}

// Spec is the crashkernel= token of one suffix class that the kernel acts on.
type Spec struct {
	Token  string  // the parameter as written, cut to 256 bytes
	Size   uint64  // fixed size; 0 when Ranges is set
	Ranges []Range // the RAM-dependent form; nil for a fixed size
	Offset uint64  // @offset; 0 lets the kernel choose
}

// sizeFor is what the kernel's parse_crashkernel_mem/simple would yield for
// a machine with ram bytes, including its sanity checks.
func (s *Spec) sizeFor(ram uint64) uint64 {
	size := s.Size
	if s.Ranges != nil {
		// The kernel rounds RAM up to 128 MiB because firmware holds some
		// back; without it a "2G-" range would never match a 2 GiB host.
		total := ram
		if r := total % ramRounding; r != 0 {
			if total+(ramRounding-r) < total {
				total = ^uint64(0)
			} else {
				total += ramRounding - r
			}
		}
		size = 0
		for _, r := range s.Ranges {
			// Checked for every entry up to the match, so a small host
			// can fail on an entry meant for a larger one.
			if r.Size >= total {
				return 0
			}
			if total >= r.Start && (r.End == 0 || total < r.End) {
				size = r.Size
				break
			}
		}
	}
	if size >= ram {
		return 0
	}
	return size
}

// Crashkernel describes the crashkernel= parameters of a kernel command line.
// As in the kernel (get_last_crashkernel), only the last token of each suffix
// class counts: plain (size, ranges or auto), ",high", ",low" and ",cma".
type Crashkernel struct {
	Present bool // at least one crashkernel= parameter
	// Auto is RHEL 8's crashkernel=auto: the size comes from a table built
	// into that distribution's kernel, which this package does not guess.
	Auto bool
	Main *Spec // crashkernel=X[@Y] or the range form
	High *Spec // crashkernel=X,high
	Low  *Spec // crashkernel=Y,low
	CMA  *Spec // crashkernel=Z,cma
	// Invalid is set when a token the kernel reads is malformed; the
	// kernel then rejects the request (ParseCmdline also returns an error).
	Invalid bool
	// CaptureKernel is set when elfcorehdr= is present: this command line
	// belongs to the kdump capture kernel itself.
	CaptureKernel bool
}

// Reservation is the memory the kernel would reserve for a request.
type Reservation struct {
	Main uint64 // crashk_res: the plain or ",high" region
	Low  uint64 // crashk_low_res, only with ",high"
	CMA  uint64 // ",cma": usable by the running system until a crash
}

// Total is the sum of all regions, saturating instead of wrapping.
func (r Reservation) Total() uint64 {
	return addSat(addSat(r.Main, r.Low), r.CMA)
}

// Reserve mirrors parse_crashkernel and reserve_crashkernel_generic for a
// host with ramBytes of physical memory (memblock size; MemTotal is smaller,
// which the kernel's 128 MiB round-up mostly hides). defaultLow is the
// region the kernel adds for ",high" without ",low" (see DefaultLowX86_64).
// ok is false when the size cannot be known: crashkernel=auto or an
// invalid request. Fallbacks decided at boot (a plain request that does not
// fit below 4 GiB moving high and gaining a low region) are not modelled.
func (c Crashkernel) Reserve(ramBytes, defaultLow uint64) (Reservation, bool) {
	switch {
	case c.Invalid || c.Auto:
		return Reservation{}, false
	case c.Main != nil:
		// A plain request disables ",high" and ",low" entirely.
		size := c.Main.sizeFor(ramBytes)
		if size == 0 {
			return Reservation{}, true
		}
		return Reservation{Main: size, CMA: c.cmaSize()}, true
	case c.High != nil:
		size := c.High.Size
		if size == 0 || size >= ramBytes {
			return Reservation{}, true
		}
		low := defaultLow
		if c.Low != nil {
			low = c.Low.Size
		}
		return Reservation{Main: size, Low: low, CMA: c.cmaSize()}, true
	default:
		// ",low" or ",cma" alone: the kernel needs a standard reservation
		// to hold the capture kernel and reserves nothing.
		return Reservation{}, true
	}
}

func (c Crashkernel) cmaSize() uint64 {
	if c.CMA == nil {
		return 0
	}
	return c.CMA.Size
}

// Requested is the total the kernel would reserve on an x86_64 host with
// ramBytes of memory, counting the default 256 MiB low region for ",high"
// without ",low". A request that matches no range yields (0, true); auto or
// an invalid request yields (0, false).
func (c Crashkernel) Requested(ramBytes uint64) (uint64, bool) {
	r, ok := c.Reserve(ramBytes, DefaultLowX86_64)
	return r.Total(), ok
}

// TokenError reports a malformed crashkernel= parameter.
type TokenError struct {
	Token  string // bounded copy of the parameter
	Reason string
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("malformed %q: %s", e.Token, e.Reason)
}

// ParseCmdline reads the crashkernel= parameters of a kernel command line
// (the contents of /proc/cmdline). Parameters are split as the kernel's
// next_arg does, so quoted values of other parameters may hold spaces. The
// value of crashkernel= is taken literally, quotes included, because the
// kernel's own parser rejects a quoted size. A malformed token of a class
// the kernel reads yields a *TokenError; the returned value then has Invalid
// set. Earlier tokens of a class are overridden and not validated, as in
// the kernel.
func ParseCmdline(cmdline string) (Crashkernel, error) {
	var ck Crashkernel
	var last [4]string // raw parameters per class, last one wins
	var seen [4]bool
	rest := cmdline
	for {
		var name, raw string
		name, raw, rest = nextArg(rest)
		if name == "" && raw == "" {
			break
		}
		switch name {
		case "crashkernel":
			if !strings.HasPrefix(raw, "crashkernel=") {
				continue // the kernel looks for "crashkernel=" only
			}
			ck.Present = true
			c := classOf(raw)
			last[c], seen[c] = raw, true
		case "elfcorehdr":
			ck.CaptureKernel = true
		}
	}
	var firstErr error
	for c := range last {
		if !seen[c] {
			continue
		}
		if c == classMain && last[c] == "crashkernel=auto" {
			ck.Auto = true
			continue
		}
		spec, err := parseSpec(c, last[c])
		if err != nil {
			ck.Invalid = true
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		switch c {
		case classMain:
			ck.Main = spec
		case classHigh:
			ck.High = spec
		case classLow:
			ck.Low = spec
		case classCMA:
			ck.CMA = spec
		}
	}
	return ck, firstErr
}

const (
	classMain = iota
	classHigh
	classLow
	classCMA
)

var suffixes = [...]string{classHigh: ",high", classLow: ",low", classCMA: ",cma"}

// classOf sorts a parameter by how it ends, as get_last_crashkernel does.
func classOf(param string) int {
	for c := classHigh; c <= classCMA; c++ {
		if strings.HasSuffix(param, suffixes[c]) {
			return c
		}
	}
	return classMain
}

// nextArg splits off one parameter like the kernel's next_arg: whitespace
// ends it unless inside double quotes, and the name stops at the first '='.
// A leading quote around the whole parameter is dropped from the name. param
// is the parameter text without surrounding whitespace.
func nextArg(s string) (name, param, rest string) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	s = s[i:]
	if s == "" {
		return "", "", ""
	}
	inQuote := false
	end := 0
	for end < len(s) {
		ch := s[end]
		if isSpace(ch) && !inQuote {
			break
		}
		if ch == '"' {
			inQuote = !inQuote
		}
		end++
	}
	param, rest = s[:end], s[end:]
	name = strings.TrimPrefix(param, `"`)
	if eq := strings.IndexByte(name, '='); eq >= 0 {
		name = name[:eq]
	} else {
		name = strings.TrimSuffix(name, `"`)
	}
	// "crashkernel=..." is searched for as text by the kernel; keep the
	// raw text from the name on so that a quote stays part of the value.
	if k := strings.Index(param, "crashkernel="); k >= 0 && name == "crashkernel" {
		param = param[k:]
	}
	return name, param, rest
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

func parseSpec(class int, param string) (*Spec, error) {
	tok := bound(param)
	fail := func(reason string) (*Spec, error) {
		return nil, &TokenError{Token: tok, Reason: reason}
	}
	v := strings.TrimPrefix(param, "crashkernel=")
	spec := &Spec{Token: tok}
	if class != classMain {
		// ",high", ",low" and ",cma" take a plain size only.
		v = strings.TrimSuffix(v, suffixes[class])
		n, r, err := memparse(v)
		if err != "" {
			return fail(err)
		}
		if r != "" {
			return fail(fmt.Sprintf("unexpected %q before %s", cut(r), suffixes[class]))
		}
		spec.Size = n
		return spec, nil
	}
	if strings.IndexByte(v, ':') < 0 {
		n, r, err := memparse(v)
		if err != "" {
			return fail(err)
		}
		spec.Size = n
		return parseOffset(spec, r, fail)
	}
	cur := v
	for {
		if len(spec.Ranges) == maxRanges {
			return fail("too many ranges")
		}
		var rg Range
		var err string
		rg.Start, cur, err = memparse(cur)
		if err != "" {
			return fail("range start: " + err)
		}
		if !strings.HasPrefix(cur, "-") {
			return fail("'-' expected after range start")
		}
		cur = cur[1:]
		if !strings.HasPrefix(cur, ":") {
			rg.End, cur, err = memparse(cur)
			if err != "" {
				return fail("range end: " + err)
			}
			if rg.End <= rg.Start {
				return fail("range end not above start")
			}
		}
		if !strings.HasPrefix(cur, ":") {
			return fail("':' expected after range")
		}
		rg.Size, cur, err = memparse(cur[1:])
		if err != "" {
			return fail("range size: " + err)
		}
		spec.Ranges = append(spec.Ranges, rg)
		if !strings.HasPrefix(cur, ",") {
			break
		}
		cur = cur[1:]
	}
	return parseOffset(spec, cur, fail)
}

func parseOffset(spec *Spec, rest string, fail func(string) (*Spec, error)) (*Spec, error) {
	if rest == "" {
		return spec, nil
	}
	if rest[0] != '@' {
		return fail(fmt.Sprintf("unexpected %q", cut(rest)))
	}
	off, r, err := memparse(rest[1:])
	if err != "" {
		return fail("offset: " + err)
	}
	if r != "" {
		return fail(fmt.Sprintf("unexpected %q after offset", cut(r)))
	}
	spec.Offset = off
	return spec, nil
}

// memparse reads a number the way the kernel's memparse does: base 0
// (0x hex, leading 0 octal, else decimal) and an optional K/M/G/T/P/E
// suffix in either case. Unlike the kernel it refuses values that overflow
// 64 bits instead of wrapping. err is empty on success.
func memparse(s string) (n uint64, rest string, err string) {
	base := uint64(10)
	i := 0
	switch {
	case len(s) >= 3 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && hexVal(s[2]) >= 0:
		base, i = 16, 2
	case len(s) >= 1 && s[0] == '0':
		base = 8
	}
	start := i
	for ; i < len(s); i++ {
		d := hexVal(s[i])
		if d < 0 || uint64(d) >= base {
			break
		}
		if n > (^uint64(0)-uint64(d))/base {
			return 0, s, "number too large"
		}
		n = n*base + uint64(d)
	}
	if i == start {
		return 0, s, "memory value expected"
	}
	shift := 0
	if i < len(s) {
		switch s[i] {
		case 'K', 'k':
			shift = 10
		case 'M', 'm':
			shift = 20
		case 'G', 'g':
			shift = 30
		case 'T', 't':
			shift = 40
		case 'P', 'p':
			shift = 50
		case 'E', 'e':
			shift = 60
		}
		if shift != 0 {
			i++
		}
	}
	if shift != 0 && n > ^uint64(0)>>shift {
		return 0, s, "number too large"
	}
	return n << shift, s[i:], ""
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func addSat(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}

// cut shortens a fragment quoted in an error message.
func cut(s string) string {
	if len(s) > 16 {
		return bound(s[:16]) + "…"
	}
	return s
}
