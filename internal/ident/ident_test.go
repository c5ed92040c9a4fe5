package ident

import "testing"

func TestIsUUID(t *testing.T) {
	for s, want := range map[string]bool{
		"8f994620-b4e2-4945-869b-ff0939e1e39a":  true,
		"8F994620-b4e2-4945-869b-ff0939e1e39a":  false, // the kernel prints lowercase
		"8f994620b4e24945869bff0939e1e39a":      false,
		"8f994620-b4e2-4945-869b-ff0939e1e39":   false,
		"8f994620-b4e2-4945-869b-ff0939e1e39a0": false,
		"8f994620_b4e2_4945_869b_ff0939e1e39a":  false,
		"8f994620-b4e2-4945-869b-ff0939e1e3zz":  false,
		"":                                      false,
	} {
		if got := IsUUID(s); got != want {
			t.Errorf("IsUUID(%q) = %v", s, got)
		}
	}
}

func TestIsLowerHex(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want bool
	}{
		{"0123456789abcdef", 16, true},
		{"0123456789abcdef", 15, false},
		{"0123456789ABCDEF", 16, false},
		{"0123456789abcdeg", 16, false},
		{"", 0, true},
	} {
		if got := IsLowerHex(tc.s, tc.n); got != tc.want {
			t.Errorf("IsLowerHex(%q, %d) = %v", tc.s, tc.n, got)
		}
	}
}
