package watchdog

// Flag is one bit of a watchdog status word.
type Flag struct {
	Name string
	Bit  uint64
}

// BootFlags are the WDIOF_* bits a driver may set in bootstatus
// (include/uapi/linux/watchdog.h); the watchdog core reports the same bits
// in status for drivers without a status callback. card_reset means the
// watchdog itself reset the machine: the previous boot ended in a hang the
// watchdog caught. Most drivers set nothing (iTCO_wdt always reports 0).
var BootFlags = []Flag{
	{"overheat", 0x0001},    // WDIOF_OVERHEAT: reset due to CPU overheat
	{"fan_fault", 0x0002},   // WDIOF_FANFAULT
	{"extern1", 0x0004},     // WDIOF_EXTERN1: external relay 1
	{"extern2", 0x0008},     // WDIOF_EXTERN2: external relay 2
	{"power_under", 0x0010}, // WDIOF_POWERUNDER
	{"card_reset", 0x0020},  // WDIOF_CARDRESET: the card reset the CPU
	{"power_over", 0x0040},  // WDIOF_POWEROVER
}

// Governors are the pretimeout governors the kernel ships
// (drivers/watchdog/pretimeout_{noop,panic}.c). panic turns a pretimeout,
// a hang caught shortly before the reset, into a panic and so a crash dump.
var Governors = []string{"noop", "panic"}
