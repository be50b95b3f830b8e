package supervisor

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/libp2p/go-reuseport"
	"golang.org/x/sys/unix"
)

// socketSet holds the listening sockets, per configured listen address, in
// slot order. Owned by the supervisor's owner loop.
type socketSet struct {
	byAddr map[string][]*os.File
	// bound is the address the sockets of a configured address are bound
	// to (differs for port 0).
	bound map[string]string
}

func newSocketSet() *socketSet {
	return &socketSet{byAddr: map[string][]*os.File{}, bound: map[string]string{}}
}

// ensure grows the sockets of addr to at least n. With port 0 the first
// socket picks the port and the others bind to it.
func (ss *socketSet) ensure(addr string, n int) error {
	for len(ss.byAddr[addr]) < n {
		bindAddr := addr
		if b, ok := ss.bound[addr]; ok {
			bindAddr = b
		}
		f, local, err := listenReusePort(bindAddr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", addr, err)
		}
		ss.byAddr[addr] = append(ss.byAddr[addr], f)
		ss.bound[addr] = local
	}
	return nil
}

// forSlot returns the sockets of addr that a worker in slot of a
// generation of workers workers serves: every socket i with
// i mod workers == slot.
func (ss *socketSet) forSlot(addr string, slot, workers int) []*os.File {
	var fs []*os.File
	for i, f := range ss.byAddr[addr] {
		if i%workers == slot {
			fs = append(fs, f)
		}
	}
	return fs
}

// closeExcept closes the sockets of every address but keep.
func (ss *socketSet) closeExcept(keep string) {
	for addr, fs := range ss.byAddr {
		if addr == keep {
			continue
		}
		for _, f := range fs {
			f.Close()
		}
		delete(ss.byAddr, addr)
		delete(ss.bound, addr)
	}
}

// closeAll closes every socket.
func (ss *socketSet) closeAll() { ss.closeExcept("\x00none") }

// inheritName names socket i of addr in the upgrade fd list.
func inheritName(addr string, i int) string { return "ln:" + strconv.Itoa(i) + ":" + addr }

// named returns every socket by its inheritance name, in a stable order.
func (ss *socketSet) named() (names []string, files []*os.File) {
	addrs := make([]string, 0, len(ss.byAddr))
	for a := range ss.byAddr {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	for _, a := range addrs {
		for i, f := range ss.byAddr[a] {
			names = append(names, inheritName(a, i))
			files = append(files, f)
		}
	}
	return names, files
}

// adopt takes over a socket inherited from a previous supervisor under its
// inheritance name.
func (ss *socketSet) adopt(name string, f *os.File) error {
	rest, ok := strings.CutPrefix(name, "ln:")
	if !ok {
		return fmt.Errorf("fd %q: %w", name, ErrBadInheritedFDs)
	}
	idx, addr, ok := strings.Cut(rest, ":")
	i, err := strconv.Atoi(idx)
	if !ok || err != nil || i != len(ss.byAddr[addr]) {
		return fmt.Errorf("fd %q out of order: %w", name, ErrBadInheritedFDs)
	}
	sa, err := unix.Getsockname(int(f.Fd()))
	if err != nil {
		return fmt.Errorf("fd %q: getsockname: %w", name, err)
	}
	ss.byAddr[addr] = append(ss.byAddr[addr], f)
	ss.bound[addr] = sockaddrString(sa)
	return nil
}

// listenReusePort opens one SO_REUSEPORT listening socket on addr and
// returns it as an os.File that is safe to pass to children: the fd is a
// duplicate made by os.NewFile (not net.TCPListener.File), so Fd() leaves
// the shared O_NONBLOCK flag alone.
func listenReusePort(addr string) (*os.File, string, error) {
	ln, err := reuseport.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	defer ln.Close()
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return nil, "", fmt.Errorf("listener %T: %w", ln, syscall.EINVAL)
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return nil, "", err
	}
	dup := -1
	var dupErr error
	if err := rc.Control(func(fd uintptr) {
		dup, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, "", err
	}
	if dupErr != nil {
		return nil, "", fmt.Errorf("dup: %w", dupErr)
	}
	return os.NewFile(uintptr(dup), "listen "+addr), ln.Addr().String(), nil
}

func sockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	}
	return fmt.Sprint(sa)
}
