package crash

import (
	"strings"
)

// normalizeSummary turns one log message into a stable label value.
func normalizeSummary(s string) string {
	s = cutDieTrailer(s)
	// Subsystem prefixes changed between kernel versions ("NMI watchdog: "
	// became "watchdog: ", "SysRq : " became "sysrq: "); drop them so one
	// crash keeps one summary.
	for again := true; again; {
		again = false
		for _, p := range []string{"Oops: ", "NMI watchdog: ", "watchdog: ", "rcu: ", "sysrq: ", "SysRq : "} {
			if r, ok := strings.CutPrefix(s, p); ok {
				s, again = r, true
			}
		}
	}
	// Hung task: "INFO: task <comm>:<pid> blocked for more than N seconds."
	if rest, ok := strings.CutPrefix(s, "INFO: task "); ok {
		if i := strings.Index(rest, " blocked for more than "); i >= 0 {
			s = "INFO: task" + rest[i:]
		}
	}
	// RCU stall reports go on with per-CPU detail on the same line in old kernels.
	for _, m := range []string{"detected stalls on CPUs/tasks:", "detected expedited stalls on CPUs/tasks:", "self-detected stall on CPU"} {
		if i := strings.Index(s, m); i >= 0 {
			s = s[:i+len(m)]
			break
		}
	}
	s = dropCommBrackets(s)
	return finish(s)
}

// normalizePanic normalises the reason given to panic().
func normalizePanic(s string) string {
	s = strings.TrimSpace(s)
	return finish(s)
}

// finish applies the replacements common to summaries and panic reasons.
func finish(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = replaceCPUNumbers(s)
	s = replaceDurations(s)
	s = replaceHex(s)
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }), " ")
	return capString(s, MaxSummaryLen)
}

// cutDieTrailer removes ": %04lx [#n] PREEMPT SMP PTI..." from an oops
// header: the error code, oops counter and build flags vary between hosts.
func cutDieTrailer(s string) string {
	i := strings.Index(s, " [#")
	if i < 0 {
		return s
	}
	j := strings.LastIndex(s[:i], ": ")
	if j > 0 && isHexBytes([]byte(s[j+2:i])) {
		return s[:j]
	}
	return s[:i]
}

// dropCommBrackets removes "[comm:pid]" groups (soft lockup reports): task
// names are unbounded.
func dropCommBrackets(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '[')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], ']')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		inner := s[i+1 : i+j]
		c := strings.LastIndexByte(inner, ':')
		b.WriteString(s[:i])
		if c < 0 || !isDigits(inner[c+1:], 12) {
			b.WriteString(s[i : i+j+1])
		}
		s = s[i+j+1:]
	}
}

// replaceCPUNumbers turns "CPU#3", "cpu 3", "CPU3:" and "CPU 3" into N.
func replaceCPUNumbers(s string) string {
	if !strings.Contains(strings.ToLower(s), "cpu") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if i+3 <= len(s) && strings.EqualFold(s[i:i+3], "cpu") && (i == 0 || !isAlnum(s[i-1])) {
			b.WriteString(s[i : i+3])
			j := i + 3
			if j < len(s) && (s[j] == '#' || s[j] == ' ') {
				j++
			}
			k := j
			for k < len(s) && s[k] >= '0' && s[k] <= '9' {
				k++
			}
			if k > j && (k == len(s) || !isAlnum(s[k])) {
				b.WriteString(s[i+3 : j])
				b.WriteByte('N')
				i = k
				continue
			}
			i += 3
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// replaceDurations turns "stuck for 26s" and "more than 122 seconds" into N.
func replaceDurations(s string) string {
	for _, p := range []string{"stuck for ", "more than "} {
		i := strings.Index(s, p)
		if i < 0 {
			continue
		}
		j := i + len(p)
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > j {
			s = s[:j] + "N" + s[k:]
		}
	}
	return s
}

// replaceHex turns "0x..." numbers and bare hex words of 8 or more digits
// (addresses, "0000000000000008") into "0x?" and "?".
func replaceHex(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if (i == 0 || !isAlnum(s[i-1])) && i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && isHex(s[i+2]) {
			k := i + 2
			for k < len(s) && isHex(s[k]) {
				k++
			}
			b.WriteString("0x?")
			i = k
			continue
		}
		if i == 0 || !isAlnum(s[i-1]) {
			k := i
			digit := false
			for k < len(s) && isHex(s[k]) {
				if s[k] <= '9' {
					digit = true
				}
				k++
			}
			if k-i >= 8 && digit && (k == len(s) || !isAlnum(s[k])) {
				b.WriteByte('?')
				i = k
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}
