package kdump

import (
	"fmt"
	"strings"
)

// shellVars collects the variable assignments of a configuration file that
// the distribution's tools source with sh: NAME=value, optionally after
// "export", with '…' and "…" quoting, backslash escapes, comments and
// several assignments per line. The last assignment wins. Assignments inside
// if/case blocks are taken unconditionally, other commands are skipped, and
// $ or ` expansions are kept literally with their names in expanded.
// An unterminated quote is an error, as it is for sh.
func shellVars(content string) (vars map[string]string, expanded []string, err error) {
	vars = make(map[string]string)
	p := shParser{s: content}
	for {
		p.skipSeparators()
		if p.i >= len(p.s) {
			return vars, expanded, nil
		}
		if p.s[p.i] == '#' {
			p.skipLine()
			continue
		}
		// One simple command: assignments, or "export" and assignments,
		// or any other command, whose words are skipped.
		first, export := true, false
		for p.i < len(p.s) && !p.atCommandEnd() {
			start := p.i
			if name, ok := p.assignmentName(); ok {
				val, exp, err := p.word()
				if err != nil {
					return nil, nil, err
				}
				vars[name] = val
				if exp {
					expanded = append(expanded, name)
				}
			} else {
				w, _, err := p.word()
				if err != nil {
					return nil, nil, err
				}
				if first && w == "export" {
					export = true
				} else if !export {
					if err := p.skipCommand(); err != nil {
						return nil, nil, err
					}
				}
			}
			first = false
			p.skipBlanks()
			if p.i == start {
				p.i++ // cannot happen with the stop sets above; never spin
			}
		}
	}
}

type shParser struct {
	s string
	i int
}

func (p *shParser) skipBlanks() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *shParser) skipSeparators() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r', ';', '&', '|':
			p.i++
		case '\\':
			if p.i+1 < len(p.s) && p.s[p.i+1] == '\n' {
				p.i += 2
				continue
			}
			return
		default:
			return
		}
	}
}

func (p *shParser) skipLine() {
	if j := strings.IndexByte(p.s[p.i:], '\n'); j >= 0 {
		p.i += j + 1
	} else {
		p.i = len(p.s)
	}
}

func (p *shParser) atCommandEnd() bool {
	switch p.s[p.i] {
	case '\n', ';', '&', '|', '#':
		// '#' here follows a blank, so it starts a comment.
		return true
	}
	return false
}

// assignmentName consumes "NAME=" when the next word is an assignment.
func (p *shParser) assignmentName() (string, bool) {
	j := p.i
	for j < len(p.s) {
		c := p.s[j]
		if c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || j > p.i && c >= '0' && c <= '9' {
			j++
			continue
		}
		break
	}
	if j == p.i || j >= len(p.s) || p.s[j] != '=' {
		return "", false
	}
	name := p.s[p.i:j]
	p.i = j + 1
	return name, true
}

// word reads one shell word and removes its quoting.
func (p *shParser) word() (val string, expanded bool, err error) {
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case ' ', '\t', '\n', '\r', ';', '&', '|':
			return b.String(), expanded, nil
		case '\'':
			j := strings.IndexByte(p.s[p.i+1:], '\'')
			if j < 0 {
				return "", false, p.errorf("unterminated single quote")
			}
			b.WriteString(p.s[p.i+1 : p.i+1+j])
			p.i += j + 2
		case '"':
			start := p.i
			p.i++
			closed := false
			for p.i < len(p.s) {
				c := p.s[p.i]
				if c == '"' {
					p.i++
					closed = true
					break
				}
				if c == '\\' && p.i+1 < len(p.s) {
					switch n := p.s[p.i+1]; n {
					case '\n':
						p.i += 2
						continue
					case '$', '`', '"', '\\':
						b.WriteByte(n)
						p.i += 2
						continue
					}
				}
				if c == '$' || c == '`' {
					expanded = true
				}
				b.WriteByte(c)
				p.i++
			}
			if !closed {
				p.i = start
				return "", false, p.errorf("unterminated double quote")
			}
		case '\\':
			if p.i+1 < len(p.s) {
				if p.s[p.i+1] != '\n' {
					b.WriteByte(p.s[p.i+1])
				}
				p.i += 2
			} else {
				p.i++
			}
		default:
			if c == '$' || c == '`' {
				expanded = true
			}
			b.WriteByte(c)
			p.i++
		}
	}
	return b.String(), expanded, nil
}

// skipCommand passes over the remaining words of a command, honouring quotes
// so that a quoted newline does not end it.
func (p *shParser) skipCommand() error {
	for {
		p.skipBlanks()
		if p.i >= len(p.s) || p.atCommandEnd() {
			return nil
		}
		start := p.i
		if _, _, err := p.word(); err != nil {
			return err
		}
		if p.i == start {
			p.i++
		}
	}
}

func (p *shParser) errorf(format string, args ...any) error {
	line := strings.Count(p.s[:p.i], "\n") + 1
	return fmt.Errorf("line %d: %s", line, fmt.Sprintf(format, args...))
}
