// Package sysrq decodes /proc/sys/kernel/sysrq, the mask of Magic SysRq
// functions the keyboard may invoke (Documentation/admin-guide/sysrq.rst).
// The mask does not gate /proc/sysrq-trigger, which always works for root.
//
// The kernel keeps the value in a C int and tests it as
// "value == 1 || value & function_bit". Decoding follows that literally on
// the two's-complement bits, so a negative value such as -1 enables every
// function, just as it does in the kernel. Bits above 256 name nothing and
// are ignored, so 512 allows no function although it is not 0. Values outside
// the C int range, which the kernel refuses to store, are decoded the same
// way. The sysrq_always_enabled boot parameter makes the file read 1.
package sysrq

// Function is one group of SysRq functions selected by a mask bit.
type Function struct {
	// Bit is the mask value of the group (2, 4, ... 256).
	Bit int64
	// Name is a stable snake_case identifier, suitable as a label value.
	Name string
	// Enabled reports whether the mask allows the group; only meaningful
	// from Decode.
	Enabled bool
}

// All is the special value enabling every function.
const All = 1

// Debug is the bit that also gates the 'c' crash trigger.
const Debug = 8

var functions = []Function{
	{Bit: 2, Name: "loglevel"},       // console log level (0-9)
	{Bit: 4, Name: "keyboard"},       // SAK, unraw
	{Bit: Debug, Name: "debug_dump"}, // task, memory, register dumps; crash
	{Bit: 16, Name: "sync"},          // emergency sync
	{Bit: 32, Name: "remount_ro"},    // emergency remount read-only
	{Bit: 64, Name: "signal"},        // term, kill, oom-kill
	{Bit: 128, Name: "reboot"},       // reboot, poweroff
	{Bit: 256, Name: "nice_rt"},      // nice real-time tasks
}

// allBits is every function bit ORed together.
const allBits = 2 | 4 | 8 | 16 | 32 | 64 | 128 | 256

// Functions returns the function groups in bit order, with Enabled false.
func Functions() []Function {
	return append([]Function(nil), functions...)
}

// Decode returns every function group, in bit order, with Enabled from mask.
func Decode(mask int64) []Function {
	out := Functions()
	for i := range out {
		out[i].Enabled = enabled(mask, out[i].Bit)
	}
	return out
}

// CrashAllowed reports whether the keyboard may trigger a crash ('c'), which
// is what makes SysRq useful to force a kdump on a hung machine.
func CrashAllowed(mask int64) bool {
	return enabled(mask, Debug)
}

// AllEnabled reports whether every function is allowed: the value 1, or a
// mask with every function bit set.
func AllEnabled(mask int64) bool {
	return mask == All || mask&allBits == allBits
}

func enabled(mask, bit int64) bool {
	return mask == All || mask&bit != 0
}
