// Package attack runs the exporter binary the way production attacks it:
// fixture trees whose files are mutated into FIFOs, garbage, huge sparse
// files, directories, symlink loops and symlinks out of the tree; many
// simultaneous scrapes; clients that never read; a dump target that blocks;
// SIGTERM and restart. Every test starts the real binary on 127.0.0.1 and
// checks what a scraper sees: valid exposition, every collector's success,
// file errors where a file was unusable, and nothing invented.
package attack
