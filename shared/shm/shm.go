// Package shm creates and maps the host shared memory that worker processes
// use for state that must be exact across processes (the local rate-limit
// table).
//
// Invariants:
//   - A region is a memfd created by the supervisor with [Create]. Its size is
//     fixed at creation and sealed (F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_SEAL):
//     no process can truncate it under a live mapping, so a mapped region never
//     raises SIGBUS.
//   - The memfd is zero-filled at creation; consumers must treat all-zero
//     contents as a valid empty state (no initialisation step, no race between
//     workers starting concurrently).
//   - The descriptor is created close-on-exec; pass it to a child through
//     exec.Cmd.ExtraFiles, which clears the flag on the child's copy. Every
//     generation of workers maps the same region, so its contents survive
//     reloads.
//   - [Map] maps the whole region read-write and shared; the returned slice is
//     page-aligned. It stays valid until [Unmap]; never store Go pointers in it.
package shm

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Create returns a new sealed, zero-filled memfd of size bytes. name only
// labels the region (it appears in /proc/<pid>/fd as "memfd:<name>").
func Create(name string, size int) (*os.File, error) {
	if size <= 0 {
		return nil, fmt.Errorf("shm %q: size %d: %w", name, size, ErrSize)
	}
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("shm %q: memfd_create: %w", name, err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("shm %q: ftruncate: %w", name, err)
	}
	seals := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("shm %q: add seals: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "memfd:"+name), nil
}

// Map maps the whole region of f read-write and shared between processes.
// The caller keeps f open or closes it as it likes: the mapping holds its own
// reference to the memory.
func Map(f *os.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("shm %s: %w", f.Name(), err)
	}
	size := fi.Size()
	if size <= 0 || size != int64(int(size)) {
		return nil, fmt.Errorf("shm %s: size %d: %w", f.Name(), size, ErrSize)
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shm %s: mmap: %w", f.Name(), err)
	}
	return b, nil
}

// Unmap releases a mapping returned by Map. The slice (and anything derived
// from it) must not be used afterwards.
func Unmap(b []byte) error {
	if err := unix.Munmap(b); err != nil {
		return fmt.Errorf("shm: munmap: %w", err)
	}
	return nil
}
