package store

import (
	"os"
	"syscall"
)

// syncData makes f's data durable. fdatasync skips the metadata a read
// does not need (the modification time), which halves the cost of a
// sync here; a file that grew still has its new size synced, as SQLite
// itself does on Linux.
func syncData(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
