// Package taint decodes /proc/sys/kernel/tainted into the kernel's taint
// flags (Documentation/admin-guide/tainted-kernels.rst, kernel/panic.c).
package taint

// Flag is one taint bit.
type Flag struct {
	// Bit is the bit position.
	Bit uint
	// Value is 1<<Bit, the flag's value in the tainted mask.
	Value uint64
	// Letter is what oops reports print when the flag is set ("P" for bit 0,
	// whose clear form is "G").
	Letter string
	// Name is a stable snake_case identifier, suitable as a label value.
	Name string
	// Set reports whether the flag is set; only meaningful from Decode.
	Set bool
}

// flags is indexed by bit. Bit 20 and above are proposed but not merged
// upstream with an agreed letter, so they are reported through Unknown.
var flags = []Flag{
	{Bit: 0, Value: 1 << 0, Letter: "P", Name: "proprietary_module"},
	{Bit: 1, Value: 1 << 1, Letter: "F", Name: "forced_module"},
	{Bit: 2, Value: 1 << 2, Letter: "S", Name: "out_of_spec"},
	{Bit: 3, Value: 1 << 3, Letter: "R", Name: "forced_unload"},
	{Bit: 4, Value: 1 << 4, Letter: "M", Name: "machine_check"},
	{Bit: 5, Value: 1 << 5, Letter: "B", Name: "bad_page"},
	{Bit: 6, Value: 1 << 6, Letter: "U", Name: "user"},
	{Bit: 7, Value: 1 << 7, Letter: "D", Name: "died"},
	{Bit: 8, Value: 1 << 8, Letter: "A", Name: "acpi_override"},
	{Bit: 9, Value: 1 << 9, Letter: "W", Name: "warning"},
	{Bit: 10, Value: 1 << 10, Letter: "C", Name: "staging"},
	{Bit: 11, Value: 1 << 11, Letter: "I", Name: "firmware_workaround"},
	{Bit: 12, Value: 1 << 12, Letter: "O", Name: "out_of_tree_module"},
	{Bit: 13, Value: 1 << 13, Letter: "E", Name: "unsigned_module"},
	{Bit: 14, Value: 1 << 14, Letter: "L", Name: "soft_lockup"},
	{Bit: 15, Value: 1 << 15, Letter: "K", Name: "livepatch"},
	{Bit: 16, Value: 1 << 16, Letter: "X", Name: "auxiliary"},
	{Bit: 17, Value: 1 << 17, Letter: "T", Name: "randstruct"},
	{Bit: 18, Value: 1 << 18, Letter: "N", Name: "test"},
	{Bit: 19, Value: 1 << 19, Letter: "J", Name: "fwctl"},
}

// knownMask covers every bit in the table.
var knownMask uint64 = 1<<uint(len(flags)) - 1

// Flags returns the full table ordered by bit, with Set false.
func Flags() []Flag {
	return append([]Flag(nil), flags...)
}

// Decode returns every known flag, ordered by bit, with Set from v.
func Decode(v uint64) []Flag {
	out := Flags()
	for i := range out {
		out[i].Set = v&out[i].Value != 0
	}
	return out
}

// Unknown returns the bits of v that the table does not name, which a newer
// kernel may set.
func Unknown(v uint64) uint64 {
	return v &^ knownMask
}
